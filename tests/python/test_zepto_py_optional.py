"""zepto_py degrades gracefully: with any optional library hidden, importing works,
the HAS_* flag is False, the paths that do not need it work, and those that do
raise an ImportError that says what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# Runs in a fresh interpreter after a meta-path finder that refuses `HIDDEN`.
PRELUDE = textwrap.dedent("""
    import sys
    HIDDEN = {hidden!r}

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == HIDDEN or name.startswith(HIDDEN + "."):
                raise ModuleNotFoundError(f"No module named {{name!r}} (hidden by the test)")
            return None

    sys.meta_path.insert(0, Block())
    import zeptodb, zepto_py
    assert getattr(zepto_py, "HAS_" + HIDDEN.upper()) is False
    assert zepto_py.check_dependencies()[HIDDEN]["installed"] is False
    p = zeptodb.Pipeline()

    def needs(fn, what):
        try:
            fn()
        except ImportError as e:
            assert f"pip install {{what}}" in str(e), e
        else:
            raise AssertionError("no ImportError")
""")

SCRIPTS = {
    "pyarrow": """
        import pandas as pd, polars as pl
        df = pd.DataFrame({"symbol": ["A", "B"], "price": [1.5, 2.5], "volume": [1, 2]})
        assert zepto_py.from_pandas(df, p, price_scale=10) == 2
        assert zepto_py.from_polars(pl.DataFrame(df.to_dict("list")), p, price_scale=10) == 2
        out = zepto_py.to_pandas(p)  # without pyarrow: built from the column views
        assert out["symbol"].tolist() == ["A", "A", "B", "B"], out
        assert str(out["timestamp"].dtype) == "datetime64[ns, UTC]"
        assert zepto_py.to_polars(p, "B")["price"].to_list() == [25, 25]
        needs(lambda: zepto_py.ArrowSession(p).to_arrow(), "pyarrow")
        p.execute("CREATE TABLE q (sym SYMBOL, ts TIMESTAMP, x DOUBLE)")
        p.execute("INSERT INTO q VALUES ('A', 1711000000000000001, 1.5), ('B', 1711000000000000002, NULL)")
        q = zepto_py.query_to_pandas(p, "SELECT sym, ts, x FROM q ORDER BY ts")  # from the NumPy views
        assert str(q["ts"].dtype) == "datetime64[ns, UTC]" and q["ts"].iloc[1].value == 1711000000000000002
        assert q["sym"].tolist() == ["A", "B"] and q["x"].isna().tolist() == [False, True]
        assert zepto_py.query_to_polars(p, "SELECT sym FROM q ORDER BY ts")["sym"].to_list() == ["A", "B"]
        try:
            zepto_py.query_to_pandas(p, "SELECT nope FROM q")
        except ValueError as e:
            assert "nope" in str(e), e
        else:
            raise AssertionError("no ValueError")
    """,
    "pandas": """
        import numpy as np, polars as pl
        assert zepto_py.from_numpy({"symbol": np.array(["A", "B"]), "price": [1, 2], "volume": [1, 1]}, p) == 2
        assert zepto_py.from_polars(pl.DataFrame({"symbol": ["A"], "price": [3], "volume": [1]}), p) == 1
        assert zepto_py.to_polars(p, "A")["price"].to_list() == [1, 3]
        needs(lambda: zepto_py.to_pandas(p), "pandas")
    """,
    "polars": """
        import pandas as pd, pyarrow as pa
        assert zepto_py.from_pandas(pd.DataFrame({"symbol": ["A"], "price": [1], "volume": [1]}), p) == 1
        assert zepto_py.from_arrow(pa.table({"symbol": ["A"], "price": [2], "volume": [1]}), p) == 1
        needs(lambda: zepto_py.to_polars(p), "polars")
        needs(lambda: zepto_py.StreamingSession(p).ingest_polars(None), "polars")
    """,
    "duckdb": """
        s = zepto_py.ArrowSession(p)
        needs(lambda: s.to_duckdb(), "duckdb")
        assert s.to_arrow().num_rows == 0
    """,
    "tqdm": """
        import numpy as np
        s = zepto_py.StreamingSession(p, show_progress=True)
        assert s.ingest_numpy({"symbol": np.ones(3, dtype=np.int64), "price": [1, 2, 3], "volume": [1, 1, 1]}) == 3
    """,
    "numpy": """
        import polars as pl
        assert zepto_py.from_polars(pl.DataFrame({"symbol": ["A"], "price": [1], "volume": [1]}), p) == 1
        assert p.count("A") == 1
        needs(lambda: zepto_py.from_numpy({}, p), "numpy")
        assert zepto_py.query_to_polars(p, "SELECT symbol, price FROM trades")["price"].to_list() == [1]
    """,
}


@pytest.mark.parametrize("hidden", sorted(SCRIPTS))
def test_works_without(hidden: str) -> None:
    for peer in ("pandas", "polars", "pyarrow"):
        pytest.importorskip(peer)
    code = PRELUDE.format(hidden=hidden) + textwrap.dedent(SCRIPTS[hidden]) + "\nprint('ok')\n"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr or run.stdout
