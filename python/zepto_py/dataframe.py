"""DataFrames in and out of ZeptoDB: pandas, Polars, NumPy and Arrow.

Ingest is vectorized and has one conversion path: every input reaches the
engine's Arrow import (Polars and Arrow through the Arrow C stream, NumPy and
pandas columns as Arrow arrays over their own buffers), which converts each
column in one pass in C++ with the GIL released and stores the batch
atomically; no Python loop runs per row.

Column mapping: for the ``trades`` table the four role columns
(``symbol_col``, ``timestamp_col``, ``price_col``, ``volume_col``) are taken
and any other column is ignored; for any other table every column maps to
the table column of the same name (the role arguments still rename). The
timestamp column is optional: without it rows get the ingest time.

Values: timestamps of any unit or time zone are stored as ns UTC; string,
categorical and pandas ``str`` symbol columns go through the symbol
dictionary; missing values (NaN, None, NaT, pandas NA, Arrow/Polars nulls)
are rejected with an error naming the column and the first bad row.
Floating-point prices for an integer price column are stored as
``round(price * price_scale)``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .utils import require

__all__ = ["from_pandas", "from_polars", "from_arrow", "from_numpy", "to_pandas", "to_polars",
           "query_to_pandas", "query_to_polars"]

_INT_TYPES = ("BIGINT", "INTEGER")


# ------------------------------------------------------------------ mapping
class _Target:
    """How source columns map onto one table: the renames and the scales."""

    def __init__(self, pipeline: Any, table: str, available: Optional[Sequence[str]], symbol_col: str,
                 price_col: str, volume_col: str, timestamp_col: str, price_scale: float,
                 volume_scale: Optional[float]) -> None:
        self.table = table
        types = {name.lower(): (name, t) for name, t in pipeline.schema(table)}
        self.types = {name: t for name, t in types.values()}
        sym_key, ts_key = pipeline._key_columns(table)
        self.symbol_column = sym_key
        self.timestamp_column = ts_key
        roles = [(symbol_col, sym_key or "symbol"), (timestamp_col, ts_key or "timestamp"),
                 (price_col, "price"), (volume_col, "volume")]
        names = list(available) if available is not None else [src for src, _ in roles]
        self.mapping: Dict[str, str] = {}
        for src, dst in roles:
            if src in names and dst.lower() in types:
                self.mapping[src] = types[dst.lower()][0]
        if table.lower() != "trades":
            for src in names:
                if src not in self.mapping:
                    entry = types.get(str(src).lower())
                    if entry is None:
                        valid = ", ".join(self.types)
                        raise KeyError(f"column '{src}' is not a column of table '{table}'; valid columns: {valid}")
                    self.mapping[src] = entry[0]
        if sym_key is not None and sym_key not in self.mapping.values():
            raise KeyError(f"the data has no symbol column '{symbol_col}' (columns: {', '.join(map(str, names))}); "
                           f"pass symbol_col=")
        if table.lower() == "trades":
            for src, role in ((price_col, "price_col"), (volume_col, "volume_col")):
                if src not in names:
                    raise KeyError(f"the data has no column '{src}' (columns: {', '.join(map(str, names))}); "
                                   f"pass {role}=")
        self.scales: Dict[str, float] = {}
        for col, scale in (("price", price_scale), ("volume", volume_scale)):
            name = types.get(col, (None, None))[0]
            if scale is not None and name is not None and self.types[name] in _INT_TYPES:
                self.scales[name] = float(scale)

    def is_symbol(self, column: str) -> bool:
        return self.types[column] == "SYMBOL" or column == self.symbol_column


def _names(data: Any) -> Optional[List[str]]:
    """Column names of a DataFrame / Arrow object, or None if it does not say."""
    for attr in ("column_names", "columns"):
        names = getattr(data, attr, None)
        if names is not None and not callable(names):
            return [str(n) for n in names]
    schema = getattr(data, "schema", None)
    names = getattr(schema, "names", None)
    return [str(n) for n in names] if names is not None else None


# ---------------------------------------------------------------- NumPy path
class _Bad:
    """Rows found bad while converting a batch: one mask and reason per column."""

    def __init__(self) -> None:
        self.masks: List[Tuple[str, Any, str]] = []  # (column, bool mask, what is wrong)

    def add(self, name: str, mask: Any, what: str) -> bool:
        if mask is not None and mask.any():
            self.masks.append((name, mask, what))
            return True
        return False

    def union(self, np: Any, n: int) -> Any:
        out = np.zeros(n, dtype=bool)
        for _, mask, _ in self.masks:
            out |= mask
        return out

    def reason(self, row: int) -> str:
        return "; ".join(f"column '{name}' is {what}" for name, mask, what in self.masks if mask[row])

    def raise_first(self, np: Any) -> None:
        """ValueError naming the column and the first bad row."""
        if self.masks:
            name, mask, what = min(self.masks, key=lambda m: int(np.argmax(m[1])))
            raise ValueError(f"column '{name}' row {int(np.argmax(mask))} is {what}; "
                             f"missing values are not accepted")


def _object_missing(arr: Any, np: Any) -> Any:
    return np.fromiter((v is None or v != v for v in arr), dtype=bool, count=len(arr))


class _Names:
    """A symbol column as codes into a list of distinct names (code -1: missing)."""

    def __init__(self, codes: Any, names: List[str]) -> None:
        self.codes = codes
        self.names = names

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, rows: Any) -> "_Names":
        return _Names(self.codes[rows], self.names)


def _factorize(name: str, values: Any, np: Any, bad: _Bad) -> _Names:
    """The distinct names of an array or pandas Series of any string or categorical
    dtype, each once, and the rows' codes; missing names are recorded in `bad`."""
    try:
        import pandas as pd
    except ImportError:
        arr = np.asarray(values)
        missing = _object_missing(arr, np) if arr.dtype.kind == "O" else np.zeros(len(arr), dtype=bool)
        uniques, codes = np.unique(np.where(missing, "", arr), return_inverse=True)
        uniques = uniques.tolist()
        codes = np.where(missing, -1, codes)
    else:
        if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):  # its codes and categories
            codes, uniques = values.cat.codes.to_numpy(), list(values.cat.categories)
        else:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            uniques = list(uniques)
    codes = np.asarray(codes)
    bad.add(name, codes < 0, "missing")
    wrong = [i for i, u in enumerate(uniques) if not isinstance(u, str)]
    if wrong:
        used = np.flatnonzero(np.isin(codes, wrong))
        if used.size:
            u = uniques[int(codes[used[0]])]
            raise TypeError(f"column '{name}' row {int(used[0])}: symbol names must be str, got {type(u).__name__}")
    return _Names(codes, [u if isinstance(u, str) else "" for u in uniques])


