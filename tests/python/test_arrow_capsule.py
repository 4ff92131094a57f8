"""The engine's Arrow C Data / C Stream interface through the PyCapsule protocol:
Pipeline.export() (zero copy out) and Pipeline.ingest_arrow() (any producer in)."""

from __future__ import annotations

import datetime as dt
import gc

import numpy as np
import pytest

import zeptodb

from conftest import T0, assert_rejected, column

pa = pytest.importorskip("pyarrow")

ALL_TYPES = [("sym", "SYMBOL"), ("ts", "TIMESTAMP"), ("i64", "BIGINT"), ("i32", "INTEGER"),
             ("f64", "DOUBLE"), ("flag", "BOOLEAN")]


def address(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


@pytest.fixture
def filled(pipeline: zeptodb.Pipeline) -> zeptodb.Pipeline:
    pipeline.ingest_batch(["AAPL", "MSFT", "AAPL"], [100, 200, 101], [1, 2, 3],
                          timestamps=[T0 + 3, T0 + 2, T0 + 1])
    return pipeline


# ------------------------------------------------------------------- export
def test_export_schema_timestamps_are_ns_utc_and_symbols_strings(filled: zeptodb.Pipeline) -> None:
    t = pa.table(filled.export())
    assert t.schema.field("timestamp").type == pa.timestamp("ns", tz="UTC")
    assert t.schema.field("symbol").type == pa.dictionary(pa.int32(), pa.utf8())
    assert t.schema.field("price").type == pa.int64()
    assert t.column("symbol").to_pylist() == ["AAPL", "AAPL", "MSFT"]
    assert t.column("timestamp").cast(pa.int64()).to_pylist() == [T0 + 1, T0 + 3, T0 + 2]
    assert t.num_rows == len(filled.export()) == 3


def test_export_is_zero_copy(filled: zeptodb.Pipeline) -> None:
    t = pa.table(filled.export("AAPL"))
    for name in ("price", "volume", "timestamp"):
        chunk = t.column(name).chunks[0]
        assert chunk.buffers()[1].address == address(filled.get_column("AAPL", name)), name
    # every symbol: one chunk per symbol, each on the engine's memory
    whole = pa.table(filled.export())
    assert whole.column("price").num_chunks == 2
    addrs = {c.buffers()[1].address for c in whole.column("price").chunks}
    assert addrs == {address(filled.get_column(s, "price")) for s in ("AAPL", "MSFT")}


def test_export_outlives_pipeline_and_growth() -> None:
    p = zeptodb.Pipeline()
    p.ingest_batch([1] * 4, [10, 11, 12, 13], [1] * 4, timestamps=[1, 2, 3, 4])
    t = pa.table(p.export(1))
    p.ingest_batch([1] * 100_000, np.arange(100_000), np.ones(100_000, dtype=np.int64),
                   timestamps=np.arange(5, 100_005))  # grows into new blocks
    del p
    gc.collect()
    assert t.column("price").to_pylist() == [10, 11, 12, 13]


def test_unconsumed_capsules_release_their_data(filled: zeptodb.Pipeline) -> None:
    e = filled.export()
    for _ in range(100):
        e.__arrow_c_stream__()
        e.__arrow_c_schema__()
        e.__arrow_c_array__()
    gc.collect()
    assert pa.table(e).num_rows == 3


def test_record_batch_reader_is_lazy_batch_by_batch(filled: zeptodb.Pipeline) -> None:
    reader = pa.RecordBatchReader.from_stream(filled.export())
    batches = list(reader)
    assert [b.num_rows for b in batches] == [2, 1]


def test_array_capsule_concatenates_symbols(filled: zeptodb.Pipeline) -> None:
    batch = pa.record_batch(filled.export(columns=["symbol", "price"]))
    assert batch.num_columns == 2
    assert batch.column(1).to_pylist() == [101, 100, 200]


def test_symbol_modes(pipeline: zeptodb.Pipeline) -> None:
    pipeline.ingest_batch([7, 7], [1, 2], [1, 1], timestamps=[1, 2])
    auto = pa.table(pipeline.export())
    assert auto.schema.field("symbol").type == pa.int64()  # ids without names stay ids
    assert pa.table(pipeline.export(symbols="utf8")).column("symbol").to_pylist() == ["7", "7"]
    pipeline.ingest_batch(["X"], [3], [1], timestamps=[3])
    assert pa.table(pipeline.export(symbols="id")).schema.field("symbol").type == pa.int64()
    assert pa.table(pipeline.export("X")).column("symbol").to_pylist() == ["X"]
    with pytest.raises(ValueError, match="symbols must be"):
        pipeline.export(symbols="names")


def test_export_empty_and_unknown_symbol(pipeline: zeptodb.Pipeline) -> None:
    t = pa.table(pipeline.export())
    assert t.num_rows == 0 and t.column_names == ["symbol", "timestamp", "price", "volume"]
    assert pa.table(pipeline.export("NOPE")).num_rows == 0


def test_export_nulls_and_booleans(pipeline: zeptodb.Pipeline) -> None:
    pipeline.create_table("q", ALL_TYPES)
    src = pa.table({"sym": ["A", "A", "A"], "ts": pa.array([3, 1, 2], pa.timestamp("ns")),
                    "f64": pa.array([1.5, None, 2.5]), "flag": [True, False, True]})
    assert pipeline.ingest_arrow(src, "q") == 3
    t = pa.table(pipeline.export(table="q"))
    assert t.column("f64").to_pylist() == [None, 2.5, 1.5]
    assert t.column("flag").to_pylist() == [False, True, True]
    assert t.column("i64").null_count == 3  # columns not given are NULL


# ------------------------------------------------------------------- import
def test_round_trip_every_type(pipeline: zeptodb.Pipeline) -> None:
    pipeline.create_table("q", ALL_TYPES)
    utc = dt.timezone.utc
    src = pa.table({
        "sym": pa.array(["A", "B", "A"], pa.string_view()),
        "ts": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=utc)] * 3, pa.timestamp("us", "Asia/Tokyo")),
        "i64": pa.array([2**62, -5, 0], pa.int64()),
        "i32": pa.array([-(2**31), 7, 2**31 - 1], pa.int32()),
        "f64": pa.array([0.5, -1e300, 3.25], pa.float64()),
        "flag": pa.array([True, False, True]),
    })
    assert pipeline.ingest_arrow(src, "q") == 3
    out = pa.table(pipeline.export("A", table="q"))
    assert out.column("i64").to_pylist() == [2**62, 0]
    assert out.column("i32").to_pylist() == [-(2**31), 2**31 - 1]
    assert out.column("f64").to_pylist() == [0.5, 3.25]
    assert out.column("flag").to_pylist() == [True, True]
    ts = out.column("ts").to_pylist()[0]
    assert ts == dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=utc)
    assert out.column("ts").type == pa.timestamp("ns", "UTC")


