"""Single ticks through the queue, batches, timestamps and the symbol dictionary."""

from __future__ import annotations

import time

import numpy as np
import pytest

import zeptodb
from conftest import T0, assert_rejected, column, i64, make_pipeline, trades


# ---------------------------------------------------------------- single ticks
def test_ingest_is_invisible_until_drained_then_visible(pipeline):
    assert pipeline.ingest(symbol=1, price=15000, volume=100) is True
    assert pipeline.ingest(symbol=1, price=15010, volume=50) is True
    assert pipeline.count(symbol=1) == 0  # no drain thread: still queued
    pipeline.drain()
    assert pipeline.count(symbol=1) == 2
    assert column(pipeline, 1, "price") == [15000, 15010]
    assert column(pipeline, 1, "volume") == [100, 50]


def test_positional_and_numpy_scalar_arguments(pipeline):
    pipeline.ingest(np.int64(3), np.int32(7), np.uint8(9), np.int64(T0))
    pipeline.drain()
    assert trades(pipeline, 3) == [(T0, 7, 9)]


def test_explicit_timestamp_is_kept_and_default_is_ingest_time(pipeline):
    before = time.time_ns()
    pipeline.ingest(symbol=1, price=15000, volume=100)
    after = time.time_ns()
    pipeline.ingest(symbol=1, price=15010, volume=50, timestamp=T0)
    pipeline.drain()
    ts = column(pipeline, 1, "timestamp")
    assert ts[0] == T0  # the explicit (older) timestamp sorts first
    assert before <= ts[1] <= after


def test_explicit_int64_min_timestamp_is_kept(pipeline):
    assert pipeline.ingest(symbol=1, price=1, volume=1, timestamp=-(2**63))
    pipeline.drain()
    assert column(pipeline, 1, "timestamp") == [-(2**63)]


def test_bool_symbol_is_rejected(pipeline):
    with pytest.raises(TypeError, match="symbol"):
        pipeline.ingest(symbol=True, price=1, volume=1)


def test_queued_large_id_is_never_reused_by_a_new_name(pipeline):
    big = 2**32 + 5
    assert pipeline.ingest(symbol=big, price=1, volume=1)
    # Not drained yet: a new name must still avoid the queued id.
    assert pipeline.symbol_id("NEWNAME", create=True) > big
    pipeline.drain()
    assert pipeline.count(symbol=big) == 1


def test_out_of_order_ticks_are_queried_in_timestamp_order(pipeline):
    stamps = [T0 + 5, T0 + 1, T0 + 9, T0 + 3, T0 + 7]
    for i, ts in enumerate(stamps):
        pipeline.ingest(symbol=4, price=100 + i, volume=1, timestamp=ts)
    pipeline.drain()
    assert column(pipeline, 4, "timestamp") == sorted(stamps)
    assert column(pipeline, 4, "price") == [101, 103, 100, 104, 102]


def test_drain_thread_stores_ticks_and_stop_loses_nothing():
    p = make_pipeline(drain_batch_size=7)
    p.start()
    assert p.running
    n = 20_000
    for i in range(n):
        assert p.ingest(symbol=i % 3, price=i, volume=1, timestamp=T0 + i)
    p.stop()  # must flush everything accepted
    assert not p.running
    assert sum(p.count(symbol=s) for s in range(3)) == n
    assert p.sum(symbol=0, col="price") == sum(range(0, n, 3))
    s = p.stats()
    assert (s.ticks_ingested, s.ticks_stored, s.ticks_dropped) == (n, n, 0)


def test_start_and_stop_are_idempotent_and_restartable(pipeline):
    pipeline.stop()  # stop before start: a no-op
    pipeline.start()
    pipeline.start()
    pipeline.ingest(symbol=1, price=1, volume=1)
    pipeline.stop()
    pipeline.stop()
    assert pipeline.count(symbol=1) == 1
    pipeline.ingest(symbol=1, price=2, volume=1)  # accepted while stopped ...
    pipeline.start()
    pipeline.drain()  # ... and stored after a restart
    assert pipeline.count(symbol=1) == 2
    pipeline.stop()


def test_drain_is_synchronous_with_running_thread(running):
    for i in range(1000):
        running.ingest(symbol=2, price=i, volume=2, timestamp=T0 + i)
        if i % 250 == 249:
            running.drain()
            assert running.count(symbol=2) == i + 1


def test_small_queue_without_drain_thread_loses_nothing():
    # The ring holds 8 ticks; with no drain thread the producer drains itself.
    p = make_pipeline(queue_capacity=8, drain_batch_size=3)
    n = 5_000
    accepted = [p.ingest(symbol=i % 2, price=i, volume=1, timestamp=T0 + i) for i in range(n)]
    assert all(accepted)
    p.drain()
    assert p.count(symbol=0) + p.count(symbol=1) == n
    assert column(p, 1, "price") == list(range(1, n, 2))
    assert p.stats().ticks_dropped == 0


