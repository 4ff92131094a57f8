"""Benchmarks of the zeptodb Python API, each against a baseline run in the same process.

Every figure is printed next to its baseline and their ratio; the ratio is
what to compare across machines and runs (absolute times drift on shared
machines, a baseline measured a second earlier does not). Each benchmark
alternates baseline and subject for several rounds and reports medians; the
ratio is the median of the per-round ratios.

    python bench/bench_pipeline.py                 # all benchmarks
    python bench/bench_pipeline.py --only batch    # batch, column, ingest, memory
    python bench/bench_pipeline.py --rows 1000000  # smaller batch (quick check)

The last lines are machine-readable ``RESULT`` lines that bench/run_all.py
collects.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np

import zeptodb

SYMBOLS = 100
T0 = 1_700_000_000_000_000_000


@dataclass
class Result:
    name: str
    what: str
    value: float
    unit: str
    baseline: float
    baseline_what: str
    ratio: float  # subject throughput / baseline throughput (or the target's own measure)
    target: str
    passed: bool

    def line(self) -> str:
        return (f"RESULT {self.name} value={self.value:.6g} unit={self.unit.replace(' ', '_')} "
                f"baseline={self.baseline:.6g} "
                f"ratio={self.ratio:.4f} target={self.target.replace(' ', '')} "
                f"{'PASS' if self.passed else 'MISS'}")


def trades(rows: int, seed: int = 1):
    """`rows` trades over SYMBOLS symbols in random order, timestamps increasing."""
    rng = np.random.default_rng(seed)
    sym = rng.integers(0, SYMBOLS, rows, dtype=np.int64)
    ts = T0 + np.arange(rows, dtype=np.int64) * 1000
    px = rng.integers(10_000, 20_000, rows, dtype=np.int64)
    vol = rng.integers(1, 1_000, rows, dtype=np.int64)
    return sym, px, vol, ts


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rounds(n: int, baseline: Callable[[], float], subject: Callable[[], float]):
    """Alternate baseline and subject n times; returns (baseline times, subject times)."""
    b, s = [], []
    for i in range(n):
        gc.collect()
        # Alternate which goes first so neither always runs on a warmer machine.
        if i % 2 == 0:
            b.append(baseline())
            s.append(subject())
        else:
            s.append(subject())
            b.append(baseline())
    return b, s


def print_result(r: Result, extra: Optional[str] = None) -> None:
    print(f"  baseline  {r.baseline_what:<48} {r.baseline:12.4g} {r.unit}")
    print(f"  zeptodb   {r.what:<48} {r.value:12.4g} {r.unit}")
    if extra:
        print(f"  {extra}")
    print(f"  ratio {r.ratio:.3f}; target {r.target}: {'PASS' if r.passed else 'MISS'}\n")


# ---------------------------------------------------------------- batch ingest
def bench_batch(rows: int, n_rounds: int) -> Result:
    sym, px, vol, ts = trades(rows)
    src = (sym, ts, px, vol)
    nbytes = sum(a.nbytes for a in src)
    warm = [np.empty_like(a) for a in src]
    for w in warm:
        w.fill(0)

    def copy_fresh() -> float:
        t = time.perf_counter()
        out = [np.empty_like(a) for a in src]
        for d, a in zip(out, src):
            np.copyto(d, a)
        dt = time.perf_counter() - t
        del out
        return dt

    def copy_warm() -> float:
        t = time.perf_counter()
        for d, a in zip(warm, src):
            np.copyto(d, a)
        return time.perf_counter() - t

    def ingest() -> float:
        p = zeptodb.Pipeline()
        t = time.perf_counter()
        p.ingest_batch(sym, px, vol, ts)
        dt = time.perf_counter() - t
        assert p.stats().ticks_stored == rows
        del p
        return dt

    b, s = rounds(n_rounds, copy_fresh, ingest)
    w = [copy_warm() for _ in range(n_rounds)]
    ratio = statistics.median(bi / si for bi, si in zip(b, s))
    warm_ratio = statistics.median(w) / statistics.median(s)
    r = Result("ingest_batch", f"ingest_batch, {rows:,} rows / {SYMBOLS} symbols", rows / statistics.median(s),
               "rows/s", rows / statistics.median(b), f"numpy.copyto of the same {nbytes >> 20} MB into new arrays",
               ratio, ">= 0.5x", ratio >= 0.5)
    print(f"ingest_batch from NumPy: {rows:,} rows over {SYMBOLS} symbols (random order, increasing "
          f"timestamps), {n_rounds} rounds")
    print_result(r, f"(for reference: copy into already-touched arrays {rows / statistics.median(w):.4g} rows/s, "
                    f"ratio {warm_ratio:.3f})")
    return r


# ------------------------------------------------------------------ get_column
def bench_get_column(calls: int, n_rounds: int) -> Result:
    p = zeptodb.Pipeline()
    sym, px, vol, ts = trades(100_000)
    p.ingest_batch(sym, px, vol, ts)
    a = p.get_column(1, "price")
    get = p.get_column
    r_calls = range(calls)

    def slice_view() -> float:
        t = time.perf_counter()
        for _ in r_calls:
            a[:]
        return (time.perf_counter() - t) / calls

    def get_column() -> float:
        t = time.perf_counter()
        for _ in r_calls:
            get(1, "price")
        return (time.perf_counter() - t) / calls

    b, s = rounds(n_rounds, slice_view, get_column)
    ns = statistics.median(s) * 1e9
    ratio = statistics.median(bi / si for bi, si in zip(b, s))
    r = Result("get_column", "pipeline.get_column(1, 'price')", ns, "ns/call", statistics.median(b) * 1e9,
               "NumPy slice view a[:]", ratio, "<= 300 ns", ns <= 300)
    print(f"get_column: per call, {calls:,} calls x {n_rounds} rounds (ratio = slice time / get_column time)")
    print_result(r)
    return r


# ---------------------------------------------------------------- ingest() loop
def bench_ingest_loop(calls: int, n_rounds: int) -> Result:
    p = zeptodb.Pipeline()
    p.start()
    lst: List[int] = []
    append = lst.append
    ingest = p.ingest
    r_calls = range(calls)

    def append_loop() -> float:
        lst.clear()
        t = time.perf_counter()
        for i in r_calls:
            append(i)
        return time.perf_counter() - t

    def ingest_loop() -> float:
        t = time.perf_counter()
        for i in r_calls:
            ingest(1, 15000, 100)
        p.drain()
        return time.perf_counter() - t

    b, s = rounds(n_rounds, append_loop, ingest_loop)
    p.stop()
    stats = p.stats()
    lost = calls * n_rounds - stats.ticks_stored
    rate = calls / statistics.median(s)
    ratio = statistics.median(bi / si for bi, si in zip(b, s))
    r = Result("ingest_loop", "pipeline.ingest(1, 15000, 100) + drain()", rate, "calls/s",
               calls / statistics.median(b), "list.append(i)", ratio, ">= 2M calls/s", rate >= 2e6 and lost == 0)
    print(f"Python ingest() in a loop, drain thread running: {calls:,} calls x {n_rounds} rounds")
    print_result(r, f"ticks not stored (rejected by a full queue): {lost}" if lost else None)
    return r


# ---------------------------------------------------------------------- memory
def _memory_child(rows: int, chunks: int) -> None:
    """Runs in a fresh interpreter: ingest `rows` rows in `chunks` batches, print JSON."""
    sym, px, vol, ts = trades(rows)
    p = zeptodb.Pipeline()
    gc.collect()
    before = rss_bytes()
    step = -(-rows // chunks)
    for i in range(0, rows, step):
        p.ingest_batch(sym[i:i + step], px[i:i + step], vol[i:i + step], ts[i:i + step])
    after = rss_bytes()
    print(json.dumps({"memory_bytes": p.stats().memory_bytes, "rss": after - before,
                      "raw": rows * 32, "stored": p.stats().ticks_stored}))


def bench_memory(rows: int) -> List[Result]:
    out = []
    print(f"memory: {rows:,} trades rows (4 x int64 = {rows * 32 / 1e6:.0f} MB raw); "
          "stats().memory_bytes and the growth of the process RSS, in a fresh process")
    for chunks, label in ((1, "one batch"), (100, "100 batches")):
        res = subprocess.run([sys.executable, __file__, "--memory-child", str(rows), str(chunks)],
                             check=True, capture_output=True, text=True)
        m = json.loads(res.stdout.strip().splitlines()[-1])
        assert m["stored"] == rows
        held, rss = m["memory_bytes"] / m["raw"], m["rss"] / m["raw"]
        worst = max(held, rss)
        r = Result(f"memory_{chunks}", f"{label}: memory_bytes / raw, RSS growth / raw", worst, "x_raw",
                   1.0, "raw bytes", worst, "<= 1.25x", worst <= 1.25)
        print(f"  {label:<12} memory_bytes {m['memory_bytes'] / 1e6:7.1f} MB = {held:.3f}x raw, "
              f"RSS growth {m['rss'] / 1e6:7.1f} MB = {rss:.3f}x raw; target <= 1.25x: "
              f"{'PASS' if r.passed else 'MISS'}")
        out.append(r)
    print()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["batch", "column", "ingest", "memory"], action="append")
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows of the batch and memory benchmarks")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        _memory_child(*args.memory_child)
        return 0
    which = args.only or ["batch", "column", "ingest", "memory"]
    print(f"zeptodb {zeptodb.__version__}, numpy {np.__version__}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs\n")
    results: List[Result] = []
    if "batch" in which:
        results.append(bench_batch(args.rows, args.rounds))
    if "column" in which:
        results.append(bench_get_column(200_000, args.rounds))
    if "ingest" in which:
        results.append(bench_ingest_loop(1_000_000, args.rounds))
    if "memory" in which:
        results.extend(bench_memory(args.rows))
    for r in results:
        print(r.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
