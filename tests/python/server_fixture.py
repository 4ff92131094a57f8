"""Starts zepto_server on 127.0.0.1 on a free port for a test, and stops it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from zeptodb._launcher import server_path as _installed


def server_path() -> Path:
    # ZEPTO_SERVER_BIN points at another build of the binary (for C++ iteration).
    return Path(os.environ.get("ZEPTO_SERVER_BIN") or _installed())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, *args: str):
        self.port = free_port()
        self.keys_file = str(tmp / "api_keys")
        self.cmd = [str(server_path()), "--host", "127.0.0.1", "--port", str(self.port), "--keys-file", self.keys_file, *args]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as r:
                    if r.read() == b"Ok.\n":
                        break
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"zepto_server exited: {self.proc.stdout.read()}")
                if time.time() > deadline:
                    raise RuntimeError("zepto_server did not start")
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def keys(self, *args: str) -> str:
        out = subprocess.run([str(server_path()), "keys", *args, "--keys-file", self.keys_file],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