def test_small_arena_grows_instead_of_dropping():
    p = make_pipeline(arena_size=1024)
    n = 200_000
    assert p.ingest_batch(np.zeros(n, dtype=np.int64), np.arange(n), np.ones(n, dtype=np.int64)) == n
    assert p.count(symbol=0) == n
    assert p.sum(symbol=0, col="price") == n * (n - 1) // 2


# --------------------------------------------------------------------- batches
def test_ingest_batch_without_timestamps_uses_ingest_time(pipeline):
    before = time.time_ns()
    assert pipeline.ingest_batch(i64([1, 1, 2]), i64([100, 101, 200]), i64([10, 20, 30])) == 3
    after = time.time_ns()
    assert pipeline.count(symbol=1) == 2 and pipeline.count(symbol=2) == 1
    assert column(pipeline, 1, "price") == [100, 101]
    assert all(before <= t <= after for t in column(pipeline, 1, "timestamp"))


def test_ingest_batch_keeps_caller_timestamps(pipeline):
    ts = i64([T0 + 30, T0 + 10, T0 + 20, T0 + 10])
    pipeline.ingest_batch(i64([7, 7, 7, 8]), i64([3, 1, 2, 9]), i64([1, 1, 1, 1]), ts)
    assert trades(pipeline, 7) == [(T0 + 10, 1, 1), (T0 + 20, 2, 1), (T0 + 30, 3, 1)]
    assert trades(pipeline, 8) == [(T0 + 10, 9, 1)]


def test_out_of_order_batches_merge_into_existing_rows(pipeline):
    pipeline.ingest_batch([1, 1, 1], [10, 20, 30], [1, 1, 1], [T0 + 10, T0 + 20, T0 + 30])
    pipeline.ingest_batch([1, 1], [15, 5], [1, 1], [T0 + 15, T0 + 5])
    pipeline.ingest_batch([1], [21], [1], [T0 + 20])  # a tie goes after the earlier row
    assert column(pipeline, 1, "timestamp") == [T0 + t for t in (5, 10, 15, 20, 20, 30)]
    assert column(pipeline, 1, "price") == [5, 10, 15, 20, 21, 30]


def test_empty_batch_stores_nothing(pipeline):
    assert pipeline.ingest_batch([], [], []) == 0
    assert pipeline.row_count() == 0


def test_python_lists_and_tuples(pipeline):
    assert pipeline.ingest_batch([1, 2], (5, 6), [7, 8], [T0, T0 + 1]) == 2
    assert trades(pipeline, 2) == [(T0 + 1, 6, 8)]


@pytest.mark.parametrize("unit, step_ns", [
    ("ns", 1), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
    ("m", 60_000_000_000), ("h", 3_600_000_000_000), ("D", 86_400_000_000_000),
    ("10ms", 10_000_000),
])
def test_datetime64_timestamps_of_any_unit(pipeline, unit, step_ns):
    ts = np.array([3, 1, 2], dtype=f"datetime64[{unit}]")
    pipeline.ingest_batch([1, 1, 1], [30, 10, 20], [1, 1, 1], ts)
    assert column(pipeline, 1, "timestamp") == [step_ns, 2 * step_ns, 3 * step_ns]
    assert column(pipeline, 1, "price") == [10, 20, 30]


def test_datetime64_of_a_real_date(pipeline):
    ts = np.array(["2024-03-21T05:46:40", "2024-03-21T05:46:41"], dtype="datetime64[s]")
    pipeline.ingest_batch([1, 1], [1, 2], [1, 1], ts)
    assert column(pipeline, 1, "timestamp") == [T0, T0 + 1_000_000_000]


# ----------------------------------------------------------- float batches
def test_float_batch_rounds_half_away_from_zero(pipeline):
    prices = [0.29, -0.29, 2.5 / 100, -2.5 / 100, 1.005, 150.125]
    volumes = [2.5, -2.5, 0.5, -0.5, 1.49999, 3.0]
    n = pipeline.ingest_float_batch([1] * 6, prices, volumes, i64(range(T0, T0 + 6)), price_scale=100.0)
    assert n == 6
    assert column(pipeline, 1, "price") == [29, -29, 3, -3, 100, 15013]  # 1.005*100 = 100.49999...
    assert column(pipeline, 1, "volume") == [3, -3, 1, -1, 1, 3]


def test_float_batch_exact_halves(pipeline):
    pipeline.ingest_float_batch([1] * 4, np.array([2.5, -2.5, 0.5, -0.5]), np.ones(4),
                                i64(range(T0, T0 + 4)))
    assert column(pipeline, 1, "price") == [3, -3, 1, -1]


def test_float_batch_volume_scale_and_int_input(pipeline):
    pipeline.ingest_float_batch(["X"], np.array([12], dtype=np.int32), [0.015], price_scale=10,
                                volume_scale=1000)
    assert column(pipeline, "X", "price") == [120]
    assert column(pipeline, "X", "volume") == [15]