@pytest.mark.parametrize("typ", [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(),
                                 pa.uint32(), pa.uint64()])
def test_integer_widths(pipeline: zeptodb.Pipeline, typ: pa.DataType) -> None:
    src = pa.table({"symbol": pa.array([1, 1], typ), "price": pa.array([0, 100], typ),
                    "volume": pa.array([5, 6], typ), "timestamp": pa.array([1, 2], typ)})
    pipeline.ingest_arrow(src)
    assert column(pipeline, 1, "price") == [0, 100]


def test_uint64_out_of_range_names_column_and_row(pipeline: zeptodb.Pipeline) -> None:
    src = pa.table({"symbol": [1, 1], "price": pa.array([1, 2**63], pa.uint64()), "volume": [1, 1]})
    assert_rejected(pipeline, ValueError, r"column 'price' row 1: 9223372036854775808 does not fit",
                    lambda: pipeline.ingest_arrow(src))


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "America/New_York"])
def test_timestamps_any_unit_and_zone(pipeline: zeptodb.Pipeline, unit: str, tz: str) -> None:
    per = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    raw = T0 // per
    src = pa.table({"symbol": [1], "price": [1], "volume": [1],
                    "timestamp": pa.array([raw], pa.timestamp(unit, tz))})
    pipeline.ingest_arrow(src)
    assert column(pipeline, 1, "timestamp") == [raw * per]


def test_dates(pipeline: zeptodb.Pipeline) -> None:
    day = dt.date(2024, 3, 21)
    for typ in (pa.date32(), pa.date64()):
        pipeline.ingest_arrow(pa.table({"symbol": [1], "price": [1], "volume": [1],
                                        "timestamp": pa.array([day], typ)}))
    assert column(pipeline, 1, "timestamp") == [1_710_979_200 * 10**9] * 2


@pytest.mark.parametrize("typ", [pa.utf8(), pa.large_utf8(), pa.string_view(),
                                 pa.dictionary(pa.int8(), pa.utf8()), pa.dictionary(pa.uint32(), pa.large_utf8())])
def test_string_symbols(pipeline: zeptodb.Pipeline, typ: pa.DataType) -> None:
    names = ["AAPL", "A_SYMBOL_LONGER_THAN_12", "AAPL"]
    arr = pa.array(names).cast(typ) if not pa.types.is_dictionary(typ) else pa.array(names).dictionary_encode().cast(typ)
    pipeline.ingest_arrow(pa.table({"symbol": arr, "price": [1, 2, 3], "volume": [1, 1, 1]}))
    assert column(pipeline, "AAPL", "price") == [1, 3]
    assert column(pipeline, "A_SYMBOL_LONGER_THAN_12", "price") == [2]


def test_sliced_and_chunked_inputs(pipeline: zeptodb.Pipeline) -> None:
    base = pa.table({"symbol": ["S", "A", "B", "A", "S"], "price": [0, 1, 2, 3, 0], "volume": [9, 1, 1, 1, 9],
                     "timestamp": [0, 1, 2, 3, 4]})
    assert pipeline.ingest_arrow(base.slice(1, 3)) == 3
    assert column(pipeline, "A", "price") == [1, 3]
    assert pipeline.symbol_id("S") is None
    chunked = pa.concat_tables([base.slice(1, 1), base.slice(0, 0), base.slice(3, 1)])
    assert chunked.column("price").num_chunks == 3
    assert pipeline.ingest_arrow(chunked) == 2
    assert column(pipeline, "A", "price") == [1, 1, 3, 3]