def _numbers(name: str, arr: Any, np: Any, bad: _Bad) -> Any:
    """An object array of numbers (from Python rows) as a numeric array; None,
    NaN and non-numbers are recorded as bad rows."""
    missing = _object_missing(arr, np)
    wrong = np.fromiter((not (v is None or v != v) and (isinstance(v, (str, bytes)) or not np.isscalar(v))
                         for v in arr), dtype=bool, count=len(arr))
    bad.add(name, missing, "missing")
    bad.add(name, wrong, "not a number")
    if missing.any() or wrong.any():
        arr = arr.copy()
        arr[missing | wrong] = 0
    return np.asarray(arr.tolist())


def _sources(target: _Target, columns: Mapping[str, Any], np: Any, bad: _Bad, check_values: bool) -> Dict[str, Any]:
    """Source columns as what the engine's import reads: NumPy arrays of numbers,
    booleans or datetime64, and _Names for symbol names. Missing values that only
    Python sees (None, pandas NA) are recorded in `bad` (with a placeholder); with
    `check_values` also the values the engine would reject (NaN, NaT, out of range
    after scaling), for callers that drop bad rows instead of failing."""
    from zeptodb import _asarray

    out: Dict[str, Any] = {}
    for src, values in columns.items():
        name = target.mapping[src]
        if isinstance(values, _Names):
            out[src] = values
            continue
        arr = values if hasattr(values, "dtype") else _asarray(name, values, np)
        if target.is_symbol(name) and arr.dtype.kind in "OUT":
            out[src] = _factorize(name, arr, np, bad)
            continue
        arr = np.asarray(arr)
        if arr.ndim != 1:
            raise ValueError(f"column '{name}' must be one-dimensional, got shape {arr.shape}")
        if arr.dtype.kind == "O":
            arr = _numbers(name, arr, np, bad)
        out[src] = arr
    if check_values:
        _check_values(target, out, np, bad)
    return out


