"""SQL over a pipeline: ``QueryExecutor(pipeline).execute(sql)``.

>>> import zeptodb
>>> from zeptodb.sql import QueryExecutor
>>> p = zeptodb.Pipeline()
>>> p.ingest_batch([1, 1, 2], [100, 101, 200], [10, 20, 30], timestamps=[1, 2, 3])
3
>>> r = QueryExecutor(p).execute("SELECT symbol, sum(volume) AS vol FROM trades GROUP BY symbol ORDER BY symbol")
>>> r.column_names, r.rows
(['symbol', 'vol'], [[1, 30], [2, 30]])

``execute`` never raises for a bad statement: the result's ``error`` holds
the message (with line and column for syntax errors) and ``ok()`` is False.
A result is an Arrow PyCapsule producer (``__arrow_c_stream__``,
``__arrow_c_array__``, ``__arrow_c_schema__``): ``pyarrow.table(r)``,
``polars.DataFrame(r)`` and DuckDB read its buffers without a copy.
The dialect is described in docs/sql.md.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

from ._core import QueryResult

__all__ = ["QueryExecutor", "QueryResult", "to_numpy"]


class QueryExecutor:
    """Runs SQL statements against one pipeline.

    Queries run on one thread unless ``enable_parallel`` was called; then a
    query that reads at least ``row_threshold`` rows is spread over
    ``num_threads`` threads (one per partition range).
    """

    def __init__(self, pipeline: Any) -> None:
        if not hasattr(pipeline, "_execute_sql"):
            raise TypeError(f"QueryExecutor needs a zeptodb.Pipeline, got {type(pipeline).__name__}")
        self._pipeline = pipeline
        self._threads = 1
        self._row_threshold = 100_000

    def enable_parallel(self, num_threads: Optional[int] = None, row_threshold: int = 100_000) -> None:
        """Run large queries on ``num_threads`` threads (None: one per CPU core)."""
        if num_threads is None:
            num_threads = os.cpu_count() or 1
        if int(num_threads) < 1:
            raise ValueError(f"num_threads must be at least 1, got {num_threads}")
        if int(row_threshold) < 0:
            raise ValueError(f"row_threshold must not be negative, got {row_threshold}")
        self._threads = int(num_threads)
        self._row_threshold = int(row_threshold)

    def disable_parallel(self) -> None:
        """Run every query on the calling thread."""
        self._threads = 1

    @property
    def num_threads(self) -> int:
        return self._threads

    @property
    def row_threshold(self) -> int:
        return self._row_threshold

    def execute(self, sql: str) -> QueryResult:
        """Run one statement. Errors are reported in ``result.error``, never raised."""
        if not isinstance(sql, str):
            raise TypeError(f"sql must be a str, got {type(sql).__name__}")
        return self._pipeline._execute_sql(sql, self._threads, self._row_threshold)


def to_numpy(result: QueryResult) -> Dict[str, Any]:
    """The columns of ``result`` as NumPy arrays, by name.

    Numeric and BOOLEAN columns are read-only zero-copy views of the result's
    buffers; TIMESTAMP columns are ``datetime64[ns]`` views; VARCHAR columns
    are object arrays of str. A column with NULLs is a ``numpy.ma.MaskedArray``
    whose mask marks them.
    """
    import numpy as np

    if not result.ok():
        raise ValueError(f"the query failed: {result.error}")
    out: Dict[str, Any] = {}
    for i, (name, ctype) in enumerate(zip(result.column_names, result.column_types)):
        values, mask = result._column(i)
        if ctype == "VARCHAR":
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
            values = arr
        elif ctype == "TIMESTAMP":
            values = values.view("datetime64[ns]")
        if mask is not None:
            values = np.ma.MaskedArray(values, mask=mask)
        out[name] = values
    return out


def _result_to_numpy(self: QueryResult) -> Dict[str, Any]:
    return to_numpy(self)


QueryResult.to_numpy = _result_to_numpy  # type: ignore[attr-defined]
