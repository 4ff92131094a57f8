"""zepto_server with clients nobody here wrote (clickhouse-connect, pyarrow's IPC reader) and with zepto_py.connect."""
from __future__ import annotations

import io
import urllib.request

import numpy as np
import pandas as pd
import pytest

from server_fixture import Server

clickhouse_connect = pytest.importorskip("clickhouse_connect")
pa = pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("clients"))
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def client(server):
    c = clickhouse_connect.get_client(host="127.0.0.1", port=server.port)
    c.command("CREATE TABLE cc (sym SYMBOL, ts TIMESTAMP, px DOUBLE, n BIGINT)")
    return c


def test_clickhouse_connect_round_trip(client):
    assert client.server_version == "24.8.1.1"
    client.insert("cc", [["GOOG", pd.Timestamp("2024-01-01", tz="UTC"), 3.5, 7]], column_names=["sym", "ts", "px", "n"])
    df = pd.DataFrame({"sym": ["A", "B"], "ts": pd.to_datetime([1, 2], unit="s", utc=True), "px": [1.0, 2.0], "n": [1, 2]})
    client.insert_df("cc", df)
    client.insert_arrow("cc", pa.table({"sym": ["Z"], "px": [9.0]}))
    assert client.command("SELECT count(*) FROM cc") == 4
    rows = client.query("SELECT sym, px, n FROM cc ORDER BY sym").result_rows
    assert rows == [("A", 1.0, 1), ("B", 2.0, 2), ("GOOG", 3.5, 7), ("Z", 9.0, None)]
    got = client.query_df("SELECT sym, px FROM cc ORDER BY sym")
    assert got["sym"].tolist() == ["A", "B", "GOOG", "Z"] and got["px"].tolist() == [1.0, 2.0, 3.5, 9.0]
    arrays = client.query_np("SELECT px FROM cc ORDER BY px")
    assert np.allclose(arrays[:, 0].astype(float), [1.0, 2.0, 3.5, 9.0])
    table = client.query_arrow("SELECT sym, ts FROM cc WHERE sym = 'A'")
    assert table.column("sym").to_pylist() == ["A"]
    assert table.column("ts").to_pylist()[0] == pd.Timestamp(1, unit="s", tz="UTC")


def test_clickhouse_connect_errors(client):
    with pytest.raises(clickhouse_connect.driver.exceptions.DatabaseError, match="60"):
        client.query("SELECT * FROM nope")


def test_pyarrow_reads_arrow_stream(server, client):
    with urllib.request.urlopen(server.url + "/?query=SELECT%20sym,%20px%20FROM%20cc%20ORDER%20BY%20sym%20FORMAT%20ArrowStream") as r:
        table = pa.ipc.open_stream(io.BytesIO(r.read())).read_all()
    assert table.column("sym").to_pylist() == ["A", "B", "GOOG", "Z"]


def test_zepto_py_connect(server):
    import zepto_py
    import zeptodb

    assert zeptodb.connect is zepto_py.connect
    with zepto_py.connect(port=server.port) as db:
        assert db.ping()
        assert db.execute("CREATE TABLE zp (symbol SYMBOL, timestamp TIMESTAMP, price DOUBLE, volume BIGINT)") == 0
        n = 25_000
        df = pd.DataFrame({"sym": np.array(["AAPL", "MSFT", "X"])[np.arange(n) % 3],
                           "t": pd.to_datetime(np.arange(n), unit="ms", utc=True),
                           "p": np.arange(n) * 0.5, "v": np.arange(n)})
        assert db.ingest_pandas(df, table="zp", symbol_col="sym", timestamp_col="t", price_col="p", volume_col="v",
                                chunk_rows=10_000) == n
        got = db.query_pandas("SELECT symbol, count(*) AS c, sum(volume) AS v FROM zp GROUP BY symbol ORDER BY symbol")
        assert got["c"].tolist() == [8334, 8333, 8333]
        assert int(got["v"].sum()) == n * (n - 1) // 2
        arrays = db.query_numpy("SELECT price, timestamp FROM zp ORDER BY timestamp LIMIT 3")
        assert arrays["price"].tolist() == [0.0, 0.5, 1.0] and arrays["timestamp"].dtype == np.dtype("datetime64[ns]")
        assert db.query_arrow("SELECT count(*) AS c FROM zp").column("c").to_pylist() == [n]
        assert db.query_polars("SELECT count(*) AS c FROM zp")["c"].to_list() == [n]
        assert db.execute("SELECT count(*) FROM zp") == [(n,)]
        assert db.ingest_arrow(pa.table({"symbol": ["Q"], "price": [1.0]}), table="zp") == 1
        with pytest.raises(zepto_py.ZeptoError) as info:
            db.execute("SELECT * FROM missing")
        assert info.value.code == 60
    with pytest.raises(zepto_py.ZeptoConnectionError):
        from server_fixture import free_port

        zepto_py.connect(port=free_port(), timeout=2)


