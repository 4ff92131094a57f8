"""Property tests: the engine against a pure-NumPy reference."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import zeptodb
from conftest import T0

SYMS = [0, 1, 2]


@st.composite
def batch(draw: st.DrawFn) -> dict:
    n = draw(st.integers(0, 60))
    ints = lambda lo, hi: draw(hnp.arrays(np.int64, n, elements=st.integers(lo, hi)))  # noqa: E731
    return {"symbols": draw(hnp.arrays(np.int64, n, elements=st.sampled_from(SYMS))),
            "timestamps": T0 + ints(0, 40),   # few distinct values: ties and disorder
            "prices": ints(-10_000, 10_000),
            "volumes": ints(0, 1_000),
            "as_ticks": draw(st.booleans())}


def load(batches: list) -> zeptodb.Pipeline:
    p = zeptodb.Pipeline()
    for b in batches:
        if b["as_ticks"]:  # the single-tick path: arrival order is queue order
            for s, px, v, ts in zip(b["symbols"].tolist(), b["prices"].tolist(), b["volumes"].tolist(),
                                    b["timestamps"].tolist()):
                assert p.ingest(symbol=s, price=px, volume=v, timestamp=ts)
            p.drain()
        else:
            p.ingest_batch(b["symbols"], b["prices"], b["volumes"], b["timestamps"])
    return p


def reference(batches: list, symbol: int) -> dict:
    """The rows of `symbol` in timestamp order, ties in arrival order."""
    cols = {k: np.concatenate([b[k] for b in batches] + [np.empty(0, np.int64)])
            for k in ("symbols", "timestamps", "prices", "volumes")}
    mine = cols["symbols"] == symbol
    order = np.argsort(cols["timestamps"][mine], kind="stable")
    return {k: cols[k][mine][order] for k in ("timestamps", "prices", "volumes")}


@given(batches=st.lists(batch(), min_size=1, max_size=6),
       bounds=st.tuples(st.integers(-5, 45), st.integers(-5, 45)))
def test_columns_and_queries_match_numpy(batches, bounds):
    p = load(batches)
    lo, hi = T0 + bounds[0], T0 + bounds[1]
    for s in SYMS:
        ref = reference(batches, s)
        assert p.get_column(symbol=s, name="timestamp").tolist() == ref["timestamps"].tolist()
        assert p.get_column(symbol=s, name="price").tolist() == ref["prices"].tolist()
        assert p.get_column(symbol=s, name="volume").tolist() == ref["volumes"].tolist()

        inside = (ref["timestamps"] >= lo) & (ref["timestamps"] <= hi)
        px, vol = ref["prices"][inside].tolist(), ref["volumes"][inside].tolist()
        assert p.count(symbol=s, from_ns=lo, to_ns=hi) == len(px)
        assert p.sum(symbol=s, col="volume", from_ns=lo, to_ns=hi) == sum(vol)
        assert p.sum(symbol=s, col="price", from_ns=lo, to_ns=hi) == sum(px)
        vwap = p.vwap(symbol=s, from_ns=lo, to_ns=hi)
        if sum(vol) == 0:
            assert math.isnan(vwap)
        else:
            assert vwap == pytest.approx(sum(a * b for a, b in zip(px, vol)) / sum(vol), rel=1e-12)
    total = sum(len(b["symbols"]) for b in batches)
    assert p.row_count() == total == p.stats().ticks_stored


INT_DTYPES = st.sampled_from([np.int8, np.int16, np.int32, np.int64,
                              np.uint8, np.uint16, np.uint32, np.uint64])


@given(data=st.data(), dtype=INT_DTYPES, step=st.sampled_from([1, 2, 3, -1, -2]))
def test_any_integer_dtype_and_stride_round_trips(data, dtype, step):
    raw = data.draw(hnp.arrays(dtype, st.integers(0, 80)))
    if np.dtype(dtype) == np.uint64:
        raw = raw & np.uint64(2**63 - 1)  # larger values are rejected (tested elsewhere)
    values = raw[::step]
    p = zeptodb.Pipeline()
    n = len(values)
    ts = T0 + np.arange(n)
    p.ingest_batch(np.full(n, 5, dtype=dtype), values, values, ts)
    expected = [int(v) for v in values]
    assert p.get_column(symbol=5, name="price").tolist() == expected
    assert p.get_column(symbol=5, name="volume").tolist() == expected


def round_half_away(x: float) -> int:
    return int(Decimal(x).quantize(Decimal(1), rounding=ROUND_HALF_UP))  # exact on the double


@given(values=hnp.arrays(np.float64, st.integers(1, 50),
                         elements=st.floats(-1e6, 1e6, allow_nan=False) |
                         st.integers(-2000, 2000).map(lambda k: k / 2)),  # exact halves too
       scale=st.sampled_from([1.0, 2.0, 100.0, 10_000.0]))
def test_float_scaling_rounds_half_away_from_zero(values, scale):
    p = zeptodb.Pipeline()
    n = len(values)
    p.ingest_float_batch(np.ones(n, np.int64), values, np.ones(n), T0 + np.arange(n), price_scale=scale)
    expected = [round_half_away(float(x)) for x in values * scale]
    assert p.get_column(symbol=1, name="price").tolist() == expected


@given(n=st.integers(1, 40), data=st.data(),
       bad=st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e300]))
def test_one_bad_float_rejects_the_whole_batch(n, data, bad):
    where = data.draw(st.integers(0, n - 1))
    prices = np.linspace(1, 2, n)
    prices[where] = bad
    p = zeptodb.Pipeline()
    p.ingest_batch([1], [1], [1])
    with pytest.raises(ValueError, match=rf"prices\[{where}\]"):
        p.ingest_float_batch(np.ones(n, np.int64), prices, np.ones(n))
    assert p.row_count() == 1 and p.stats().ticks_ingested == 1


@st.composite
def typed_batch(draw: st.DrawFn) -> dict:
    n = draw(st.integers(0, 40))
    arr = lambda dtype, elements: draw(hnp.arrays(dtype, n, elements=elements))  # noqa: E731
    return {"sym": arr(np.int64, st.sampled_from(SYMS)),
            "ts": arr(np.int64, st.integers(0, 30)),
            "big": arr(np.int64, st.integers(-(2**63), 2**63 - 1)),
            "small": arr(np.int32, st.integers(-(2**31), 2**31 - 1)),
            "dbl": arr(np.float64, st.floats(allow_nan=False, allow_infinity=False)),
            "flag": arr(np.bool_, st.booleans())}


@given(batches=st.lists(typed_batch(), min_size=1, max_size=5))
def test_every_column_width_is_reordered_together(batches):
    # 8-, 4- and 1-byte columns must move with their row when late rows sort in.
    p = zeptodb.Pipeline()
    p.create_table("t", [("sym", "SYMBOL"), ("ts", "TIMESTAMP"), ("big", "BIGINT"),
                         ("small", "INTEGER"), ("dbl", "DOUBLE"), ("flag", "BOOLEAN")])
    for b in batches:
        p.ingest_columns("t", b)
    names = ["ts", "big", "small", "dbl", "flag"]
    cols = {k: np.concatenate([b[k] for b in batches]) for k in ["sym", *names]}
    for s in SYMS:
        mine = cols["sym"] == s
        order = np.argsort(cols["ts"][mine], kind="stable")
        for name in names:
            got = p.get_column(symbol=s, name=name, table="t")
            want = cols[name][mine][order]
            if name == "ts":
                got = got.astype(np.int64)
            assert got.tolist() == want.tolist(), name