def _check_values(target: _Target, sources: Mapping[str, Any], np: Any, bad: _Bad) -> None:
    """Record in `bad` the values of _sources columns that the engine would reject
    (NaN, NaT, out of range after scaling)."""
    for src, arr in sources.items():
        if isinstance(arr, _Names):
            continue
        name = target.mapping[src]
        kind = arr.dtype.kind
        if kind == "f":
            bad.add(name, np.isnan(arr), "NaN")
        elif kind == "M":
            bad.add(name, np.isnat(arr), "NaT")
        scale = target.scales.get(name)
        if scale is not None and (kind == "f" or (kind in "iu" and scale != 1.0)):
            limit = 2.0**63 / scale  # the engine checks the exact bound; this finds the rows cheaply
            bad.add(name, (arr >= limit) | (arr <= -limit), f"out of range after scaling by {scale:g}")


_ARROW_FORMATS = {"i1": "c", "i2": "s", "i4": "i", "i8": "l", "u1": "C", "u2": "S", "u4": "I", "u8": "L",
                  "f4": "f", "f8": "g"}
_ARROW_TIME_UNITS = {"s": "s", "ms": "m", "us": "u", "ns": "n"}


def _arrow_column(name: str, values: Any, np: Any) -> Tuple[str, int, Any, Any]:
    """(Arrow format, length, buffer, symbol names or None) of one column from
    _sources: the array's own buffer where NumPy's layout is Arrow's (numbers,
    datetime64 of s/ms/us/ns as timestamps), codes into the names for symbols."""
    if isinstance(values, _Names):
        codes = np.ascontiguousarray(values.codes)
        codes = codes if codes.dtype.str[1:] in _ARROW_FORMATS else codes.astype(np.int64)
        return _ARROW_FORMATS[codes.dtype.str[1:]], len(codes), codes, values.names
    arr = values if values.dtype.isnative else values.astype(values.dtype.newbyteorder("="))
    kind = arr.dtype.kind
    if kind == "M":
        unit, count = np.datetime_data(arr.dtype)
        if unit in _ARROW_TIME_UNITS and count == 1:
            return f"ts{_ARROW_TIME_UNITS[unit]}:", len(arr), np.ascontiguousarray(arr).view(np.int64), None
        from zeptodb import _datetime_to_ns  # other units: converted and checked in NumPy

        return "tsn:", len(arr), _datetime_to_ns(name, arr, np), None
    if kind == "b":
        return "b", len(arr), np.packbits(arr, bitorder="little"), None
    fmt = _ARROW_FORMATS.get(arr.dtype.str[1:])
    if fmt is None:
        raise TypeError(f"column '{name}' has unsupported dtype {arr.dtype}")
    return fmt, len(arr), np.ascontiguousarray(arr), None


def _store(pipeline: Any, target: _Target, sources: Mapping[str, Any], np: Any) -> int:
    """Store columns from _sources as one atomic batch through the engine's Arrow
    import, which converts each column in one pass in C++ with the GIL released
    (scales, time units, symbol names once per distinct name) and rejects NaN,
    NaT and values that do not fit, naming column and row."""
    cols = [(str(src), target.mapping[src]) + _arrow_column(target.mapping[src], values, np)
            for src, values in sources.items()]
    return pipeline._ingest_arrays(target.table, cols, list(target.scales.items()))


def _store_all(pipeline: Any, target: _Target, columns: Mapping[str, Any], np: Any, bad: _Bad) -> int:
    """_sources then _store, raising at the first row with a missing value."""
    sources = _sources(target, columns, np, bad, check_values=False)
    bad.raise_first(np)
    return _store(pipeline, target, sources, np)