def test_zepto_py_categorical_symbols(server):
    """A categorical column is sent as its codes and categories (unused categories and NaN included)."""
    import zepto_py

    with zepto_py.connect(port=server.port) as db:
        db.execute("CREATE TABLE zp_cat (s SYMBOL, k SYMBOL, n BIGINT)")
        cats = pd.Categorical(["b", "a", None, "b", "c"], categories=["z", "a", "b", "c"])
        df = pd.DataFrame({"s": pd.Categorical(["x", "y", "x", "y", "x"]), "k": cats, "n": np.arange(5)})
        assert db.ingest_pandas(df, table="zp_cat", chunk_rows=2) == 5
        got = db.execute("SELECT s, k, n FROM zp_cat ORDER BY n")
        assert got == [("x", "b", 0), ("y", "a", 1), ("x", None, 2), ("y", "b", 3), ("x", "c", 4)]


def test_zepto_py_column_types_both_ways(server):
    """ingest_pandas sends each dtype as the frame's own buffer or a converted copy (strided,
    narrow, float32, bool); query_pandas gives UTC timestamps, categorical strings and NaN/None
    for NULLs, and its numeric columns are writable."""
    import zepto_py

    with zepto_py.connect(port=server.port) as db:
        db.execute("CREATE TABLE zp_types (s SYMBOL, t TIMESTAMP, f DOUBLE, i INT, b BOOL, v VARCHAR, k BIGINT)")
        block = np.arange(12, dtype=np.float64).reshape(4, 3)  # columns of a 2-D block are strided
        df = pd.DataFrame({"s": ["x", "y", "x", "z"], "t": pd.to_datetime([1, 2, 3, 4], unit="s"),
                           "f": pd.DataFrame(block)[1], "i": np.array([1, -2, 3, 4], dtype=np.int16),
                           "b": [True, False, True, False], "v": ["p", None, "q", "p"],
                           "k": np.array([5, 6, 7, 8], dtype=np.uint8)})
        assert db.ingest_pandas(df, table="zp_types", chunk_rows=3) == 4
        got = db.query_pandas("SELECT s, t, f, i, b, v, k FROM zp_types ORDER BY t")
        assert isinstance(got["s"].dtype, pd.CategoricalDtype) and got["s"].tolist() == ["x", "y", "x", "z"]
        assert str(got["t"].dtype) == "datetime64[ns, UTC]" and got["t"][0] == pd.Timestamp(1, unit="s", tz="UTC")
        assert got["f"].tolist() == [1.0, 4.0, 7.0, 10.0] and got["i"].tolist() == [1, -2, 3, 4]
        assert got["b"].tolist() == [True, False, True, False] and got["k"].tolist() == [5, 6, 7, 8]
        assert got["v"].isna().tolist() == [False, True, False, False] and got["v"][2] == "q"
        got.loc[0, "f"] = -1.0
        arrays = db.query_numpy("SELECT v, f FROM zp_types ORDER BY t")
        assert arrays["v"].tolist() == ["p", None, "q", "p"] and arrays["f"].flags.writeable
        assert db.execute("SELECT s, v FROM zp_types ORDER BY t LIMIT 2") == [("x", "p"), ("y", None)]


