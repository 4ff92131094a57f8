"""zepto_server over plain HTTP: curl, formats, errors, compression, malformed input, auth, load."""
from __future__ import annotations

import gzip
import http.client
import json
import socket
import subprocess
import threading
import urllib.parse
import urllib.request
import zlib

import pytest

from server_fixture import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("server"))
    yield s
    assert s.stop() == 0


def post(server, body, params=None, headers=None):
    url = server.url + "/" + ("?" + urllib.parse.urlencode(params) if params else "")
    req = urllib.request.Request(url, data=body if isinstance(body, bytes) else body.encode(), headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def curl(*args):
    return subprocess.run(["curl", "-s", *args], capture_output=True, check=True, timeout=30).stdout


def test_ping_and_curl_round_trip(server):
    assert curl(server.url + "/ping") == b"Ok.\n"
    assert curl(server.url + "/", "--data-binary", "CREATE TABLE http_t (sym SYMBOL, ts TIMESTAMP, px DOUBLE, n BIGINT)") == b""
    rows = b'{"sym":"AAPL","ts":"2024-01-02 14:30:00","px":1.5,"n":3}\n{"sym":"MSFT","ts":1711000000000000000,"px":2.25}\n'
    out = subprocess.run(["curl", "-s", "-D", "-", server.url + "/?query=INSERT%20INTO%20http_t%20FORMAT%20JSONEachRow",
                          "--data-binary", "@-"], input=rows, capture_output=True, check=True).stdout
    assert b'"written_rows":"2"' in out
    assert curl(server.url + "/?query=SELECT%20sym,px,n%20FROM%20http_t%20ORDER%20BY%20sym") == b"AAPL\t1.5\t3\nMSFT\t2.25\t\\N\n"


def test_output_formats(server):
    post(server, "CREATE TABLE fmt_t (s SYMBOL, x DOUBLE)")
    post(server, 'INSERT INTO fmt_t FORMAT CSV\n"a\tb",0.1\n"q""x",\\N\n')
    status, headers, body = post(server, "SELECT s, x FROM fmt_t ORDER BY x NULLS LAST FORMAT JSON")
    assert status == 200 and headers["X-ClickHouse-Format"] == "JSON"
    doc = json.loads(body)
    assert doc["rows"] == 2 and doc["meta"][1] == {"name": "x", "type": "Nullable(Float64)"}
    assert doc["data"][0] == {"s": "a\tb", "x": 0.1} and doc["data"][1]["x"] is None
    assert post(server, "SELECT s FROM fmt_t ORDER BY s FORMAT CSVWithNames")[2] == b'"s"\n"a\tb"\n"q""x"\n'
    assert post(server, "SELECT s FROM fmt_t ORDER BY s FORMAT TSVWithNamesAndTypes")[2] == b"s\nString\na\\tb\nq\"x\n"
    lines = post(server, "SELECT s, x FROM fmt_t ORDER BY s", {"default_format": "JSONEachRow"})[2].splitlines()
    assert json.loads(lines[0]) == {"s": "a\tb", "x": 0.1}
    compact = json.loads(post(server, "SELECT 1 AS one, 0.0/0 AS nan FORMAT JSONCompact")[2])
    assert compact["data"] == [["1", None]]


def test_parameters_and_system(server):
    status, _, body = post(server, "SELECT {a:Int64} + 1 AS x, {s:String} AS y", {"param_a": "41", "param_s": "it's"})
    assert status == 200 and body == b"42\tit's\n"
    assert post(server, "SELECT version(), timezone(), currentDatabase()")[2] == b"24.8.1.1\tUTC\tdefault\n"
    assert b"trades" in post(server, "SHOW TABLES")[2]
    describe = post(server, "DESCRIBE TABLE trades FORMAT TSV")[2].decode().splitlines()
    assert describe[0].split("\t")[:2] == ["symbol", "String"] or describe[0].split("\t")[:2] == ["symbol", "Int64"]
    assert b"enable_http_compression" in post(server, "SELECT name FROM system.settings")[2]
    assert post(server, "SELECT name FROM system.tables WHERE name = 'trades'")[2] == b"trades\n"
    assert post(server, "SELECT 1 SETTINGS some_unknown_setting = 5", {"another_unknown": "1"})[0] == 200


def test_errors_have_codes_and_statuses(server):
    status, headers, body = post(server, "SELEC 1")
    assert status == 400 and headers["X-ClickHouse-Exception-Code"] == "62" and body.startswith(b"Code: 62. DB::Exception:")
    status, headers, _ = post(server, "SELECT * FROM no_such_table")
    assert status == 404 and headers["X-ClickHouse-Exception-Code"] == "60"
    assert post(server, "SELECT 1 FORMAT Nope")[0] == 400
    assert post(server, "INSERT INTO trades FORMAT JSONEachRow\n{\"symbol\":1,\"price\":\"x\"}")[0] == 400
    status, _, _ = post(server, "", {"query": "SELECT 1"}, headers={"Content-Encoding": "br"})
    assert status == 400
    try:
        urllib.request.urlopen(server.url + "/nope")
        raise AssertionError("unknown path must be 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404
    try:
        urllib.request.urlopen(server.url + "/?query=" + urllib.parse.quote("CREATE TABLE via_get (a BIGINT)"))
        raise AssertionError("GET must not modify")
    except urllib.error.HTTPError as e:
        assert e.code == 400


def test_compression_both_ways(server):
    post(server, "CREATE TABLE comp_t (s SYMBOL, n BIGINT)")
    data = "".join(f'{{"s":"k{i % 7}","n":{i}}}\n' for i in range(5000)).encode()
    import lz4.frame
    from backports import zstd

    for enc, packed in (("gzip", gzip.compress(data)), ("deflate", zlib.compress(data)),
                        ("zstd", zstd.compress(data)), ("lz4", lz4.frame.compress(data))):
        status, headers, _ = post(server, packed, {"query": "INSERT INTO comp_t FORMAT JSONEachRow"},
                                  {"Content-Encoding": enc})
        assert status == 200, enc
    want = post(server, "SELECT count(*), sum(n) FROM comp_t")[2]
    assert want == f"20000\t{4 * sum(range(5000))}\n".encode()
    for enc, unpack in (("gzip", gzip.decompress), ("zstd", zstd.decompress), ("lz4", lz4.frame.decompress),
                        ("deflate", zlib.decompress)):
        status, headers, body = post(server, "SELECT count(*), sum(n) FROM comp_t", {"enable_http_compression": "1"},
                                     {"Accept-Encoding": enc})
        assert headers.get("Content-Encoding") == enc and unpack(body) == want
    status, _, _ = post(server, b"garbage", {"query": "INSERT INTO comp_t FORMAT JSONEachRow"}, {"Content-Encoding": "gzip"})
    assert status == 400


def raw(server, payload: bytes, read=True) -> bytes:
    """Sends raw bytes; returns what the server answered before it closed.

    The server may answer and close while the payload is still being sent
    (a malformed or oversized request), so send and shutdown errors are
    expected here, not failures."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        out = b""
        try:
            s.sendall(payload)
            if not read:
                return b""
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
        return out


def test_malformed_truncated_and_disconnects(server):
    assert raw(server, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400")
    # A body shorter than its Content-Length, then the client goes away.
    raw(server, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nSELECT", read=False)
    # A truncated INSERT stores nothing.
    post(server, "CREATE TABLE trunc_t (s SYMBOL, n BIGINT)")
    status, _, _ = post(server, b'{"s":"a","n":1}\n{"s":"b","n"', {"query": "INSERT INTO trunc_t FORMAT JSONEachRow"})
    assert status == 400 and post(server, "SELECT count(*) FROM trunc_t")[2] == b"0\n"
    # Disconnect in the middle of a large streamed result.
    post(server, "CREATE TABLE big_t (n BIGINT)")
    post(server, "\n".join(str(i) for i in range(300000)).encode(), {"query": "INSERT INTO big_t FORMAT TSV"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /?query=SELECT%20n%20FROM%20big_t%20FORMAT%20JSONEachRow HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(1000)
    # Oversized headers.
    assert raw(server, b"GET /ping HTTP/1.1\r\nX-Big: " + b"a" * (2 << 20) + b"\r\n\r\n")[:12] in (b"HTTP/1.1 431", b"")
    assert curl(server.url + "/ping") == b"Ok.\n"
    assert post(server, "SELECT count(*) FROM big_t")[2] == b"300000\n"


def test_bodies_of_known_length_and_pipelined_requests(server):
    """A body is read whole whatever packets it comes in, also when part of it
    arrives with the header, and the bytes after it are the next request."""
    post(server, "CREATE TABLE body_t (n BIGINT)")
    rows = b"".join(b"%d\n" % i for i in range(200000))
    head = b"POST /?query=INSERT%%20INTO%%20body_t%%20FORMAT%%20TSV HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(rows)
    then = b"GET /?query=SELECT%20count(*),%20sum(n)%20FROM%20body_t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(head + rows[:7])
        s.sendall(rows[7:100000])
        s.sendall(rows[100000:] + then)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert out.count(b"HTTP/1.1 200 OK") == 2 and b'"written_rows":"200000"' in out
    assert out.endswith(b"\r\n\r\n200000\t%d\n" % sum(range(200000)))
    # A small result is sent whole with its length; a large one streams (chunked).
    status, headers, _ = post(server, "SELECT count(*) FROM body_t")
    assert headers.get("Content-Length") == "7" and "Transfer-Encoding" not in headers
    status, headers, body = post(server, "SELECT n FROM body_t")
    assert headers.get("Transfer-Encoding") == "chunked" and body.count(b"\n") == 200000


def test_body_over_the_limit_is_refused_before_it_is_read(tmp_path):
    s = Server(tmp_path, "--max-body-bytes", "1000")
    try:
        reply = raw(s, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
        assert reply.startswith(b"HTTP/1.1 413") and b"exceeds the limit of 1000 bytes" in reply
        assert post(s, "SELECT 1")[2] == b"1\n"
    finally:
        assert s.stop() == 0


def test_unimplemented_protocol_parts_are_refused_by_name(server):
    for params in ({"compress": "1"}, {"decompress": "1"}):
        status, headers, body = post(server, "SELECT 1", params)
        assert status == 501 and headers["X-ClickHouse-Exception-Code"] == "48", params
        assert b"block compression (compress=1, decompress=1) is not supported" in body
    form = b'--b\r\nContent-Disposition: form-data; name="query"\r\n\r\nSELECT 1\r\n--b--\r\n'
    status, headers, body = post(server, form, None, {"Content-Type": "multipart/form-data; boundary=b"})
    assert status == 501 and b"multipart request bodies" in body
    # Sessions are accepted and hold nothing: every request stands alone.
    assert post(server, "SELECT 1", {"session_id": "s1", "session_check": "1", "session_timeout": "60"})[2] == b"1\n"
    assert post(server, "SET max_threads = 1", {"session_id": "s1"})[0] == 400


def test_native_output_with_low_cardinality_strings(server):
    post(server, "CREATE TABLE lc_t (s SYMBOL, v VARCHAR, n BIGINT)")
    post(server, "INSERT INTO lc_t FORMAT CSV\na,x,1\nb,\\N,2\na,,3\n")
    params = {"output_format_native_low_cardinality_strings": "1", "max_block_size": "2"}
    _, _, body = post(server, "SELECT s, v, n FROM lc_t ORDER BY n FORMAT Native", params)
    # Two blocks (2 rows, then 1); v has a NULL, so key 0 of its blocks stands for NULL.
    assert body.startswith(b"\x03\x02\x01s\x16LowCardinality(String)" + (1).to_bytes(8, "little"))
    assert b"\x01v\x20LowCardinality(Nullable(String))" in body
    assert body.count(b"LowCardinality(String)") == 2
    plain = post(server, "SELECT s FROM lc_t ORDER BY n FORMAT Native")[2]
    assert plain == b"\x01\x03\x01s\x06String\x01a\x01b\x01a"


def test_metrics_and_health(server):
    assert curl(server.url + "/health") == b"Ok.\n"
    text = curl(server.url + "/metrics").decode()
    assert "zeptodb_http_requests_total" in text and "zeptodb_query_duration_seconds_bucket" in text


def test_api_keys_and_roles(tmp_path):
    s = Server(tmp_path)
    try:
        reader = s.keys("create", "--name", "dash", "--role", "reader")
        writer = s.keys("create", "--name", "etl", "--role", "writer")
        assert reader.startswith("zepto_") and len(reader) == 70

        def as_(key, sql, **kw):
            return post(s, sql, headers={"Authorization": f"Bearer {key}"}, **kw)

        assert as_(writer, "CREATE TABLE auth_t (a BIGINT)")[0] == 200
        assert as_(reader, "SELECT count(*) FROM auth_t")[0] == 200
        status, headers, _ = as_(reader, "INSERT INTO auth_t VALUES (1)")
        assert status == 403 and headers["X-ClickHouse-Exception-Code"] == "497"
        assert as_("zepto_" + "0" * 64, "SELECT 1")[0] == 401
        assert post(s, "SELECT 1", headers={"X-ClickHouse-User": "default", "X-ClickHouse-Key": reader})[0] == 200
        key_id = s.keys("list").splitlines()[1].split()[0]
        s.keys("revoke", key_id)
        assert as_(reader, "SELECT 1")[0] == 401
    finally:
        s.stop()


def test_refuses_public_address_without_credentials(tmp_path):
    from server_fixture import server_path

    out = subprocess.run([str(server_path()), "--host", "0.0.0.0", "--port", "0", "--keys-file", str(tmp_path / "k")],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode != 0 and "without credentials" in out.stderr


def test_load_mixed_inserts_and_queries(server):
    post(server, "CREATE TABLE load_t (s SYMBOL, n BIGINT)")
    errors, per_thread, threads = [], 40, 16

    def worker(t):
        try:
            for i in range(per_thread):
                if i % 2 == 0:
                    rows = "".join(f"t{t},{i * 100 + k}\n" for k in range(100))
                    status, _, body = post(server, rows, {"query": "INSERT INTO load_t FORMAT CSV"})
                else:
                    status, _, body = post(server, "SELECT count(*) FROM load_t")
                if status != 200:
                    errors.append(body)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(timeout=120)
    assert errors == []
    assert post(server, "SELECT count(*) FROM load_t")[2] == f"{threads * per_thread // 2 * 100}\n".encode()


def test_encoding_failure_mid_stream_cuts_the_connection(tmp_path, monkeypatch):
    # The server's test hook makes encoding fail after the first piece of a body.
    monkeypatch.setenv("ZEPTO_SERVER_FAIL_STREAM_AFTER", "1")
    s = Server(tmp_path)
    try:
        post(s, "CREATE TABLE cut_t (n BIGINT)")
        post(s, "\n".join(str(i) for i in range(300000)).encode(), {"query": "INSERT INTO cut_t FORMAT TSV"})
        # Streamed: the status line is already out, so the body must end unterminated.
        reply = raw(s, b"GET /?query=SELECT%20n%20FROM%20cut_t HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower()
        assert len(body) > 0 and not body.endswith(b"0\r\n\r\n")
        try:
            urllib.request.urlopen(s.url + "/?query=SELECT%20n%20FROM%20cut_t", timeout=30).read()
            raise AssertionError("a cut stream must not read as complete")
        except http.client.IncompleteRead:
            pass
        # Buffered: nothing was sent yet, so the client gets a proper error.
        status, headers, body = post(s, "SELECT n FROM cut_t", {"wait_end_of_query": "1"})
        assert status == 500 and headers["X-ClickHouse-Exception-Code"] == "1001" and b"encoding failed" in body
        assert curl(s.url + "/ping") == b"Ok.\n"
    finally:
        assert s.stop() == 0
