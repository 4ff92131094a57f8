"""Direct queries (vwap, count, sum) over time ranges, and the stats counters."""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
import pytest

import zeptodb
from conftest import T0, i64

# symbol 1: (ts, price, volume) at T0 + 0, 10, 20, 30, 40
PRICES = [100, 102, 101, 105, 99]
VOLUMES = [10, 20, 30, 40, 50]


@pytest.fixture
def loaded(pipeline):
    pipeline.ingest_batch([1] * 5, PRICES, VOLUMES, [T0 + 10 * i for i in range(5)])
    pipeline.ingest_batch([2, 2], [7, 9], [1, 3], [T0, T0 + 1])
    return pipeline


def ref_vwap(lo: int, hi: int) -> float:
    p, v = PRICES[lo:hi], VOLUMES[lo:hi]
    return sum(a * b for a, b in zip(p, v)) / sum(v)


def test_whole_range(loaded):
    assert loaded.count(symbol=1) == 5
    assert loaded.sum(symbol=1) == sum(VOLUMES)  # col defaults to volume
    assert loaded.sum(symbol=1, col="price") == sum(PRICES)
    assert loaded.vwap(symbol=1) == pytest.approx(ref_vwap(0, 5), rel=1e-15)
    assert loaded.vwap(symbol=2) == pytest.approx((7 + 27) / 4)


@pytest.mark.parametrize("from_off, to_off, lo, hi", [
    (10, 30, 1, 4),      # both bounds hit rows exactly: inclusive
    (11, 29, 2, 3),
    (0, 0, 0, 1),        # a single instant
    (-100, 5, 0, 1),
    (35, 10**6, 4, 5),
    (40, 40, 4, 5),
])
def test_time_ranges_are_inclusive(loaded, from_off, to_off, lo, hi):
    rng = {"from_ns": T0 + from_off, "to_ns": T0 + to_off}
    assert loaded.count(symbol=1, **rng) == hi - lo
    assert loaded.sum(symbol=1, col="volume", **rng) == sum(VOLUMES[lo:hi])
    assert loaded.sum(symbol=1, col="price", **rng) == sum(PRICES[lo:hi])
    assert loaded.vwap(symbol=1, **rng) == pytest.approx(ref_vwap(lo, hi), rel=1e-15)


def test_open_ended_ranges(loaded):
    assert loaded.count(symbol=1, from_ns=T0 + 20) == 3
    assert loaded.count(symbol=1, to_ns=T0 + 20) == 3
    assert loaded.vwap(symbol=1, to_ns=T0 + 10) == pytest.approx(ref_vwap(0, 2))


@pytest.mark.parametrize("from_off, to_off", [(1, 9), (41, 100), (-10, -1), (30, 10)])
def test_empty_ranges(loaded, from_off, to_off):
    rng = {"from_ns": T0 + from_off, "to_ns": T0 + to_off}
    assert loaded.count(symbol=1, **rng) == 0
    assert loaded.sum(symbol=1, **rng) == 0
    assert math.isnan(loaded.vwap(symbol=1, **rng))


@pytest.mark.parametrize("symbol", [999, -5, "UNKNOWN", 2**40])
def test_unknown_symbols_give_zero_and_nan(loaded, symbol):
    assert loaded.count(symbol=symbol) == 0
    assert loaded.sum(symbol=symbol) == 0 and isinstance(loaded.sum(symbol=symbol), int)
    assert math.isnan(loaded.vwap(symbol=symbol))
    assert loaded.symbol_id("UNKNOWN") is None  # a query does not add names


def test_unknown_symbol_on_a_double_column_sums_to_float_zero(pipeline):
    pipeline.create_table("q", {"sym": "SYMBOL", "ts": "TIMESTAMP", "bid": "DOUBLE"})
    pipeline.ingest_columns("q", {"sym": ["A"], "ts": [1], "bid": [0.25]})
    assert pipeline.sum(symbol="A", col="bid", table="q") == 0.25
    zero = pipeline.sum(symbol="B", col="bid", table="q")
    assert zero == 0.0 and isinstance(zero, float)


def test_zero_volume_gives_nan_vwap(pipeline):
    pipeline.ingest_batch([1, 1], [100, 200], [0, 0])
    assert math.isnan(pipeline.vwap(symbol=1))


def test_vwap_and_sum_are_exact_beyond_int64_intermediates(pipeline):
    # price * volume overflows int64 for every row; the engine must not.
    prices = [3_000_000_000_007, 3_000_000_000_011, 2_999_999_999_999]
    volumes = [4_000_000, 3_000_001, 5_000_003]
    pipeline.ingest_batch([1, 1, 1], prices, volumes, [T0, T0 + 1, T0 + 2])
    exact = Fraction(sum(p * v for p, v in zip(prices, volumes)), sum(volumes))
    assert pipeline.vwap(symbol=1) == pytest.approx(float(exact), rel=1e-15)
    assert pipeline.sum(symbol=1, col="price") == sum(prices)


