"""ZeptoDB: an in-memory columnar tick database with a zero-copy NumPy API.

>>> import zeptodb
>>> p = zeptodb.Pipeline()
>>> p.ingest_batch([1, 1, 2], [100, 101, 200], [10, 20, 30])
3
>>> p.count(symbol=1)
2
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

from . import _core
from ._core import NotAvailableError, PipelineConfig, Stats, StorageMode, trim_memory

__all__ = ["Pipeline", "PipelineConfig", "StorageMode", "Stats", "NotAvailableError", "trim_memory", "__version__"]
__version__ = "0.1.0"

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)
_NS_PER_UNIT = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
                "h": 3_600_000_000_000, "D": 86_400_000_000_000}


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as e:  # pragma: no cover - exercised by hiding numpy
        raise ImportError("batch ingest and column access need NumPy: pip install numpy") from e
    return numpy


class Pipeline(_core.Pipeline):
    """An in-memory tick database.

    Single ticks go through a lock-free queue (``ingest``) that a background
    thread drains once ``start()`` is called, or that ``drain()`` empties
    synchronously. Batches (``ingest_batch``, ``ingest_float_batch``,
    ``ingest_columns``) are validated whole and then stored whole, in one C++
    call with the GIL released.
    """

    def __init__(self, config: Optional[PipelineConfig] = None) -> None:
        super().__init__(config)

    # --------------------------------------------------------------------- SQL
    def execute(self, sql: str) -> Any:
        """Run one SQL statement; see ``zeptodb.sql.QueryExecutor.execute`` (errors are
        returned in the result's ``error``, not raised)."""
        from .sql import QueryExecutor

        return QueryExecutor(self).execute(sql)

    # ----------------------------------------------------------------- batches
    def ingest_batch(self, symbols: Any, prices: Any, volumes: Any, timestamps: Any = None, *,
                     table: str = "trades") -> int:
        """Store a batch of trades from integer arrays (or sequences).

        ``symbols`` may hold integer ids or str names; ``timestamps`` are ns
        since the epoch (int64 or datetime64 of any unit) and default to the
        ingest time. All rows are stored or none. Returns the row count.
        """
        cols = self._trade_columns(table, symbols, prices, volumes, timestamps)
        return self.ingest_columns(table, cols)

    def ingest_float_batch(self, symbols: Any, prices: Any, volumes: Any, timestamps: Any = None, *,
                           price_scale: float = 1.0, volume_scale: float = 1.0,
                           table: str = "trades") -> int:
        """Store float prices and volumes as integers: ``round(x * scale)``.

        Rounding is half away from zero (0.29 with price_scale=100 stores 29).
        NaN, infinity and values that overflow int64 after scaling are
        rejected with the index of the first bad value; nothing is stored.
        """
        np = _numpy()
        p = _float64("prices", prices, np)
        v = _float64("volumes", volumes, np)
        if len(p) != len(v):
            raise ValueError(f"length mismatch: prices has {len(p)} values but volumes has {len(v)}")
        return self.ingest_batch(symbols, self._scale_to_int64(p, float(price_scale), "prices"),
                                 self._scale_to_int64(v, float(volume_scale), "volumes"),
                                 timestamps, table=table)

    def ingest_columns(self, table: str, columns: Mapping[str, Any]) -> int:
        """Store a batch given as ``{column name: array}`` for any table.

        The table's symbol (partition key) column is required; a missing
        timestamp column means the ingest time; any other missing column is
        stored as NULL. Values are converted to the column's type
        where that is lossless; anything else raises TypeError/ValueError
        naming the column. Returns the row count.
        """
        np = _numpy()
        types = {name.lower(): (name, t) for name, t in self.schema(table)}
        sym_col, ts_col = self._key_columns(table)
        names, arrays = [], []
        for key, values in columns.items():
            entry = types.get(str(key).lower())
            if entry is None:
                valid = ", ".join(n for n, _ in self.schema(table))
                raise KeyError(f"unknown column '{key}' in table '{table}'; valid columns: {valid}")
            name, ctype = entry
            is_sym = ctype == "SYMBOL" or (sym_col is not None and name.lower() == sym_col.lower())
            is_ts = ctype == "TIMESTAMP" or (ts_col is not None and name.lower() == ts_col.lower())
            names.append(name)
            arrays.append(self._coerce(name, values, ctype, is_sym, is_ts, np))
        return self._ingest_columns(table, names, arrays)

    # -------------------------------------------------------------------- Arrow
    def export(self, symbol: Any = None, table: str = "trades", columns: Optional[Sequence[str]] = None,
               *, symbols: str = "auto") -> "_core.ArrowExport":
        """A point-in-time export of ``table`` for any Arrow consumer, without pyarrow.

        ``symbol`` is None (every symbol), an id or name, or a list of them.
        The result implements the Arrow PyCapsule protocol, so
        ``pyarrow.table(x)``, ``polars.DataFrame(x)`` or ``duckdb.from_arrow(x)``
        read it; numeric and timestamp columns are handed over without a
        copy (one record batch per symbol). The timestamp column is
        ``timestamp[ns, tz=UTC]``. ``symbols`` chooses how symbol columns
        look: "auto" (strings as dictionary<int32, utf8> when any id has a
        name, ids without one as decimal text; the int64 ids when none has),
        "dictionary", "utf8" or "id".
        """
        keys = None
        if symbol is not None:
            wanted = symbol if isinstance(symbol, (list, tuple)) else [symbol]
            keys = []
            for s in wanted:
                sid = self.symbol_id(s) if isinstance(s, str) else s
                if sid is not None:
                    keys.append(sid)
        return self._export_arrow(table, keys, list(columns or []), symbols)

    def ingest_arrow(self, data: Any, table: str = "trades",
                     columns: Optional[Union[Sequence[str], Mapping[str, str]]] = None, *,
                     scales: Optional[Mapping[str, float]] = None, reject_nulls: bool = False) -> int:
        """Store Arrow data as one atomic batch; returns the row count.

        ``data`` is anything with ``__arrow_c_stream__`` or ``__arrow_c_array__``
        (pyarrow Table/RecordBatch/RecordBatchReader, Polars DataFrame, DuckDB
        relation, pandas >= 2.2 DataFrame); its buffers are read in C++ with
        the GIL released. Columns map to table columns by name; ``columns``
        picks a subset (a list) or renames (``{source: table column}``).
        ``scales`` maps integer table columns to a factor applied to
        floating-point input (``{"price": 100}`` stores round(price * 100)).
        NULLs are stored as NULL, or rejected (naming column and row) with
        ``reject_nulls=True``.
        """
        if columns is None:
            pairs: list = []
        elif isinstance(columns, Mapping):
            pairs = [(str(k), str(v)) for k, v in columns.items()]
        else:
            pairs = [(str(c), str(c)) for c in columns]
        factors = [(str(k), float(v)) for k, v in (scales or {}).items()]
        return self._ingest_arrow(table, data, pairs, factors, reject_nulls)

    # ------------------------------------------------------------------ helpers
    def _trade_columns(self, table: str, symbols: Any, prices: Any, volumes: Any,
                       timestamps: Any) -> dict:
        sym_col, ts_col = self._key_columns(table)
        cols = {sym_col or "symbol": symbols, "price": prices, "volume": volumes}
        if timestamps is not None:
            cols[ts_col or "timestamp"] = timestamps
        return cols

    def _coerce(self, name: str, values: Any, ctype: str, is_symbol: bool, is_ts: bool,
                np: Any) -> Any:
        arr = values if isinstance(values, np.ndarray) else _asarray(name, values, np)
        if arr.ndim != 1:
            raise ValueError(f"column '{name}' must be one-dimensional, got shape {arr.shape}")
        kind = arr.dtype.kind
        if arr.size == 0:
            return np.empty(0, dtype=_DTYPES[ctype])
        if is_symbol and (kind in "UT" or (kind == "O" and isinstance(arr[0], str))):
            return self._intern_symbols(arr.tolist())
        if kind in "fO" and ctype in _INT_RANGES and not (isinstance(values, np.ndarray) and kind == "f"):
            _check_python_ints(name, values.tolist() if isinstance(values, np.ndarray) else list(values), ctype)
        if kind == "O":
            arr = _asarray(name, arr.tolist(), np)
            kind = arr.dtype.kind
            if kind == "O":
                raise TypeError(f"column '{name}' holds mixed or non-numeric objects")
        if ctype in ("BIGINT", "TIMESTAMP", "SYMBOL"):
            if kind == "M" and is_ts:
                return _datetime_to_ns(name, arr, np)
            if kind in "iu":
                return _int_array(name, arr, np, _INT64_MIN, _INT64_MAX, np.int64)
            hint = (" (float prices: use ingest_float_batch with a price_scale)"
                    if kind == "f" and not (is_symbol or is_ts) else "")
            raise TypeError(f"column '{name}' needs integers, got dtype {arr.dtype}{hint}")
        if ctype == "INTEGER":
            if kind in "iu":
                return _int_array(name, arr, np, -(2**31), 2**31 - 1, np.int32)
            raise TypeError(f"column '{name}' needs integers, got dtype {arr.dtype}")
        if ctype == "DOUBLE":
            if kind == "f":
                return np.ascontiguousarray(arr, dtype=np.float64)
            if kind in "iu":
                big = np.flatnonzero((arr > 2**53) | (arr < -(2**53)))  # compared as integers
                if big.size:
                    raise ValueError(f"column '{name}' row {big[0]}: {arr[big[0]]} is not exact as a DOUBLE")
                return np.ascontiguousarray(arr, dtype=np.float64)
            raise TypeError(f"column '{name}' needs numbers, got dtype {arr.dtype}")
        if ctype == "BOOLEAN":
            if kind == "b":
                return np.ascontiguousarray(arr, dtype=np.bool_)
            raise TypeError(f"column '{name}' needs booleans, got dtype {arr.dtype}")
        raise TypeError(f"column '{name}' has unsupported type {ctype}")  # pragma: no cover


_DTYPES = {"BIGINT": "int64", "TIMESTAMP": "int64", "SYMBOL": "int64", "INTEGER": "int32",
           "DOUBLE": "float64", "BOOLEAN": "bool"}


_INT_RANGES = {"BIGINT": (_INT64_MIN, _INT64_MAX, "int64"), "TIMESTAMP": (_INT64_MIN, _INT64_MAX, "int64"),
               "SYMBOL": (_INT64_MIN, _INT64_MAX, "int64"), "INTEGER": (-(2**31), 2**31 - 1, "int32")}


def _check_python_ints(name: str, items: list, ctype: str) -> None:
    """Raise ValueError at the first int that does not fit the column if all items are ints."""
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in items):
        return
    lo, hi, tname = _INT_RANGES[ctype]
    for i, x in enumerate(items):
        if not lo <= x <= hi:
            raise ValueError(f"column '{name}' row {i}: {x} does not fit in {tname}")