def test_chunked_input_is_atomic(pipeline: zeptodb.Pipeline) -> None:
    good = pa.table({"symbol": [1], "price": [1.0], "volume": [1]})
    bad = pa.table({"symbol": [1], "price": [float("nan")], "volume": [1]})
    both = pa.concat_tables([good, bad])
    assert_rejected(pipeline, ValueError, "column 'price' row 1 is NaN",
                    lambda: pipeline.ingest_arrow(both, scales={"price": 100}))


def test_zero_length_inputs(pipeline: zeptodb.Pipeline) -> None:
    empty = pa.table({"symbol": pa.array([], pa.utf8()), "price": pa.array([], pa.int64()),
                      "volume": pa.array([], pa.int64())})
    assert pipeline.ingest_arrow(empty) == 0
    assert pipeline.ingest_arrow(pa.RecordBatchReader.from_batches(empty.schema, [])) == 0
    assert pipeline.row_count() == 0


def test_record_batch_and_reader(pipeline: zeptodb.Pipeline) -> None:
    batch = pa.record_batch({"symbol": [1, 2], "price": [5, 6], "volume": [1, 1]})
    assert pipeline.ingest_arrow(batch) == 2
    reader = pa.RecordBatchReader.from_batches(batch.schema, [batch, batch])
    assert pipeline.ingest_arrow(reader) == 4
    assert column(pipeline, 2, "price") == [6, 6, 6]


def test_columns_select_and_rename(pipeline: zeptodb.Pipeline) -> None:
    src = pa.table({"ticker": ["X"], "px": [5], "qty": [2], "junk": ["?"]})
    pipeline.ingest_arrow(src, columns={"ticker": "symbol", "px": "price", "qty": "volume"})
    assert column(pipeline, "X", "volume") == [2]
    with pytest.raises(KeyError, match="unknown column .ticker. in table .trades."):
        pipeline.ingest_arrow(src)
    with pytest.raises(KeyError, match="'nope' is not in the Arrow data; it has: ticker, px"):
        pipeline.ingest_arrow(src, columns=["nope"])


def test_nulls_stored_or_rejected(pipeline: zeptodb.Pipeline) -> None:
    pipeline.create_table("q", ALL_TYPES)
    src = pa.table({"sym": ["A", "A"], "i64": pa.array([1, None])})
    pipeline.ingest_arrow(src, "q")
    assert pa.table(pipeline.export(table="q")).column("i64").to_pylist() == [1, None]
    assert_rejected(pipeline, ValueError, "column 'i64' row 1 is null",
                    lambda: pipeline.ingest_arrow(src, "q", reject_nulls=True))
    assert_rejected(pipeline, ValueError, "'sym' row 0 is NULL",
                    lambda: pipeline.ingest_arrow(pa.table({"sym": pa.array([None], pa.utf8())}), "q"))


def test_unsupported_types_name_column_and_format(pipeline: zeptodb.Pipeline) -> None:
    import decimal

    dec = pa.table({"symbol": [1], "price": pa.array([decimal.Decimal("1.5")])})
    with pytest.raises(TypeError, match=r"column 'price': Arrow type 'd:2,1' is not supported"):
        pipeline.ingest_arrow(dec)
    lst = pa.table({"symbol": [1], "price": [[1, 2]]})
    with pytest.raises(TypeError, match=r"column 'price': Arrow type '\+l' is not supported"):
        pipeline.ingest_arrow(lst)
    with pytest.raises(TypeError, match="floating-point values need a scale"):
        pipeline.ingest_arrow(pa.table({"symbol": [1], "price": [1.5]}))
    with pytest.raises(TypeError, match="expected Arrow data"):
        pipeline.ingest_arrow([1, 2, 3])


def test_other_producers(pipeline: zeptodb.Pipeline) -> None:
    pl = pytest.importorskip("polars")
    pd = pytest.importorskip("pandas")
    duckdb = pytest.importorskip("duckdb")
    pipeline.ingest_arrow(pl.DataFrame({"symbol": ["P"], "price": [1], "volume": [1]}))  # utf8_view
    pipeline.ingest_arrow(pd.DataFrame({"symbol": ["P"], "price": [2], "volume": [1]}))
    pipeline.ingest_arrow(duckdb.sql("SELECT 'P' AS symbol, 3::BIGINT AS price, 1::BIGINT AS volume"))
    assert sorted(column(pipeline, "P", "price")) == [1, 2, 3]


def test_scaled_prices_round_half_away_from_zero(pipeline: zeptodb.Pipeline) -> None:
    src = pa.table({"symbol": [1, 1, 1], "price": [0.29, -0.015, 2.5], "volume": [1, 1, 1],
                    "timestamp": [1, 2, 3]})
    pipeline.ingest_arrow(src, scales={"price": 100})
    expected = pipeline._scale_to_int64(np.array([0.29, -0.015, 2.5]), 100.0, "p").tolist()
    assert column(pipeline, 1, "price") == expected == [29, -2, 250]
