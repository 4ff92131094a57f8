"""The `zepto-server` command: runs the zepto_server binary installed with this package."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def server_path() -> Path:
    """Where the zepto_server executable of this installation is."""
    return Path(__file__).resolve().parent / "bin" / "zepto_server"


def main() -> None:
    path = server_path()
    if not path.exists():
        sys.exit(f"zepto-server: {path} is missing; reinstall the zeptodb package (pip install .)")
    os.execv(str(path), [str(path), *sys.argv[1:]])


if __name__ == "__main__":
    main()