def test_zepto_py_reads_low_cardinality_over_many_blocks(server):
    """Each Native block has its own keys; the client maps them to one set of codes."""
    from zepto_py.connection import _decode_native
    import zepto_py

    with zepto_py.connect(port=server.port) as db:
        db.execute("CREATE TABLE zp_blocks (s SYMBOL, v VARCHAR, n BIGINT)")
        names = ["c", "a", "b", "a", "c", "d", "a"]
        texts = ["u", None, "w", "u", None, None, "z"]
        db.ingest_pandas(pd.DataFrame({"s": names, "v": texts, "n": np.arange(7)}), table="zp_blocks")
        data = db._query("SELECT s, v FROM zp_blocks ORDER BY n", "Native",
                         {"output_format_native_low_cardinality_strings": "1", "max_block_size": "3"})
        columns = _decode_native(data)
        assert len(columns["s"].parts) == 3
        assert columns["s"].numpy().tolist() == names and columns["v"].numpy().tolist() == texts
        cat = columns["v"].pandas(pd)
        assert list(cat.categories) == ["u", "w", "z"] and cat.isna().tolist() == [t is None for t in texts]


def test_zepto_py_many_distinct_strings(server):
    """More keys than a one- or two-byte index holds: the server's key table grows and the
    indices widen; a result over 1 MB is read into one buffer."""
    import zepto_py

    n = 70_000
    with zepto_py.connect(port=server.port) as db:
        db.execute("CREATE TABLE zp_many (s SYMBOL, v VARCHAR, n BIGINT)")
        texts = np.array([f"text-{i:06d}-{'x' * (i % 13)}" for i in range(n)], dtype=object)
        df = pd.DataFrame({"s": np.array(["A", "B"])[np.arange(n) % 2], "v": texts[::-1], "n": np.arange(n)})
        assert db.ingest_pandas(df, table="zp_many") == n
        got = db.query_numpy("SELECT v, n FROM zp_many ORDER BY n")
        assert got["v"].tolist() == texts[::-1].tolist() and got["n"].tolist() == list(range(n))
        frame = db.query_pandas("SELECT s, v FROM zp_many ORDER BY n")
        assert len(frame["v"].cat.categories) == n and frame["s"].tolist()[:3] == ["A", "B", "A"]


def test_zepto_py_symbol_columns_every_format(server):
    """SYMBOL columns leave the engine as ids plus their distinct names: over several partitions,
    with NULLs, more names than a two-byte index holds, and no rows, every format gives the text."""
    import zepto_py

    n = 70_003
    keys = np.array(["K2", "K0", "K1"])[np.arange(n) % 3]
    venues = np.array([None if i % 5 == 0 else f"v{i}" for i in range(n)], dtype=object)
    with zepto_py.connect(port=server.port) as db:
        db.execute("CREATE TABLE zp_sym (k SYMBOL, t TIMESTAMP, venue SYMBOL, n BIGINT)")
        df = pd.DataFrame({"k": keys, "t": pd.to_datetime(np.arange(n), unit="ms"), "venue": venues,
                           "n": np.arange(n)})
        assert db.ingest_pandas(df, table="zp_sym") == n
        got = db.query_pandas("SELECT k, venue, n FROM zp_sym ORDER BY n")
        assert got["k"].tolist() == keys.tolist()
        assert got["venue"].isna().tolist() == [v is None for v in venues]
        assert got["venue"].astype(object).where(got["venue"].notna(), None).tolist() == venues.tolist()
        whole = db.query_numpy("SELECT k, n FROM zp_sym")  # partition by partition, no ORDER BY
        assert sorted(zip(whole["n"].tolist(), whole["k"].tolist())) == list(zip(range(n), keys.tolist()))
        table = db.query_arrow("SELECT venue FROM zp_sym WHERE n < 6 ORDER BY n")
        assert table.column("venue").to_pylist() == venues[:6].tolist()
        assert db.execute("SELECT k, venue FROM zp_sym WHERE n < 3 ORDER BY n") == [("K2", None), ("K0", "v1"), ("K1", "v2")]
        empty = db.query_pandas("SELECT k, venue FROM zp_sym WHERE n < 0")
        assert len(empty) == 0 and list(empty.columns) == ["k", "venue"]
    for fmt, want in [("TabSeparated", b"K2\t\\N\nK0\tv1\n"), ("CSV", b'"K2",\\N\n"K0","v1"\n'),
                      ("JSONCompact", b'["K2", null]')]:
        q = f"SELECT k, venue FROM zp_sym WHERE n < 2 ORDER BY n FORMAT {fmt}"
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", data=q.encode()) as r:
            body = r.read()
        assert (body == want) if fmt != "JSONCompact" else (want in body.replace(b"\t", b"").replace(b"\n", b"")), body