def from_numpy(data: Any, pipeline: Any, symbol_col: str = "symbol", price_col: str = "price",
               volume_col: str = "volume", timestamp_col: str = "timestamp", price_scale: float = 1.0,
               table: str = "trades", *, volume_scale: Optional[float] = None) -> int:
    """Store NumPy columns: a ``{name: array}`` mapping or a structured array.

    Timestamps may be datetime64 of any unit or int64 ns. Returns the row count.
    """
    np = require("numpy", "from_numpy")
    if isinstance(data, np.ndarray) and data.dtype.names:
        data = {n: data[n] for n in data.dtype.names}
    target = _Target(pipeline, table, list(data), symbol_col, price_col, volume_col, timestamp_col,
                     price_scale, volume_scale)
    return _store_all(pipeline, target, {k: data[k] for k in target.mapping}, np, _Bad())


# --------------------------------------------------------------- pandas path
def _pandas_column(name: str, s: Any, pd: Any, np: Any, bad: _Bad) -> Any:
    """A pandas Series as a NumPy array: zero copy for NumPy-backed columns,
    tz-aware timestamps as UTC datetime64, nullable and Arrow-backed dtypes
    with their missing values recorded in `bad` (and a placeholder)."""
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    if isinstance(s.dtype, np.dtype):
        return s.to_numpy()
    missing = s.isna().to_numpy()
    numpy_type = getattr(dtype, "numpy_dtype", None)
    if numpy_type is None or numpy_type.kind == "O":
        return np.asarray(s, dtype=object)
    if bad.add(name, missing, "missing"):
        return s.to_numpy(dtype=numpy_type, na_value=np.zeros(1, dtype=numpy_type)[0])
    return s.to_numpy(dtype=numpy_type)


def _pandas_columns(df: Any, target: _Target, pd: Any, np: Any, bad: _Bad) -> Dict[str, Any]:
    """Source column -> NumPy array, or _Names for symbol names (object, str,
    string or categorical dtype)."""
    out = {}
    for src, name in target.mapping.items():
        s = df[src]
        if target.is_symbol(name) and not (isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu"):
            out[src] = _factorize(name, s, np, bad)
        else:
            out[src] = _pandas_column(name, s, pd, np, bad)
    return out


def from_pandas(df: Any, pipeline: Any, symbol_col: str = "symbol", price_col: str = "price",
                volume_col: str = "volume", timestamp_col: str = "timestamp", price_scale: float = 1.0,
                table: str = "trades", *, volume_scale: Optional[float] = None) -> int:
    """Store a pandas DataFrame; returns the row count. Needs only pandas and NumPy."""
    pd = require("pandas", "from_pandas")
    np = require("numpy", "from_pandas")
    target = _Target(pipeline, table, [str(c) for c in df.columns], symbol_col, price_col, volume_col,
                     timestamp_col, price_scale, volume_scale)
    bad = _Bad()
    return _store_all(pipeline, target, _pandas_columns(df, target, pd, np, bad), np, bad)


# ---------------------------------------------------------------- Arrow path
def _ingest_arrow(data: Any, pipeline: Any, table: str, target: _Target) -> int:
    return pipeline.ingest_arrow(data, table, columns=target.mapping, scales=target.scales, reject_nulls=True)


def from_arrow(data: Any, pipeline: Any, symbol_col: str = "symbol", price_col: str = "price",
               volume_col: str = "volume", timestamp_col: str = "timestamp", price_scale: float = 1.0,
               table: str = "trades", *, volume_scale: Optional[float] = None) -> int:
    """Store Arrow data: any object with ``__arrow_c_stream__`` or ``__arrow_c_array__``
    (pyarrow Table, RecordBatch, RecordBatchReader, DuckDB relation, ...).

    The buffers are read in C++ (no pyarrow needed); a chunked input is one
    atomic batch. Returns the row count.
    """
    target = _Target(pipeline, table, _names(data), symbol_col, price_col, volume_col, timestamp_col,
                     price_scale, volume_scale)
    return _ingest_arrow(data, pipeline, table, target)


def _polars_sources(df: Any, target: _Target, np: Any) -> Optional[Dict[str, Any]]:
    """The mapped columns of a Polars DataFrame as _sources columns over Polars' own
    buffers: numbers, booleans, Date and Datetime (UTC instants whatever the zone)
    through ``to_numpy()`` (no copy for one chunk), Categorical and Enum as their
    physical codes into the category names (_Names), so that Polars never builds
    the text of a dictionary. None when a column needs the Arrow C stream instead:
    String/string_view columns, other types, or NULLs (whose error the import
    words, naming column and first bad row)."""
    import polars as pl

    plain = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64, pl.Float32,
             pl.Float64, pl.Boolean, pl.Date, pl.Datetime)
    out: Dict[str, Any] = {}
    for src in target.mapping:
        s = df.get_column(src)
        if s.null_count():
            return None
        dtype = s.dtype
        if isinstance(dtype, (pl.Enum, pl.Categorical)):
            if isinstance(dtype, pl.Categorical) and not hasattr(dtype, "categories"):
                return None  # Polars before the Categories API: its codes are local, take the Arrow stream
            names = dtype.categories.to_list() if isinstance(dtype, pl.Enum) else dtype.categories.to_series().to_list()
            # a code reserved by a concurrent query has no name yet; no row of s points to it
            out[src] = _Names(s.to_physical().to_numpy(), ["" if n is None else n for n in names])
        elif isinstance(dtype, plain):
            out[src] = s.to_numpy()
        else:
            return None
    return out


