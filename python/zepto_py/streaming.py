"""Large or endless inputs in batches, with per-row error handling and progress.

``StreamingSession`` cuts its input into batches of ``batch_size`` rows and
stores each atomically; consecutive batches without bad rows are handed to
the engine together (up to about a million rows per call), and if the engine
rejects such a group, nothing of it is stored and its batches are stored
one by one, so everything below holds per batch. What happens to a bad row
(a missing value, a value that does not fit) depends on ``error_mode``:

- "skip": only the bad rows are dropped, and counted (``stats()``);
- "warn": the same, and each bad row is reported with its row index and
  the reason (rate limited: the first ``max_warnings`` one by one, then a
  count per batch);
- "raise": the first bad row raises, and nothing of its batch is stored
  (earlier batches stay stored).

Bad rows are found by vectorized checks where the input allows (NumPy,
pandas, Polars: missing values up front, the values the engine rejects once
it has rejected a group); anything only the engine can see is isolated by
splitting the failing batch in halves, so clean batches cost no extra call.
"""

from __future__ import annotations

import re
import sys
import time
import warnings
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from . import dataframe
from .dataframe import _Bad, _Target
from .utils import HAS_TQDM, require

__all__ = ["StreamingSession"]

_MODES = ("skip", "warn", "raise")
# Clean batches are handed to the engine together, up to this many rows per call.
_GROUP_ROWS = 1 << 20


class _Progress:
    """A tqdm.auto bar when tqdm is installed (renders in notebooks), else a
    plain line rewritten in place at most a few times a second."""

    def __init__(self, enabled: bool, total: Optional[int], desc: str) -> None:
        self.enabled = enabled
        self.bar = None
        self.rows = 0
        self.last = 0.0
        self.desc = desc
        if enabled and HAS_TQDM:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit=" rows", unit_scale=True, desc=desc)

    def update(self, n: int) -> None:
        self.rows += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.enabled and time.perf_counter() - self.last > 0.25:
            self.last = time.perf_counter()
            print(f"\r{self.desc}: {self.rows:,} rows", end="", file=sys.stderr, flush=True)

    def close(self, rows: int, elapsed: float) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            print(file=sys.stderr)
        if self.enabled:
            rate = rows / elapsed if elapsed > 0 else float("inf")
            print(f"Ingested {rows:,} rows in {elapsed:.2f}s ({rate:,.0f} rows/sec)")


