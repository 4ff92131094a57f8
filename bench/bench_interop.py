"""zepto_py ingest and export against numpy.copyto of the same bytes, in the same run.

10 M trades (symbol, timestamp, price float64, volume int64) over 100
symbols; every subject includes its conversions: float prices scaled to
integer ticks (price_scale=100) and timestamps converted to int64 ns UTC
(datetime64[us] / Arrow timestamp[us, UTC] / Polars Datetime("us", "UTC")).
Symbols are int64 ids for NumPy, categorical names for pandas, dictionary
names for Arrow and Polars. The baseline copies the four source columns
(int64/int64/float64/int64, 320 MB at 10 M rows) into fresh arrays with
numpy.copyto; a ratio is baseline time / subject time, each the median of
alternating rounds. A reference line (no target) gives the storage step
alone: Pipeline.ingest_columns of the already converted int64 columns.
query_to_pandas is compared with DuckDB instead: the same
SELECT of every row over the same data, DuckDB's result taken as .arrow() and
converted with to_pandas().

    python bench/bench_interop.py                  # 10 M rows
    python bench/bench_interop.py --rows 1000000   # quick check

The last lines are machine-readable RESULT lines (see bench/run_all.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Callable, List, Optional

import numpy as np

import zeptodb
import zepto_py
from bench_pipeline import SYMBOLS, T0, Result, print_result, rounds, trades


def source(rows: int) -> dict:
    sym, px, vol, ts = trades(rows)
    return {"symbol": sym, "timestamp": (ts // 1000).astype("datetime64[us]"),
            "price": px / 100.0, "volume": vol}


def copy_baseline(data: dict) -> Callable[[], float]:
    arrays = [data["symbol"], data["timestamp"].view(np.int64), data["price"], data["volume"]]

    def run() -> float:
        t = time.perf_counter()
        out = [np.empty_like(a) for a in arrays]
        for d, a in zip(out, arrays):
            np.copyto(d, a)
        return time.perf_counter() - t

    return run


def timed(store: Callable[[zeptodb.Pipeline], int], rows: int) -> Callable[[], float]:
    def run() -> float:
        p = zeptodb.Pipeline()
        t = time.perf_counter()
        n = store(p)
        dt = time.perf_counter() - t
        assert n == rows == p.row_count(), (n, rows)
        return dt

    return run


def compare(name: str, what: str, rows: int, n_rounds: int, baseline: Callable[[], float],
            subject: Callable[[], float], target: Optional[float], nbytes: int) -> Result:
    """Baseline and subject in alternating rounds; target None: a reference figure only."""
    b, s = rounds(n_rounds, baseline, subject)
    ratio = statistics.median(bi / si for bi, si in zip(b, s))
    r = Result(name, what, rows / statistics.median(s), "rows/s", rows / statistics.median(b),
               f"numpy.copyto of the same {nbytes >> 20} MB", ratio,
               "none (reference)" if target is None else f">= {target}x", target is None or ratio >= target)
    print(f"{name}: {rows:,} rows, {n_rounds} rounds")
    print_result(r)
    return r


def constant_time(name: str, export: Callable[[zeptodb.Pipeline], object], n_rounds: int) -> Result:
    """Export time of one symbol at 100 k and at 10x more rows: the ratio stays near 1."""
    times = []
    for rows in (100_000, 1_000_000):
        p = zeptodb.Pipeline()
        p.ingest_batch(np.ones(rows, dtype=np.int64), np.arange(rows), np.ones(rows, dtype=np.int64),
                       T0 + np.arange(rows))
        runs = []
        for _ in range(max(n_rounds, 50)):  # microseconds each: many runs, or the load decides
            t = time.perf_counter()
            export(p)
            runs.append(time.perf_counter() - t)
        times.append(statistics.median(runs))
    ratio = times[0] / times[1]  # 1.0 = constant time; a copy would give about 0.1
    r = Result(name, f"{name}, 1,000,000 rows of one symbol", times[1] * 1e6, "us", times[0] * 1e6,
               f"{name}, 100,000 rows (10x fewer)", ratio, ">= 0.5x", ratio >= 0.5)
    print(f"{name}: constant time whatever the row count")
    print_result(r)
    return r


# Every row; the second leaves out the symbol column (a SYMBOL result is codes
# plus names in the engine and gets its text when handed over), to show the
# cost of the numeric columns alone.
QUERIES = {"query_to_pandas": "SELECT symbol, timestamp, price, volume FROM q",
           "query_to_pandas_num": "SELECT timestamp, price, volume FROM q"}


def query_to_pandas_vs_duckdb(table, rows: int, n_rounds: int) -> List[Result]:
    """query_to_pandas of a 10 M-row result against DuckDB's .arrow() → to_pandas() of the
    same query over the same data (symbol VARCHAR, timestamp ns, price DOUBLE, volume BIGINT)."""
    import duckdb

    p = zeptodb.Pipeline()
    assert p.execute("CREATE TABLE q (symbol SYMBOL, timestamp TIMESTAMP, price DOUBLE, volume BIGINT)").ok()
    assert zepto_py.from_arrow(table, p, table="q") == rows
    con = duckdb.connect()
    con.register("src", table)
    con.execute("CREATE TABLE q AS SELECT symbol::VARCHAR AS symbol, timestamp::TIMESTAMP_NS AS timestamp, "
                "price, volume FROM src")
    con.unregister("src")

    return [one_query(name, sql, p, con, rows, n_rounds) for name, sql in QUERIES.items()]


def one_query(name: str, sql: str, p: zeptodb.Pipeline, con, rows: int, n_rounds: int) -> Result:
    def ours() -> float:
        t = time.perf_counter()
        df = zepto_py.query_to_pandas(p, sql)
        dt = time.perf_counter() - t
        assert len(df) == rows
        return dt

    def duck() -> float:
        t = time.perf_counter()
        df = con.sql(sql).arrow().read_all().to_pandas()
        dt = time.perf_counter() - t
        assert len(df) == rows
        return dt

    ours(), duck()  # warm both (first-touch page faults, lazy imports)
    # Like with like: the same pandas dtypes on both sides (strings for the symbols),
    # except that ZeptoDB's timestamps carry their zone (UTC) and DuckDB's
    # TIMESTAMP_NS does not.
    a = zepto_py.query_to_pandas(p, sql + " LIMIT 1").dtypes.astype(str).tolist()
    b = con.sql(sql + " LIMIT 1").arrow().read_all().to_pandas().dtypes.astype(str).tolist()
    assert [t.replace(", UTC", "") for t in a] == b, (a, b)
    b, s = rounds(n_rounds, duck, ours)
    ratio = statistics.median(bi / si for bi, si in zip(b, s))
    r = Result(name, f"zepto_py.query_to_pandas, {rows:,}-row result", rows / statistics.median(s),
               "rows/s", rows / statistics.median(b), "DuckDB .arrow() -> to_pandas(), same query",
               ratio, ">= 1.0x", ratio >= 1.0)
    print(f"{name}: {sql!r}, {rows:,} rows, {n_rounds} rounds")
    print_result(r)
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    rows, n = args.rows, args.rounds
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    data = source(rows)
    nbytes = sum(a.nbytes for a in data.values())
    base = copy_baseline(data)
    names = np.array([f"S{i:03d}" for i in range(SYMBOLS)], dtype=object)
    frame = pd.DataFrame({"symbol": pd.Categorical.from_codes(data["symbol"], names),
                          "timestamp": data["timestamp"], "price": data["price"], "volume": data["volume"]})
    table = pa.table({"symbol": pa.DictionaryArray.from_arrays(pa.array(data["symbol"].astype(np.int32)),
                                                               pa.array(names.tolist())),
                      "timestamp": pa.array(data["timestamp"]).cast(pa.timestamp("us", "UTC")),
                      "price": data["price"], "volume": data["volume"]})
    polars = pl.from_arrow(table)
    print(f"zepto_py interop, {rows:,} rows over {SYMBOLS} symbols; baseline numpy.copyto of {nbytes >> 20} MB\n")

    # For reference, not a target: the storage step alone (the engine columns
    # already converted), which every ingest below includes.
    ready = {"symbol": data["symbol"], "timestamp": data["timestamp"].astype("datetime64[ns]").view(np.int64),
             "price": np.round(data["price"] * 100).astype(np.int64), "volume": data["volume"]}
    compare("storage_only", "storage alone: ingest_columns of int64 (reference)", rows, n, base,
            timed(lambda p: p.ingest_columns("trades", ready), rows), None, nbytes)
    results: List[Result] = [
        compare("from_numpy", "zepto_py.from_numpy", rows, n, base,
                timed(lambda p: zepto_py.from_numpy(data, p, price_scale=100), rows), 0.3, nbytes),
        compare("from_arrow", "zepto_py.from_arrow (pyarrow Table)", rows, n, base,
                timed(lambda p: zepto_py.from_arrow(table, p, price_scale=100), rows), 0.3, nbytes),
        compare("from_polars", "zepto_py.from_polars", rows, n, base,
                timed(lambda p: zepto_py.from_polars(polars, p, price_scale=100), rows), 0.3, nbytes),
        compare("from_pandas", "zepto_py.from_pandas (categorical symbols)", rows, n, base,
                timed(lambda p: zepto_py.from_pandas(frame, p, price_scale=100), rows), 0.2, nbytes),
        compare("stream_pandas", "StreamingSession.ingest_pandas, progress bar", rows, n, base,
                timed(lambda p: zepto_py.StreamingSession(p, show_progress=True, price_scale=100)
                      .ingest_pandas(frame), rows), 0.15, nbytes),
        constant_time("to_arrow", lambda p: zepto_py.ArrowSession(p).to_arrow(1), n),
        constant_time("to_polars_zc", lambda p: zepto_py.ArrowSession(p).to_polars_zero_copy(1), n),
    ]
    results += query_to_pandas_vs_duckdb(table, rows, n)
    for r in results:
        print(r.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