def from_polars(df: Any, pipeline: Any, symbol_col: str = "symbol", price_col: str = "price",
                volume_col: str = "volume", timestamp_col: str = "timestamp", price_scale: float = 1.0,
                table: str = "trades", *, volume_scale: Optional[float] = None) -> int:
    """Store a Polars DataFrame (or LazyFrame, collected). Numeric, Datetime and
    Categorical/Enum columns without NULLs are handed over as Polars' own buffers
    (categoricals as their codes and category names); anything else
    (String/string_view, NULLs) through the Arrow C stream, read in C++ without
    pyarrow. Datetime of any unit and time zone is stored as ns UTC. Returns the
    row count."""
    if hasattr(df, "collect") and not hasattr(df, "__arrow_c_stream__"):
        df = df.collect()
    target = _Target(pipeline, table, _names(df), symbol_col, price_col, volume_col, timestamp_col,
                     price_scale, volume_scale)
    try:
        import numpy as np
    except ImportError:  # Polars' to_numpy needs NumPy; the stream does not
        return _ingest_arrow(df, pipeline, table, target)
    sources = _polars_sources(df, target, np)
    if sources is None:
        return _ingest_arrow(df, pipeline, table, target)
    return _store(pipeline, target, sources, np)


# ------------------------------------------------------------------- exports
def _selection(symbol: Any) -> Optional[list]:
    if symbol is None:
        return None
    return list(symbol) if isinstance(symbol, (list, tuple)) else [symbol]


def to_pandas(pipeline: Any, symbol: Any = None, table: str = "trades",
              columns: Optional[Sequence[str]] = None) -> Any:
    """Rows of ``table`` (all symbols, or ``symbol``: an id, a name or a list) as a
    pandas DataFrame: timestamps ``datetime64[ns, UTC]``, symbols as strings
    (categorical) where they have names, else their int64 ids."""
    pd = require("pandas", "to_pandas")
    try:
        import pyarrow as pa
    except ImportError:
        return _to_pandas_numpy(pipeline, symbol, table, columns, pd)
    return pa.table(pipeline.export(symbol, table, columns)).to_pandas()