class StreamingSession:
    """Batched ingest into one table with per-row error handling.

    The role arguments (``symbol_col`` ...) and ``price_scale`` mean what they
    mean for ``zepto_py.from_pandas``.
    """

    def __init__(self, pipeline: Any, batch_size: int = 50_000, error_mode: str = "skip",
                 show_progress: bool = False, *, table: str = "trades", symbol_col: str = "symbol",
                 price_col: str = "price", volume_col: str = "volume", timestamp_col: str = "timestamp",
                 price_scale: float = 1.0, max_warnings: int = 10) -> None:
        if error_mode not in _MODES:
            raise ValueError(f"error_mode must be one of {', '.join(map(repr, _MODES))}, got {error_mode!r}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.pipeline = pipeline
        self.batch_size = int(batch_size)
        self.error_mode = error_mode
        self.show_progress = show_progress
        self.table = table
        self.roles = (symbol_col, price_col, volume_col, timestamp_col)
        self.price_scale = price_scale
        self.max_warnings = max_warnings
        self._rows = 0
        self._skipped = 0
        self._batches = 0
        self._elapsed = 0.0
        self._warned = 0

    # ---------------------------------------------------------------- stats
    def stats(self) -> Dict[str, Any]:
        """rows_ingested, rows_skipped, batches, elapsed_sec, throughput (rows/sec)."""
        return {"rows_ingested": self._rows, "rows_skipped": self._skipped, "batches": self._batches,
                "elapsed_sec": self._elapsed,
                "throughput": self._rows / self._elapsed if self._elapsed > 0 else 0.0}

    def _target(self, names: Optional[List[str]]) -> _Target:
        s, p, v, t = self.roles
        return _Target(self.pipeline, self.table, names, s, p, v, t, self.price_scale, None)

    # --------------------------------------------------------------- inputs
    def ingest_pandas(self, df: Any) -> int:
        """Store a pandas DataFrame in batches; returns the rows stored."""
        pd = require("pandas", "StreamingSession.ingest_pandas")
        np = require("numpy", "StreamingSession.ingest_pandas")
        target = self._target([str(c) for c in df.columns])
        return self._run(len(df), "ingest_pandas", target,
                         lambda bad: dataframe._pandas_columns(df, target, pd, np, bad))

    def ingest_numpy(self, data: Mapping[str, Any]) -> int:
        """Store ``{column: array}`` in batches; returns the rows stored."""
        np = require("numpy", "StreamingSession.ingest_numpy")
        target = self._target(list(data))
        n = len(next(iter(data.values()))) if data else 0
        return self._run(n, "ingest_numpy", target, lambda bad: {k: data[k] for k in target.mapping})

    def ingest_polars(self, df: Any) -> int:
        """Store a Polars DataFrame in batches: Polars' own buffers where from_polars
        takes them (numbers, Datetime, Categorical/Enum codes, no NULLs), else slices
        read through the Arrow C stream."""
        pl = require("polars", "StreamingSession.ingest_polars")
        np = require("numpy", "StreamingSession.ingest_polars")
        if hasattr(df, "collect") and not hasattr(df, "__arrow_c_stream__"):
            df = df.collect()
        target = self._target(list(df.columns))
        sources = dataframe._polars_sources(df, target, np)
        if sources is not None:
            return self._run(len(df), "ingest_polars", target, lambda bad: sources)

        def bad_rows() -> _Bad:
            bad = _Bad()
            checks = {src: pl.col(src).is_null() | (pl.col(src).is_nan() if df.schema[src].is_float() else False)
                      for src in target.mapping}
            if checks:
                masks = df.select(**checks)
                for src in checks:
                    bad.add(target.mapping[src], masks[src].to_numpy(), "missing (null or NaN)")
            return bad

        return self._run_arrow(df, len(df), target, "ingest_polars", bad_rows, lambda a, n: df.slice(a, n))

    def ingest_arrow(self, data: Any) -> int:
        """Store a pyarrow Table / RecordBatch (anything with ``slice``, ``num_rows`` and
        the Arrow PyCapsule protocol) in batches."""
        n = int(getattr(data, "num_rows", None) if hasattr(data, "num_rows") else len(data))
        target = self._target(dataframe._names(data))
        return self._run_arrow(data, n, target, "ingest_arrow", _Bad, lambda a, m: data.slice(a, m))

    def ingest_iter(self, rows: Iterable[Mapping[str, Any]], total: Optional[int] = None) -> int:
        """Store dicts (one per row) buffered into batches of ``batch_size``: one engine
        call per batch, not per row. ``total`` sizes the progress bar."""
        np = require("numpy", "StreamingSession.ingest_iter")
        progress = _Progress(self.show_progress, total, "ingest_iter")
        start = time.perf_counter()
        stored = 0
        target: Optional[_Target] = None
        buffer: List[Mapping[str, Any]] = []
        base = 0
        try:
            for row in rows:
                if target is None:
                    target = self._target(list(row))
                buffer.append(row)
                if len(buffer) >= self.batch_size:
                    stored += self._iter_batch(buffer, target, base, np, progress)
                    base += len(buffer)
                    buffer = []
            if buffer and target is not None:
                stored += self._iter_batch(buffer, target, base, np, progress)
        finally:
            self._finish(progress, stored, start)
        return stored

    # ------------------------------------------------------------ machinery
    def _iter_batch(self, rows: List[Mapping[str, Any]], target: _Target, base: int, np: Any,
                    progress: _Progress) -> int:
        cols = {}
        for src in target.mapping:
            arr = np.empty(len(rows), dtype=object)
            arr[:] = [r.get(src) for r in rows]
            cols[src] = arr
        bad = _Bad()
        sources = dataframe._sources(target, cols, np, bad, check_values=True)
        return self._store(target, sources, bad, base, len(rows), np, progress)

    def _run(self, n: int, what: str, target: _Target, columns: Callable[[_Bad], Dict[str, Any]]) -> int:
        """Convert whole columns once (vectorized), then store them batch by batch
        (_grouped). The values the engine rejects (NaN, NaT, out of range) are
        looked for only in a group the engine rejected, batch by batch."""
        np = require("numpy", what)
        progress = _Progress(self.show_progress, n, what)
        start, rows_before = time.perf_counter(), self._rows
        self._expect(n)
        try:
            bad = _Bad()  # missing values only Python sees (None, pandas NA), replaced by placeholders
            sources = dataframe._sources(target, columns(bad), np, bad, check_values=False)
            known = bad.union(np, n) if bad.masks else None

            def store_batch(a: int, b: int) -> int:
                part = _Bad()
                part.masks = [(name, mask[a:b], why) for name, mask, why in bad.masks]
                cols = {k: v[a:b] for k, v in sources.items()}
                dataframe._check_values(target, cols, np, part)
                return self._store(target, cols, part, a, b - a, np, progress)

            def ingest(a: int, m: int) -> int:
                return dataframe._store(self.pipeline, target, {k: v[a:a + m] for k, v in sources.items()}, np)

            self._grouped(n, lambda a, b: known is None or not known[a:b].any(), ingest, store_batch, progress)
        finally:
            self._finish(progress, self._rows - rows_before, start)
        return self._rows - rows_before

    def _grouped(self, n: int, clean: Callable[[int, int], bool], ingest: Callable[[int, int], int],
                 store_batch: Callable[[int, int], int], progress: _Progress) -> None:
        """Rows [0, n) in batches of batch_size. A batch with known bad rows goes to
        store_batch(a, b); runs of clean batches (clean(a, b)) go to the engine
        together, up to _GROUP_ROWS rows per ingest(a, m) call, because the
        storage appends a few large pieces faster than many small ones. A group
        the engine rejects was stored not at all, and its batches are stored
        again one by one through store_batch: error modes, reports and stats()
        are per batch exactly as if every batch were its own call."""
        size = self.batch_size
        per_call = max(1, _GROUP_ROWS // size) * size

        def flush(a: int, b: int) -> None:
            if b <= a:
                return
            try:
                stored = ingest(a, b - a)
            except (ValueError, TypeError, OverflowError):
                for x in range(a, b, size):
                    store_batch(x, min(b, x + size))
                return
            self._batches += -(-(b - a) // size)
            self._rows += stored
            progress.update(stored)

        first = 0  # of the pending run of clean batches
        for a in range(0, n, size):
            b = min(n, a + size)
            if not clean(a, b):
                flush(first, a)
                store_batch(a, b)
                first = b
            elif b - first >= per_call:
                flush(first, b)
                first = b
        flush(first, n)

    def _store(self, target: _Target, cols: Dict[str, Any], bad: _Bad, base: int, n: int, np: Any,
               progress: _Progress) -> int:
        """Store one batch of _sources columns, dropping (or raising on) its known bad rows."""
        bad.masks = [m for m in bad.masks if m[1].any()]
        if bad.masks:
            if self.error_mode == "raise":
                name, mask, what = min(bad.masks, key=lambda m: int(np.argmax(m[1])))
                raise ValueError(f"column '{name}' row {base + int(np.argmax(mask))} is {what}; "
                                 f"nothing of this batch was stored")
            drop = bad.union(np, n)
            for i in np.flatnonzero(drop):
                self._bad(base + int(i), bad.reason(int(i)))
            kept = np.flatnonzero(~drop)
            cols = {k: v[kept] for k, v in cols.items()}
            row_of = lambda i: base + int(kept[i])  # noqa: E731
            n = len(kept)
        else:
            row_of = lambda i: base + i  # noqa: E731
        ingest = lambda a, m: dataframe._store(  # noqa: E731
            self.pipeline, target, {k: v[a:a + m] for k, v in cols.items()}, np)
        return self._ingest_or_split(ingest, 0, n, row_of, progress)

    def _run_arrow(self, data: Any, n: int, target: _Target, what: str, bad_rows: Callable[[], _Bad],
                   slice_: Callable[[int, int], Any]) -> int:
        """Arrow input: each batch (or group of clean batches, _grouped) is a zero-copy
        slice read by the engine. Rows that bad_rows() finds are handled here; the
        engine's own errors name a row of the slice, which is turned back into a
        row of the input."""
        np = require("numpy", what)
        progress = _Progress(self.show_progress, n, what)
        start, rows_before = time.perf_counter(), self._rows
        self._expect(n)
        bad = bad_rows()
        mask = bad.union(np, n) if bad.masks else None

        def ingest(x: int, k: int) -> int:
            try:
                return dataframe._ingest_arrow(slice_(x, k), self.pipeline, self.table, target)
            except ValueError as e:
                raise ValueError(re.sub(r"row (\d+)", lambda r: f"row {int(r.group(1)) + x}", str(e), count=1)) from e

        def store_batch(a: int, b: int) -> int:
            m = b - a
            if mask is None or not mask[a:b].any():
                return self._ingest_or_split(ingest, a, m, lambda i: i, progress)
            if self.error_mode == "raise":
                first = a + int(np.argmax(mask[a:b]))
                name, why = next((nm, w) for nm, col, w in bad.masks if col[first])
                raise ValueError(f"column '{name}' row {first} is {why}; nothing of this batch was stored")
            stored, run = 0, a  # store the runs of good rows between the bad ones
            for i in list(np.flatnonzero(mask[a:b])) + [m]:
                if i < m:
                    self._bad(a + int(i), bad.reason(a + int(i)))
                stored += self._ingest_or_split(ingest, run, a + int(i) - run, lambda j: j, progress)
                run = a + int(i) + 1
            return stored

        try:
            self._grouped(n, lambda a, b: mask is None or not mask[a:b].any(), ingest, store_batch, progress)
        finally:
            self._finish(progress, self._rows - rows_before, start)
        return self._rows - rows_before

    def _expect(self, n: int) -> None:
        """Tell the engine that n rows are coming: partitions get room for their share
        with the first batches instead of growing batch by batch (a sizing hint)."""
        try:
            self.pipeline.expect_rows(n, table=self.table)
        except KeyError:
            pass  # no such table: the first store raises the error that names it

    def _ingest_or_split(self, ingest: Callable[[int, int], int], a: int, m: int,
                         row_of: Callable[[int], int], progress: _Progress) -> int:
        """ingest(a, m); if the engine rejects it, raise ("raise" mode) or split it in
        halves until the bad rows are alone, storing everything else. row_of(i)
        is the input row index of position i (for reports)."""
        if m == 0:
            return 0
        try:
            n = ingest(a, m)
        except (ValueError, TypeError, OverflowError) as e:
            if self.error_mode == "raise":
                raise
            if m == 1:
                self._bad(row_of(a), str(e))
                return 0
            h = m // 2
            return (self._ingest_or_split(ingest, a, h, row_of, progress)
                    + self._ingest_or_split(ingest, a + h, m - h, row_of, progress))
        self._batches += 1
        self._rows += n
        progress.update(n)
        return n

    def _bad(self, row: int, reason: str) -> None:
        self._skipped += 1
        if self.error_mode == "warn":
            self._warned += 1
            if self._warned <= self.max_warnings:
                warnings.warn(f"row {row} skipped: {reason}", RuntimeWarning, stacklevel=4)
            elif self._warned == self.max_warnings + 1:
                warnings.warn("more bad rows skipped; further warnings suppressed (see stats())",
                              RuntimeWarning, stacklevel=4)

    def _finish(self, progress: _Progress, stored: int, start: float) -> None:
        elapsed = time.perf_counter() - start
        self._elapsed += elapsed
        progress.close(stored, elapsed)
