"""Differential tests of the SQL engine against DuckDB.

The same generated data is loaded into a pipeline and into DuckDB, the same
query runs in both, and the results must agree: integers exactly, floats to
1e-9 relative. Data comes from seeded generators and from hypothesis, with
NULLs, out-of-order timestamps, empty and one-row tables and many symbols.
Where our dialect spells a function differently (percentile vs
quantile_cont), each side gets its own spelling.
"""

from __future__ import annotations

import math
import shutil
from typing import Any, List, Optional, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zeptodb
from zeptodb.sql import QueryExecutor

duckdb = pytest.importorskip("duckdb")


# ------------------------------------------------------------------ data

def make_trades(rng: np.random.Generator, n: int, symbols: int) -> dict:
    return {
        "symbol": rng.integers(1, symbols + 1, n).astype(np.int64),
        "timestamp": rng.integers(0, 10_000, n).astype(np.int64) * 1_000_000,  # out of order, with ties
        "price": rng.integers(-50, 1_000, n).astype(np.int64),
        "volume": rng.integers(0, 500, n).astype(np.int64),
    }


def nullable(rng: np.random.Generator, values: np.ndarray, p: float) -> List[Any]:
    return [None if rng.random() < p else v.item() for v in values]


def sql_literal(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    return repr(v)


class Twin:
    """A pipeline and a DuckDB connection holding the same tables."""

    def __init__(self, pipeline: Optional[zeptodb.Pipeline] = None) -> None:
        self.p = pipeline or zeptodb.Pipeline()
        self.ex = QueryExecutor(self.p)
        self.duck = duckdb.connect()

    def reopen_crash_image(self, to: str) -> None:
        """Copy the live (durable) data_dir as a crash would leave it and open the copy:
        the data comes back from partition files and the write-ahead log."""
        config = self.p.config
        shutil.copytree(config.data_dir, to, ignore=shutil.ignore_patterns("LOCK"))
        self.p.close()
        config.data_dir = to
        self.p = zeptodb.Pipeline(config)
        self.ex = QueryExecutor(self.p)

    def load_trades(self, t: dict) -> None:
        if len(t["symbol"]):
            self.p.ingest_batch(t["symbol"], t["price"], t["volume"], timestamps=t["timestamp"])
        self.duck.execute("CREATE TABLE trades (symbol BIGINT, timestamp BIGINT, price BIGINT, volume BIGINT)")
        if len(t["symbol"]):
            self.duck.executemany("INSERT INTO trades VALUES (?, ?, ?, ?)",
                                  list(zip(*(t[c].tolist() for c in ("symbol", "timestamp", "price", "volume")))))

    def create(self, ours: str, theirs: str, rows: Sequence[Sequence[Any]], name: str) -> None:
        assert self.ex.execute(ours).ok()
        self.duck.execute(theirs)
        for start in range(0, len(rows), 200):
            chunk = rows[start:start + 200]
            values = ", ".join("(" + ", ".join(sql_literal(v) for v in r) + ")" for r in chunk)
            r = self.ex.execute(f"INSERT INTO {name} VALUES {values}")
            assert r.ok(), r.error
            assert r.affected_rows == len(chunk)
        if rows:
            self.duck.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", [list(r) for r in rows])

    def check(self, ours: str, theirs: Optional[str] = None, ordered: bool = False, threads: int = 1) -> List[list]:
        if threads > 1:
            self.ex.enable_parallel(num_threads=threads, row_threshold=0)
        else:
            self.ex.disable_parallel()
        r = self.ex.execute(ours)
        assert r.ok(), f"{ours}: {r.error}"
        got = r.rows
        want = [list(row) for row in self.duck.execute(theirs or ours).fetchall()]
        assert len(r.column_names) == (len(want[0]) if want else len(r.column_names))
        if not ordered:
            got, want = sorted(got, key=_key), sorted(want, key=_key)
        assert len(got) == len(want), f"{ours}: {len(got)} rows, DuckDB {len(want)}\n{got[:5]}\n{want[:5]}"
        for g, w in zip(got, want):
            assert len(g) == len(w)
            for a, b in zip(g, w):
                assert same(a, b), f"{ours}:\n ours   {g}\n duckdb {w}"
        return got


def _key(row: list) -> tuple:
    return tuple((v is None, _norm(v)) for v in row)


def _norm(v: Any) -> Any:
    if v is None:
        return 0
    if isinstance(v, float) and math.isnan(v):
        return math.inf
    if hasattr(v, "is_integer") or isinstance(v, (int, bool)):
        return float(v)
    return str(v)


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(b, bool) or isinstance(a, bool):
        return bool(a) == bool(b)
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, (int, float)) or isinstance(b, (int, float)):
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)