def _to_pandas_numpy(pipeline: Any, symbol: Any, table: str, columns: Optional[Sequence[str]], pd: Any) -> Any:
    """to_pandas without pyarrow: the column views of each symbol, concatenated."""
    np = require("numpy", "to_pandas")
    keys = pipeline._partition_keys(table)
    wanted = _selection(symbol)
    if wanted is not None:
        ids = {pipeline.symbol_id(s) if isinstance(s, str) else s for s in wanted}
        keys = [k for k in keys if k in ids]
    sym_key, ts_key = pipeline._key_columns(table)
    schema = pipeline.schema(table)
    names = list(columns) if columns else [n for n, _ in schema]
    types = {n.lower(): t for n, t in schema}
    out = {}
    counts = [pipeline.count(k, table=table) for k in keys]
    for name in names:
        if sym_key is not None and name.lower() == sym_key.lower():
            labels = [pipeline.symbol_name(k) for k in keys]
            codes = np.repeat(np.arange(len(keys)), counts)
            if any(label is not None for label in labels):  # like export(): unnamed ids as text
                out[name] = pd.Categorical.from_codes(
                    codes, categories=[str(k) if lb is None else lb for k, lb in zip(keys, labels)])
            else:
                out[name] = np.asarray(keys, dtype=np.int64)[codes]
            continue
        parts = [pipeline.get_column(k, name, table) for k in keys]
        arr = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        if types[name.lower()] == "TIMESTAMP" or (ts_key is not None and name.lower() == ts_key.lower()):
            arr = pd.DatetimeIndex(arr.view("M8[ns]")).tz_localize("UTC")
        out[name] = arr
    return pd.DataFrame(out)


def to_polars(pipeline: Any, symbol: Any = None, table: str = "trades",
              columns: Optional[Sequence[str]] = None) -> Any:
    """Rows of ``table`` as a Polars DataFrame, read through the Arrow C stream
    (numeric columns without a copy when one symbol is selected)."""
    pl = require("polars", "to_polars")
    return pl.DataFrame(pipeline.export(symbol, table, columns))


# ---------------------------------------------------------------------- SQL
def _query(pipeline: Any, sql: str) -> Any:
    result = pipeline.execute(sql)
    error = getattr(result, "error", None)
    if error:
        raise ValueError(f"query failed: {error}")
    return result


def query_to_pandas(pipeline: Any, sql: str) -> Any:
    """The result of a SQL query as a pandas DataFrame; raises ValueError on a SQL error.

    With pyarrow the result is read through the Arrow C stream (its buffers
    are not copied before ``to_pandas``, which gives pandas its own, writable
    columns); without it, from the result's NumPy views. Either way TIMESTAMP
    columns are ``datetime64[ns, UTC]``, VARCHAR and SYMBOL columns strings,
    and NULLs NaN / NaT / None as pyarrow's ``to_pandas`` gives them.
    """
    pd = require("pandas", "query_to_pandas")
    result = _query(pipeline, sql)
    try:
        import pyarrow as pa
    except ImportError:
        return _query_to_pandas_numpy(result, pd)
    # not split_blocks=True: its zero-copy columns are read-only, and pandas (3
    # too) then fails to modify them in place
    return pa.table(result).to_pandas()


def _query_to_pandas_numpy(result: Any, pd: Any) -> Any:
    """query_to_pandas without pyarrow: one pandas column per result column."""
    np = require("numpy", "query_to_pandas")
    out: Dict[str, Any] = {}
    for i, (name, ctype) in enumerate(zip(result.column_names, result.column_types)):
        values, mask = result._column(i)
        if ctype == "VARCHAR":
            out[name] = values  # a list of str (None for NULL): pandas infers its string dtype
            continue
        if ctype == "TIMESTAMP":
            ts = values.view("M8[ns]")
            if mask is not None:
                ts = np.where(mask, np.datetime64("NaT", "ns"), ts)
            out[name] = pd.DatetimeIndex(ts).tz_localize("UTC")
        elif mask is None:
            out[name] = values
        elif ctype == "BOOLEAN":
            col = values.astype(object)
            col[mask] = None
            out[name] = col
        else:  # like pyarrow: numbers with NULLs become float64 with NaN
            out[name] = np.where(mask, np.nan, values.astype(np.float64))
    return pd.DataFrame(out, index=pd.RangeIndex(len(result)))


def query_to_polars(pipeline: Any, sql: str) -> Any:
    """The result of a SQL query as a Polars DataFrame, read through the Arrow C
    stream (no pyarrow needed; numeric columns without a copy); raises
    ValueError on a SQL error."""
    pl = require("polars", "query_to_polars")
    return pl.DataFrame(_query(pipeline, sql))