# ------------------------------------------------------------ str symbols
def test_str_symbols_go_through_the_dictionary(pipeline):
    pipeline.ingest_batch(["AAPL", "MSFT", "AAPL"], [1, 2, 3], [1, 1, 1], [T0, T0 + 1, T0 + 2])
    aapl = pipeline.symbol_id("AAPL")
    msft = pipeline.symbol_id("MSFT")
    assert isinstance(aapl, int) and aapl != msft
    assert pipeline.symbol_name(aapl) == "AAPL" and pipeline.symbol_name(msft) == "MSFT"
    assert pipeline.count(symbol="AAPL") == pipeline.count(symbol=aapl) == 2
    assert column(pipeline, "AAPL", "price") == column(pipeline, aapl, "price") == [1, 3]
    assert column(pipeline, aapl, "symbol") == [aapl, aapl]


def test_str_symbols_as_numpy_unicode_and_object_arrays(pipeline):
    pipeline.ingest_batch(np.array(["A", "B"]), [1, 2], [1, 1])
    pipeline.ingest_batch(np.array(["B", "C"], dtype=object), [3, 4], [1, 1])
    assert [pipeline.count(symbol=s) for s in "ABC"] == [1, 2, 1]


def test_single_tick_with_str_symbol(pipeline):
    pipeline.ingest(symbol="IBM", price=5, volume=6, timestamp=T0)
    pipeline.drain()
    assert trades(pipeline, "IBM") == [(T0, 5, 6)]
    assert pipeline.symbol_name(pipeline.symbol_id("IBM")) == "IBM"


def test_symbol_names_do_not_collide_with_integer_ids(pipeline):
    pipeline.ingest_batch([1, 2, 3], [10, 20, 30], [1, 1, 1])
    pipeline.ingest(symbol=4, price=40, volume=1)  # still queued
    new = pipeline.symbol_id("NEW", create=True)
    pipeline.drain()
    assert new not in (1, 2, 3, 4)
    assert pipeline.count(symbol="NEW") == 0
    assert pipeline.symbol_name(1) is None


def test_names_fail_loudly_when_no_id_is_left_above_the_largest_integer_id(pipeline):
    pipeline.ingest_batch([2**63 - 1], [1], [1])
    with pytest.raises(ValueError, match="no symbol id left for name 'X'"):
        pipeline.symbol_id("X", create=True)
    with pytest.raises(ValueError, match="no symbol id left"):
        pipeline.ingest(symbol="X", price=1, volume=1)
    assert_rejected(pipeline, ValueError, "no symbol id left", lambda: pipeline.ingest_batch(["X"], [1], [1]))
    assert pipeline.symbol_id("X") is None
    pipeline.drain()
    assert pipeline.row_count() == 1


def test_symbol_id_lookup_and_create(pipeline):
    assert pipeline.symbol_id("NOPE") is None
    created = pipeline.symbol_id("NOPE", create=True)
    assert pipeline.symbol_id("NOPE") == created
    assert pipeline.symbol_id("NOPE", create=True) == created
    assert pipeline.symbol_name(created) == "NOPE"
    assert pipeline.symbol_name(123456) is None


def test_unicode_symbol_names(pipeline):
    pipeline.ingest_batch(["日本", "Ünï"], [1, 2], [1, 1])
    assert pipeline.symbol_name(pipeline.symbol_id("日本")) == "日本"
    assert pipeline.count(symbol="Ünï") == 1


def test_default_config_and_repr():
    c = zeptodb.PipelineConfig()
    assert c.storage_mode == zeptodb.StorageMode.PURE_IN_MEMORY
    assert c.max_memory == 0
    custom = zeptodb.PipelineConfig(arena_size=32 * 1024 * 1024, drain_batch_size=256,
                                    storage_mode=zeptodb.StorageMode.PURE_IN_MEMORY)
    p = zeptodb.Pipeline(config=custom)
    assert p.config.drain_batch_size == 256
    assert "PURE_IN_MEMORY" in repr(p.config)


def test_expect_rows_is_a_hint_that_keeps_every_row():
    hinted, plain = zeptodb.Pipeline(), zeptodb.Pipeline()
    hinted.expect_rows(400_000)
    rng = np.random.default_rng(7)
    for b in range(4):
        ids = rng.integers(0, 10, 100_000)
        ts = np.arange(b * 100_000, (b + 1) * 100_000)
        for p in (hinted, plain):
            p.ingest_batch(ids, ts % 997, np.ones(100_000, dtype=np.int64), timestamps=ts)
    for sym in range(10):
        assert hinted.get_column(sym, "price").tolist() == plain.get_column(sym, "price").tolist()
    with pytest.raises(ValueError, match="must not be negative"):
        hinted.expect_rows(-1)
    with pytest.raises(KeyError, match="nope"):
        hinted.expect_rows(10, table="nope")
