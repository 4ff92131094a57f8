"""SQL benchmark: ZeptoDB against DuckDB on the same data, in the same process.

    python bench/bench_sql.py                       # 10 M trades, 100 symbols, 5 M quotes
    python bench/bench_sql.py --rows 1000000 --rounds 3 --threads 2

Both engines get the same generated trades (symbol, timestamp, price, volume)
and quotes (symbol, timestamp, bid, ask) and the same thread count. For each
query the script reports the median time of both and the ratio DuckDB /
ZeptoDB (above 1: we are faster; target 2); each side's time includes
handing back the result as typed columns (our QueryResult, DuckDB's
fetchnumpy()), not converting it to Python rows. Full scans also report the
memory floor: the bytes the query must read divided by the read bandwidth
measured with NumPy in the same run (a sum over a large array); the target
is at most 2x that floor. Results of the two engines are compared before
timing, so a fast wrong answer cannot pass.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from typing import Callable, List, Tuple

import numpy as np

import zeptodb
from zeptodb.sql import QueryExecutor

T0 = 1_711_000_000_000_000_000
BAR = 300_000_000_000  # 5 minutes in ns


def timed(fn: Callable[[], object], rounds: int) -> Tuple[float, object]:
    times, out = [], None
    for _ in range(rounds):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def read_bandwidth(nbytes: int, rounds: int) -> float:
    """Bytes per second of a streaming read (NumPy sum over int64)."""
    a = np.ones(max(nbytes // 8, 1 << 20), dtype=np.int64)
    t, _ = timed(lambda: a.sum(), rounds)
    return a.nbytes / t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="trades (quotes: half as many)")
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="threads for both engines (default: all cores)")
    args = ap.parse_args()
    import os

    import duckdb

    threads = args.threads or os.cpu_count() or 1
    rng = np.random.default_rng(7)
    n, nq = args.rows, args.rows // 2
    sym = rng.integers(1, args.symbols + 1, n, dtype=np.int64)
    ts = T0 + np.sort(rng.integers(0, 6 * 3600 * 10**9, n, dtype=np.int64))
    px = rng.integers(10_000, 20_000, n, dtype=np.int64)
    vol = rng.integers(1, 1_000, n, dtype=np.int64)
    qsym = rng.integers(1, args.symbols + 1, nq, dtype=np.int64)
    qts = T0 + np.sort(rng.integers(0, 6 * 3600 * 10**9, nq, dtype=np.int64))
    bid = rng.integers(10_000, 20_000, nq).astype(np.float64) / 100
    ask = bid + 0.01

    p = zeptodb.Pipeline()
    p.ingest_batch(sym, px, vol, timestamps=ts)
    assert p.execute("CREATE TABLE quotes (symbol BIGINT, timestamp TIMESTAMP, bid DOUBLE, ask DOUBLE) "
                     "PARTITION BY symbol ORDER BY timestamp").ok()
    p.ingest_columns("quotes", {"symbol": qsym, "timestamp": qts, "bid": bid, "ask": ask})
    ex = QueryExecutor(p)
    ex.enable_parallel(num_threads=threads, row_threshold=100_000)

    duck = duckdb.connect()
    duck.execute(f"SET threads = {threads}")
    duck.register("t_src", {"symbol": sym, "timestamp": ts, "price": px, "volume": vol})
    duck.register("q_src", {"symbol": qsym, "timestamp": qts, "bid": bid, "ask": ask})
    duck.execute("CREATE TABLE trades AS SELECT * FROM t_src")
    duck.execute("CREATE TABLE quotes AS SELECT * FROM q_src")

    one = 42
    lo, hi = T0 + 3600 * 10**9, T0 + 2 * 3600 * 10**9
    # (name, ours, duckdb, bytes a full scan must read or 0)
    queries: List[Tuple[str, str, str, int]] = [
        ("count_one_symbol", f"SELECT count(*) FROM trades WHERE symbol = {one}",
         f"SELECT count(*) FROM trades WHERE symbol = {one}", 0),
        ("vwap_per_symbol", "SELECT symbol, vwap(price, volume) FROM trades GROUP BY symbol ORDER BY symbol",
         "SELECT symbol, sum(price * volume)::DOUBLE / sum(volume) FROM trades GROUP BY symbol ORDER BY symbol",
         n * 24),
        ("bars_one_symbol",
         f"SELECT xbar(timestamp, {BAR}) AS b, first(price), max(price), min(price), last(price), sum(volume) "
         f"FROM trades WHERE symbol = {one} GROUP BY b ORDER BY b",
         f"SELECT timestamp // {BAR} * {BAR} AS b, arg_min(price, timestamp), max(price), min(price), "
         f"arg_max(price, timestamp), sum(volume) FROM trades WHERE symbol = {one} GROUP BY b ORDER BY b", 0),
        ("bars_all_symbols",
         f"SELECT symbol, xbar(timestamp, {BAR}) AS b, first(price), max(price), min(price), last(price), "
         f"sum(volume) FROM trades GROUP BY symbol, b ORDER BY symbol, b",
         f"SELECT symbol, timestamp // {BAR} * {BAR} AS b, arg_min(price, timestamp), max(price), min(price), "
         f"arg_max(price, timestamp), sum(volume) FROM trades GROUP BY symbol, b ORDER BY symbol, b", n * 32),
        ("filtered_sum", f"SELECT sum(volume) FROM trades WHERE timestamp BETWEEN {lo} AND {hi} AND price > 15000",
         f"SELECT sum(volume) FROM trades WHERE timestamp BETWEEN {lo} AND {hi} AND price > 15000", n * 24),
        ("asof_one_symbol",
         f"SELECT t.timestamp, t.price, q.bid FROM trades t ASOF JOIN quotes q ON t.symbol = q.symbol "
         f"AND t.timestamp >= q.timestamp WHERE t.symbol = {one}",
         f"SELECT t.timestamp, t.price, q.bid FROM trades t ASOF JOIN quotes q ON t.symbol = q.symbol "
         f"AND t.timestamp >= q.timestamp WHERE t.symbol = {one}", 0),
        ("latest_per_symbol", "SELECT symbol, last(price), max(timestamp) FROM trades GROUP BY symbol ORDER BY symbol",
         "SELECT symbol, arg_max(price, timestamp), max(timestamp) FROM trades GROUP BY symbol ORDER BY symbol",
         n * 24),
    ]
    bandwidth = read_bandwidth(n * 8, args.rounds)
    print(f"{n:,} trades over {args.symbols} symbols, {nq:,} quotes; {threads} threads for both engines; "
          f"read bandwidth {bandwidth / 1e9:.1f} GB/s")
    print(f"  {'query':<20} {'zeptodb':>12} {'duckdb':>12} {'speedup':>8} {'floor':>10} {'x floor':>8}")
    table = []
    failed = False
    for name, ours, theirs, nbytes in queries:
        r = ex.execute(ours)
        if not r.ok():
            print(f"  {name}: ERROR {r.error}")
            failed = True
            continue
        want = sorted(duck.execute(theirs).fetchall())
        got = sorted(r.rows)
        if len(got) != len(want) or any(
                not np.allclose(np.asarray(g, dtype=float), np.asarray(w, dtype=float), rtol=1e-9)
                for g, w in zip(got, want)):
            print(f"  {name}: results differ: {got[:3]} vs {want[:3]}")
            failed = True
        # The check's Python rows (100 k of them for the ASOF join) would
        # otherwise stay alive while both engines are timed, and every
        # round's gc.collect() would walk them.
        del r, got, want
        # Both sides produce the result as typed columns (ours: the
        # QueryResult, whose NumPy views need no copy; DuckDB: fetchnumpy),
        # not as Python objects row by row.
        t_ours, _ = timed(lambda: ex.execute(ours), args.rounds)
        t_duck, _ = timed(lambda: duck.execute(theirs).fetchnumpy(), args.rounds)
        speedup = t_duck / t_ours
        floor = nbytes / bandwidth if nbytes else 0.0
        x_floor = t_ours / floor if floor else 0.0
        table.append((name, t_ours, t_duck, speedup, floor, x_floor))
        print(f"  {name:<20} {t_ours * 1e3:>10.3f}ms {t_duck * 1e3:>10.3f}ms {speedup:>8.2f} "
              + (f"{floor * 1e3:>8.2f}ms {x_floor:>8.2f}" if floor else f"{'':>10} {'':>8}"), flush=True)
        target_ok = speedup >= 2 and (not floor or x_floor <= 2)
        print(f"RESULT sql_{name} value={t_ours * 1e3:.6g} unit=ms baseline={t_duck * 1e3:.6g} "
              f"ratio={speedup:.4f} target=duckdb/ours>=2{',floor<=2x' if floor else ''} "
              f"{'PASS' if target_ok else 'MISS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
