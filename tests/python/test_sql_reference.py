"""SQL functions whose semantics deliberately differ from DuckDB, checked
against NumPy references: xbar (floor buckets), first/last (by timestamp),
ema (alpha or period, pandas adjust=False) and delta (kdb+ deltas)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zeptodb
from zeptodb.sql import QueryExecutor


def load(seed: int, n: int, symbols: int):
    rng = np.random.default_rng(seed)
    sym = rng.integers(1, symbols + 1, n).astype(np.int64)
    ts = rng.integers(-10**12, 10**12, n).astype(np.int64)  # negative timestamps and out of order
    px = rng.integers(-1000, 1000, n).astype(np.int64)
    vol = rng.integers(0, 100, n).astype(np.int64)
    p = zeptodb.Pipeline()
    if n:
        p.ingest_batch(sym, px, vol, timestamps=ts)
    return p, sym, ts, px, vol


def stored_order(sym, ts, s):
    """Row indices of symbol s in storage order: by timestamp, ties in arrival order."""
    idx = np.flatnonzero(sym == s)
    return idx[np.argsort(ts[idx], kind="stable")]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.sampled_from([0, 1, 5, 300]), bucket=st.integers(1, 10**11),
       threads=st.sampled_from([1, 3]))
def test_xbar_first_last_match_numpy(seed: int, n: int, bucket: int, threads: int) -> None:
    p, sym, ts, px, vol = load(seed, n, 7)
    ex = QueryExecutor(p)
    ex.enable_parallel(num_threads=threads, row_threshold=0)
    r = ex.execute(f"SELECT symbol, xbar(timestamp, {bucket}) AS b, first(price), last(price), sum(volume), count(*) "
                   f"FROM trades GROUP BY symbol, b ORDER BY symbol, b")
    assert r.ok(), r.error
    want = []
    for s in np.unique(sym):
        idx = stored_order(sym, ts, s)
        b = (ts[idx] // bucket) * bucket  # floor division: xbar rounds toward minus infinity
        for v in np.unique(b):
            rows = idx[b == v]
            want.append([int(s), int(v), int(px[rows[0]]), int(px[rows[-1]]), int(vol[rows].sum()), len(rows)])
    assert r.rows == want


def ema_ref(x: np.ndarray, alpha: float) -> np.ndarray:
    out = np.empty(len(x))
    for i, v in enumerate(x):
        out[i] = v if i == 0 else alpha * v + (1 - alpha) * out[i - 1]
    return out


@pytest.mark.parametrize("a", [0.1, 0.5, 1, 10])
def test_ema_and_delta_match_numpy(a: float) -> None:
    p, sym, ts, px, vol = load(11, 500, 4)
    r = QueryExecutor(p).execute(
        f"SELECT symbol, ema(price, {a}) OVER (PARTITION BY symbol ORDER BY timestamp), "
        f"delta(price) OVER (PARTITION BY symbol ORDER BY timestamp) FROM trades ORDER BY symbol, timestamp")
    assert r.ok(), r.error
    alpha = a if a < 1 else 2 / (a + 1)
    got = np.array([row[1] for row in r.rows])
    deltas = [row[2] for row in r.rows]
    want, want_d = [], []
    for s in np.unique(sym):
        x = px[stored_order(sym, ts, s)]
        want.append(ema_ref(x.astype(float), alpha))
        want_d.append(np.diff(x, prepend=0))  # x itself on the first row
    np.testing.assert_allclose(got, np.concatenate(want), rtol=1e-12)
    assert deltas == np.concatenate(want_d).tolist()


def test_to_numpy_is_zero_copy_and_typed() -> None:
    p, *_ = load(3, 1000, 1)
    r = QueryExecutor(p).execute("SELECT timestamp, price, CAST(timestamp AS TIMESTAMP) AS t, price > 0 AS up, "
                                 "CAST(price AS VARCHAR) AS s FROM trades WHERE symbol = 1")
    cols = r.to_numpy()
    assert len(r) == 1000 and cols["price"].dtype == np.int64 and not cols["price"].flags.writeable
    assert cols["t"].dtype == np.dtype("datetime64[ns]") and cols["up"].dtype == np.bool_
    assert cols["s"].dtype == object and cols["s"][0] == str(cols["price"][0])
    # A single-partition scan hands out the stored column itself.
    stored = p.get_column(symbol=1, name="price")
    address = lambda a: a.__array_interface__["data"][0]  # noqa: E731
    assert address(cols["price"]) == address(stored)


def test_nulls_become_masked_arrays() -> None:
    p = zeptodb.Pipeline()
    ex = QueryExecutor(p)
    assert ex.execute("CREATE TABLE t (k SYMBOL, ts TIMESTAMP, x DOUBLE)").ok()
    assert ex.execute("INSERT INTO t VALUES ('a', 1, 1.5), ('a', 2, NULL)").affected_rows == 2
    cols = ex.execute("SELECT x FROM t ORDER BY ts").to_numpy()
    assert isinstance(cols["x"], np.ma.MaskedArray) and cols["x"].mask.tolist() == [False, True]


def test_execute_never_raises_and_reports_positions() -> None:
    p = zeptodb.Pipeline()
    ex = QueryExecutor(p)
    r = ex.execute("SELECT *\nFROM trades\nWHERE price >")
    assert not r.ok() and r.error_line == 3 and "line 3" in r.error and r.rows == []
    r = ex.execute("SELECT * FROM nope")
    assert not r.ok() and "unknown table 'nope'" in r.error and "trades" in r.error
    r = p.execute("SELECT count(*) FROM trades")
    assert r.ok() and r.rows == [[0]] and r.column_types == ["BIGINT"]
    with pytest.raises(ValueError):
        ex.enable_parallel(num_threads=0)
