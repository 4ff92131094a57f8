"""TIERED and PURE_ON_DISK storage from Python: restarts, crash recovery under SIGKILL,
corruption, the server.

The crash tests run a child process that ingests batches and reports each
batch before (``begin``) and after (``ack``) the call; the parent kills it
with SIGKILL at random moments, starts the next child on the same data_dir
(which recovers), and at the end checks every batch: acknowledged ones are
present exactly once and whole, the one in flight is whole or absent.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pytest

import zeptodb
from server_fixture import Server

DAY_NS = 86_400 * 10**9


def tiered(path: Path, fsync: str = "always", mode: str = "TIERED", **kw) -> zeptodb.PipelineConfig:
    return zeptodb.PipelineConfig(storage_mode=getattr(zeptodb.StorageMode, mode), data_dir=str(path), fsync=fsync,
                                  **kw)


CHILD = r"""
import sys
import numpy as np
import zeptodb

data_dir, fsync, first, mode, max_rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
cfg = zeptodb.PipelineConfig(storage_mode=getattr(zeptodb.StorageMode, mode), data_dir=data_dir, fsync=fsync,
                             checkpoint_interval_ms=40)
p = zeptodb.Pipeline(cfg)
print("ready", flush=True)
rng = np.random.default_rng(first)
b = first
while True:
    n = int(rng.integers(1, max_rows))
    sym = rng.integers(1, 9, n)
    ts = rng.integers(0, 3 * 86_400 * 10**9, n)  # three days, out of order: late rows into flushed days
    print("begin", b, n, flush=True)
    p.ingest_batch(sym, np.arange(n), np.full(n, b), timestamps=ts)
    print("ack", b, flush=True)
    b += 1