def _asarray(name: str, values: Any, np: Any) -> Any:
    try:
        return np.asarray(values)
    except (TypeError, ValueError, OverflowError) as e:
        raise TypeError(f"column '{name}': cannot convert {type(values).__name__} to an array: {e}") from e


def _int_array(name: str, arr: Any, np: Any, lo: int, hi: int, dtype: Any) -> Any:
    info = np.iinfo(arr.dtype)
    if info.min < lo or info.max > hi:
        bad = np.flatnonzero((arr < lo) | (arr > hi))
        if bad.size:
            raise ValueError(f"column '{name}' row {bad[0]}: {arr[bad[0]]} does not fit in {np.dtype(dtype).name}")
    return np.ascontiguousarray(arr, dtype=dtype)


def _float64(name: str, values: Any, np: Any) -> Any:
    arr = values if isinstance(values, np.ndarray) else _asarray(name, values, np)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _datetime_to_ns(name: str, arr: Any, np: Any) -> Any:
    unit, count = np.datetime_data(arr.dtype)
    if unit not in _NS_PER_UNIT:
        raise TypeError(f"column '{name}': unsupported datetime64 unit '{unit}'")
    if not arr.dtype.isnative:  # e.g. '>M8[ns]' read from a file: view native bytes, not swapped ones
        arr = arr.astype(arr.dtype.newbyteorder("="))
    raw = arr.view(np.int64)
    nat = np.flatnonzero(np.isnat(arr))
    if nat.size:
        raise ValueError(f"column '{name}' row {nat[0]} is NaT (missing timestamp)")
    factor = _NS_PER_UNIT[unit] * count
    if factor == 1:
        return np.ascontiguousarray(raw)
    limit = _INT64_MAX // factor
    bad = np.flatnonzero(np.abs(raw) > limit)
    if bad.size:
        raise ValueError(f"column '{name}' row {bad[0]} overflows int64 nanoseconds")
    return raw * factor


def __getattr__(name: str) -> Any:
    # zeptodb.connect is zepto_py.connect (the zepto_server HTTP client), imported on first use.
    if name == "connect":
        from zepto_py.connection import connect

        return connect
    raise AttributeError(f"module 'zeptodb' has no attribute {name!r}")
