"""Every rejected call says what was wrong and stores nothing."""

from __future__ import annotations

import numpy as np
import pytest

import zeptodb
from conftest import T0, assert_rejected, column, i64, make_pipeline

ONES = [1, 1, 1]


# ----------------------------------------------------------- float batches
@pytest.mark.parametrize("arg, bad, message", [
    ("prices", float("nan"), r"prices\[2\] is NaN"),
    ("prices", float("inf"), r"prices\[2\] is infinite"),
    ("prices", float("-inf"), r"prices\[2\] is infinite"),
    ("prices", 1e17, r"prices\[2\] overflows int64"),        # 1e17 * 100 > 2**63
    ("prices", -9.3e16, r"prices\[2\] overflows int64"),
    ("volumes", float("nan"), r"volumes\[2\] is NaN"),
    ("volumes", 1e19, r"volumes\[2\] overflows int64"),
])
def test_float_batch_rejects_bad_values_naming_the_index(pipeline, arg, bad, message):
    pipeline.ingest_batch([1], [1], [1])  # existing rows must survive
    values = {"prices": [1.0, 2.0, 3.0], "volumes": [1.0, 1.0, 1.0]}
    values[arg][2] = bad
    assert_rejected(pipeline, ValueError, message,
                    lambda: pipeline.ingest_float_batch([1, 2, 3], values["prices"], values["volumes"],
                                                        price_scale=100.0))
    assert pipeline.count(symbol=2) == 0 and pipeline.count(symbol=1) == 1


def test_float_batch_boundary_of_int64(pipeline):
    # 2**62 is exact in float64 and fits; 2**63 does not fit.
    assert pipeline.ingest_float_batch([1], [2.0**62], [1.0]) == 1
    assert column(pipeline, 1, "price") == [2**62]
    assert_rejected(pipeline, ValueError, r"prices\[0\] overflows",
                    lambda: pipeline.ingest_float_batch([1], [2.0**63], [1.0]))


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf")])
def test_float_batch_rejects_bad_scales(pipeline, scale):
    assert_rejected(pipeline, ValueError, "scale",
                    lambda: pipeline.ingest_float_batch([1], [1.0], [1.0], price_scale=scale))


def test_float_batch_rejects_non_numbers(pipeline):
    assert_rejected(pipeline, TypeError, "prices",
                    lambda: pipeline.ingest_float_batch([1], np.array(["x"]), [1.0]))


# ------------------------------------------------------- shapes and lengths
@pytest.mark.parametrize("call, message", [
    (lambda p: p.ingest_batch([1, 2], [1, 2, 3], [1, 2]), "length mismatch.*'price' has 3"),
    (lambda p: p.ingest_batch([1, 2], [1, 2], [1]), "length mismatch.*'volume' has 1"),
    (lambda p: p.ingest_batch([1, 2], [1, 2], [1, 2], [T0]), "length mismatch.*'timestamp' has 1"),
    (lambda p: p.ingest_float_batch([1, 2], [1.0, 2.0], [1.0]), "length mismatch.*volumes has 1"),
    (lambda p: p.ingest_float_batch([1], [1.0, 2.0], [1.0, 2.0]), "length mismatch"),
])
def test_length_mismatch_names_the_arguments(pipeline, call, message):
    assert_rejected(pipeline, ValueError, message, lambda: call(pipeline))


@pytest.mark.parametrize("arg", ["symbols", "prices", "volumes", "timestamps"])
def test_two_dimensional_arrays_are_rejected(pipeline, arg):
    args = {"symbols": i64([1, 1]), "prices": i64([1, 2]), "volumes": i64([1, 1]),
            "timestamps": i64([T0, T0])}
    args[arg] = np.ones((2, 2), dtype=np.int64)
    assert_rejected(pipeline, ValueError, "one-dimensional.*\\(2, 2\\)",
                    lambda: pipeline.ingest_batch(**args))


def test_scalar_instead_of_array_is_rejected(pipeline):
    assert_rejected(pipeline, ValueError, "'price' must be one-dimensional",
                    lambda: pipeline.ingest_batch([1], 5, [1]))


# ------------------------------------------------------------- wrong types
@pytest.mark.parametrize("column_name, position", [("symbol", 0), ("price", 1), ("volume", 2),
                                                   ("timestamp", 3)])
def test_float_arrays_in_integer_batches_are_type_errors(pipeline, column_name, position):
    args = [i64([1, 1]), i64([1, 2]), i64([1, 1]), i64([T0, T0 + 1])]
    args[position] = np.array([1.0, 2.0])
    info = assert_rejected(pipeline, TypeError, f"column '{column_name}'.*float64",
                           lambda: pipeline.ingest_batch(*args))
    if column_name == "price":
        assert "ingest_float_batch" in str(info.value)  # tells the user what to do


@pytest.mark.parametrize("values", [np.array([True, False]), [True, False]])
def test_bools_are_not_integers(pipeline, values):
    assert_rejected(pipeline, TypeError, "column 'price'.*bool",
                    lambda: pipeline.ingest_batch([1, 1], values, [1, 1]))
    assert_rejected(pipeline, TypeError, "column 'volume'.*bool",
                    lambda: pipeline.ingest_batch([1, 1], [1, 1], values))