def test_sum_overflow_is_an_error_not_a_wrapped_value(pipeline):
    pipeline.ingest_batch([1, 1], [2**62, 2**62], [1, 1], [T0, T0 + 1])
    assert pipeline.sum(symbol=1, col="price", to_ns=T0) == 2**62
    with pytest.raises(ValueError, match="overflows"):
        pipeline.sum(symbol=1, col="price")


def test_sum_with_negative_values(pipeline):
    pipeline.ingest_batch([1, 1, 1], [-(2**62), 2**62, -7], [1, 1, 1], [T0, T0 + 1, T0 + 2])
    assert pipeline.sum(symbol=1, col="price") == -7


def test_query_argument_types(loaded):
    assert loaded.count(symbol=np.int64(1), from_ns=np.int64(T0 + 10), to_ns=np.uint64(T0 + 20)) == 2
    with pytest.raises(TypeError, match="from_ns"):
        loaded.count(symbol=1, from_ns=1.5)
    with pytest.raises(TypeError, match="symbol"):
        loaded.vwap(symbol=1.0)


def test_queries_see_rows_of_other_tables_only_with_table(pipeline):
    pipeline.create_table("other", [("symbol", "BIGINT"), ("timestamp", "BIGINT"),
                                    ("price", "BIGINT"), ("volume", "BIGINT")],
                          symbol="symbol", timestamp="timestamp")
    pipeline.ingest_batch([1, 1], [10, 20], [1, 1], [T0, T0 + 1], table="other")
    assert pipeline.count(symbol=1) == 0
    assert pipeline.count(symbol=1, table="other") == 2
    assert pipeline.count(symbol=1, from_ns=T0 + 1, table="other") == 1  # its timestamp orders it


# --------------------------------------------------------------------- stats
STAT_FIELDS = ["ticks_ingested", "ticks_stored", "ticks_dropped", "queries_executed",
               "total_rows_scanned", "partitions_created", "last_ingest_latency_ns"]


def test_stats_of_a_new_pipeline(pipeline):
    s = pipeline.stats()
    assert isinstance(s, zeptodb.Stats)
    for field in STAT_FIELDS:
        assert getattr(s, field) == 0, field
        assert f"{field}=0" in repr(s)
    assert s.last_error == ""


def test_stats_count_ingest_and_queries(pipeline):
    pipeline.ingest_batch(i64([1, 1, 2]), i64([1, 2, 3]), i64([1, 1, 1]), i64([T0, T0 + 1, T0 + 2]))
    for i in range(4):
        pipeline.ingest(symbol=3, price=i, volume=1, timestamp=T0 + i)
    s = pipeline.stats()
    assert (s.ticks_ingested, s.ticks_stored) == (7, 3)  # ticks queued, not yet stored
    assert s.partitions_created == 2
    assert s.last_ingest_latency_ns > 0
    pipeline.drain()
    s = pipeline.stats()
    assert (s.ticks_ingested, s.ticks_stored, s.ticks_dropped) == (7, 7, 0)
    assert s.partitions_created == 3
    assert (s.queries_executed, s.total_rows_scanned) == (0, 0)

    pipeline.count(symbol=1)                                   # scans 2
    pipeline.vwap(symbol=3, from_ns=T0 + 1, to_ns=T0 + 2)      # scans 2
    pipeline.sum(symbol=2)                                     # scans 1
    pipeline.count(symbol=99)                                  # scans 0
    s = pipeline.stats()
    assert s.queries_executed == 4
    assert s.total_rows_scanned == 5


def test_stats_is_a_snapshot(pipeline):
    before = pipeline.stats()
    pipeline.ingest_batch([1], [1], [1])
    assert before.ticks_ingested == 0 and pipeline.stats().ticks_ingested == 1
    with pytest.raises(AttributeError):
        before.ticks_ingested = 5


def test_stats_memory_grows_with_rows(pipeline):
    pipeline.ingest_batch([1], [1], [1])
    small = pipeline.stats().memory_bytes
    n = 100_000
    pipeline.ingest_batch(np.ones(n, np.int64), np.ones(n, np.int64), np.ones(n, np.int64))
    big = pipeline.stats().memory_bytes
    assert 0 < small < big
    assert big >= n * 32  # four int64 columns


def test_latency_is_recent_and_plausible(pipeline):
    t = time.perf_counter_ns()
    pipeline.ingest_batch(np.arange(1000), np.arange(1000), np.arange(1000))
    elapsed = time.perf_counter_ns() - t
    assert 0 < pipeline.stats().last_ingest_latency_ns <= elapsed
