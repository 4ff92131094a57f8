"""Which optional libraries are installed, and what each one enables.

Every third-party library is optional: importing ``zepto_py`` never imports
pandas, Polars, pyarrow or DuckDB (it only looks whether they can be found),
and each function imports what it needs when it is called, failing with an
ImportError that says what to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Dict, Optional

__all__ = ["HAS_NUMPY", "HAS_PANDAS", "HAS_POLARS", "HAS_PYARROW", "HAS_DUCKDB", "HAS_TQDM",
           "check_dependencies", "versions", "require"]

# Import name -> (pip name, what it enables).
_OPTIONAL: Dict[str, tuple] = {
    "numpy": ("numpy", "from_numpy, from_pandas, column views, batch ingest"),
    "pandas": ("pandas", "from_pandas, to_pandas, query_to_pandas, StreamingSession.ingest_pandas"),
    "polars": ("polars", "from_polars, to_polars, query_to_polars, ArrowSession.to_polars_zero_copy, "
                         "StreamingSession.ingest_polars"),
    "pyarrow": ("pyarrow", "ArrowSession.to_arrow / to_record_batch_reader / get_schema, "
                           "pyarrow objects in from_arrow (any Arrow PyCapsule object works without it)"),
    "duckdb": ("duckdb", "ArrowSession.to_duckdb"),
    "tqdm": ("tqdm", "progress bars in StreamingSession(show_progress=True) (a plain line without it)"),
}


def _available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a finder that refuses the module, or a broken __spec__
        return False


HAS_NUMPY = _available("numpy")
HAS_PANDAS = _available("pandas")
HAS_POLARS = _available("polars")
HAS_PYARROW = _available("pyarrow")
HAS_DUCKDB = _available("duckdb")
HAS_TQDM = _available("tqdm")


def require(name: str, feature: str) -> Any:
    """Import and return module ``name``, or raise ImportError saying how to get it."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        pip = _OPTIONAL.get(name, (name, ""))[0]
        raise ImportError(f"{feature} needs {name}, which is not installed: pip install {pip}") from e


def _version(name: str) -> Optional[str]:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    return str(getattr(module, "__version__", "unknown"))


def versions() -> Dict[str, Optional[str]]:
    """Versions of zeptodb and of each optional library (None where not installed)."""
    import zeptodb

    out: Dict[str, Optional[str]] = {"zeptodb": zeptodb.__version__}
    for name in _OPTIONAL:
        out[name] = _version(name)
    return out


def check_dependencies(verbose: bool = False) -> Dict[str, Dict[str, Any]]:
    """What is installed and what each optional library enables.

    Returns ``{name: {"installed": bool, "version": str | None, "enables": str}}``;
    with ``verbose=True`` also prints it as a table.
    """
    found = versions()
    report = {name: {"installed": found[name] is not None, "version": found[name], "enables": enables}
              for name, (_, enables) in _OPTIONAL.items()}
    if verbose:
        for name, info in report.items():
            state = info["version"] if info["installed"] else "not installed"
            print(f"{name:<8} {state:<14} {info['enables']}")
    return report
