"""zepto_py.StreamingSession: batches, error modes, progress and stats."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import zeptodb
import zepto_py

from conftest import column, row_counts

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")


def frame(n: int, bad_rows: tuple = ()) -> dict:
    price = np.arange(n, dtype=np.float64) + 1.0
    price[list(bad_rows)] = np.nan
    return {"symbol": ["S"] * n, "price": price, "volume": np.ones(n, dtype=np.int64),
            "timestamp": np.arange(n, dtype=np.int64)}


def test_unknown_error_mode_is_a_value_error(pipeline: zeptodb.Pipeline) -> None:
    with pytest.raises(ValueError, match="error_mode must be one of 'skip', 'warn', 'raise'"):
        zepto_py.StreamingSession(pipeline, error_mode="ignore")


def test_batches_and_stats(pipeline: zeptodb.Pipeline) -> None:
    s = zepto_py.StreamingSession(pipeline, batch_size=1000)
    assert s.ingest_pandas(pd.DataFrame(frame(4500))) == 4500
    st = s.stats()
    assert st["rows_ingested"] == 4500 and st["rows_skipped"] == 0 and st["batches"] == 5
    assert st["elapsed_sec"] > 0 and st["throughput"] > 0
    assert pipeline.count("S") == 4500


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow", "numpy", "iter"])
def test_skip_drops_only_bad_rows(pipeline: zeptodb.Pipeline, kind: str) -> None:
    s = zepto_py.StreamingSession(pipeline, batch_size=100, error_mode="skip")
    data = frame(250, bad_rows=(3, 120, 121))
    run = {
        "pandas": lambda: s.ingest_pandas(pd.DataFrame(data)),
        "polars": lambda: s.ingest_polars(pl.DataFrame(data)),
        "arrow": lambda: s.ingest_arrow(pa.table(data)),
        "numpy": lambda: s.ingest_numpy(data),
        "iter": lambda: s.ingest_iter(pd.DataFrame(data).to_dict("records")),
    }[kind]
    assert run() == 247
    assert s.stats()["rows_skipped"] == 3
    ts = column(pipeline, "S", "timestamp")
    assert len(ts) == 247 and not {3, 120, 121} & set(ts)


def test_engine_detected_bad_rows_are_isolated(pipeline: zeptodb.Pipeline) -> None:
    pipeline.create_table("q", [("sym", "SYMBOL"), ("n", "INTEGER")])
    s = zepto_py.StreamingSession(pipeline, batch_size=64, error_mode="skip", table="q", symbol_col="sym")
    n = np.arange(200, dtype=np.int64)
    n[[5, 150]] = 2**40  # does not fit INTEGER: only the engine's conversion sees it
    assert s.ingest_numpy({"sym": np.array(["A"] * 200), "n": n}) == 198
    assert s.stats()["rows_skipped"] == 2


def test_prices_that_overflow_after_scaling_are_bad_rows(pipeline: zeptodb.Pipeline) -> None:
    s = zepto_py.StreamingSession(pipeline, batch_size=64, error_mode="skip", price_scale=1e15)
    data = frame(200)
    data["price"][[5, 150]] = 1e6  # 1e21 after scaling
    assert s.ingest_numpy(data) == 198
    assert s.stats()["rows_skipped"] == 2


def test_missing_categories_and_nat_are_bad_rows(pipeline: zeptodb.Pipeline) -> None:
    n = 300
    sym = pd.Categorical(["A", "B", "UNUSED"][:2] * (n // 2), categories=["UNUSED", "A", "B"])
    sym[7] = np.nan
    ts = pd.Series(pd.to_datetime(np.arange(n), unit="us"))
    ts[200] = pd.NaT
    df = pd.DataFrame({"symbol": sym, "price": np.ones(n), "volume": np.ones(n, dtype=np.int64), "timestamp": ts})
    s = zepto_py.StreamingSession(pipeline, batch_size=64, error_mode="warn", max_warnings=5)
    with pytest.warns(RuntimeWarning) as caught:
        assert s.ingest_pandas(df) == n - 2
    assert [str(w.message) for w in caught] == ["row 7 skipped: column 'symbol' is missing",
                                                "row 200 skipped: column 'timestamp' is NaT"]
    assert column(pipeline, "B", "timestamp")[:3] == [1000, 3000, 5000]  # row 7 (a B row) left out
    assert column(pipeline, "B", "timestamp")[3] == 9000
    assert pipeline.symbol_id("UNUSED") is None


def test_warn_reports_row_and_reason_rate_limited(pipeline: zeptodb.Pipeline) -> None:
    s = zepto_py.StreamingSession(pipeline, batch_size=50, error_mode="warn", max_warnings=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s.ingest_pandas(pd.DataFrame(frame(100, bad_rows=(1, 2, 60, 61, 99))))
    messages = [str(w.message) for w in caught]
    assert messages[0] == "row 1 skipped: column 'price' is NaN"
    assert len(messages) == 4 and "further warnings suppressed" in messages[-1]
    assert s.stats()["rows_skipped"] == 5


@pytest.mark.parametrize("kind", ["pandas", "polars", "iter"])
def test_raise_stops_at_first_bad_row_storing_nothing_of_its_batch(pipeline: zeptodb.Pipeline, kind: str) -> None:
    s = zepto_py.StreamingSession(pipeline, batch_size=100, error_mode="raise")
    data = frame(300, bad_rows=(150,))
    run = {"pandas": lambda: s.ingest_pandas(pd.DataFrame(data)),
           "polars": lambda: s.ingest_polars(pl.DataFrame(data)),
           "iter": lambda: s.ingest_iter(iter(pd.DataFrame(data).to_dict("records")))}[kind]
    with pytest.raises(ValueError, match=r"'price' row 150 is (NaN|missing)"):
        run()
    assert pipeline.count("S") == 100  # the first batch only
    assert s.stats()["rows_ingested"] == 100


def test_ingest_iter_buffers_and_handles_dirty_rows(pipeline: zeptodb.Pipeline) -> None:
    rows = [{"symbol": "I", "price": i, "volume": 1, "timestamp": i} for i in range(10)]
    rows[4] = {"symbol": "I", "price": "oops", "volume": 1, "timestamp": 4}
    rows[7] = {"symbol": None, "price": 7, "volume": 1, "timestamp": 7}
    s = zepto_py.StreamingSession(pipeline, batch_size=4)
    assert s.ingest_iter(rows, total=10) == 8
    assert s.stats()["batches"] == 3 and s.stats()["rows_skipped"] == 2
    assert column(pipeline, "I", "timestamp") == [0, 1, 2, 3, 5, 6, 8, 9]


def test_progress_plain_line_and_summary(pipeline: zeptodb.Pipeline, capsys: pytest.CaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import zepto_py.streaming as streaming

    monkeypatch.setattr(streaming, "HAS_TQDM", False)
    s = zepto_py.StreamingSession(pipeline, show_progress=True)
    s.ingest_pandas(pd.DataFrame(frame(1000)))
    out = capsys.readouterr().out
    assert re.fullmatch(r"Ingested 1,000 rows in \d+\.\d\ds \([\d,]+ rows/sec\)\n", out), out


def test_progress_with_tqdm(pipeline: zeptodb.Pipeline, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("tqdm")
    s = zepto_py.StreamingSession(pipeline, show_progress=True, batch_size=100)
    s.ingest_polars(pl.DataFrame(frame(1000)))
    captured = capsys.readouterr()
    assert "Ingested 1,000 rows" in captured.out
    assert "1.00k/1.00k" in captured.err  # the tqdm bar


def test_empty_inputs(pipeline: zeptodb.Pipeline) -> None:
    s = zepto_py.StreamingSession(pipeline)
    before = row_counts(pipeline)
    assert s.ingest_iter([]) == 0
    assert s.ingest_pandas(pd.DataFrame(frame(0))) == 0
    assert row_counts(pipeline) == before


# ------------------------------------------------------------ grouped calls
def _count_engine_calls(monkeypatch: pytest.MonkeyPatch, kind: str) -> list:
    """Rows of every engine call a StreamingSession makes (shrinking the group to 250
    rows, so that small inputs make several groups)."""
    import zepto_py.streaming as streaming

    monkeypatch.setattr(streaming, "_GROUP_ROWS", 250)
    calls: list = []
    name = "_ingest_arrow" if kind in ("polars", "arrow") else "_store"  # polars_cat: Polars' buffers
    real = getattr(streaming.dataframe, name)

    def counted(*args: object, **kwargs: object) -> int:
        n = real(*args, **kwargs)
        calls.append(n)
        return n

    monkeypatch.setattr(streaming.dataframe, name, counted)
    return calls


def _ingest(s: zepto_py.StreamingSession, kind: str, data: dict) -> int:
    cat = pl.DataFrame(data).with_columns(pl.col("symbol").cast(pl.Categorical))
    return {"pandas": lambda: s.ingest_pandas(pd.DataFrame(data)), "numpy": lambda: s.ingest_numpy(data),
            "polars": lambda: s.ingest_polars(pl.DataFrame(data)), "polars_cat": lambda: s.ingest_polars(cat),
            "arrow": lambda: s.ingest_arrow(pa.table(data))}[kind]()


@pytest.mark.parametrize("kind", ["pandas", "numpy", "polars", "polars_cat", "arrow"])
def test_clean_batches_share_engine_calls(pipeline: zeptodb.Pipeline, monkeypatch: pytest.MonkeyPatch,
                                          kind: str) -> None:
    """Batches without bad rows go to the engine several at a time (up to _GROUP_ROWS
    rows); stats() still counts batches of batch_size."""
    calls = _count_engine_calls(monkeypatch, kind)
    s = zepto_py.StreamingSession(pipeline, batch_size=100)
    assert _ingest(s, kind, frame(1050)) == 1050
    assert calls == [200, 200, 200, 200, 200, 50]
    assert s.stats()["batches"] == 11 and s.stats()["rows_ingested"] == 1050
    assert column(pipeline, "S", "timestamp") == list(range(1050))


@pytest.mark.parametrize("kind", ["pandas", "numpy", "polars", "polars_cat", "arrow"])
def test_a_rejected_group_is_stored_batch_by_batch(pipeline: zeptodb.Pipeline, monkeypatch: pytest.MonkeyPatch,
                                                   kind: str) -> None:
    """A bad row the engine finds in a group: nothing of the group was stored, then its
    batches are stored one by one, so "skip" drops only that row and "raise" stores the
    batches before the bad one and nothing of its own."""
    data = frame(1000, bad_rows=(730,))
    calls = _count_engine_calls(monkeypatch, kind)
    s = zepto_py.StreamingSession(pipeline, batch_size=100, error_mode="skip")
    assert _ingest(s, kind, data) == 999
    assert sum(calls) == 999 and 200 in calls and 100 in calls  # groups, then the rejected group's batches
    assert s.stats()["rows_skipped"] == 1 and s.stats()["batches"] >= 10
    assert 730 not in column(pipeline, "S", "timestamp") and pipeline.count("S") == 999

    q = zeptodb.Pipeline()
    s = zepto_py.StreamingSession(q, batch_size=100, error_mode="raise")
    with pytest.raises(ValueError, match=r"'price' row 730 is (NaN|missing)"):
        _ingest(s, kind, data)
    assert column(q, "S", "timestamp") == list(range(700)) and s.stats()["rows_ingested"] == 700