@pytest.mark.parametrize("values, expected", [
    (["1", "2"], TypeError), ([1, "x"], TypeError), ([1, None], TypeError), ([[1], [2, 3]], TypeError),
])
def test_non_numeric_sequences(pipeline, values, expected):
    assert_rejected(pipeline, expected, "'price'", lambda: pipeline.ingest_batch([1, 1], values, [1, 1]))


def test_datetime64_errors(pipeline):
    nat = np.array(["2024-01-01", "NaT"], dtype="datetime64[s]")
    assert_rejected(pipeline, ValueError, "'timestamp' row 1 is NaT",
                    lambda: pipeline.ingest_batch([1, 1], [1, 1], [1, 1], nat))
    years = np.array(["2024", "2025"], dtype="datetime64[Y]")
    assert_rejected(pipeline, TypeError, "unit 'Y'",
                    lambda: pipeline.ingest_batch([1, 1], [1, 1], [1, 1], years))
    far = np.array([0, 10**12], dtype="datetime64[s]")  # year ~33658: beyond int64 ns
    assert_rejected(pipeline, ValueError, "'timestamp' row 1 overflows",
                    lambda: pipeline.ingest_batch([1, 1], [1, 1], [1, 1], far))
    assert_rejected(pipeline, TypeError, "'price'",
                    lambda: pipeline.ingest_batch([1], np.array([5], dtype="datetime64[ns]"), [1]))


def test_single_tick_argument_errors(pipeline):
    with pytest.raises(TypeError, match="price must be an integer, got float"):
        pipeline.ingest(symbol=1, price=1.5, volume=1)
    with pytest.raises(TypeError, match="volume must be an integer, got bool"):
        pipeline.ingest(symbol=1, price=1, volume=True)
    with pytest.raises(TypeError, match="symbol"):
        pipeline.ingest(symbol=1.0, price=1, volume=1)
    with pytest.raises(OverflowError, match="price"):
        pipeline.ingest(symbol=1, price=2**63, volume=1)
    with pytest.raises(TypeError, match="timestamp"):
        pipeline.ingest(symbol=1, price=1, volume=1, timestamp="2024-01-01")
    pipeline.drain()
    assert pipeline.stats().ticks_ingested == 0 and pipeline.row_count() == 0


def test_str_symbols_mixed_with_other_objects(pipeline):
    assert_rejected(pipeline, TypeError, r"symbols\[1\] must be a str",
                    lambda: pipeline.ingest_batch(np.array(["A", 1], dtype=object), [1, 1], [1, 1]))


# --------------------------------------------------------------- atomicity
def test_bad_value_in_the_last_row_leaves_every_table_unchanged(pipeline):
    pipeline.create_table("q", {"sym": "SYMBOL", "ts": "TIMESTAMP", "bid": "DOUBLE", "n": "INTEGER"})
    pipeline.ingest_columns("q", {"sym": ["A", "B"], "ts": [1, 2], "bid": [1.0, 2.0], "n": [1, 2]})
    n = 10_000
    bids = np.linspace(1, 2, n)
    bids[-1] = np.nan
    assert_rejected(pipeline, ValueError, f"'bid' row {n - 1} is NaN",
                    lambda: pipeline.ingest_columns("q", {"sym": np.arange(n) % 7, "ts": np.arange(n),
                                                          "bid": bids, "n": np.ones(n, np.int32)}))
    bids[-1] = np.inf
    assert_rejected(pipeline, ValueError, "'bid' row .* is infinite",
                    lambda: pipeline.ingest_columns("q", {"sym": np.arange(n) % 7, "ts": np.arange(n),
                                                          "bid": bids, "n": np.ones(n, np.int32)}))
    assert pipeline.get_column(symbol="A", name="bid", table="q").tolist() == [1.0]
    assert [pipeline.count(symbol=s, table="q") for s in range(7)] == [0] * 7


def test_rejected_batch_after_good_ones_keeps_all_columns_equal_length(pipeline):
    pipeline.ingest_batch(ONES, [1, 2, 3], ONES, [T0, T0 + 1, T0 + 2])
    assert_rejected(pipeline, ValueError, "row 2",
                    lambda: pipeline.ingest_batch([1, 1, 1], [4, 5, 6], np.array([1, 1, 2**64 - 1], np.uint64)))
    lengths = {name: len(pipeline.get_column(symbol=1, name=name)) for name, _ in pipeline.schema()}
    assert lengths == {"symbol": 3, "timestamp": 3, "price": 3, "volume": 3}


