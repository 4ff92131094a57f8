"""A client for zepto_server (the ClickHouse HTTP interface), standard library only.

    import zepto_py

    with zepto_py.connect(port=8123) as db:
        db.ingest_pandas(df, table="trades")
        bars = db.query_pandas("SELECT symbol, avg(price) FROM trades GROUP BY symbol")

Results travel as ArrowStream when pyarrow (or, for Polars, polars) is
installed and as ClickHouse Native otherwise; inserts travel as Native built
from NumPy buffers. Nothing is ever sent as generated SQL text or per-row
JSON. Server errors raise ZeptoError (with the server's code and message);
network failures raise ZeptoConnectionError.
"""
from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import struct
import urllib.parse
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from .utils import require

try:
    import numpy as np
except ImportError:  # optional: connect(), execute() and Arrow/Polars results work without it
    np = None  # type: ignore[assignment]

__all__ = ["connect", "ZeptoConnection", "ApexConnection", "ZeptoError", "ZeptoConnectionError"]


class ZeptoError(Exception):
    """An error the server reported: `code` is ClickHouse's error code, `message` its text."""

    def __init__(self, code: int, message: str, status: int = 0):
        super().__init__(f"Code: {code}. {message}")
        self.code = code
        self.message = message
        self.status = status


class ZeptoConnectionError(ConnectionError):
    """The server could not be reached, or the connection broke."""


def connect(
    host: str = "localhost",
    port: int = 8123,
    api_key: Optional[str] = None,
    user: Optional[str] = None,
    password: Optional[str] = None,
    secure: bool = False,
    timeout: float = 300.0,
    database: Optional[str] = None,
    chunk_rows: int = 1_000_000,
) -> "ZeptoConnection":
    """Opens a keep-alive connection to zepto_server and checks it with /ping."""
    conn = ZeptoConnection(host, port, api_key=api_key, user=user, password=password, secure=secure,
                           timeout=timeout, database=database, chunk_rows=chunk_rows)
    conn.ping()
    return conn