"""


def crash_cycles(data_dir: Path, fsync: str, cycles: int, seed: int, mode: str = "TIERED",
                 max_rows: int = 3000, max_wait: float = 0.25) -> Tuple[Dict[int, int], Dict[int, int]]:
    """Runs `cycles` children ingesting batches of 1 to `max_rows` rows, each killed at a random moment
    up to `max_wait` seconds after it is ready. Returns (acked, in_flight): batch -> rows."""
    rnd = random.Random(seed)
    acked: Dict[int, int] = {}
    in_flight: Dict[int, int] = {}
    for c in range(cycles):
        errors = data_dir.parent / f"child-{c}.err"
        with open(errors, "w") as err:
            proc = subprocess.Popen([sys.executable, "-c", CHILD, str(data_dir), fsync, str(1_000_000 * (c + 1)), mode,
                                     str(max_rows)],
                                    stdout=subprocess.PIPE, stderr=err, text=True)
        line = proc.stdout.readline()
        assert line == "ready\n", (line, proc.wait(), errors.read_text())
        time.sleep(rnd.uniform(0.0, max_wait))
        proc.send_signal(signal.SIGKILL)
        out = proc.stdout.read()  # through the same buffer readline() used
        proc.stdout.close()
        assert proc.wait() == -signal.SIGKILL, errors.read_text()
        begun: Dict[int, int] = {}
        for ln in out.splitlines():
            parts = ln.split()
            if parts[:1] == ["begin"] and len(parts) == 3:
                begun[int(parts[1])] = int(parts[2])
            elif parts[:1] == ["ack"] and len(parts) == 2:
                b = int(parts[1])
                acked[b] = begun.pop(b)
        in_flight.update(begun)
    return acked, in_flight


def check_batches(p: zeptodb.Pipeline, acked: Dict[int, int], in_flight: Dict[int, int]) -> None:
    r = p.execute("SELECT volume, count(*), sum(price), max(price) FROM trades GROUP BY volume")
    assert r.ok(), r.error
    found = {b: (n, s, m) for b, n, s, m in r.rows}
    for b, n in acked.items():
        assert b in found, f"acknowledged batch {b} ({n} rows) is missing"
        # rows hold price = 0..n-1: each once, so count, sum and max pin the batch exactly
        assert found[b] == (n, n * (n - 1) // 2, n - 1), f"batch {b}: {found[b]} for {n} rows"
    for b, n in in_flight.items():
        if b in found:
            assert found[b] == (n, n * (n - 1) // 2, n - 1), f"unacknowledged batch {b} is partial: {found[b]}"
    unknown = set(found) - set(acked) - set(in_flight)
    assert not unknown, f"batches nobody wrote: {sorted(unknown)[:5]}"
    for sym in range(1, 9):  # rows of a symbol stay in timestamp order
        ts = p.get_column(sym, "timestamp")
        assert np.all(np.diff(ts) >= 0)


def test_sigkill_loses_nothing_acknowledged_with_fsync_always(tmp_path: Path) -> None:
    acked, in_flight = crash_cycles(tmp_path, "always", cycles=50, seed=1)
    assert len(acked) > 50, "the children should have acknowledged batches"
    with zeptodb.Pipeline(tiered(tmp_path)) as p:
        check_batches(p, acked, in_flight)


def test_sigkill_with_batch_fsync_keeps_batches_whole(tmp_path: Path) -> None:
    # A process crash (unlike a power loss) loses nothing written to the OS,
    # so under `batch` every acknowledged batch survives as well.
    acked, in_flight = crash_cycles(tmp_path, "batch", cycles=20, seed=2)
    with zeptodb.Pipeline(tiered(tmp_path, fsync="batch")) as p:
        check_batches(p, acked, in_flight)


def test_sigkill_with_big_batches_loses_nothing_acknowledged(tmp_path: Path) -> None:
    # Batches of up to 300,000 rows (9.6 MB): the log writes records of 4 MB
    # and more straight to the device (direct I/O), header last, so kills
    # land in the middle of those writes too.
    acked, in_flight = crash_cycles(tmp_path, "always", cycles=15, seed=4, max_rows=300_000,
                                    max_wait=0.8)
    assert sum(n >= 4 * 2**20 // 32 for n in acked.values()) > 5, "the children should have logged big batches"
    with zeptodb.Pipeline(tiered(tmp_path)) as p:
        check_batches(p, acked, in_flight)


def test_sigkill_pure_on_disk_loses_nothing_acknowledged(tmp_path: Path) -> None:
    # PURE_ON_DISK writes the rows into mapped files as they arrive; a kill
    # mid-write leaves torn tails past the committed rows, which recovery
    # replaces from the log.
    acked, in_flight = crash_cycles(tmp_path, "always", cycles=25, seed=3, mode="PURE_ON_DISK")
    assert len(acked) > 25, "the children should have acknowledged batches"
    with zeptodb.Pipeline(tiered(tmp_path, mode="PURE_ON_DISK")) as p:
        check_batches(p, acked, in_flight)


@pytest.mark.parametrize("mode", ["TIERED", "PURE_ON_DISK"])
def test_restart_keeps_data_names_and_tables(tmp_path: Path, mode: str) -> None:
    rng = np.random.default_rng(3)
    n = 50_000
    with zeptodb.Pipeline(tiered(tmp_path, fsync="batch", mode=mode)) as p:
        p.ingest_batch(rng.choice(["AAPL", "MSFT", "GOOG"], n), rng.integers(1, 1000, n), rng.integers(1, 100, n),
                       timestamps=np.sort(rng.integers(0, 5 * DAY_NS, n)))
        assert p.flush() == n
        p.execute("CREATE TABLE fx (pair SYMBOL, ts TIMESTAMP, rate DOUBLE)")
        p.execute("INSERT INTO fx VALUES ('EURUSD', TIMESTAMP '2024-01-02 10:00:00', 1.1), ('USDJPY', 5, NULL)")
        want = p.execute("SELECT symbol, count(*), sum(price), min(timestamp) FROM trades GROUP BY symbol").rows
        want_fx = p.execute("SELECT * FROM fx ORDER BY ts").rows
        msft = p.count(symbol="MSFT")
    with zeptodb.Pipeline(tiered(tmp_path, fsync="batch", mode=mode)) as p:
        assert p.recovery["checkpoint_rows"] == n + 2
        assert "recovered" in p.recovery["summary"]
        assert sorted(p.execute("SELECT symbol, count(*), sum(price), min(timestamp) FROM trades GROUP BY symbol").rows) \
            == sorted(want)
        assert p.execute("SELECT * FROM fx ORDER BY ts").rows == want_fx
        assert p.count(symbol="MSFT") == msft > 0  # names map to the same ids


def test_closed_pipeline_and_locked_directory(tmp_path: Path) -> None:
    p = zeptodb.Pipeline(tiered(tmp_path))
    with pytest.raises(OSError, match="in use"):
        zeptodb.Pipeline(tiered(tmp_path))
    p.close()
    assert p.closed
    with pytest.raises(ValueError, match="closed"):
        p.ingest_batch([1], [1], [1])
    zeptodb.Pipeline(tiered(tmp_path)).close()  # the directory is free again


def test_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="always.*batch.*none|fsync"):
        zeptodb.PipelineConfig(fsync="sometimes")
    with pytest.raises(ValueError, match="data_dir"):
        zeptodb.Pipeline(zeptodb.PipelineConfig(storage_mode=zeptodb.StorageMode.TIERED))


def test_corrupt_file_is_an_os_error(tmp_path: Path) -> None:
    with zeptodb.Pipeline(tiered(tmp_path)) as p:
        p.ingest_batch([1, 2, 3], [10, 20, 30], [1, 1, 1], timestamps=[1, 2, 3])
    victim = next(tmp_path.rglob("*price.zcol"))
    data = bytearray(victim.read_bytes())
    data[-5] ^= 0xFF
    victim.write_bytes(bytes(data))
    with zeptodb.Pipeline(tiered(tmp_path)) as p:  # files are read when the table is first used
        with pytest.raises(OSError, match="price.zcol.*checksum"):
            p.count(symbol=1)
        r = p.execute("SELECT count(*) FROM trades")
        assert not r.ok() and "price.zcol" in r.error


def test_corrupt_mapped_file_is_an_os_error(tmp_path: Path) -> None:
    with zeptodb.Pipeline(tiered(tmp_path, mode="PURE_ON_DISK")) as p:
        p.ingest_batch([1, 2, 3], [10, 20, 30], [1, 1, 1], timestamps=[1, 2, 3])
    victim = next(tmp_path.rglob("data/2.2.*"))  # symbol 2, column 2 (price)
    data = bytearray(victim.read_bytes())
    data[4096] ^= 0xFF  # the first value, after the 4 KiB header
    victim.write_bytes(bytes(data))
    with zeptodb.Pipeline(tiered(tmp_path, mode="PURE_ON_DISK")) as p:
        with pytest.raises(OSError, match=f"{victim.name}.*checksum"):
            p.count(symbol=1)


@pytest.mark.parametrize("mode", ["TIERED", "PURE_ON_DISK"])
def test_ttl_via_sql(tmp_path: Path, mode: str) -> None:
    with zeptodb.Pipeline(tiered(tmp_path, mode=mode)) as p:
        ts = np.arange(10) * DAY_NS
        p.ingest_batch(np.ones(10, dtype=np.int64), np.arange(10), np.ones(10, dtype=np.int64), timestamps=ts)
        r = p.execute("ALTER TABLE trades SET TTL 3 DAYS")
        assert r.ok(), r.error
        assert p.count(symbol=1) == 4  # days 6..9 stay: the newest is day 9, the cutoff falls in day 6
        assert p.execute("CHECKPOINT").ok()
    with zeptodb.Pipeline(tiered(tmp_path, mode=mode)) as p:
        assert p.get_column(1, "timestamp").tolist() == (np.arange(6, 10) * DAY_NS).tolist()
        assert p.execute("ALTER TABLE trades REMOVE TTL").ok()
        p.ingest_batch([1, 1], [0, 0], [1, 1], timestamps=[DAY_NS, 30 * DAY_NS])
        assert p.execute("CHECKPOINT").ok()
    with zeptodb.Pipeline(tiered(tmp_path, mode=mode)) as p:  # no TTL any more, after a restart too
        assert p.count(symbol=1) == 6


def ten_days(p: zeptodb.Pipeline, sym: int, per_day: int) -> None:
    """`per_day` trades of symbol `sym` on each of days 0..9 (32 bytes a row: four 8-byte columns)."""
    ts = np.repeat(np.arange(10) * DAY_NS, per_day) + np.tile(np.arange(per_day), 10)
    n = len(ts)
    p.ingest_batch(np.full(n, sym), np.arange(n), np.ones(n, dtype=np.int64), timestamps=ts)


def days_of(p: zeptodb.Pipeline, sym: int) -> list:
    return sorted(set((p.get_column(sym, "timestamp") // DAY_NS).tolist()))


def test_size_retention_in_memory_drops_the_oldest_whole_days() -> None:
    with zeptodb.Pipeline() as p:
        ten_days(p, 1, 100)  # 10 days x 100 rows x 32 bytes: 3,200 bytes a day over symbols 1 and 2
        ten_days(p, 2, 100)
        r = p.execute("ALTER TABLE trades SET RETENTION 20000 BYTES")
        assert r.ok(), r.error
        # 6,400 bytes a day: three days fit in 20,000, a fourth would not
        assert days_of(p, 1) == days_of(p, 2) == [7, 8, 9]
        assert p.execute("SELECT count(*) FROM trades").rows == [[600]]
        p.ingest_batch([1] * 100, list(range(100)), [1] * 100, timestamps=[12 * DAY_NS + i for i in range(100)])
        p.flush()  # applied again at every checkpoint (here: flush)
        assert days_of(p, 1) == [8, 9, 12]
        assert days_of(p, 2) == [8, 9]
        # the newest day always stays, whatever its size
        assert p.execute("ALTER TABLE trades SET RETENTION 1 BYTES").ok()
        assert days_of(p, 1) == [12] and days_of(p, 2) == []
        assert p.execute("ALTER TABLE trades REMOVE RETENTION").ok()
        ten_days(p, 3, 1)
        p.flush()
        assert days_of(p, 3) == list(range(10))


def test_in_memory_limits_apply_in_the_background() -> None:
    # PURE_IN_MEMORY has no checkpoints of its own: once a table has a TTL or
    # size limit, a thread applies them every checkpoint_interval_ms.
    with zeptodb.Pipeline(zeptodb.PipelineConfig(checkpoint_interval_ms=20)) as p:
        ten_days(p, 1, 100)
        assert p.execute("ALTER TABLE trades SET TTL 3 DAYS").ok()
        assert days_of(p, 1) == [6, 7, 8, 9]
        p.ingest_batch([1] * 5, list(range(5)), [1] * 5, timestamps=[15 * DAY_NS + i for i in range(5)])
        deadline = time.monotonic() + 10
        while days_of(p, 1) != [15] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert days_of(p, 1) == [15], "the TTL was not applied without a flush"
    with zeptodb.Pipeline(zeptodb.PipelineConfig(checkpoint_interval_ms=0)) as p:  # 0: only flush and ALTER
        ten_days(p, 1, 100)
        assert p.execute("ALTER TABLE trades SET TTL 3 DAYS").ok()
        p.ingest_batch([1] * 5, list(range(5)), [1] * 5, timestamps=[15 * DAY_NS + i for i in range(5)])
        time.sleep(0.1)
        assert days_of(p, 1) == [6, 7, 8, 9, 15]
        p.flush()
        assert days_of(p, 1) == [15]


def test_size_retention_errors() -> None:
    with zeptodb.Pipeline() as p:
        assert p.execute("CREATE TABLE notes (id BIGINT, body VARCHAR)").ok()
        r = p.execute("ALTER TABLE notes SET RETENTION 1 MB")
        assert not r.ok() and "no timestamp column" in r.error
        r = p.execute("ALTER TABLE nosuch SET RETENTION 1 MB")
        assert not r.ok() and "nosuch" in r.error
        r = p.execute("ALTER TABLE trades SET RETENTION 5 PB")
        assert not r.ok() and "BYTES, KB, MB, GB or TB" in r.error


@pytest.mark.parametrize("mode", ["TIERED", "PURE_ON_DISK"])
def test_size_retention_survives_a_restart_beside_the_ttl(tmp_path: Path, mode: str) -> None:
    def day(p: zeptodb.Pipeline, d: int, rows: int) -> None:
        p.ingest_batch([1] * rows, list(range(rows)), [1] * rows, timestamps=[d * DAY_NS + i for i in range(rows)])

    with zeptodb.Pipeline(tiered(tmp_path, mode=mode)) as p:
        ten_days(p, 1, 100)  # 3,200 bytes a day
        assert p.execute("ALTER TABLE trades SET RETENTION 13 KB").ok()  # 13,312 bytes: four days
        assert days_of(p, 1) == [6, 7, 8, 9]
        assert p.execute("ALTER TABLE trades SET TTL 2 DAYS").ok()  # both apply: the tighter wins
        assert days_of(p, 1) == [7, 8, 9]
        assert p.execute("ALTER TABLE trades REMOVE TTL").ok()
    with zeptodb.Pipeline(tiered(tmp_path, mode=mode)) as p:  # the limit comes back from the catalog
        assert days_of(p, 1) == [7, 8, 9]
        day(p, 20, 200)  # 6,400 bytes each
        day(p, 21, 200)
        p.flush()
        assert days_of(p, 1) == [20, 21]  # with day 9 it would be 16,000 bytes
        assert p.execute("ALTER TABLE trades SET RETENTION 7 KB").ok()  # 7,168 bytes
        assert days_of(p, 1) == [21]
    with zeptodb.Pipeline(tiered(tmp_path, mode=mode)) as p:
        assert days_of(p, 1) == [21]
        day(p, 22, 10)  # 320 bytes: with day 21, 6,720 fit
        p.flush()
        assert days_of(p, 1) == [21, 22]
        day(p, 23, 100)  # 3,200 more: 3,520 with day 22, day 21 no longer fits
        p.flush()
        assert days_of(p, 1) == [22, 23]
        assert p.execute("ALTER TABLE trades REMOVE RETENTION").ok()
    with zeptodb.Pipeline(tiered(tmp_path, mode=mode)) as p:  # no limit any more, after a restart too
        day(p, 1, 1000)
        p.flush()
        assert days_of(p, 1) == [1, 22, 23]


@pytest.mark.parametrize("mode", ["TIERED", "PURE_ON_DISK"])
def test_server_restart_serves_the_same_data(tmp_path: Path, mode: str) -> None:
    def query(url: str, sql: str, data: bytes = b"") -> str:  # POST: GET is read-only
        req = urllib.request.Request(f"{url}/?query={urllib.request.quote(sql)}", data=data)
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode()

    data_dir = tmp_path / "data"
    s = Server(tmp_path, "--storage-mode", mode, "--data-dir", str(data_dir))
    try:
        query(s.url, "CREATE TABLE t (k SYMBOL, ts TIMESTAMP, x DOUBLE)")
        query(s.url, "INSERT INTO t FORMAT CSV", b"a,1,1.5\nb,2,2.5\na,3,NULL\n")
        before = query(s.url, "SELECT k, ts, x FROM t ORDER BY ts")
    finally:
        assert s.stop() == 0
    s = Server(tmp_path, "--storage-mode", mode, "--data-dir", str(data_dir))
    try:
        assert query(s.url, "SELECT k, ts, x FROM t ORDER BY ts") == before
        assert before.count("\n") == 3
    finally:
        s.stop()
