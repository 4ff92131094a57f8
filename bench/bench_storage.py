"""Benchmarks of TIERED and PURE_ON_DISK storage, each against a baseline measured in the same run.

    python bench/bench_storage.py                   # 10 M rows, 3 rounds
    python bench/bench_storage.py --rows 1000000    # quick check
    python bench/bench_storage.py --dir /mnt/fast   # the disk to measure (default: a temp dir)

- flush: a checkpoint writing N trades (4 x int64 columns, 100 symbols over
  five days) to partition files, in column bytes per second, against writing
  and fsyncing the same number of bytes to one file in the same directory,
  the faster of that timed just before and just after the flush (target
  >= 0.5x); also says how many files and directories it made.
- ingest: ingest_batch of the N trades in 1 M-row batches into a TIERED
  pipeline with fsync="batch" against the same into PURE_IN_MEMORY
  (target >= 0.7x).
- reopen: opening the data directory (reading every partition file, checking
  every checksum) followed by a query of one day, against the same query
  warm (reported; no target). The files are first dropped from the page
  cache (posix_fadvise DONTNEED), so the cold query reads the disk.
- PURE_ON_DISK: ingest_batch of the N trades into PURE_ON_DISK (fsync="batch")
  against PURE_IN_MEMORY, its checkpoint, and the cold (page cache dropped)
  open + day query against the warm one (reported; no targets).

The last lines are ``RESULT`` lines that bench/run_all.py collects.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import zeptodb

T0 = 1_700_000_000_000_000_000
DAY = 86_400 * 10**9


def trades(rows: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    sym = rng.integers(0, 100, rows, dtype=np.int64)
    ts = T0 + np.arange(rows, dtype=np.int64) * (5 * DAY // rows)  # five days
    px = rng.integers(10_000, 20_000, rows, dtype=np.int64)
    vol = rng.integers(1, 1_000, rows, dtype=np.int64)
    return sym, px, vol, ts


def ingest(p: zeptodb.Pipeline, data, chunk: int = 1_000_000) -> float:
    sym, px, vol, ts = data
    # Nothing of an earlier round (its log, its checkpoint files) is still
    # waiting to be written back: the disk is this ingest's alone.
    os.sync()
    t = time.perf_counter()
    for i in range(0, len(sym), chunk):
        p.ingest_batch(sym[i:i + chunk], px[i:i + chunk], vol[i:i + chunk], timestamps=ts[i:i + chunk])
    return time.perf_counter() - t


def raw_write(directory: Path, nbytes: int) -> float:
    buf = np.random.default_rng(0).integers(0, 2**63, 1 << 20, dtype=np.int64).tobytes()  # 8 MiB
    path = directory / "raw.bin"
    t = time.perf_counter()
    with open(path, "wb", buffering=0) as f:
        left = nbytes
        while left > 0:
            n = min(left, len(buf))
            f.write(buf[:n])
            left -= n
        os.fsync(f.fileno())
    dt = time.perf_counter() - t
    path.unlink()
    return dt


def tiered(d: Path, mode: str = "TIERED", **kw) -> zeptodb.PipelineConfig:
    return zeptodb.PipelineConfig(storage_mode=getattr(zeptodb.StorageMode, mode), data_dir=str(d),
                                  checkpoint_interval_ms=0, **kw)


def drop_page_cache(d: Path) -> None:
    """Evicts the (clean, synced) files under d from the page cache."""
    for f in d.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def result(name: str, value: float, unit: str, baseline: float, ratio: float, target: float | None) -> str:
    ok = target is None or ratio >= target
    return (f"RESULT {name} value={value:.6g} unit={unit} baseline={baseline:.6g} ratio={ratio:.4f} "
            f"target={'>=' + str(target) + 'x' if target else 'report'} {'PASS' if ok else 'MISS'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="where to put the data (default: a temp dir)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="zepto_bench_", dir=args.dir))
    data = trades(args.rows)
    nbytes = args.rows * 32
    lines = []
    try:
        flush_r, ingest_r, open_r = [], [], []
        flush_s, raw_s, ing_t, ing_m, open_s, warm_s = [], [], [], [], [], []
        disk_ing, disk_r, disk_flush, disk_open, disk_warm, disk_open_r = [], [], [], [], [], []
        for r in range(args.rounds):
            d = base / f"r{r}"
            # ingest: TIERED (WAL, fsync=batch) against PURE_IN_MEMORY, alternating which goes first
            order = [("mem", None), ("tiered", d)] if r % 2 == 0 else [("tiered", d), ("mem", None)]
            t_mem = t_tier = 0.0
            p_tier = None
            for kind, path in order:
                if kind == "mem":
                    p = zeptodb.Pipeline()
                    t_mem = ingest(p, data)
                    del p
                else:
                    p_tier = zeptodb.Pipeline(tiered(path, fsync="batch"))
                    t_tier = ingest(p_tier, data)
            ing_m.append(t_mem)
            ing_t.append(t_tier)
            ingest_r.append(t_mem / t_tier)
            # flush: the checkpoint of everything just ingested, against raw write+fsync of the same bytes,
            # timed just before and just after it: the first big write after the ingest also pays for
            # reclaiming memory, which would flatter the flush, so the faster one is the baseline. Each
            # timed write starts with nothing else of ours waiting to be written back (os.sync()).
            os.sync()
            t_raw = raw_write(base, nbytes)
            os.sync()
            t = time.perf_counter()
            written = p_tier.flush()
            t_flush = time.perf_counter() - t
            assert written == args.rows, written
            t_raw = min(t_raw, raw_write(base, nbytes))
            files = sum(1 for _ in d.rglob("*.zcol"))
            dirs = sum(1 for t in (d / "tables").iterdir() for x in t.rglob("*") if x.is_dir())  # days, segments
            flush_s.append(t_flush)
            raw_s.append(t_raw)
            flush_r.append(t_raw / t_flush)
            q = f"SELECT count(*), sum(volume) FROM trades WHERE timestamp >= {T0 + DAY} AND timestamp < {T0 + 2 * DAY}"
            t = time.perf_counter()
            warm = p_tier.execute(q)
            warm_s.append(time.perf_counter() - t)
            p_tier.close()
            del p_tier
            drop_page_cache(d)
            t = time.perf_counter()
            with zeptodb.Pipeline(tiered(d)) as p:
                cold = p.execute(q)
                open_s.append(time.perf_counter() - t)
                assert cold.rows == warm.rows
            open_r.append(warm_s[-1] / open_s[-1])
            shutil.rmtree(d)
            # PURE_ON_DISK: the rows go straight into memory-mapped column files
            dd = base / f"disk{r}"
            p_disk = zeptodb.Pipeline(tiered(dd, mode="PURE_ON_DISK", fsync="batch"))
            disk_ing.append(ingest(p_disk, data))
            disk_r.append(t_mem / disk_ing[-1])
            t = time.perf_counter()
            assert p_disk.flush() == args.rows
            disk_flush.append(time.perf_counter() - t)
            t = time.perf_counter()
            assert p_disk.execute(q).rows == warm.rows
            disk_warm.append(time.perf_counter() - t)
            p_disk.close()
            del p_disk
            drop_page_cache(dd)
            t = time.perf_counter()
            with zeptodb.Pipeline(tiered(dd, mode="PURE_ON_DISK")) as p:
                assert p.execute(q).rows == warm.rows
                disk_open.append(time.perf_counter() - t)
            disk_open_r.append(disk_warm[-1] / disk_open[-1])
            shutil.rmtree(dd)
        med = statistics.median
        mb = nbytes / 1e6
        print(f"rows: {args.rows:,} ({mb:.0f} MB of columns), rounds: {args.rounds}, dir: {base}")
        print(f"flush (checkpoint)   {mb / med(flush_s):9.0f} MB/s   raw write+fsync {mb / med(raw_s):9.0f} MB/s"
              f"   ratio {med(flush_r):.2f}x (target >= 0.5x)   {files} column files in {dirs} directories")
        print(f"ingest TIERED batch  {args.rows / med(ing_t) / 1e6:9.1f} M rows/s   in memory "
              f"{args.rows / med(ing_m) / 1e6:9.1f} M rows/s   ratio {med(ingest_r):.2f}x (target >= 0.7x)")
        print(f"open + day query     {med(open_s) * 1e3:9.1f} ms   warm day query {med(warm_s) * 1e3:9.3f} ms"
              "   (cold: page cache dropped)")
        print(f"PURE_ON_DISK ingest  {args.rows / med(disk_ing) / 1e6:9.1f} M rows/s   in memory "
              f"{args.rows / med(ing_m) / 1e6:9.1f} M rows/s   ratio {med(disk_r):.2f}x   checkpoint "
              f"{med(disk_flush) * 1e3:.0f} ms")
        print(f"PURE_ON_DISK open + day query {med(disk_open) * 1e3:9.1f} ms (cold)   warm {med(disk_warm) * 1e3:9.3f} ms")
        lines.append(result("storage_flush", mb / med(flush_s), "MB/s", mb / med(raw_s), med(flush_r), 0.5))
        lines.append(result("storage_ingest_wal_batch", args.rows / med(ing_t), "rows/s", args.rows / med(ing_m),
                            med(ingest_r), 0.7))
        lines.append(result("storage_open_then_query", med(open_s), "s", med(warm_s), med(open_r), None))
        lines.append(result("storage_on_disk_ingest", args.rows / med(disk_ing), "rows/s", args.rows / med(ing_m),
                            med(disk_r), None))
        lines.append(result("storage_on_disk_open_then_query", med(disk_open), "s", med(disk_warm), med(disk_open_r),
                            None))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for ln in lines:
        print(ln)


if __name__ == "__main__":
    main()
