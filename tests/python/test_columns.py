"""Argument conversion, zero-copy column views and table-aware ingest."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import zeptodb
from conftest import T0, assert_rejected, column, i64, trades

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


# --------------------------------------------------------------- conversion
@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_every_integer_dtype_is_accepted(pipeline, dtype):
    info = np.iinfo(dtype)
    prices = np.array([info.min, 0, 1, min(info.max, 2**63 - 1)], dtype=dtype)
    volumes = np.array([1, 2, 3, 4], dtype=dtype)
    symbols = np.array([5, 5, 5, 5], dtype=dtype)
    ts = np.array([1, 2, 3, 4], dtype=dtype)
    assert pipeline.ingest_batch(symbols, prices, volumes, ts) == 4
    assert column(pipeline, 5, "price") == [int(x) for x in prices]
    assert column(pipeline, 5, "volume") == [1, 2, 3, 4]
    assert column(pipeline, 5, "timestamp") == [1, 2, 3, 4]


@pytest.mark.parametrize("values", [
    np.array([1, 2**63], dtype=np.uint64),
    np.array([1, 2**64 - 1], dtype=np.uint64),
])
def test_uint64_beyond_int64_max_is_rejected(pipeline, values):
    info = assert_rejected(pipeline, ValueError, "'price' row 1",
                           lambda: pipeline.ingest_batch([1, 1], values, [1, 1]))
    assert "int64" in str(info.value)


def test_python_ints_beyond_int64_are_rejected_naming_the_column(pipeline):
    for big in (2**63, -(2**63) - 1, 2**70):
        assert_rejected(pipeline, ValueError, "'volume' row 1",
                        lambda: pipeline.ingest_batch([1, 1], [1, 1], [1, big]))


def test_int64_extremes_round_trip(pipeline):
    lo, hi = -(2**63), 2**63 - 1
    pipeline.ingest_batch([1, 1], [lo, hi], [hi, lo], [T0, T0 + 1])
    assert trades(pipeline, 1) == [(T0, lo, hi), (T0 + 1, hi, lo)]


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint16])
def test_non_contiguous_arrays_are_read_with_their_strides(pipeline, dtype):
    base = np.arange(40, dtype=dtype)
    symbols = np.full(40, 3, dtype=dtype)[::2]
    prices = base[::2]                   # 0, 2, 4, ...
    volumes = base[::-2]                 # 39, 37, ...: negative stride
    ts = (np.arange(40, dtype=np.int64) + T0)[1::2]
    assert not prices.flags.c_contiguous
    pipeline.ingest_batch(symbols, prices, volumes, ts)
    assert column(pipeline, 3, "price") == prices.tolist()
    assert column(pipeline, 3, "volume") == volumes.tolist()
    assert column(pipeline, 3, "timestamp") == ts.tolist()


def test_non_contiguous_column_of_a_2d_array(pipeline):
    block = np.arange(30, dtype=np.int64).reshape(10, 3)  # columns are strided views
    pipeline.ingest_batch(np.ones(10, dtype=np.int64), block[:, 1], block[:, 2], block[:, 0] + T0)
    assert column(pipeline, 1, "price") == block[:, 1].tolist()
    assert column(pipeline, 1, "volume") == block[:, 2].tolist()


def test_non_contiguous_float_and_datetime_arrays(pipeline):
    prices = np.array([1.25, 99.0, 2.5, 99.0, 3.75, 99.0])[::2]
    ts = np.arange("2024-01-01", "2024-01-07", dtype="datetime64[D]")[::2]
    pipeline.ingest_float_batch([1, 1, 1], prices, [1.0, 2.0, 3.0], ts, price_scale=4)
    assert column(pipeline, 1, "price") == [5, 10, 15]
    assert column(pipeline, 1, "timestamp") == ts.astype("datetime64[ns]").astype(np.int64).tolist()


@pytest.mark.parametrize("unit", ["s", "ns"])
def test_big_endian_arrays(pipeline, unit):
    ts = np.array(["2024-03-21T05:46:41", "2024-03-21T05:46:40"], dtype=f">M8[{unit}]")
    pipeline.ingest_batch(np.array([1, 1], ">i8"), np.array([300, -5], ">i4"), np.array([1, 2], ">u8"), ts)
    assert column(pipeline, 1, "timestamp") == [T0, T0 + 1_000_000_000]
    assert column(pipeline, 1, "price") == [-5, 300]
    pipeline.ingest_float_batch([2], np.array([1.25], ">f8"), np.array([2.0], ">f4"), [T0], price_scale=4)
    assert trades(pipeline, 2) == [(T0, 5, 2)]


def test_object_array_of_ints(pipeline):
    pipeline.ingest_batch(np.array([1, 1], dtype=object), np.array([7, 8], dtype=object), [1, 1])
    assert column(pipeline, 1, "price") == [7, 8]


# ------------------------------------------------------------- column views
def test_get_column_is_a_read_only_zero_copy_view(pipeline):
    pipeline.ingest_batch([1, 1, 1], [10, 20, 30], [1, 2, 3], [T0, T0 + 1, T0 + 2])
    view = pipeline.get_column(symbol=1, name="price")
    assert isinstance(view, np.ndarray) and view.dtype == np.int64 and view.ndim == 1
    assert view.flags.owndata is False
    assert view.base is not None
    assert view.flags.writeable is False
    with pytest.raises(ValueError):
        view[0] = 99
    with pytest.raises(ValueError):
        view.setflags(write=True)
    # Zero copy: two views of the same rows share memory.
    again = pipeline.get_column(symbol=1, name="price")
    assert np.shares_memory(view, again)


def test_view_is_a_snapshot_unchanged_by_later_ingest(pipeline):
    pipeline.ingest_batch([1, 1, 1], [10, 20, 30], [1, 1, 1], [T0 + 10, T0 + 20, T0 + 30])
    prices = pipeline.get_column(symbol=1, name="price")
    stamps = pipeline.get_column(symbol=1, name="timestamp")
    # In order (may reuse the block), out of order into the middle (re-sorts),
    # and enough rows to move the column to a larger block.
    pipeline.ingest_batch([1], [40], [1], [T0 + 40])
    pipeline.ingest_batch([1, 1], [5, 15], [1, 1], [T0 + 5, T0 + 15])
    n = 100_000
    pipeline.ingest_batch(np.ones(n, dtype=np.int64), np.full(n, 7), np.ones(n, dtype=np.int64),
                          np.arange(n) + T0)
    assert prices.tolist() == [10, 20, 30]
    assert stamps.tolist() == [T0 + 10, T0 + 20, T0 + 30]
    assert pipeline.count(symbol=1) == n + 6
    assert sorted(column(pipeline, 1, "timestamp")) == column(pipeline, 1, "timestamp")


def test_single_ticks_after_a_view_leave_it_unchanged(running):
    for i in range(5):
        running.ingest(symbol=1, price=i, volume=1, timestamp=T0 + 10 * i)
    running.drain()
    view = running.get_column(symbol=1, name="price")
    for i in range(5):
        running.ingest(symbol=1, price=100 + i, volume=1, timestamp=T0 + 10 * i - 5)
    running.drain()
    assert view.tolist() == [0, 1, 2, 3, 4]
    assert column(running, 1, "price") == [100, 0, 101, 1, 102, 2, 103, 3, 104, 4]


def test_view_outlives_stop_and_the_pipeline():
    p = zeptodb.Pipeline()
    p.start()
    n = 50_000
    p.ingest_batch(np.full(n, 9), np.arange(n), np.ones(n, dtype=np.int64), np.arange(n) + T0)
    view = p.get_column(symbol=9, name="price")
    p.stop()
    assert view.sum() == n * (n - 1) // 2
    del p
    gc.collect()
    # Other allocations must not reuse the memory the view points at.
    junk = [np.full(n, -1, dtype=np.int64) for _ in range(10)]
    assert view.tolist() == list(range(n))
    assert view.flags.writeable is False
    del junk


def test_view_keeps_memory_after_table_is_dropped(pipeline):
    pipeline.create_table("ticks", {"sym": "SYMBOL", "ts": "TIMESTAMP", "px": "DOUBLE"})
    pipeline.ingest_columns("ticks", {"sym": ["A", "A"], "ts": [2, 1], "px": [2.5, 1.5]})
    view = pipeline.get_column(symbol="A", name="px", table="ticks")
    pipeline.drop_table("ticks")
    gc.collect()
    assert view.tolist() == [1.5, 2.5]


def test_unknown_symbol_gives_an_empty_array_of_the_column_dtype(pipeline):
    pipeline.create_table("q", [("s", "SYMBOL"), ("t", "TIMESTAMP"), ("b", "DOUBLE")])
    assert pipeline.get_column(symbol=42, name="price").tolist() == []
    assert pipeline.get_column(symbol=42, name="price").dtype == np.int64
    assert not pipeline.get_column(symbol=42, name="price").flags.writeable  # like every view
    assert pipeline.get_column(symbol="NOPE", name="b", table="q").dtype == np.float64
    assert pipeline.get_column(symbol="NOPE", name="t", table="q").dtype == np.dtype("datetime64[ns]")


def test_get_column_dtype_per_column_type(pipeline):
    pipeline.create_table("all_types", [("sym", "SYMBOL"), ("ts", "TIMESTAMP"), ("big", "BIGINT"),
                                        ("small", "INTEGER"), ("dbl", "DOUBLE"), ("flag", "BOOLEAN")])
    ts = np.array(["2024-01-01T00:00:00.000000002", "2024-01-01T00:00:00.000000001"],
                  dtype="datetime64[ns]")
    pipeline.ingest_columns("all_types", {"sym": ["A", "A"], "ts": ts, "big": [2**40, -5],
                                          "small": np.array([-7, 2**31 - 1], dtype=np.int32),
                                          "dbl": [0.5, -1.25], "flag": [True, False]})
    expected = {"sym": np.int64, "ts": np.dtype("datetime64[ns]"), "big": np.int64,
                "small": np.int32, "dbl": np.float64, "flag": np.bool_}
    for name, dtype in expected.items():
        view = pipeline.get_column(symbol="A", name=name, table="all_types")
        assert view.dtype == dtype, name
        assert view.flags.owndata is False and view.flags.writeable is False, name
    get = lambda name: pipeline.get_column(symbol="A", name=name, table="all_types").tolist()  # noqa: E731
    assert pipeline.get_column(symbol="A", name="ts", table="all_types").tolist() == sorted(ts.tolist())
    assert get("big") == [-5, 2**40]  # rows sorted by ts
    assert get("small") == [2**31 - 1, -7]
    assert get("dbl") == [-1.25, 0.5]
    assert get("flag") == [False, True]
    assert get("sym") == [pipeline.symbol_id("A")] * 2


# ------------------------------------------------------------------- tables
def test_create_table_schema_and_tables(pipeline):
    assert pipeline.tables() == ["trades"]
    assert pipeline.schema() == [("symbol", "BIGINT"), ("timestamp", "BIGINT"),
                                 ("price", "BIGINT"), ("volume", "BIGINT")]
    assert pipeline.create_table("quotes", {"sym": "SYMBOL", "ts": "TIMESTAMP", "bid": "DOUBLE",
                                            "ask": "DOUBLE", "size": "INT32"}) is True
    assert pipeline.create_table("quotes", {"x": "INT64"}, if_not_exists=True) is False
    assert sorted(pipeline.tables()) == ["quotes", "trades"]
    assert pipeline.schema("quotes") == [("sym", "SYMBOL"), ("ts", "TIMESTAMP"), ("bid", "DOUBLE"),
                                         ("ask", "DOUBLE"), ("size", "INTEGER")]
    with pytest.raises(ValueError, match="quotes"):
        pipeline.create_table("quotes", {"x": "INT64"})
    with pytest.raises(ValueError, match="unknown type 'DECIMAL'"):
        pipeline.create_table("bad", {"x": "DECIMAL"})
    assert pipeline.drop_table("quotes") is True
    assert pipeline.drop_table("quotes", if_exists=True) is False
    assert pipeline.tables() == ["trades"]


def test_ingest_batch_into_another_table(pipeline):
    pipeline.create_table("fills", [("sym", "SYMBOL"), ("ts", "TIMESTAMP"),
                                    ("price", "BIGINT"), ("volume", "BIGINT")])
    pipeline.ingest_batch(["A", "A", "B"], [10, 30, 20], [1, 3, 2], [T0 + 2, T0 + 1, T0], table="fills")
    assert pipeline.row_count("fills") == 3 and pipeline.row_count() == 0
    assert pipeline.count(symbol="A", table="fills") == 2
    assert column(pipeline, "A", "price", table="fills") == [30, 10]
    assert pipeline.vwap(symbol="A", table="fills") == pytest.approx((30 * 3 + 10 * 1) / 4)
    assert pipeline.count(symbol="A") == 0  # trades untouched
    pipeline.ingest_float_batch(["B"], [1.5], [2.0], [T0 + 5], price_scale=10, table="fills")
    assert column(pipeline, "B", "price", table="fills") == [20, 15]


def test_ingest_columns_any_order_and_case_insensitive_names(pipeline):
    pipeline.create_table("quotes", {"sym": "SYMBOL", "ts": "TIMESTAMP", "bid": "DOUBLE",
                                     "size": "INTEGER", "firm": "BOOLEAN"})
    n = pipeline.ingest_columns("quotes", {"SIZE": np.array([5, 6], dtype=np.int8),
                                           "bid": np.array([1, 2], dtype=np.int16),
                                           "Firm": np.array([True, False]),
                                           "sym": ["X", "X"],
                                           "ts": i64([T0 + 1, T0])})
    assert n == 2
    assert pipeline.get_column(symbol="X", name="bid", table="quotes").tolist() == [2.0, 1.0]
    assert pipeline.get_column(symbol="X", name="size", table="quotes").tolist() == [6, 5]
    assert pipeline.get_column(symbol="X", name="firm", table="quotes").tolist() == [False, True]
    assert pipeline.sum(symbol="X", col="bid", table="quotes") == 3.0
    assert pipeline.sum(symbol="X", col="size", table="quotes") == 11
    assert pipeline.sum(symbol="X", col="firm", table="quotes") == 1


def test_ingest_columns_without_timestamp_uses_ingest_time(pipeline):
    pipeline.create_table("events", {"sym": "SYMBOL", "ts": "TIMESTAMP", "v": "BIGINT"})
    pipeline.ingest_columns("events", {"sym": [1, 1], "v": [3, 4]})
    stamps = pipeline.get_column(symbol=1, name="ts", table="events")
    assert stamps.dtype == np.dtype("datetime64[ns]")
    now = np.datetime64("now", "ns")
    assert ((now - stamps) < np.timedelta64(60, "s")).all()


def test_table_without_symbol_or_timestamp_column(pipeline):
    pipeline.create_table("plain", {"a": "BIGINT", "b": "DOUBLE"})
    pipeline.ingest_columns("plain", {"a": [3, 1, 2], "b": [0.5, 1.5, 2.5]})
    pipeline.ingest_columns("plain", {"a": [0], "b": [9.0]})
    assert pipeline.row_count("plain") == 4
    assert pipeline.get_column(symbol=0, name="a", table="plain").tolist() == [3, 1, 2, 0]  # arrival order
    assert pipeline.sum(symbol=0, col="b", table="plain") == 13.5


def test_double_column_from_large_ints_must_be_exact(pipeline):
    pipeline.create_table("d", {"x": "DOUBLE"})
    assert pipeline.ingest_columns("d", {"x": i64([2**53, -(2**53)])}) == 2
    assert_rejected(pipeline, ValueError, "'x' row 1",
                    lambda: pipeline.ingest_columns("d", {"x": i64([1, 2**53 + 1])}))


def test_int32_column_range_is_checked(pipeline):
    pipeline.create_table("n", {"k": "INTEGER"})
    assert pipeline.ingest_columns("n", {"k": i64([-(2**31), 2**31 - 1])}) == 2
    assert_rejected(pipeline, ValueError, "'k' row 2.*int32",
                    lambda: pipeline.ingest_columns("n", {"k": i64([0, 1, 2**31])}))
    assert_rejected(pipeline, ValueError, "'k' row 0",
                    lambda: pipeline.ingest_columns("n", {"k": np.array([2**40], dtype=np.uint64)}))