class ZeptoConnection:
    """One keep-alive HTTP connection to zepto_server. Not thread-safe: use one per thread."""

    def __init__(self, host: str = "localhost", port: int = 8123, *, api_key: Optional[str] = None,
                 user: Optional[str] = None, password: Optional[str] = None, secure: bool = False,
                 timeout: float = 300.0, database: Optional[str] = None, chunk_rows: int = 1_000_000):
        self.host, self.port, self.secure, self.timeout = host, port, secure, timeout
        self.database = database
        self.chunk_rows = chunk_rows
        self._headers: Dict[str, str] = {"User-Agent": "zepto_py"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        elif user is not None or password is not None:
            token = base64.b64encode(f"{user or 'default'}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._conn: Optional[http.client.HTTPConnection] = None

    # -- lifecycle ---------------------------------------------------------
    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "ZeptoConnection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ZeptoConnection({'https' if self.secure else 'http'}://{self.host}:{self.port})"

    # -- transport ---------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.secure:
                self._conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                                         context=ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def _request(self, method: str, params: Mapping[str, str], body: Optional[bytes] = None,
                 path: str = "/") -> Tuple[bytes, Dict[str, str]]:
        query = dict(params)
        if self.database and path == "/":
            query.setdefault("database", self.database)
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        # A kept-alive connection the server has closed fails on first use:
        # retry once on a fresh one, but only if nothing was sent yet.
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, url, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.close()
                if attempt == 0 and method == "GET":
                    continue
                raise ZeptoConnectionError(f"connection to {self.host}:{self.port} broke: {e}") from e
            except (OSError, http.client.HTTPException) as e:
                self.close()
                raise ZeptoConnectionError(f"cannot reach zepto_server at {self.host}:{self.port}: {e}") from e
            response_headers = {k.lower(): v for k, v in response.getheaders()}
            if response.status != 200:
                _raise_server_error(response.status, data, response_headers)
            if response_headers.get("connection", "").lower() == "close":
                self.close()
            return data, response_headers
        raise AssertionError("unreachable")

    def _query(self, sql: str, fmt: str) -> bytes:
        data, _ = self._request("POST", {"query": f"{sql.rstrip().rstrip(';')}\nFORMAT {fmt}"}, b"")
        return data

    # -- queries -----------------------------------------------------------
    def ping(self) -> bool:
        data, _ = self._request("GET", {}, path="/ping")
        if data != b"Ok.\n":
            raise ZeptoConnectionError(f"{self.host}:{self.port} is not a ZeptoDB/ClickHouse server")
        return True

    def execute(self, sql: str) -> Any:
        """Runs one statement. INSERT and DDL return the rows written (0 for DDL);
        a query returns its rows as a list of tuples."""
        data, headers = self._request("POST", {"default_format": "Native"}, sql.encode())
        if not data:
            summary = json.loads(headers.get("x-clickhouse-summary", "{}") or "{}")
            return int(summary.get("written_rows", 0))
        columns = _decode_native(data)
        return list(zip(*(c.tolist() for c in columns.values())))

    def query_numpy(self, sql: str) -> Dict[str, np.ndarray]:
        """Columns as NumPy arrays (timestamps as datetime64[ns], strings as object arrays,
        NULLs as NaN / NaT / None)."""
        return _decode_native(self._query(sql, "Native"))

    def query_arrow(self, sql: str):
        """A pyarrow.Table (needs pyarrow)."""
        import pyarrow as pa

        return pa.ipc.open_stream(self._query(sql, "ArrowStream")).read_all()

    def query_pandas(self, sql: str):
        """A pandas.DataFrame (via Arrow when pyarrow is installed, else via Native)."""
        import pandas as pd

        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return pd.DataFrame(self.query_numpy(sql))
        table = self.query_arrow(sql)
        return table.to_pandas()

    def query_polars(self, sql: str):
        """A polars.DataFrame (Polars reads the Arrow stream itself; pyarrow not needed)."""
        import io

        import polars as pl

        return pl.read_ipc_stream(io.BytesIO(self._query(sql, "ArrowStream")))

    # -- inserts -----------------------------------------------------------
    def insert_native(self, table: str, columns: Mapping[str, Any]) -> int:
        """Inserts columns (name -> array-like of equal length) as one atomic batch."""
        names = list(columns)
        body = _encode_native(columns)
        cols = ", ".join(_quote_ident(n) for n in names)
        _, headers = self._request("POST", {"query": f"INSERT INTO {_quote_ident(table)} ({cols}) FORMAT Native"}, body)
        summary = json.loads(headers.get("x-clickhouse-summary", "{}") or "{}")
        return int(summary.get("written_rows", 0))

    def ingest_pandas(self, df, table: str = "trades", symbol_col: Optional[str] = None,
                      price_col: Optional[str] = None, volume_col: Optional[str] = None,
                      timestamp_col: Optional[str] = None, chunk_rows: Optional[int] = None,
                      progress: bool = False) -> int:
        """Inserts a pandas DataFrame. The *_col arguments name the frame's columns that
        go to the table's symbol/price/volume/timestamp columns; every other column goes
        to the table column of the same name. Large frames are sent in chunks of
        `chunk_rows` rows, each stored atomically. Returns the rows written."""
        rename = {c: t for c, t in ((symbol_col, "symbol"), (price_col, "price"), (volume_col, "volume"),
                                    (timestamp_col, "timestamp")) if c is not None and c != t}
        columns = {rename.get(str(name), str(name)): df[name] for name in df.columns}
        return self._ingest_columns(table, columns, len(df), chunk_rows, progress)

    def ingest_polars(self, df, table: str = "trades", symbol_col: Optional[str] = None,
                      price_col: Optional[str] = None, volume_col: Optional[str] = None,
                      timestamp_col: Optional[str] = None, chunk_rows: Optional[int] = None,
                      progress: bool = False) -> int:
        """Inserts a polars DataFrame (see ingest_pandas)."""
        rename = {c: t for c, t in ((symbol_col, "symbol"), (price_col, "price"), (volume_col, "volume"),
                                    (timestamp_col, "timestamp")) if c is not None and c != t}
        columns = {rename.get(name, name): _polars_column(df[name]) for name in df.columns}
        return self._ingest_columns(table, columns, df.height, chunk_rows, progress)

    def ingest_arrow(self, data, table: str = "trades", chunk_rows: Optional[int] = None) -> int:
        """Inserts a pyarrow Table / RecordBatch (or anything pyarrow.table() accepts) as ArrowStream."""
        import pyarrow as pa

        tbl = data if isinstance(data, pa.Table) else pa.table(data)
        step = chunk_rows or self.chunk_rows
        written = 0
        for start in range(0, max(tbl.num_rows, 1), step):
            part = tbl.slice(start, step)
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, part.schema) as writer:
                writer.write_table(part)
            _, headers = self._request(
                "POST", {"query": f"INSERT INTO {_quote_ident(table)} FORMAT ArrowStream"}, sink.getvalue().to_pybytes())
            summary = json.loads(headers.get("x-clickhouse-summary", "{}") or "{}")
            written += int(summary.get("written_rows", 0))
        return written

    def _ingest_columns(self, table: str, columns: Dict[str, Any], n: int, chunk_rows: Optional[int],
                        progress: bool) -> int:
        step = chunk_rows or self.chunk_rows
        starts = range(0, n, step)
        bar = None
        if progress:
            try:
                from tqdm.auto import tqdm

                bar = tqdm(total=n, unit="rows", desc=f"INSERT {table}")
            except ImportError:
                bar = None
        written = 0
        arrays = {name: _to_numpy(col) for name, col in columns.items()}
        for start in starts:
            chunk = {name: (v[start:start + step], None if m is None else m[start:start + step])
                     for name, (v, m) in arrays.items()}
            written += self.insert_native(table, chunk)
            if bar is not None:
                bar.update(min(step, n - start))
        if bar is not None:
            bar.close()
        return written


ApexConnection = ZeptoConnection  # the name older code uses


# ---------------------------------------------------------------- helpers

def _raise_server_error(status: int, data: bytes, headers: Mapping[str, str]) -> None:
    text = data.decode("utf-8", "replace").strip()
    code = int(headers.get("x-clickhouse-exception-code", "0") or 0)
    message = text
    prefix = f"Code: {code}. DB::Exception: "
    if message.startswith(prefix):
        message = message[len(prefix):]
    raise ZeptoError(code, message, status)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _string(s: str) -> bytes:
    b = s.encode()
    return _varint(len(b)) + b


def _polars_column(series):
    import polars as pl

    if series.dtype == pl.Datetime:
        return series.dt.convert_time_zone("UTC").dt.replace_time_zone(None).cast(pl.Datetime("ns")).to_numpy() \
            if series.dtype.time_zone else series.cast(pl.Datetime("ns")).to_numpy()
    if series.dtype in (pl.Utf8, pl.Categorical):
        return series.cast(pl.Utf8).to_numpy()
    return series.to_numpy()


def _to_numpy(col: Any):
    """A column as (values ndarray, null mask or None), keeping strings as objects."""
    require("numpy", "the Native format")
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(col, pd.Series):
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        mask = col.isna().to_numpy()
        if isinstance(col.dtype, pd.CategoricalDtype):
            # Kept as a Categorical: its codes and categories become the
            # LowCardinality dictionary as they are, with no per-row strings.
            return (col.array, mask if mask.any() else None)
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            return (col.astype(object).to_numpy(), mask if mask.any() else None)
        if mask.any():
            if pd.api.types.is_integer_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
                values = col.to_numpy(dtype=np.int64 if pd.api.types.is_integer_dtype(col.dtype) else np.bool_,
                                      na_value=0)
            elif pd.api.types.is_datetime64_any_dtype(col.dtype):
                values = col.to_numpy(dtype="datetime64[ns]")
            else:
                values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            return (values, mask)
        return (col.to_numpy(), None)
    arr = np.asarray(col)
    mask = None
    if arr.dtype == object:
        mask = np.array([v is None for v in arr], dtype=bool)
        mask = mask if mask.any() else None
    return (arr, mask)


def _low_cardinality(name: str, keys: List[str], codes, nullable: bool) -> List[bytes]:
    """A LowCardinality(String) column of a Native block: each key once, then the row indices."""
    index_type, index_dtype = (0, "<u1") if len(keys) < 256 else (1, "<u2") if len(keys) < 65536 else (2, "<u4")
    tname = "LowCardinality(Nullable(String))" if nullable else "LowCardinality(String)"
    return [_string(name), _string(tname), struct.pack("<QQQ", 1, index_type | (1 << 9), len(keys)),
            b"".join(_string(k) for k in keys), struct.pack("<Q", len(codes)), codes.astype(index_dtype).tobytes()]


def _encode_native(columns: Mapping[str, Any]) -> bytes:
    """One Native block of the columns (each a (values, mask) pair or array-like)."""
    require("numpy", "the Native format")
    prepared = []
    n = None
    for name, col in columns.items():
        values, mask = col if isinstance(col, tuple) else _to_numpy(col)
        if n is None:
            n = len(values)
        elif len(values) != n:
            raise ValueError(f"column {name!r} has {len(values)} values, expected {n}")
        prepared.append((name, values, mask))
    parts = [_varint(len(prepared)), _varint(n or 0)]
    for name, values, mask in prepared:
        if hasattr(values, "codes") and hasattr(values, "categories"):  # a pandas Categorical
            nullable = mask is not None
            keys = ([""] if nullable else []) + [str(c) for c in values.categories]
            codes = np.asarray(values.codes).astype(np.int64)
            if nullable:
                codes += 1  # code -1 (NULL) becomes key 0, the empty string
            parts += _low_cardinality(name, keys, codes, nullable)
            continue
        kind = values.dtype.kind
        if kind in "OUS":
            # LowCardinality(String): each distinct string once, then indices.
            obj = values.astype(object)
            if mask is not None:
                obj = obj.copy()
                obj[mask] = ""
            uniques, codes = np.unique(obj.astype(str), return_inverse=True)
            nullable = mask is not None
            keys = ([""] if nullable else []) + [str(u) for u in uniques]
            codes = codes.astype(np.int64) + (1 if nullable else 0)
            if nullable:
                codes[mask] = 0
            parts += _low_cardinality(name, keys, codes, nullable)
            continue
        if kind == "M":
            data = values.astype("datetime64[ns]").view("<i8")
            tname = "DateTime64(9, 'UTC')"
        elif kind == "b":
            data = values.astype(np.uint8)
            tname = "Bool"
        elif kind in "iu":
            if values.dtype == np.uint64 and len(values) and values.max() > np.iinfo(np.int64).max:
                raise ValueError(f"column {name!r}: values above 2**63-1 do not fit in BIGINT")
            data = values.astype("<i4") if values.dtype.itemsize <= 4 and kind == "i" else values.astype("<i8")
            tname = "Int32" if data.dtype.itemsize == 4 else "Int64"
        elif kind == "f":
            data = values.astype("<f8")
            tname = "Float64"
        else:
            raise TypeError(f"column {name!r}: cannot send NumPy dtype {values.dtype}")
        if mask is not None:
            tname = f"Nullable({tname})"
        parts += [_string(name), _string(tname)]
        if mask is not None:
            parts.append(np.ascontiguousarray(mask, dtype=np.uint8).tobytes())
        parts.append(np.ascontiguousarray(data).tobytes())
    return b"".join(parts)


class _Reader:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.data[self.pos]
            self.pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ZeptoError(0, "truncated Native response")
        v = self.data[self.pos:self.pos + n]
        self.pos += n
        return v

    def string(self) -> str:
        return bytes(self.take(self.varint())).decode("utf-8", "replace")


_NUMERIC = {"Int64": "<i8", "Int32": "<i4", "Float64": "<f8", "Bool": "u1", "UInt8": "u1"}


def _decode_native(data: bytes) -> Dict[str, np.ndarray]:
    require("numpy", "the Native format")
    reader = _Reader(data)
    blocks: Dict[str, List[np.ndarray]] = {}
    order: List[str] = []
    while reader.pos < len(reader.data):
        ncols, nrows = reader.varint(), reader.varint()
        for _ in range(ncols):
            name, tname = reader.string(), reader.string()
            if name not in blocks:
                blocks[name] = []
                order.append(name)
            nullable = tname.startswith("Nullable(")
            inner = tname[9:-1] if nullable else tname
            mask = np.frombuffer(reader.take(nrows), dtype=np.uint8).astype(bool) if nullable and nrows else None
            if inner.startswith("DateTime64"):
                arr = np.frombuffer(reader.take(8 * nrows), dtype="<i8").view("datetime64[ns]").copy()
                if mask is not None:
                    arr[mask] = np.datetime64("NaT")
            elif inner == "String":
                arr = np.empty(nrows, dtype=object)
                for i in range(nrows):
                    arr[i] = reader.string()
                if mask is not None:
                    arr[mask] = None
            elif inner in _NUMERIC:
                dt = np.dtype(_NUMERIC[inner])
                arr = np.frombuffer(reader.take(dt.itemsize * nrows), dtype=dt)
                if inner == "Bool":
                    arr = arr.astype(bool)
                if mask is not None and mask.any():
                    arr = arr.astype(np.float64) if inner != "Bool" else arr.astype(object)
                    arr[mask] = np.nan if inner != "Bool" else None
            else:
                raise ZeptoError(0, f"cannot decode Native type {tname}")
            if nrows:
                blocks[name].append(arr)
    out: Dict[str, np.ndarray] = {}
    for name in order:
        parts = blocks[name]
        out[name] = np.concatenate(parts) if len(parts) > 1 else (parts[0] if parts else np.empty(0))
    return out
