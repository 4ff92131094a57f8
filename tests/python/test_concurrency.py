"""Ingest from several threads while readers query and the drain thread runs."""

from __future__ import annotations

import math
import threading
from typing import Callable, List

import numpy as np

from conftest import T0, make_pipeline

SYMBOLS = 4


def run_threads(targets: List[Callable[[], None]]) -> None:
    """Runs the callables in threads and re-raises the first failure."""
    errors: list = []

    def guard(fn: Callable[[], None]) -> None:
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=guard, args=(fn,)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a thread did not finish"
    if errors:
        raise errors[0]


def then_set(done: threading.Event, targets: List[Callable[[], None]]) -> Callable[[], None]:
    """A callable that runs `targets` in threads and then sets `done`, even on failure."""
    def run() -> None:
        try:
            run_threads(targets)
        finally:
            done.set()
    return run


def price_of(symbol: int) -> int:
    return 1000 + symbol  # every row of a symbol has this price: any torn read shows


class Reader:
    """Checks what one symbol looks like while writers are busy."""

    def __init__(self, pipeline, symbol: int, done: threading.Event) -> None:
        self.p, self.symbol, self.done = pipeline, symbol, done
        self.reads = 0

    def __call__(self) -> None:
        last_count = 0
        while (not self.done.is_set() or self.reads < 5) and self.reads < 1_000_000:
            ts = self.p.get_column(symbol=self.symbol, name="timestamp")
            px = self.p.get_column(symbol=self.symbol, name="price")
            assert (np.diff(ts) >= 0).all(), "a view is out of timestamp order"
            assert (px == price_of(self.symbol)).all(), "a view holds another symbol's rows"
            count = self.p.count(symbol=self.symbol)
            assert count >= max(last_count, len(ts)), "rows disappeared"
            last_count = count
            vwap = self.p.vwap(symbol=self.symbol)
            assert math.isnan(vwap) or vwap == price_of(self.symbol)
            self.reads += 1


def check_final(p, per_symbol_ts: dict) -> None:
    for s, stamps in per_symbol_ts.items():
        assert p.get_column(symbol=s, name="timestamp").tolist() == sorted(stamps)
        assert p.count(symbol=s) == len(stamps)
        assert p.vwap(symbol=s) == price_of(s)


def test_single_tick_producers_readers_and_drain_thread():
    p = make_pipeline(queue_capacity=256, drain_batch_size=32)
    p.start()
    per_thread = 5_000
    done = threading.Event()
    readers = [Reader(p, s, done) for s in range(SYMBOLS)]

    rejected: set = set()

    def producer(tid: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(per_thread):
                s = (i + tid) % SYMBOLS
                # Threads advance at different speeds: timestamps interleave out of order.
                ts = T0 + i * 10 + tid
                if not p.ingest(symbol=s, price=price_of(s), volume=1 + i % 5, timestamp=ts):
                    rejected.add(ts)  # the queue stayed full (a starved drain thread)
        return run

    run_threads([then_set(done, [producer(t) for t in range(3)]), *readers])
    p.stop()
    expected = {s: [] for s in range(SYMBOLS)}
    for tid in range(3):
        for i in range(per_thread):
            if T0 + i * 10 + tid not in rejected:
                expected[(i + tid) % SYMBOLS].append(T0 + i * 10 + tid)
    check_final(p, expected)  # every accepted tick is stored, no rejected one is
    accepted = 3 * per_thread - len(rejected)
    s = p.stats()
    assert (s.ticks_ingested, s.ticks_stored, s.ticks_dropped) == (accepted, accepted, len(rejected))
    assert all(r.reads >= 5 for r in readers)


def test_batch_writers_single_ticks_and_readers_together():
    p = make_pipeline(queue_capacity=64)
    p.start()
    done = threading.Event()
    rng = np.random.default_rng(7)
    batches = []
    for b in range(40):
        n = int(rng.integers(1, 3000))
        sym = rng.integers(0, SYMBOLS, n)
        ts = T0 + rng.integers(0, 10**6, n)  # out of order within and across batches
        batches.append((sym, ts))
    singles = [(i % SYMBOLS, T0 + (i * 7919) % 10**6) for i in range(4000)]

    def batch_writer(part: int) -> Callable[[], None]:
        def run() -> None:
            for sym, ts in batches[part::2]:
                prices = np.array([price_of(int(s)) for s in sym])
                assert p.ingest_batch(sym, prices, np.ones(len(sym), np.int64), ts) == len(sym)
        return run

    rejected: set = set()

    def tick_writer() -> None:
        # A full queue may reject a tick when the drain thread waits behind a
        # large batch for more than the ingest timeout; it must then not be stored.
        for s, ts in singles:
            if not p.ingest(symbol=s, price=price_of(s), volume=2, timestamp=ts):
                rejected.add((s, ts))

    readers = [Reader(p, s, done) for s in range(SYMBOLS)]
    run_threads([then_set(done, [batch_writer(0), batch_writer(1), tick_writer]), *readers])
    p.stop()
    expected = {s: [] for s in range(SYMBOLS)}
    for sym, ts in batches:
        for s, t in zip(sym.tolist(), ts.tolist()):
            expected[s].append(t)
    for s, t in singles:
        if (s, t) not in rejected:
            expected[s].append(t)
    check_final(p, expected)
    total = sum(len(v) for v in expected.values())
    stats = p.stats()
    assert p.row_count() == total == stats.ticks_stored == stats.ticks_ingested
    assert stats.ticks_dropped == len(rejected)


def test_views_taken_during_ingest_stay_frozen():
    p = make_pipeline()
    p.start()
    views = []
    done = threading.Event()

    def writer() -> None:
        for i in range(200):
            ts = T0 + np.arange(100) * 1000 + (i * 37) % 1000  # overlaps earlier rows
            p.ingest_batch(np.zeros(100, np.int64), np.full(100, i), np.ones(100, np.int64), ts)

    def viewer() -> None:
        while not done.is_set():
            v = p.get_column(symbol=0, name="price")
            if len(views) < 200:  # keeps memory bounded on a fast machine
                views.append((v, v.copy()))

    run_threads([then_set(done, [writer]), viewer])
    p.stop()
    assert len(views) > 0
    for v, copy in views:
        assert np.array_equal(v, copy), "a view changed after it was taken"
    assert p.count(symbol=0) == 200 * 100


def test_many_producers_tiny_queue_no_drain_thread():
    p = make_pipeline(queue_capacity=4, drain_batch_size=2)
    per_thread = 3_000

    def producer(tid: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(per_thread):
                assert p.ingest(symbol=tid, price=i, volume=1, timestamp=T0 + i), "tick rejected"
        return run

    run_threads([producer(t) for t in range(4)])
    p.drain()
    for t in range(4):
        assert p.get_column(symbol=t, name="price").tolist() == list(range(per_thread))
    assert p.stats().ticks_dropped == 0