# ---------------------------------------------------- unknown names: KeyError
def test_unknown_table_lists_the_tables(pipeline):
    pipeline.create_table("quotes", {"sym": "SYMBOL", "price": "BIGINT", "volume": "BIGINT"})
    calls = [
        lambda: pipeline.ingest_batch([1], [1], [1], table="nope"),
        lambda: pipeline.ingest_columns("nope", {"x": [1]}),
        lambda: pipeline.count(symbol=1, table="nope"),
        lambda: pipeline.vwap(symbol=1, table="nope"),
        lambda: pipeline.sum(symbol=1, table="nope"),
        lambda: pipeline.get_column(symbol=1, name="price", table="nope"),
        lambda: pipeline.schema("nope"),
        lambda: pipeline.row_count("nope"),
        lambda: pipeline.drop_table("nope"),
    ]
    for call in calls:
        info = assert_rejected(pipeline, KeyError, "unknown table 'nope'", call)
        assert "quotes" in str(info.value) and "trades" in str(info.value)


def test_unknown_column_lists_the_columns(pipeline):
    pipeline.ingest_batch([1], [1], [1])
    calls = [
        lambda: pipeline.sum(symbol=1, col="qty"),
        lambda: pipeline.sum(symbol=999, col="qty"),  # also for an unknown symbol
        lambda: pipeline.get_column(symbol=1, name="qty"),
        lambda: pipeline.get_column(symbol=999, name="qty"),
        lambda: pipeline.ingest_columns("trades", {"symbol": [1], "price": [1], "volume": [1], "qty": [1]}),
    ]
    for call in calls:
        info = assert_rejected(pipeline, KeyError, "unknown column 'qty'", call)
        assert "symbol, timestamp, price, volume" in str(info.value)


def test_vwap_on_a_table_without_price_names_the_columns(pipeline):
    pipeline.create_table("book", {"sym": "SYMBOL", "ts": "TIMESTAMP", "bid": "DOUBLE"})
    with pytest.raises(KeyError, match="unknown column 'price'.*sym, ts, bid"):
        pipeline.vwap(symbol=1, table="book")


def test_column_given_twice(pipeline):
    assert_rejected(pipeline, ValueError, "'price' given twice",
                    lambda: pipeline.ingest_columns("trades", {"symbol": [1], "price": [1],
                                                               "PRICE": [2], "volume": [1]}))


# ------------------------------------------------------------ configuration
@pytest.mark.parametrize("mode", ["TIERED", "PURE_ON_DISK"])
def test_durable_modes_need_a_data_dir(mode):
    config = zeptodb.PipelineConfig(storage_mode=getattr(zeptodb.StorageMode, mode))
    with pytest.raises(ValueError, match=f"storage mode {mode} needs a data_dir"):
        zeptodb.Pipeline(config=config)


@pytest.mark.parametrize("field", ["drain_batch_size", "queue_capacity"])
def test_zero_sizes_are_rejected(field):
    with pytest.raises(ValueError, match=field):
        make_pipeline(**{field: 0})


# ------------------------------------------------------------ memory limit
def test_memory_limit_raises_memory_error_and_stores_nothing():
    p = make_pipeline(max_memory=1 << 20, arena_size=1024)
    p.ingest_batch([1, 2], [10, 20], [1, 1], [T0, T0])
    n = 60_000  # 32 bytes a row: 640 KB per symbol; the second symbol passes the 1 MB limit
    assert_rejected(p, MemoryError, "memory limit",
                    lambda: p.ingest_batch(np.arange(n) % 3, np.arange(n), np.ones(n, np.int64),
                                           np.arange(n) + T0 + 1))
    assert [p.count(symbol=s) for s in range(3)] == [0, 1, 1]
    assert column(p, 1, "price") == [10]
    assert p.stats().memory_bytes <= 1 << 20
    # A batch that fits still works afterwards.
    assert p.ingest_batch([0, 1], [5, 6], [1, 1], [T0 + 1, T0 + 1]) == 2
    assert column(p, 1, "price") == [10, 6]


def test_memory_limit_on_the_queue_path_is_reported_not_half_stored():
    p = make_pipeline(max_memory=64 * 1024, arena_size=1024, drain_batch_size=64)
    n = 5_000
    for i in range(n):
        assert p.ingest(symbol=i % 3, price=i, volume=1, timestamp=T0 + i)
    p.drain()
    s = p.stats()
    stored = sum(p.count(symbol=k) for k in range(3))
    assert s.ticks_ingested == n
    assert s.ticks_dropped > 0 and "memory limit" in s.last_error
    assert s.ticks_stored == stored and s.ticks_stored + s.ticks_dropped == n
    assert s.memory_bytes <= 64 * 1024
    for k in range(3):  # whatever was stored is whole: every column has every row
        assert len(p.get_column(symbol=k, name="volume")) == len(p.get_column(symbol=k, name="price"))


def test_partitions_first_filled_after_a_rejected_batch_are_counted():
    p = make_pipeline(max_memory=1 << 20, arena_size=1024)
    n = 60_000
    with pytest.raises(MemoryError):
        p.ingest_batch(np.arange(n) % 3, np.arange(n), np.ones(n, np.int64))
    p.ingest_batch([0, 1, 2], [1, 1, 1], [1, 1, 1])
    assert p.stats().partitions_created == 3
