"""zepto_py.ArrowSession: Arrow, Polars and DuckDB views of a pipeline."""

from __future__ import annotations

import numpy as np
import pytest

import zeptodb
import zepto_py

from conftest import T0, column

pa = pytest.importorskip("pyarrow")


@pytest.fixture
def session(pipeline: zeptodb.Pipeline) -> zepto_py.ArrowSession:
    pipeline.ingest_batch(["AAPL", "MSFT", "AAPL"], [100, 200, 101], [1, 2, 3],
                          timestamps=[T0 + 1, T0 + 2, T0 + 3])
    return zepto_py.ArrowSession(pipeline)


def address(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


def test_to_arrow_zero_copy(session: zepto_py.ArrowSession) -> None:
    t = session.to_arrow("AAPL")
    assert t.column("price").chunks[0].buffers()[1].address == address(session.pipeline.get_column("AAPL", "price"))
    assert t.column("symbol").to_pylist() == ["AAPL", "AAPL"]


def test_to_record_batch_reader(session: zepto_py.ArrowSession) -> None:
    reader = session.to_record_batch_reader()
    assert reader.schema.field("timestamp").type == pa.timestamp("ns", "UTC")
    assert [b.num_rows for b in reader] == [2, 1]


def test_to_polars_zero_copy(session: zepto_py.ArrowSession) -> None:
    pl = pytest.importorskip("polars")
    df = session.to_polars_zero_copy("AAPL")
    assert df["price"].to_list() == [100, 101]
    view = df["price"].to_numpy()  # zero copy out of Polars too
    assert address(view) == address(session.pipeline.get_column("AAPL", "price"))
    assert df.schema["timestamp"] == pl.Datetime("ns", "UTC")


def test_to_duckdb(session: zepto_py.ArrowSession) -> None:
    pytest.importorskip("duckdb")
    con = session.to_duckdb(table_name="t")
    assert con.execute("SELECT symbol, sum(price) FROM t GROUP BY symbol ORDER BY symbol").fetchall() == [
        ("AAPL", 201), ("MSFT", 200)]
    assert con.execute("SELECT epoch_ns(max(timestamp)) FROM t").fetchone()[0] == T0 + 3


def test_ingest_paths(pipeline: zeptodb.Pipeline) -> None:
    s = zepto_py.ArrowSession(pipeline)
    t = pa.table({"ticker": ["A", "B"], "px": [1.25, 2.5], "qty": [1, 2], "timestamp": [1, 2]})
    assert s.ingest_arrow(t, symbol_col="ticker", price_col="px", volume_col="qty", price_scale=100) == 2
    assert s.ingest_record_batch(t.to_batches()[0], symbol_col="ticker", price_col="px", volume_col="qty",
                                 price_scale=100) == 2
    assert s.ingest_arrow_columnar(symbols=pa.array(["A"]), prices=pa.array([3.0]), volumes=[4],
                                   price_scale=100) == 1
    assert column(pipeline, "A", "price")[-1] == 300
    assert sorted(column(pipeline, "A", "price")) == [125, 125, 300]


def test_schemas(session: zepto_py.ArrowSession) -> None:
    schema = session.get_schema()
    assert schema.names == ["symbol", "timestamp", "price", "volume"]
    assert schema.field("symbol").type == pa.dictionary(pa.int32(), pa.utf8())
    mapped = zepto_py.zepto_schema_to_arrow([("s", "SYMBOL"), ("t", "TIMESTAMP"), ("x", "DOUBLE"),
                                             ("b", "BOOLEAN"), ("i", "INTEGER")])
    assert mapped.types == [pa.dictionary(pa.int32(), pa.utf8()), pa.timestamp("ns", "UTC"), pa.float64(),
                            pa.bool_(), pa.int32()]
    assert session.zepto_schema_to_arrow().names == schema.names
    with pytest.raises(ValueError, match="unknown ZeptoDB type 'TEXTY'"):
        zepto_py.zepto_schema_to_arrow(["TEXTY"])


def test_utils_report(capsys: pytest.CaptureFixture) -> None:
    report = zepto_py.check_dependencies(verbose=True)
    assert report["pyarrow"]["installed"] and report["pyarrow"]["version"] == pa.__version__
    assert "to_duckdb" in report["duckdb"]["enables"]
    assert "pyarrow" in capsys.readouterr().out
    assert zepto_py.versions()["zeptodb"] == zeptodb.__version__
