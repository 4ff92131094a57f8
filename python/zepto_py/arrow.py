"""Arrow in and out of a pipeline, zero copy where the layout allows.

Exports go through the engine's own Arrow C stream (``Pipeline.export``):
numeric and timestamp buffers are the engine's memory, kept alive by the
consumer's Arrow objects, so ``to_arrow`` and ``to_polars_zero_copy`` take
constant time whatever the row count (one symbol: one chunk; all symbols:
one chunk per symbol). Ingest reads any Arrow PyCapsule producer in C++.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Tuple, Union

from . import dataframe
from .utils import require

__all__ = ["ArrowSession", "zepto_schema_to_arrow"]

# ZeptoDB column type -> pyarrow type factory name (and arguments).
_ARROW_TYPES = {
    "BIGINT": ("int64", ()),
    "INTEGER": ("int32", ()),
    "DOUBLE": ("float64", ()),
    "BOOLEAN": ("bool_", ()),
    "TIMESTAMP": ("timestamp", ("ns", "UTC")),
    "SYMBOL": ("dictionary", ()),
}


def _arrow_type(pa: Any, type_name: str) -> Any:
    name, args = _ARROW_TYPES[type_name.upper()]
    if name == "dictionary":
        return pa.dictionary(pa.int32(), pa.utf8())
    return getattr(pa, name)(*args)


def zepto_schema_to_arrow(names: Union[Sequence[str], Sequence[Tuple[str, str]]]) -> Any:
    """A pyarrow schema for ZeptoDB columns.

    ``names`` is a list of ``(column, type)`` pairs as ``Pipeline.schema()``
    returns them, or a list of type names (columns then named after their
    position: ``c0``, ``c1``, ...). BIGINT -> int64, INTEGER -> int32,
    DOUBLE -> float64, BOOLEAN -> bool, TIMESTAMP -> timestamp[ns, UTC],
    SYMBOL -> dictionary<int32, utf8>.
    """
    pa = require("pyarrow", "zepto_schema_to_arrow")
    fields = []
    for i, item in enumerate(names):
        col, type_name = (f"c{i}", item) if isinstance(item, str) else item
        if str(type_name).upper() not in _ARROW_TYPES:
            raise ValueError(f"unknown ZeptoDB type '{type_name}' for column '{col}' "
                             f"(expected one of {', '.join(_ARROW_TYPES)})")
        fields.append(pa.field(col, _arrow_type(pa, type_name)))
    return pa.schema(fields)


class ArrowSession:
    """Arrow import and export for one pipeline."""

    def __init__(self, pipeline: Any, table: str = "trades") -> None:
        self.pipeline = pipeline
        self.table = table

    # ------------------------------------------------------------------ ingest
    def ingest_arrow(self, table: Any, symbol_col: str = "symbol", price_col: str = "price",
                     volume_col: str = "volume", timestamp_col: str = "timestamp", price_scale: float = 1.0,
                     *, target: Optional[str] = None) -> int:
        """Store an Arrow table (or any Arrow PyCapsule object) into ``target``
        (default: the session's table) as one atomic batch; returns the row count."""
        return dataframe.from_arrow(table, self.pipeline, symbol_col, price_col, volume_col, timestamp_col,
                                    price_scale, target or self.table)

    def ingest_record_batch(self, batch: Any, **kwargs: Any) -> int:
        """Store one record batch (same keywords as ``ingest_arrow``)."""
        return self.ingest_arrow(batch, **kwargs)

    def ingest_arrow_columnar(self, symbols: Any, prices: Any, volumes: Any, timestamps: Any = None, *,
                              price_scale: float = 1.0, target: Optional[str] = None) -> int:
        """Store trades given as separate Arrow arrays (or anything pyarrow.array accepts)."""
        pa = require("pyarrow", "ArrowSession.ingest_arrow_columnar")
        cols = {"symbol": symbols, "price": prices, "volume": volumes}
        if timestamps is not None:
            cols["timestamp"] = timestamps
        batch = pa.record_batch({k: v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v)
                                 for k, v in cols.items()})
        return self.ingest_arrow(batch, price_scale=price_scale, target=target)

    # ------------------------------------------------------------------ export
    def export(self, symbol: Any = None, columns: Optional[Sequence[str]] = None) -> Any:
        """The engine's Arrow export (PyCapsule protocol; no pyarrow needed)."""
        return self.pipeline.export(symbol, self.table, columns)

    def to_arrow(self, symbol: Any = None, columns: Optional[Sequence[str]] = None) -> Any:
        """A pyarrow Table over the engine's buffers (zero copy, constant time)."""
        pa = require("pyarrow", "ArrowSession.to_arrow")
        return pa.table(self.export(symbol, columns))

    def to_record_batch_reader(self, symbol: Any = None, columns: Optional[Sequence[str]] = None) -> Any:
        """A pyarrow RecordBatchReader that builds one batch per symbol as it is read."""
        pa = require("pyarrow", "ArrowSession.to_record_batch_reader")
        return pa.RecordBatchReader.from_stream(self.export(symbol, columns))

    def to_polars_zero_copy(self, symbol: Any = None, columns: Optional[Sequence[str]] = None) -> Any:
        """A Polars DataFrame over the engine's buffers (no pyarrow needed)."""
        pl = require("polars", "ArrowSession.to_polars_zero_copy")
        return pl.DataFrame(self.export(symbol, columns))

    def to_duckdb(self, symbol: Any = None, table_name: str = "trades", connection: Any = None) -> Any:
        """A DuckDB connection (new, or ``connection``) in which ``table_name`` is a
        view of the exported rows; DuckDB scans the Arrow data in place."""
        duckdb = require("duckdb", "ArrowSession.to_duckdb")
        con = connection if connection is not None else duckdb.connect()
        data = self.to_arrow(symbol) if _has("pyarrow") else self.export(symbol)
        con.register(table_name, data)
        return con

    def get_schema(self) -> Any:
        """The pyarrow schema of the session's table as exported."""
        pa = require("pyarrow", "ArrowSession.get_schema")
        return pa.schema(self.export())

    def zepto_schema_to_arrow(self, names: Union[Sequence[str], Sequence[Tuple[str, str]], None] = None) -> Any:
        """``zepto_schema_to_arrow`` of ``names``, by default the session table's schema."""
        return zepto_schema_to_arrow(names if names is not None else self.pipeline.schema(self.table))


def _has(name: str) -> bool:
    from . import utils

    return bool(getattr(utils, f"HAS_{name.upper()}", False))
