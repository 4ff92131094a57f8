"""SQL results through the Arrow PyCapsule protocol (zero copy) and
zepto_py.query_to_pandas / query_to_polars on top of it."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import zeptodb
import zepto_py
from zepto_py import dataframe

from conftest import T0

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

SQL = ("SELECT sym, ts, i32, f, b, n, sym || 'x' AS s2, CASE WHEN n > 20 THEN ts END AS tn "
       "FROM q ORDER BY ts")


@pytest.fixture
def typed(pipeline: zeptodb.Pipeline) -> zeptodb.Pipeline:
    """A table of every result type, with a row of NULLs in the middle."""
    assert pipeline.execute("CREATE TABLE q (sym SYMBOL, ts TIMESTAMP, i32 INTEGER, f DOUBLE, "
                            "b BOOLEAN, n BIGINT)").ok()
    r = pipeline.execute(f"INSERT INTO q VALUES ('A', {T0}, 1, 1.5, true, 10), "
                         f"('B', {T0 + 1}, NULL, NULL, NULL, NULL), ('A', {T0 + 2}, 3, 2.5, false, 30)")
    assert r.ok(), r.error
    return pipeline


def address(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


# ------------------------------------------------------------ PyCapsule
def test_result_types_and_nulls_in_pyarrow(typed: zeptodb.Pipeline) -> None:
    t = pa.table(typed.execute(SQL))
    assert t.schema == pa.schema([("sym", pa.large_utf8()), ("ts", pa.timestamp("ns", tz="UTC")),
                                  ("i32", pa.int32()), ("f", pa.float64()), ("b", pa.bool_()),
                                  ("n", pa.int64()), ("s2", pa.large_utf8()),
                                  ("tn", pa.timestamp("ns", tz="UTC"))])
    assert t.column("sym").to_pylist() == ["A", "B", "A"]
    assert t.column("ts").cast(pa.int64()).to_pylist() == [T0, T0 + 1, T0 + 2]
    assert t.column("i32").to_pylist() == [1, None, 3]
    assert t.column("f").to_pylist() == [1.5, None, 2.5]
    assert t.column("b").to_pylist() == [True, None, False]
    assert t.column("n").null_count == 1
    assert t.column("s2").to_pylist() == ["Ax", "Bx", "Ax"]
    assert t.column("tn").cast(pa.int64()).to_pylist() == [None, None, T0 + 2]


def test_symbol_columns_with_nulls_over_partitions(pipeline: zeptodb.Pipeline) -> None:
    """SYMBOL results (ids plus the distinct names inside the engine) read as text by rows, NumPy,
    Arrow and pandas, NULLs included, whole-table and in ranges of rows."""
    assert pipeline.execute("CREATE TABLE sv (sym SYMBOL, ts TIMESTAMP, venue SYMBOL)").ok()
    venues = [None if i % 3 == 0 else f"V{i % 4}" for i in range(12)]
    values = ", ".join(f"('S{i % 2}', {T0 + i}, {'NULL' if v is None else repr(v)})" for i, v in enumerate(venues))
    assert pipeline.execute(f"INSERT INTO sv VALUES {values}").ok()
    r = pipeline.execute("SELECT sym, venue FROM sv ORDER BY ts")
    assert r.rows == [[f"S{i % 2}", v] for i, v in enumerate(venues)]
    assert r.to_numpy()["venue"].tolist() == venues
    t = pa.table(r)
    assert t.schema.field("venue").type == pa.large_utf8() and t.column("venue").to_pylist() == venues
    df = zepto_py.query_to_pandas(pipeline, "SELECT venue FROM sv ORDER BY ts")
    assert df["venue"].isna().tolist() == [v is None for v in venues]
    assert df["venue"][1] == "V1" and df["venue"][2] == "V2"
    whole = pa.table(pipeline.execute("SELECT sym, ts FROM sv"))  # one partition after the other
    assert sorted(zip(whole.column("ts").cast(pa.int64()).to_pylist(), whole.column("sym").to_pylist())) == \
        [(T0 + i, f"S{i % 2}") for i in range(12)]
    assert pa.table(pipeline.execute("SELECT venue FROM sv WHERE ts < 0")).num_rows == 0


def test_schema_and_array_capsules(typed: zeptodb.Pipeline) -> None:
    r = typed.execute(SQL)
    assert pa.schema(r).names == r.column_names
    batch = pa.record_batch(r)
    assert batch.num_rows == 3 and batch.column("sym").to_pylist() == ["A", "B", "A"]


def test_numeric_buffers_are_the_results_own(pipeline: zeptodb.Pipeline) -> None:
    pipeline.ingest_batch([1] * 1000, list(range(1000)), [2] * 1000, timestamps=list(range(T0, T0 + 1000)))
    r = pipeline.execute("SELECT price * 2 AS p2, volume FROM trades")
    views = r.to_numpy()
    t = pa.table(r)
    del r
    gc.collect()  # the table keeps the result's buffers alive
    for name in ("p2", "volume"):
        chunk = t.column(name).chunk(0)
        assert chunk.buffers()[1].address == address(views[name])
    assert t.column("p2").to_pylist() == [2 * i for i in range(1000)]


def test_polars_and_duckdb_read_results(typed: zeptodb.Pipeline) -> None:
    pl = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    df = pl.DataFrame(typed.execute(SQL))
    assert df.schema["ts"] == pl.Datetime("ns", "UTC") and df.schema["sym"] == pl.String
    assert df["i32"].to_list() == [1, None, 3] and df["s2"].to_list() == ["Ax", "Bx", "Ax"]
    # from_arrow on a generic PyCapsule producer gives a struct Series (Polars' choice)
    assert pl.from_arrow(typed.execute(SQL)).struct.unnest().equals(df)
    r = typed.execute("SELECT sym, sum(n) AS total FROM q GROUP BY sym ORDER BY sym")
    assert duckdb.sql("SELECT * FROM r ORDER BY sym").fetchall() == [("A", 40), ("B", None)]


def test_empty_results_and_statements_without_columns(typed: zeptodb.Pipeline) -> None:
    t = pa.table(typed.execute("SELECT sym, ts FROM q WHERE n > 1000"))
    assert t.num_rows == 0 and t.schema.field("ts").type == pa.timestamp("ns", tz="UTC")
    assert pa.table(typed.execute("INSERT INTO q VALUES ('C', 5, 1, 1.0, true, 1)")).num_columns == 0


def test_failed_statement_raises(typed: zeptodb.Pipeline) -> None:
    bad = typed.execute("SELECT nope FROM q")
    with pytest.raises(ValueError, match="nope"):
        pa.table(bad)
    with pytest.raises(ValueError, match="nope"):
        bad.__arrow_c_schema__()


def test_capsules_never_consumed_are_released(typed: zeptodb.Pipeline) -> None:
    r = typed.execute(SQL)
    for _ in range(100):
        r.__arrow_c_stream__()
        r.__arrow_c_array__()
    gc.collect()
    assert pa.table(r).num_rows == 3


# ------------------------------------------------------------ zepto_py
def test_query_to_pandas_types(typed: zeptodb.Pipeline) -> None:
    df = zepto_py.query_to_pandas(typed, SQL)
    assert str(df["ts"].dtype) == "datetime64[ns, UTC]"
    assert df["ts"].iloc[1].value == T0 + 1 and pd.isna(df["tn"].iloc[0])
    assert df["sym"].tolist() == ["A", "B", "A"] and pd.api.types.is_string_dtype(df["sym"])
    assert df["f"].isna().tolist() == [False, True, False]


def test_query_to_pandas_without_pyarrow_matches(typed: zeptodb.Pipeline) -> None:
    via_arrow = zepto_py.query_to_pandas(typed, SQL)
    via_numpy = dataframe._query_to_pandas_numpy(typed.execute(SQL), pd)
    pd.testing.assert_frame_equal(via_numpy, via_arrow)
    empty = "SELECT sym, ts, f FROM q WHERE n > 1000"
    assert dataframe._query_to_pandas_numpy(typed.execute(empty), pd).dtypes.astype(str).tolist()[1:] == \
        zepto_py.query_to_pandas(typed, empty).dtypes.astype(str).tolist()[1:]


def test_query_to_polars(typed: zeptodb.Pipeline) -> None:
    pl = pytest.importorskip("polars")
    df = zepto_py.query_to_polars(typed, SQL)
    assert df.schema["ts"] == pl.Datetime("ns", "UTC")
    assert df["sym"].to_list() == ["A", "B", "A"] and df["n"].to_list() == [10, None, 30]


@pytest.mark.parametrize("fn", ["query_to_pandas", "query_to_polars"])
def test_sql_errors_raise_value_error(typed: zeptodb.Pipeline, fn: str) -> None:
    pytest.importorskip("polars")
    with pytest.raises(ValueError, match="query failed: .*nope"):
        getattr(zepto_py, fn)(typed, "SELECT nope FROM q")
    with pytest.raises(ValueError, match="query failed"):
        getattr(zepto_py, fn)(typed, "SELEC 1")


def test_timestamps_zero_copy_and_result_outlives_pipeline() -> None:
    p = zeptodb.Pipeline()
    assert p.execute("CREATE TABLE z (sym SYMBOL, ts TIMESTAMP, x DOUBLE)").ok()
    n = 5000
    assert zepto_py.from_numpy({"sym": np.array(["A"] * n), "ts": np.arange(T0, T0 + n).view("M8[ns]"),
                                "x": np.arange(n, dtype=np.float64)}, p, table="z") == n
    r = p.execute("SELECT ts, x FROM z WHERE x >= 0")
    ts_view = r.to_numpy()["ts"]
    p.stop()
    del p
    gc.collect()
    t = pa.table(r)
    del r
    gc.collect()
    assert t.column("ts").chunk(0).buffers()[1].address == address(ts_view)
    assert t.column("ts").cast(pa.int64()).to_pylist()[-1] == T0 + n - 1
    assert t.column("x").to_numpy()[-1] == n - 1


def test_query_to_pandas_is_modifiable_and_reads_symbol_text(pipeline: zeptodb.Pipeline) -> None:
    """The frame's columns can be modified in place (they are pandas' own, not the
    result's read-only buffers), and that changes neither the next query nor the table.
    SYMBOL columns (codes + names in the engine, text over 256 k rows built on two
    threads) come out as the same strings as VARCHAR text."""
    n = 300_000
    assert pipeline.execute("CREATE TABLE big (sym SYMBOL, ts TIMESTAMP, x DOUBLE)").ok()
    names = np.array(["A", "BB", "a-much-longer-symbol-name"])
    pipeline.ingest_columns("big", {"sym": names[np.arange(n) % 3], "ts": T0 + np.arange(n),
                                    "x": np.arange(n, dtype=np.float64)})
    sql = "SELECT sym, ts, x FROM big"
    df = zepto_py.query_to_pandas(pipeline, sql)
    expected = pa.table(pipeline.execute(sql)).to_pandas()
    pd.testing.assert_frame_equal(df, expected)
    assert pd.api.types.is_string_dtype(df["sym"]) and sorted(set(df["sym"])) == sorted(names)
    assert (df["sym"] == names[(df["ts"].astype("int64") - T0) % 3]).all()
    df.loc[0, "x"] = -1.0
    df["x"] *= 2
    assert df["x"].iloc[0] == -2.0
    again = zepto_py.query_to_pandas(pipeline, sql)
    pd.testing.assert_frame_equal(again, expected)


def test_symbol_text_without_pyarrow_shares_one_str_per_name(pipeline: zeptodb.Pipeline) -> None:
    """Without pyarrow a SYMBOL column reaches pandas and NumPy as Python strings: each
    distinct name is decoded once and its rows share that str; NULLs are None."""
    assert pipeline.execute("CREATE TABLE sn (sym SYMBOL, ts TIMESTAMP, venue SYMBOL)").ok()
    n = 1000
    venues = [None if i % 7 == 0 else f"V{i % 3}" for i in range(n)]
    values = ", ".join(f"('S{'AB'[i % 2]}', {T0 + i}, {'NULL' if v is None else repr(v)})" for i, v in enumerate(venues))
    assert pipeline.execute(f"INSERT INTO sn VALUES {values}").ok()
    r = pipeline.execute("SELECT sym, venue FROM sn ORDER BY ts")
    sym, venue = r.to_numpy()["sym"], r.to_numpy()["venue"]
    assert sym.tolist() == ["SA", "SB"] * (n // 2) and sym[0] is sym[2]  # one str object per name
    assert venue.tolist() == venues  # a masked array: NULLs read as None
    df = dataframe._query_to_pandas_numpy(r, pd)
    pd.testing.assert_frame_equal(df, zepto_py.query_to_pandas(pipeline, "SELECT sym, venue FROM sn ORDER BY ts"))
