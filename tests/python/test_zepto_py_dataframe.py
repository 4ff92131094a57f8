"""zepto_py.dataframe: pandas / Polars / NumPy / Arrow in and out."""

from __future__ import annotations

import numpy as np
import pytest

import zeptodb
import zepto_py

from conftest import T0, assert_rejected, column

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")


def trades_frame(n: int = 4) -> dict:
    return {"symbol": (["AAPL", "MSFT"] * n)[:n], "timestamp": T0 + np.arange(n, dtype=np.int64) * 1000,
            "price": 100.0 + np.arange(n) / 100, "volume": np.arange(1, n + 1, dtype=np.int64)}


# ------------------------------------------------------------------- pandas
def test_from_pandas_round_trip(pipeline: zeptodb.Pipeline) -> None:
    df = pd.DataFrame(trades_frame())
    df["timestamp"] = pd.to_datetime(df["timestamp"], unit="ns")
    assert zepto_py.from_pandas(df, pipeline, price_scale=100) == 4
    assert column(pipeline, "AAPL", "price") == [10000, 10002]
    out = zepto_py.to_pandas(pipeline)
    assert str(out["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert out["symbol"].tolist() == ["AAPL", "AAPL", "MSFT", "MSFT"]
    assert out["timestamp"].iloc[0] == pd.Timestamp(T0, unit="ns", tz="UTC")
    assert zepto_py.to_pandas(pipeline, symbol="MSFT")["volume"].tolist() == [2, 4]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_from_pandas_timestamp_units_and_zones(pipeline: zeptodb.Pipeline, unit: str) -> None:
    ts = pd.Series(pd.to_datetime([T0], unit="ns")).astype(f"datetime64[{unit}]")
    local = ts.dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    zepto_py.from_pandas(pd.DataFrame({"symbol": [1], "price": [1], "volume": [1], "timestamp": ts}), pipeline)
    zepto_py.from_pandas(pd.DataFrame({"symbol": [1], "price": [1], "volume": [1], "timestamp": local}), pipeline)
    per = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    assert column(pipeline, 1, "timestamp") == [T0 // per * per] * 2


def test_from_pandas_nanoseconds_and_zone_survive_round_trip(pipeline: zeptodb.Pipeline) -> None:
    ts = pd.Series([pd.Timestamp("2024-03-21 12:00:00.123456789", tz="Europe/Berlin")])
    zepto_py.from_pandas(pd.DataFrame({"symbol": ["Z"], "price": [1], "volume": [1], "timestamp": ts}), pipeline)
    back = zepto_py.to_pandas(pipeline, "Z")["timestamp"].iloc[0]
    assert back == ts.iloc[0] and back.nanosecond == 789 and str(back.tz) == "UTC"


@pytest.mark.parametrize("dtype", ["object", "category", "string", "str"])
def test_from_pandas_symbol_dtypes(pipeline: zeptodb.Pipeline, dtype: str) -> None:
    df = pd.DataFrame({"symbol": pd.Series(["A", "B", "A"], dtype=dtype), "price": [1, 2, 3], "volume": [1, 1, 1]})
    zepto_py.from_pandas(df, pipeline)
    assert column(pipeline, "A", "price") == [1, 3]


def test_from_pandas_int_symbols_and_missing_timestamp(pipeline: zeptodb.Pipeline) -> None:
    zepto_py.from_pandas(pd.DataFrame({"symbol": [5, 5], "price": [1, 2], "volume": [3, 4]}), pipeline)
    assert column(pipeline, 5, "volume") == [3, 4]
    assert abs(column(pipeline, 5, "timestamp")[0] - __import__("time").time_ns()) < 60 * 10**9


@pytest.mark.parametrize("frame,match", [
    ({"symbol": ["A", None], "price": [1.0, 2.0], "volume": [1, 1]}, "column 'symbol' row 1 is missing"),
    ({"symbol": ["A", "A"], "price": [1.0, float("nan")], "volume": [1, 1]}, "column 'price' row 1 is NaN"),
    ({"symbol": ["A", "A"], "price": [1, 2], "volume": pd.array([1, None], dtype="Int64")},
     "column 'volume' row 1 is missing"),
    ({"symbol": ["A", "A"], "price": [1, 2], "volume": [1, 1], "timestamp": pd.to_datetime([1, None])},
     "column 'timestamp' row 1 is NaT"),
])
def test_from_pandas_rejects_missing_values(pipeline: zeptodb.Pipeline, frame: dict, match: str) -> None:
    assert_rejected(pipeline, ValueError, match, lambda: zepto_py.from_pandas(pd.DataFrame(frame), pipeline))


def test_from_pandas_nullable_dtypes_without_missing_values(pipeline: zeptodb.Pipeline) -> None:
    df = pd.DataFrame({"symbol": pd.array(["A"], dtype="string"), "price": pd.array([1.25], dtype="Float64"),
                       "volume": pd.array([7], dtype="Int64")})
    zepto_py.from_pandas(df, pipeline, price_scale=100)
    assert column(pipeline, "A", "price") == [125]


def test_from_pandas_empty_one_row_and_non_contiguous(pipeline: zeptodb.Pipeline) -> None:
    empty = pd.DataFrame({"symbol": pd.Series([], dtype=object), "price": pd.Series([], dtype=float),
                          "volume": pd.Series([], dtype="int64")})
    assert zepto_py.from_pandas(empty, pipeline) == 0
    assert zepto_py.from_pandas(pd.DataFrame(trades_frame(1)), pipeline, price_scale=100) == 1
    big = pd.DataFrame(trades_frame(10))
    assert zepto_py.from_pandas(big.iloc[1::3], pipeline, price_scale=100) == 3  # strided rows 1, 4, 7
    assert column(pipeline, "MSFT", "volume") == [2, 8]
    assert column(pipeline, "AAPL", "volume") == [1, 5]


def test_from_pandas_other_table_maps_by_name(pipeline: zeptodb.Pipeline) -> None:
    pipeline.create_table("q", [("sym", "SYMBOL"), ("ts", "TIMESTAMP"), ("bid", "DOUBLE"), ("n", "INTEGER")])
    df = pd.DataFrame({"symbol": ["A"], "ts": pd.to_datetime([T0]), "BID": [1.5], "n": [3]})
    zepto_py.from_pandas(df, pipeline, table="q")
    t = pa.table(pipeline.export("A", table="q"))
    assert t.column("bid").to_pylist() == [1.5] and t.column("n").to_pylist() == [3]
    with pytest.raises(KeyError, match="'zz' is not a column of table 'q'"):
        zepto_py.from_pandas(df.assign(zz=1), pipeline, table="q")


def test_missing_symbol_column_is_a_key_error(pipeline: zeptodb.Pipeline) -> None:
    with pytest.raises(KeyError, match="no symbol column 'ticker'"):
        zepto_py.from_pandas(pd.DataFrame(trades_frame()), pipeline, symbol_col="ticker")


# ------------------------------------------------------------------- NumPy
def test_from_numpy_mapping_and_structured(pipeline: zeptodb.Pipeline) -> None:
    data = trades_frame()
    data["timestamp"] = data["timestamp"].astype("datetime64[ns]")
    assert zepto_py.from_numpy(data, pipeline, price_scale=100) == 4
    rec = np.zeros(2, dtype=[("symbol", "i8"), ("price", "f8"), ("volume", "i8"), ("timestamp", "M8[us]")])
    rec["symbol"] = 9
    rec["price"] = [1.5, 2.5]
    rec["timestamp"] = np.array([1, 2], dtype="M8[us]")
    assert zepto_py.from_numpy(rec, pipeline, price_scale=10) == 2
    assert column(pipeline, 9, "price") == [15, 25]
    assert column(pipeline, 9, "timestamp") == [1000, 2000]


@pytest.mark.parametrize("unit", ["us", "ns"])
def test_from_numpy_rejects_nat_and_overflow_naming_the_row(pipeline: zeptodb.Pipeline, unit: str) -> None:
    data = {"symbol": np.array([1, 1, 1]), "price": np.array([1, 2, 3]), "volume": np.array([1, 1, 1]),
            "timestamp": np.array([1, "NaT", 3], dtype=f"datetime64[{unit}]")}
    assert_rejected(pipeline, ValueError, "column 'timestamp' row 1 is NaT", lambda: zepto_py.from_numpy(data, pipeline))
    data["timestamp"] = np.array([0, 0, 2**62], dtype="datetime64[s]")
    assert_rejected(pipeline, ValueError, "column 'timestamp' row 2 overflows int64 nanoseconds",
                    lambda: zepto_py.from_numpy(data, pipeline))
    data["timestamp"] = np.array([0, 1, 2], dtype="datetime64[D]")  # a unit Arrow has not: converted first
    assert zepto_py.from_numpy(data, pipeline) == 3
    assert column(pipeline, 1, "timestamp") == [0, 86_400 * 10**9, 2 * 86_400 * 10**9]


def test_from_numpy_big_batches_match_numpy(pipeline: zeptodb.Pipeline) -> None:
    # Big enough for the engine to convert columns on two threads, twice in a
    # row (the second import reuses the first one's conversion buffers).
    n = 300_000
    rng = np.random.default_rng(7)
    sym = rng.integers(0, 3, n)
    price = rng.uniform(-1000, 1000, n)
    ts = (T0 // 1000 + np.arange(n)).astype("datetime64[us]")
    for _ in range(2):
        zepto_py.from_numpy({"symbol": sym, "timestamp": ts, "price": price, "volume": sym * 10}, pipeline,
                            price_scale=100)
    for s in range(3):
        rows = np.flatnonzero(sym == s)
        y = price[rows] * 100
        want = np.trunc(y) + (y - np.trunc(y) >= 0.5) - (y - np.trunc(y) <= -0.5)  # half away from zero
        assert column(pipeline, s, "price") == np.repeat(want.astype(np.int64), 2).tolist()
        assert column(pipeline, s, "timestamp") == np.repeat(ts[rows].astype("datetime64[ns]").view(np.int64), 2).tolist()


def test_from_numpy_other_dtypes_map_by_name(pipeline: zeptodb.Pipeline) -> None:
    pipeline.create_table("f", [("sym", "SYMBOL"), ("flag", "BOOLEAN"), ("n", "INTEGER"), ("x", "DOUBLE")])
    data = {"sym": np.array(["A", "B", "A"]), "flag": np.array([True, False, True]),
            "n": np.array([1, -2, 3], dtype=np.int16), "x": np.array([0.5, 1.5, 2.5], dtype=np.float32)}
    assert zepto_py.from_numpy(data, pipeline, table="f") == 3
    t = pa.table(pipeline.export("A", table="f"))
    assert t.column("flag").to_pylist() == [True, True] and t.column("n").to_pylist() == [1, 3]
    assert t.column("x").to_pylist() == [0.5, 2.5]
    data["n"] = np.array([1, 2**40, 3])
    assert_rejected(pipeline, ValueError, "column 'n' row 1: 1099511627776 does not fit in int32",
                    lambda: zepto_py.from_numpy(data, pipeline, table="f"))


def test_from_pandas_categorical_symbols_by_code(pipeline: zeptodb.Pipeline) -> None:
    cat = pd.Categorical(["B", "A", "B"], categories=["UNUSED", "A", "B"])
    df = pd.DataFrame({"symbol": cat, "price": [1, 2, 3], "volume": [1, 1, 1]})
    assert zepto_py.from_pandas(df, pipeline) == 3
    assert column(pipeline, "B", "price") == [1, 3]
    assert pipeline.symbol_id("UNUSED") is None  # only the names that rows use are interned
    df["symbol"] = pd.Categorical(["B", None, "B"], categories=["A", "B"])
    assert_rejected(pipeline, ValueError, "column 'symbol' row 1 is missing", lambda: zepto_py.from_pandas(df, pipeline))
    df["symbol"] = pd.Categorical([1, 2, 1])
    assert_rejected(pipeline, TypeError, "column 'symbol' row 0: symbol names must be str",
                    lambda: zepto_py.from_pandas(df, pipeline))


# ------------------------------------------------------------------- Polars
@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
def test_from_polars_datetimes_and_string_view(pipeline: zeptodb.Pipeline, unit: str) -> None:
    df = pl.DataFrame({"symbol": ["A", "B"], "price": [1.5, 2.5], "volume": [1, 2],
                       "timestamp": pl.Series([T0, T0 + 10**6]).cast(pl.Datetime("ns", "UTC"))})
    df = df.with_columns(pl.col("timestamp").cast(pl.Datetime(unit, "Asia/Tokyo")))
    assert zepto_py.from_polars(df, pipeline, price_scale=2) == 2
    per = {"ms": 10**6, "us": 10**3, "ns": 1}[unit]
    assert column(pipeline, "B", "timestamp") == [(T0 + 10**6) // per * per]
    assert column(pipeline, "B", "price") == [5]
    out = zepto_py.to_polars(pipeline)
    assert out.schema["timestamp"] == pl.Datetime("ns", "UTC")
    assert out["symbol"].cast(pl.String).to_list() == ["A", "B"]


def test_from_polars_categorical_sliced_and_lazy(pipeline: zeptodb.Pipeline) -> None:
    df = pl.DataFrame({"symbol": ["X", "Y", "X", "Y"], "price": [1, 2, 3, 4], "volume": [1, 1, 1, 1]})
    df = df.with_columns(pl.col("symbol").cast(pl.Categorical))
    assert zepto_py.from_polars(df.slice(1, 2), pipeline) == 2
    assert zepto_py.from_polars(df.lazy().filter(pl.col("price") > 3), pipeline) == 1
    assert column(pipeline, "Y", "price") == [2, 4]


def test_from_polars_rejects_nulls_and_nan(pipeline: zeptodb.Pipeline) -> None:
    nulls = pl.DataFrame({"symbol": ["A", "A"], "price": [1, None], "volume": [1, 1]})
    assert_rejected(pipeline, ValueError, "column 'price' row 1 is null", lambda: zepto_py.from_polars(nulls, pipeline))
    nan = pl.DataFrame({"symbol": ["A", "A"], "price": [1.0, float("nan")], "volume": [1, 1]})
    assert_rejected(pipeline, ValueError, "column 'price' row 1 is NaN", lambda: zepto_py.from_polars(nan, pipeline))


def _no_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the Arrow C stream path fail, to show that a frame did not take it."""
    def stream(*args: object, **kwargs: object) -> int:
        raise AssertionError("read through the Arrow C stream")
    monkeypatch.setattr(zepto_py.dataframe, "_ingest_arrow", stream)


@pytest.mark.parametrize("dtype", ["categorical", "named_u8", "enum"])
def test_from_polars_categoricals_as_codes(pipeline: zeptodb.Pipeline, monkeypatch: pytest.MonkeyPatch,
                                           dtype: str) -> None:
    """Categorical (global or named categories, 32- or 8-bit codes) and Enum columns reach
    the engine as Polars' physical codes and the category names (no Arrow export of the
    text), chunked frames and slices included; names that no row uses create no symbol."""
    unused = f"UNUSED_{dtype}"
    kind = {"categorical": pl.Categorical, "named_u8": pl.Categorical(pl.Categories.random(physical=pl.UInt8)),
            "enum": pl.Enum(["Q0", unused, "Q1", "Q2"])}[dtype]
    pl.Series([unused, "Q1"], dtype=kind)  # a name no row of the frame uses
    a = pl.DataFrame({"symbol": ["Q1", "Q2", "Q1"], "price": [1.5, 2.5, 3.5], "volume": [1, 2, 3],
                      "timestamp": pl.Series([T0, T0 + 1, T0 + 2]).cast(pl.Datetime("ns", "Europe/Paris"))})
    a = a.with_columns(pl.col("symbol").cast(kind))
    chunked = pl.concat([a, a.slice(1, 2)], rechunk=False)
    assert chunked.n_chunks() == 2
    _no_stream(monkeypatch)
    assert zepto_py.from_polars(chunked, pipeline, price_scale=10) == 5
    assert column(pipeline, "Q1", "price") == [15, 35, 35]
    assert column(pipeline, "Q2", "timestamp") == [T0 + 1, T0 + 1]
    assert pipeline.symbol_id(unused) is None


def test_from_polars_numbers_dates_and_booleans_as_buffers(pipeline: zeptodb.Pipeline,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline.create_table("pm", [("sym", "SYMBOL"), ("ts", "TIMESTAMP"), ("n", "INTEGER"), ("x", "DOUBLE"),
                                 ("ok", "BOOLEAN")])
    df = pl.DataFrame({"sym": pl.Series(["A", "B"], dtype=pl.Categorical),
                       "ts": pl.Series([19_000, 19_001], dtype=pl.Date), "n": pl.Series([7, -8], dtype=pl.Int16),
                       "x": pl.Series([0.5, 1.5], dtype=pl.Float32), "ok": [True, False]})
    _no_stream(monkeypatch)
    assert zepto_py.from_polars(df, pipeline, symbol_col="sym", timestamp_col="ts", table="pm") == 2
    r = pipeline.execute("SELECT sym, ts, n, x, ok FROM pm ORDER BY ts").rows
    assert r == [["A", 19_000 * 86_400 * 10**9, 7, 0.5, True], ["B", 19_001 * 86_400 * 10**9, -8, 1.5, False]]


def test_from_polars_strings_and_nulls_take_the_stream(pipeline: zeptodb.Pipeline,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """String / string_view symbols and columns with NULLs go through the Arrow C stream,
    whose errors name the column and the first bad row."""
    calls = []
    real = zepto_py.dataframe._ingest_arrow
    monkeypatch.setattr(zepto_py.dataframe, "_ingest_arrow", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert zepto_py.from_polars(pl.DataFrame({"symbol": ["S"], "price": [1], "volume": [1]}), pipeline) == 1
    assert calls == [1]
    nulls = pl.DataFrame({"symbol": pl.Series(["A", None, "A"], dtype=pl.Categorical), "price": [1, 2, 3],
                          "volume": [1, 1, 1]})
    assert_rejected(pipeline, ValueError, "column 'symbol' row 1 is null", lambda: zepto_py.from_polars(nulls, pipeline))
    assert calls == [1, 1]


# -------------------------------------------------------------------- Arrow
def test_from_arrow_chunked_table_and_reader(pipeline: zeptodb.Pipeline) -> None:
    t = pa.table(trades_frame(6))
    chunked = pa.concat_tables([t.slice(0, 2), t.slice(2, 4)])
    assert zepto_py.from_arrow(chunked, pipeline, price_scale=100) == 6
    reader = pa.RecordBatchReader.from_batches(t.schema, t.to_batches())
    assert zepto_py.from_arrow(reader, pipeline, price_scale=100) == 6
    assert len(column(pipeline, "AAPL", "price")) == 6


def test_to_pandas_and_polars_of_one_row_and_empty(pipeline: zeptodb.Pipeline) -> None:
    assert len(zepto_py.to_pandas(pipeline)) == 0
    assert zepto_py.to_polars(pipeline).height == 0
    pipeline.ingest_batch(["ONE"], [1], [2], timestamps=[T0])
    assert zepto_py.to_pandas(pipeline)["symbol"].tolist() == ["ONE"]
    assert zepto_py.to_polars(pipeline, "ONE")["price"].to_list() == [1]


def test_to_pandas_int_ids_stay_ints(pipeline: zeptodb.Pipeline) -> None:
    pipeline.ingest_batch([3, 4], [1, 2], [1, 1], timestamps=[1, 2])
    df = zepto_py.to_pandas(pipeline)
    assert df["symbol"].tolist() == [3, 4] and df["symbol"].dtype == np.int64
