"""zepto_server over loopback HTTP: ingest, export and a bounded mixed load.

Starts the installed zepto_server on 127.0.0.1 (a free port) and measures,
in one run:

- ingest: `zepto_py.connect(...).ingest_pandas` of N trades (symbol
  categorical, timestamp datetime64[ns], price float64, volume int64) against
  clickhouse-connect's `insert_df` of the same DataFrame into the same server
  (the ratio is zepto_py's rate / clickhouse-connect's rate);
- export: `query_pandas` of the N rows (rows/s);
- mixed load: 16 connections for `--seconds` (20 by default; the issue's
  figure uses 60), half inserting 1,000-row batches that follow each other
  in time, half running a point query (one symbol, one timestamp); it fails
  on any error or lost row and reports the point query's p50/p99 latency.

    python bench/bench_http.py                         # 10 M rows, 20 s load
    python bench/bench_http.py --rows 1000000 --rounds 3 --seconds 5   # quick check

The last lines are machine-readable RESULT lines (see bench/run_all.py).
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

import zepto_py
from bench_pipeline import SYMBOLS, T0, Result, print_result
from zeptodb._launcher import server_path

TABLE_DDL = "CREATE TABLE {name} (symbol SYMBOL, timestamp TIMESTAMP, price DOUBLE, volume BIGINT)"


class Server:
    def __init__(self, tmp: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # ZEPTO_SERVER_BIN: another build of the binary (as for the tests).
        binary = os.environ.get("ZEPTO_SERVER_BIN") or str(server_path())
        self.proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(self.port),
                                      "--keys-file", str(tmp / "keys")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("zepto_server did not start")
                time.sleep(0.05)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


def frame(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array([f"S{i:03d}" for i in range(SYMBOLS)])
    return pd.DataFrame({
        "symbol": pd.Categorical.from_codes(rng.integers(0, SYMBOLS, rows), categories=names),
        "timestamp": pd.to_datetime(T0 + np.arange(rows, dtype=np.int64) * 1000, unit="ns"),
        "price": rng.uniform(10, 500, rows).round(2),
        "volume": rng.integers(1, 10_000, rows, dtype=np.int64),
    })


def count(conn, table: str) -> int:
    return int(conn.query_numpy(f"SELECT count() AS n FROM {table}")["n"][0])


def bench_ingest(port: int, df: pd.DataFrame, cc_rows: int, n_rounds: int) -> Result:
    import clickhouse_connect

    rows = len(df)
    cc_df = df.iloc[:cc_rows]
    zepto_s, cc_s = [], []
    with zepto_py.connect(port=port) as conn:
        client = clickhouse_connect.get_client(host="127.0.0.1", port=port)
        for i in range(n_rounds):
            for t_name in ("ingest_zepto", "ingest_cc"):
                if i:
                    conn.execute(f"DROP TABLE {t_name}")
                conn.execute(TABLE_DDL.format(name=t_name))
            t = time.perf_counter()
            written = conn.ingest_pandas(df, table="ingest_zepto")
            zepto_s.append(time.perf_counter() - t)
            assert written == rows == count(conn, "ingest_zepto"), written
            t = time.perf_counter()
            client.insert_df("ingest_cc", cc_df)
            cc_s.append(time.perf_counter() - t)
            assert count(conn, "ingest_cc") == len(cc_df)
        client.close()
    zepto_rate, cc_rate = rows / statistics.median(zepto_s), len(cc_df) / statistics.median(cc_s)
    ratio = zepto_rate / cc_rate
    print(f"ingest: {rows:,} rows, {n_rounds} round(s), medians")
    r = Result("http_ingest_pandas", f"zepto_py ingest_pandas of {rows:,} rows over HTTP", zepto_rate, "rows/s",
               cc_rate, f"clickhouse-connect insert_df of {len(cc_df):,} rows", ratio, ">= 5x and >= 10 M rows/s",
               ratio >= 5 and zepto_rate >= 10e6)
    print_result(r)
    return r


def bench_query(port: int, rows: int, n_rounds: int) -> Result:
    times = []
    with zepto_py.connect(port=port) as conn:
        for _ in range(n_rounds):
            t = time.perf_counter()
            df = conn.query_pandas("SELECT symbol, timestamp, price, volume FROM ingest_zepto")
            times.append(time.perf_counter() - t)
            assert len(df) == rows, len(df)
            del df
    rate = rows / statistics.median(times)
    r = Result("http_query_pandas", f"query_pandas of {rows:,} rows", rate, "rows/s", 20e6, "the target, 20 M rows/s",
               rate / 20e6, ">= 20 M rows/s", rate >= 20e6)
    print_result(r)
    return r


def bench_mixed(port: int, seconds: float, connections: int = 16) -> Result:
    with zepto_py.connect(port=port) as conn:
        conn.execute(TABLE_DDL.format(name="load"))
        conn.ingest_pandas(frame(100_000, seed=2), table="load")
        probe = conn.query_numpy("SELECT symbol, timestamp FROM load LIMIT 1000")
    probes = list(zip(probe["symbol"], probe["timestamp"].astype("datetime64[ns]").astype(np.int64)))
    stop = time.perf_counter() + seconds
    errors: list = []
    latencies: list = []
    inserted = [0] * connections
    batch = frame(1_000, seed=3)
    # Like a live feed, each batch follows the rows before it in time: the
    # writers take consecutive 1 ms spans after the first 100 k rows (two
    # writers' batches may still arrive in either order).
    spans = itertools.count()
    first_ns = T0 + 100_000 * 1000
    offsets = np.arange(len(batch), dtype=np.int64) * 1000

    def writer(i: int) -> None:
        try:
            with zepto_py.connect(port=port) as c:
                while time.perf_counter() < stop:
                    ts = pd.to_datetime(first_ns + next(spans) * len(batch) * 1000 + offsets, unit="ns")
                    inserted[i] += c.ingest_pandas(batch.assign(timestamp=ts), table="load")
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    def reader(i: int) -> None:
        mine = []
        try:
            with zepto_py.connect(port=port) as c:
                k = i
                while time.perf_counter() < stop:
                    sym, ts = probes[k % len(probes)]
                    k += 7
                    t = time.perf_counter()
                    got = c.query_numpy(f"SELECT price, volume FROM load WHERE symbol = '{sym}' "
                                        f"AND timestamp = {int(ts)}")
                    mine.append(time.perf_counter() - t)
                    if len(got["price"]) < 1:
                        errors.append(f"point query found nothing for {sym} {ts}")
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        latencies.extend(mine)

    threads = [threading.Thread(target=writer if i % 2 == 0 else reader, args=(i,)) for i in range(connections)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    with zepto_py.connect(port=port) as conn:
        stored = count(conn, "load")
    expected = 100_000 + sum(inserted)
    if stored != expected:
        errors.append(f"rows lost: stored {stored}, expected {expected}")
    latencies.sort()
    p50 = statistics.median(latencies) * 1e6
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e6
    print(f"mixed load: {connections} connections, {seconds:g} s, {sum(inserted):,} rows inserted, "
          f"{len(latencies):,} point queries, {len(errors)} errors")
    for e in errors[:5]:
        print("  error:", e)
    r = Result("http_mixed_load", f"point query p50 under {connections}-connection load", p50, "us", p99,
               "p99 (us)", p99 / p50, "zero errors, nothing lost", not errors)
    print_result(r, f"p99 {p99:,.0f} us; {sum(inserted) / seconds:,.0f} rows/s inserted; "
                    f"{len(latencies) / seconds:,.0f} point queries/s")
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--cc-rows", type=int, default=None,
                    help="rows for clickhouse-connect's insert_df (default: --rows); the ratio compares rates")
    ap.add_argument("--rounds", type=int, default=1, help="ingest and query rounds (the median is reported)")
    ap.add_argument("--seconds", type=float, default=20.0, help="mixed-load duration (the issue's figure: 60)")
    args = ap.parse_args()
    df = frame(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp))
        try:
            results = [bench_ingest(server.port, df, args.cc_rows or args.rows, args.rounds),
                       bench_query(server.port, args.rows, args.rounds),
                       bench_mixed(server.port, args.seconds)]
        finally:
            rc = server.stop()
    if rc != 0:
        print(f"zepto_server exited with {rc}")
        return 1
    for r in results:
        print(r.line())
    return 0 if results[-1].passed else 1


if __name__ == "__main__":
    sys.exit(main())