@pytest.fixture(scope="module", params=["memory", "tiered", "on_disk"])
def twin(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Twin:
    """The tables in memory, and in TIERED and PURE_ON_DISK storage recovered from
    disk (trades from partition files, quotes from the write-ahead log), which must
    answer alike."""
    rng = np.random.default_rng(20240321)
    tiered = request.param != "memory"
    if tiered:
        mode = zeptodb.StorageMode.TIERED if request.param == "tiered" else zeptodb.StorageMode.PURE_ON_DISK
        config = zeptodb.PipelineConfig(storage_mode=mode, fsync="none",
                                        data_dir=str(tmp_path_factory.mktemp("tiered")), checkpoint_interval_ms=0)
        t = Twin(zeptodb.Pipeline(config))
    else:
        t = Twin()
    t.load_trades(make_trades(rng, 3_000, 25))
    if tiered:
        t.p.flush()
    n = 400
    syms = [None if rng.random() < 0.05 else f"S{int(k)}" for k in rng.integers(0, 12, n)]
    ts = (rng.integers(0, 5_000, n) * 1_000_000).tolist()
    bid = nullable(rng, np.round(rng.normal(100, 5, n), 3), 0.1)
    qty = nullable(rng, rng.integers(-20, 20, n), 0.1)
    flag = nullable(rng, rng.integers(0, 2, n).astype(bool), 0.1)
    # the partition key may not be NULL: give NULL symbols a name
    rows = [[s or "NONE", t_, b, q, f] for s, t_, b, q, f in zip(syms, ts, bid, qty, flag)]
    t.create("CREATE TABLE quotes (sym SYMBOL, ts BIGINT, bid DOUBLE, qty INTEGER, flag BOOLEAN)",
             "CREATE TABLE quotes (sym VARCHAR, ts BIGINT, bid DOUBLE, qty INTEGER, flag BOOLEAN)", rows, "quotes")
    if tiered:
        t.reopen_crash_image(str(tmp_path_factory.mktemp("tiered") / "image"))
        assert t.p.recovery["checkpoint_rows"] == 3_000 and t.p.recovery["log_rows"] == len(rows)
    return t


# ----------------------------------------------------------- the queries

AGGREGATES = [
    "SELECT count(*), sum(volume), min(price), max(price), avg(price) FROM trades",
    "SELECT symbol, count(*), sum(volume), avg(price), min(timestamp), max(timestamp) FROM trades GROUP BY symbol",
    "SELECT symbol, stddev(price), stddev_samp(price), stddev_pop(price), variance(price) FROM trades GROUP BY symbol",
    "SELECT symbol, median(price) FROM trades GROUP BY symbol",
    "SELECT count(DISTINCT price), count(DISTINCT symbol) FROM trades",
    "SELECT symbol, sum(price * volume) / sum(volume) FROM trades GROUP BY symbol HAVING sum(volume) > 0",
    "SELECT symbol % 3 AS g, count(*) AS n FROM trades GROUP BY g HAVING count(*) > 10",
    "SELECT price % 5, count(*) FROM trades GROUP BY 1",
    "SELECT symbol, count(*) FROM trades WHERE price > 500 GROUP BY symbol HAVING max(volume) > 100",
    "SELECT sym, count(*), count(bid), sum(qty), avg(bid), min(bid), max(qty) FROM quotes GROUP BY sym",
    "SELECT flag, count(*), sum(qty) FROM quotes GROUP BY flag",
    "SELECT count(*) FROM trades WHERE symbol = 999",
    "SELECT sum(volume), avg(price), min(price) FROM trades WHERE symbol = 999",
    # filtered aggregates of "column op constant" (the mask path), constant on either side
    "SELECT count(*), sum(volume), min(price), max(price) FROM trades WHERE 500 < price",
    "SELECT count(*), sum(volume) FROM trades WHERE price != 100 AND timestamp >= 5000000000",
    "SELECT count(*), sum(volume), avg(price) FROM trades WHERE price <= 0",
    "SELECT count(*), sum(qty), avg(bid), max(bid) FROM quotes WHERE bid > 100.0",
    "SELECT count(*), sum(qty) FROM quotes WHERE 100.0 >= bid",
]

FILTERS = [
    "SELECT * FROM trades WHERE symbol = 3",
    "SELECT * FROM trades WHERE symbol = 1 OR symbol = 2",
    "SELECT * FROM trades WHERE symbol IN (4, 5, 6) AND price > 100",
    "SELECT * FROM trades WHERE NOT (symbol = 1) AND volume < 10",
    "SELECT * FROM trades WHERE symbol <> 2 AND timestamp < 1000000000",
    "SELECT * FROM trades WHERE timestamp BETWEEN 2000000000 AND 2100000000",
    "SELECT * FROM trades WHERE timestamp >= 5000000000 OR symbol = 7",
    "SELECT * FROM trades WHERE (symbol = 1 AND price > 500) OR (symbol = 2 AND price < 100)",
    "SELECT * FROM trades WHERE NOT (symbol = 1 OR symbol = 2) AND timestamp > 9000000000",
    "SELECT * FROM trades WHERE symbol NOT IN (1, 2, 3) AND price BETWEEN 10 AND 20",
    "SELECT * FROM quotes WHERE sym = 'S3'",
    "SELECT * FROM quotes WHERE sym IN ('S1', 'S2', 'nope')",
    "SELECT * FROM quotes WHERE sym = 'nope'",
    "SELECT * FROM quotes WHERE sym LIKE 'S1%'",
    "SELECT * FROM quotes WHERE bid IS NULL OR qty IS NULL",
    "SELECT * FROM quotes WHERE flag AND qty > 0",
    "SELECT * FROM quotes WHERE NOT flag",
    "SELECT * FROM quotes WHERE bid > 100 AND qty IS NOT NULL",
]

EXPRESSIONS = [
    "SELECT price * 2 + volume, price - volume, -price, price / 7, price % 7 FROM trades",
    "SELECT abs(price), floor(price / 3.0), ceil(price / 3.0), round(price / 3.0, 2), sqrt(abs(price)) FROM trades",
    "SELECT least(price, volume), greatest(price, volume, 100), exp(volume / 1000.0), ln(volume + 1), log10(volume + 1) FROM trades",
    "SELECT CASE WHEN price > 500 THEN 'high' WHEN price > 100 THEN 'mid' ELSE 'low' END FROM trades",
    "SELECT CASE symbol WHEN 1 THEN 'one' WHEN 2 THEN 'two' END FROM trades",
    "SELECT CAST(price AS DOUBLE) / 4, CAST(price / 4.0 AS BIGINT), CAST(volume AS VARCHAR) FROM trades",
    "SELECT price BETWEEN 100 AND 200, price NOT BETWEEN 100 AND 200, symbol IN (1, 2) FROM trades",
    "SELECT bid * qty, coalesce(bid, 0.0), coalesce(qty, -1), bid IS NULL, qty + 1 FROM quotes",
    "SELECT least(bid, 100.0), greatest(qty, 0), abs(qty), qty % 4 FROM quotes WHERE qty <> 0",
    "SELECT sym || '-x', lower(sym), upper(sym), length(sym) FROM quotes",
    "SELECT flag OR qty > 0, flag AND bid > 100, NOT flag FROM quotes",
    "SELECT qty IN (1, 2, NULL), qty NOT IN (1, 2), bid > 100 AND NULL FROM quotes",
    "SELECT nullif(qty, 0), CASE WHEN bid IS NULL THEN NULL ELSE bid * 2 END FROM quotes",
]

SHAPES = [
    ("SELECT DISTINCT symbol FROM trades ORDER BY symbol", True),
    ("SELECT DISTINCT price % 10 AS d FROM trades ORDER BY d DESC", True),
    ("SELECT symbol, price FROM trades ORDER BY price DESC, symbol, timestamp, volume LIMIT 17", True),
    ("SELECT symbol, price FROM trades ORDER BY 2, 1, timestamp, volume LIMIT 10 OFFSET 5", True),
    ("SELECT sym, bid FROM quotes ORDER BY bid NULLS FIRST, sym, ts LIMIT 30", True),
    ("SELECT sym, bid FROM quotes ORDER BY bid DESC NULLS LAST, sym, ts LIMIT 30", True),
    ("SELECT sym, qty FROM quotes ORDER BY qty, sym, ts, bid", True),
    ("SELECT symbol AS s, sum(volume) AS v FROM trades GROUP BY s ORDER BY v DESC, s LIMIT 5", True),
    ("SELECT price FROM trades WHERE symbol = 1 UNION ALL SELECT volume FROM trades WHERE symbol = 2", False),
    ("SELECT symbol, price FROM trades WHERE symbol = 1 UNION ALL SELECT symbol, volume FROM trades WHERE symbol = 2 "
     "UNION ALL SELECT 0, 0 ORDER BY 2 DESC, 1 LIMIT 20", True),
    ("WITH a AS (SELECT symbol, sum(volume) AS v FROM trades GROUP BY symbol), b AS (SELECT * FROM a WHERE v > 1000) "
     "SELECT count(*), sum(v) FROM b", False),
    ("SELECT s, n FROM (SELECT symbol AS s, count(*) AS n FROM trades GROUP BY symbol) t WHERE n > 100", False),
    ("SELECT * FROM trades WHERE symbol IN (SELECT symbol FROM trades WHERE price > 990)", False),
    ("SELECT * FROM trades WHERE price > (SELECT avg(price) FROM trades) AND symbol = 5", False),
    ("SELECT symbol, (SELECT max(price) FROM trades) - price FROM trades WHERE symbol = 6", False),
    ("SELECT 1 + 2, 'x', NULL IS NULL, 2.5 * 2", False),
]

JOINS = [
    ("SELECT t.symbol, t.price, q.bid FROM trades t JOIN (SELECT 1 AS symbol, 10.5 AS bid UNION ALL "
     "SELECT 2, 20.5) q ON t.symbol = q.symbol", False),
    ("SELECT t.symbol, t.price, q.bid FROM trades t LEFT JOIN (SELECT 1 AS symbol, 10.5 AS bid) q "
     "ON t.symbol = q.symbol WHERE t.symbol < 4", False),
    ("SELECT a.sym, a.ts, b.ts, b.bid FROM quotes a JOIN quotes b ON a.sym = b.sym AND a.ts < b.ts "
     "WHERE a.sym = 'S1' AND b.qty > 10", False),
    ("SELECT a.sym, a.ts, b.ts, b.bid FROM quotes a ASOF JOIN quotes b ON a.sym = b.sym AND a.ts > b.ts "
     "WHERE a.sym IN ('S2', 'S5')", False),
    ("SELECT t.symbol, t.timestamp, t.price, u.price FROM trades t ASOF JOIN "
     "(SELECT symbol, timestamp + 500 AS timestamp, max(price) AS price FROM trades WHERE volume > 250 "
     "GROUP BY symbol, timestamp) u "
     "ON t.symbol = u.symbol AND t.timestamp >= u.timestamp WHERE t.symbol <= 3", False),
]

WINDOWS = [
    "SELECT symbol, timestamp, price, volume, row_number() OVER (PARTITION BY symbol ORDER BY timestamp, price, volume) "
    "FROM trades",
    "SELECT symbol, price, rank() OVER (PARTITION BY symbol ORDER BY price), "
    "dense_rank() OVER (PARTITION BY symbol ORDER BY price) FROM trades",
    "SELECT symbol, timestamp, price, volume, lag(price) OVER (PARTITION BY symbol ORDER BY timestamp, price, volume), "
    "lead(price, 2, -1) OVER (PARTITION BY symbol ORDER BY timestamp, price, volume) FROM trades",
    "SELECT symbol, timestamp, price, volume, sum(volume) OVER (PARTITION BY symbol ORDER BY timestamp, price, volume "
    "ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), avg(price) OVER (PARTITION BY symbol ORDER BY timestamp, price, volume "
    "ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) FROM trades",
    "SELECT symbol, timestamp, price, volume, min(price) OVER (PARTITION BY symbol ORDER BY timestamp, price, volume "
    "ROWS BETWEEN 3 PRECEDING AND 1 FOLLOWING), max(price) OVER (PARTITION BY symbol ORDER BY timestamp, price, volume "
    "ROWS UNBOUNDED PRECEDING), count(*) OVER (PARTITION BY symbol) FROM trades",
    "SELECT symbol, price, sum(volume) OVER (PARTITION BY symbol ORDER BY price) FROM trades",
    "SELECT sym, ts, bid, qty, sum(qty) OVER (PARTITION BY sym ORDER BY ts, bid, qty ROWS BETWEEN 1 PRECEDING AND "
    "1 FOLLOWING), count(bid) OVER (PARTITION BY sym ORDER BY ts, bid, qty) FROM quotes",
    "SELECT symbol, sum(volume) AS v, rank() OVER (ORDER BY sum(volume) DESC) FROM trades GROUP BY symbol",
    # RANGE frames: rows whose ORDER BY key lies within the offsets (peers included)
    "SELECT symbol, price, volume, sum(volume) OVER (PARTITION BY symbol ORDER BY price RANGE BETWEEN 50 PRECEDING "
    "AND 20 FOLLOWING), count(*) OVER (PARTITION BY symbol ORDER BY price RANGE BETWEEN CURRENT ROW AND CURRENT ROW) "
    "FROM trades",
    "SELECT symbol, timestamp, price, min(price) OVER (PARTITION BY symbol ORDER BY timestamp RANGE BETWEEN "
    "2000000000 PRECEDING AND CURRENT ROW), max(price) OVER (PARTITION BY symbol ORDER BY timestamp DESC RANGE "
    "BETWEEN 1000000000 PRECEDING AND 500000000 FOLLOWING), avg(volume) OVER (PARTITION BY symbol ORDER BY "
    "timestamp RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM trades",
    "SELECT sym, ts, qty, bid, sum(qty) OVER (PARTITION BY sym ORDER BY qty NULLS FIRST RANGE BETWEEN 3 PRECEDING "
    "AND 2 FOLLOWING), avg(bid) OVER (ORDER BY bid DESC NULLS LAST RANGE BETWEEN 2 PRECEDING AND 1 PRECEDING), "
    "count(bid) OVER (PARTITION BY sym ORDER BY ts RANGE BETWEEN 100000000 FOLLOWING AND 900000000 FOLLOWING) "
    "FROM quotes",
    # first_value / last_value over the frame (NULLs respected)
    "SELECT symbol, timestamp, price, volume, first_value(price) OVER (PARTITION BY symbol ORDER BY timestamp, price, "
    "volume ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING), last_value(volume) OVER (PARTITION BY symbol ORDER BY "
    "timestamp, price, volume), last_value(timestamp) OVER (PARTITION BY symbol ORDER BY timestamp RANGE BETWEEN "
    "UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) - first_value(timestamp) OVER (PARTITION BY symbol ORDER BY "
    "timestamp) FROM trades",
    "SELECT sym, ts, bid, qty, first_value(bid) OVER (PARTITION BY sym ORDER BY ts, bid, qty ROWS BETWEEN 1 PRECEDING "
    "AND 1 FOLLOWING), last_value(qty) OVER (PARTITION BY sym ORDER BY ts, bid, qty ROWS BETWEEN CURRENT ROW AND "
    "2 FOLLOWING) FROM quotes",
]


@pytest.mark.parametrize("sql", AGGREGATES)
def test_aggregates(twin: Twin, sql: str) -> None:
    twin.check(sql)
    twin.check(sql, threads=4)


def test_percentile_matches_quantile_cont(twin: Twin) -> None:
    twin.check("SELECT symbol, percentile(price, 0.9), percentile(volume, 0.25) FROM trades GROUP BY symbol",
               "SELECT symbol, quantile_cont(price, 0.9), quantile_cont(volume, 0.25) FROM trades GROUP BY symbol")


@pytest.mark.parametrize("sql", FILTERS)
def test_filters(twin: Twin, sql: str) -> None:
    twin.check(sql)
    twin.check(sql, threads=3)


@pytest.mark.parametrize("sql", EXPRESSIONS)
def test_expressions(twin: Twin, sql: str) -> None:
    twin.check(sql)


@pytest.mark.parametrize("sql,ordered", SHAPES)
def test_query_shapes(twin: Twin, sql: str, ordered: bool) -> None:
    twin.check(sql, ordered=ordered)
    twin.check(sql, ordered=ordered, threads=4)


@pytest.mark.parametrize("sql,ordered", JOINS)
def test_joins(twin: Twin, sql: str, ordered: bool) -> None:
    twin.check(sql, ordered=ordered)


@pytest.mark.parametrize("sql", WINDOWS)
def test_windows(twin: Twin, sql: str) -> None:
    twin.check(sql)


# ------------------------------------------------------------ hypothesis

@settings(max_examples=25, deadline=None)
@given(n=st.sampled_from([0, 1, 2, 7, 60, 400]), symbols=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_random_tables(n: int, symbols: int, seed: int) -> None:
    t = Twin()
    t.load_trades(make_trades(np.random.default_rng(seed), n, symbols))
    t.check("SELECT count(*), sum(volume), min(price), max(price), avg(price) FROM trades")
    t.check("SELECT symbol, count(*), sum(price), max(volume) FROM trades GROUP BY symbol")
    t.check("SELECT symbol, price, volume FROM trades WHERE symbol = 1 OR price > 600")
    t.check("SELECT symbol, price FROM trades ORDER BY price DESC, symbol, timestamp, volume LIMIT 5", ordered=True)
    t.check("SELECT symbol, timestamp, price, volume, row_number() OVER (PARTITION BY symbol ORDER BY timestamp, price, "
            "volume) FROM trades")
    t.check("SELECT symbol, sum(volume) FROM trades GROUP BY symbol", threads=4)
