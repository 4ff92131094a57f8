"""A client for zepto_server (the ClickHouse HTTP interface), standard library only.

    import zepto_py

    with zepto_py.connect(port=8123) as db:
        db.ingest_pandas(df, table="trades")
        bars = db.query_pandas("SELECT symbol, avg(price) FROM trades GROUP BY symbol")

Results for NumPy and pandas travel as ClickHouse Native (strings as
LowCardinality: each distinct string once per block), read with NumPy views
of the response; query_arrow and query_polars read ArrowStream. Inserts
travel as Native whose column data are the frame's own NumPy buffers, handed
to the socket without copies. Nothing is ever sent as generated SQL text or
per-row JSON. Server errors raise ZeptoError (with the server's code and message);
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

    def _request(self, method: str, params: Mapping[str, str], body: Any = None,
                 path: str = "/") -> Tuple[Any, Dict[str, str]]:
        """Sends one request; `body` is bytes or a list of buffers (sent one after
        the other, without joining them). Returns the response body (bytes, or a
        bytearray when its length was announced) and the lower-cased headers."""
        query = dict(params)
        if self.database and path == "/":
            query.setdefault("database", self.database)
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        if isinstance(body, list):
            body = [memoryview(part).cast("B") for part in body]
            headers["Content-Length"] = str(sum(part.nbytes for part in body))
        # A kept-alive connection the server has closed fails on first use:
        # retry once on a fresh one, but only if nothing was sent yet.
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, url, body=body, headers=headers)
                response = conn.getresponse()
                data = _read_body(response)
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

    def _query(self, sql: str, fmt: str, settings: Optional[Mapping[str, str]] = None) -> bytes:
        params = {"query": f"{sql.rstrip().rstrip(';')}\nFORMAT {fmt}", **(settings or {})}
        data, _ = self._request("POST", params, b"")
        return data

    def _query_native(self, sql: str) -> Dict[str, "_Column"]:
        # Strings as LowCardinality, and big blocks: few blocks to join, and a
        # result of one block is answered with a Content-Length and read into
        # one buffer that the arrays view.
        return _decode_native(self._query(sql, "Native", _NATIVE_SETTINGS))

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
        if not len(data):
            summary = json.loads(headers.get("x-clickhouse-summary", "{}") or "{}")
            return int(summary.get("written_rows", 0))
        columns = _decode_native(data)
        return list(zip(*(c.numpy().tolist() for c in columns.values())))

    def query_numpy(self, sql: str) -> Dict[str, np.ndarray]:
        """Columns as NumPy arrays (timestamps as datetime64[ns], strings as object arrays,
        NULLs as NaN / NaT / None)."""
        return {name: c.numpy() for name, c in self._query_native(sql).items()}

    def query_arrow(self, sql: str):
        """A pyarrow.Table (needs pyarrow)."""
        import pyarrow as pa

        return pa.ipc.open_stream(self._query(sql, "ArrowStream")).read_all()

    def query_pandas(self, sql: str):
        """A pandas.DataFrame: timestamps datetime64[ns, UTC], strings categorical
        (like zeptodb's to_pandas), NULLs as NaN / NaT. Read from Native with NumPy,
        so pyarrow is not needed; columns are not copied once received."""
        import pandas as pd

        columns = {name: c.pandas(pd) for name, c in self._query_native(sql).items()}
        return pd.DataFrame(columns, copy=False)

    def query_polars(self, sql: str):
        """A polars.DataFrame (Polars reads the Arrow stream itself; pyarrow not needed)."""
        import io

        import polars as pl

        return pl.read_ipc_stream(io.BytesIO(self._query(sql, "ArrowStream")))

    # -- inserts -----------------------------------------------------------
    def insert_native(self, table: str, columns: Mapping[str, Any]) -> int:
        """Inserts columns (name -> array-like of equal length) as one atomic batch."""
        names = list(columns)
        body = _encode_native(columns)  # buffers, sent one after the other
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


def _low_cardinality(name: str, keys: List[str], codes, nullable: bool) -> List[Any]:
    """A LowCardinality(String) column of a Native block: each key once, then the row indices."""
    index_type, index_dtype = (0, "<u1") if len(keys) < 256 else (1, "<u2") if len(keys) < 65536 else (2, "<u4")
    tname = "LowCardinality(Nullable(String))" if nullable else "LowCardinality(String)"
    return [_string(name), _string(tname), struct.pack("<QQQ", 1, index_type | (1 << 9), len(keys)),
            b"".join(_string(k) for k in keys), struct.pack("<Q", len(codes)),
            _as_index(codes, np.dtype(index_dtype))]


def _as_index(codes, dtype):
    """Non-negative codes in an unsigned dtype, reinterpreted in place when the width matches."""
    codes = np.ascontiguousarray(codes)
    if codes.dtype.itemsize == dtype.itemsize and codes.dtype.kind in "iu":
        return codes.view(dtype)
    return codes.astype(dtype)


def _encode_native(columns: Mapping[str, Any]) -> List[Any]:
    """One Native block of the columns (each a (values, mask) pair or array-like), as a
    list of buffers: small headers, and the column data as NumPy arrays that are the
    caller's own buffers whenever their dtype is already the one sent (no copy)."""
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
    parts: List[Any] = [_varint(len(prepared)) + _varint(n or 0)]
    for name, values, mask in prepared:
        if hasattr(values, "codes") and hasattr(values, "categories"):  # a pandas Categorical
            nullable = mask is not None
            keys = ([""] if nullable else []) + [str(c) for c in values.categories]
            codes = np.asarray(values.codes)
            if nullable:
                codes = codes.astype(np.int64) + 1  # code -1 (NULL) becomes key 0, the empty string
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
            data = values.astype("datetime64[ns]", copy=False).view("<i8")
            tname = "DateTime64(9, 'UTC')"
        elif kind == "b":
            data = values.view(np.uint8) if values.dtype.itemsize == 1 else values.astype(np.uint8)
            tname = "Bool"
        elif kind in "iu":
            if values.dtype == np.uint64 and len(values) and values.max() > np.iinfo(np.int64).max:
                raise ValueError(f"column {name!r}: values above 2**63-1 do not fit in BIGINT")
            wide = values.dtype.itemsize > 4 or kind == "u"
            data = values.astype("<i8" if wide else "<i4", copy=False)
            tname = "Int64" if wide else "Int32"
        elif kind == "f":
            data = values.astype("<f8", copy=False)
            tname = "Float64"
        else:
            raise TypeError(f"column {name!r}: cannot send NumPy dtype {values.dtype}")
        if mask is not None:
            tname = f"Nullable({tname})"
        parts.append(_string(name) + _string(tname))
        if mask is not None:
            parts.append(np.ascontiguousarray(mask, dtype=np.uint8))
        parts.append(np.ascontiguousarray(data))
    return parts


def _read_body(response: http.client.HTTPResponse) -> Any:
    """The response body. One with a Content-Length is read from the socket straight
    into one writable buffer that the decoded arrays view (from 1 MB a NumPy array:
    NumPy asks for huge pages, so filling it faults far fewer pages); a chunked one
    as bytes."""
    if response.chunked or not response.length:
        return response.read()
    large = np is not None and response.length >= (1 << 20)
    buf = np.empty(response.length, dtype=np.uint8) if large else bytearray(response.length)
    view = memoryview(buf)
    got = 0
    while got < len(view):
        n = response.readinto(view[got:])
        if not n:
            raise http.client.IncompleteRead(bytes(buf[:got]), len(buf) - got)
        got += n
    return buf


class _Reader:
    def __init__(self, data: Any):
        self.buf = data
        self.data = memoryview(data)
        self.pos = 0

    def varint(self) -> int:
        shift = result = 0
        while True:
            if self.pos >= len(self.data):
                raise ZeptoError(0, "truncated Native response")
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

    def array(self, dtype: str, count: int):
        """`count` values viewed in place (no copy)."""
        dt = np.dtype(dtype)
        self.take(dt.itemsize * count)
        return np.frombuffer(self.buf, dtype=dt, count=count, offset=self.pos - dt.itemsize * count)

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def string(self) -> str:
        return bytes(self.take(self.varint())).decode("utf-8", "replace")


_NUMERIC = {"Int64": "<i8", "Int32": "<i4", "Float64": "<f8", "Bool": "u1", "UInt8": "u1"}
# Sent with queries read as Native: strings as LowCardinality, blocks of up to 16 M rows.
_NATIVE_SETTINGS = {"output_format_native_low_cardinality_strings": "1", "max_block_size": str(1 << 24)}


class _Column:
    """One decoded column: its blocks' values, or for LowCardinality strings the
    distinct strings and a code per row (-1: NULL)."""

    def __init__(self, tname: str):
        self.tname = tname
        self.parts: List[Any] = []
        self.keys: Optional[Dict[str, int]] = None  # LowCardinality: string -> code

    def add_low_cardinality(self, keys: List[str], indices, nullable: bool) -> None:
        if self.keys is None:
            self.keys = {}
        # This block's key numbers -> the column's codes (NULL: -1).
        remap = np.empty(len(keys), dtype=np.int32)
        for i, k in enumerate(keys):
            remap[i] = -1 if nullable and i == 0 else self.keys.setdefault(k, len(self.keys))
        self.parts.append(remap[indices])

    def _joined(self):
        if len(self.parts) > 1:
            return np.concatenate(self.parts)
        if not self.parts:
            return None
        part = self.parts[0]  # a view of the response: copied only if that is read-only
        return part if part.flags.writeable else part.copy()

    def numpy(self):
        data = self._joined()
        if self.keys is None:
            return data if data is not None else np.empty(0)
        table = np.empty(len(self.keys) + 1, dtype=object)  # the last entry: NULL (code -1)
        table[:-1] = list(self.keys)
        return table[data] if data is not None else np.empty(0, dtype=object)

    def pandas(self, pd):
        if self.keys is None:
            data = self.numpy()
            if data.dtype.kind == "M":
                return pd.DatetimeIndex(data).tz_localize("UTC")
            return data
        codes = self._joined()
        return pd.Categorical.from_codes(codes if codes is not None else np.empty(0, dtype=np.int32),
                                         categories=list(self.keys))


def _decode_native(data: Any) -> Dict[str, _Column]:
    require("numpy", "the Native format")
    reader = _Reader(data)
    columns: Dict[str, _Column] = {}
    while reader.pos < len(reader.data):
        ncols, nrows = reader.varint(), reader.varint()
        for _ in range(ncols):
            name, tname = reader.string(), reader.string()
            col = columns.setdefault(name, _Column(tname))
            low_cardinality = tname.startswith("LowCardinality(")
            inner = tname[15:-1] if low_cardinality else tname
            nullable = inner.startswith("Nullable(")
            inner = inner[9:-1] if nullable else inner
            if not nrows:
                continue
            if low_cardinality:
                if inner != "String" or reader.u64() != 1:
                    raise ZeptoError(0, f"cannot decode Native type {tname}")
                flags, nkeys = reader.u64(), reader.u64()
                keys = [reader.string() for _ in range(nkeys)]
                if reader.u64() != nrows:
                    raise ZeptoError(0, f"LowCardinality column {name!r}: row count differs from its block")
                indices = reader.array(("<u1", "<u2", "<u4", "<u8")[flags & 0xFF], nrows)
                col.add_low_cardinality(keys, indices, nullable)
                continue
            mask = reader.array("u1", nrows).astype(bool) if nullable else None
            if inner.startswith("DateTime64"):
                arr = reader.array("<i8", nrows).view("datetime64[ns]")
                if mask is not None and mask.any():
                    arr = arr.copy()
                    arr[mask] = np.datetime64("NaT")
            elif inner == "String":
                arr = np.empty(nrows, dtype=object)
                for i in range(nrows):
                    arr[i] = reader.string()
                if mask is not None:
                    arr[mask] = None
            elif inner in _NUMERIC:
                arr = reader.array(_NUMERIC[inner], nrows)
                if inner == "Bool":
                    arr = arr.astype(bool)
                if mask is not None and mask.any():
                    arr = arr.astype(np.float64) if inner != "Bool" else arr.astype(object)
                    arr[mask] = np.nan if inner != "Bool" else None
            else:
                raise ZeptoError(0, f"cannot decode Native type {tname}")
            col.parts.append(arr)
    return columns
