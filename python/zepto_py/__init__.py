"""zepto_py: pandas, Polars, NumPy, Arrow and DuckDB in and out of ZeptoDB.

>>> import zeptodb, zepto_py
>>> p = zeptodb.Pipeline()
>>> zepto_py.from_numpy({"symbol": ["AAPL", "MSFT"], "price": [1.5, 2.25], "volume": [10, 20]},
...                     p, price_scale=100)
2
>>> p.get_column("AAPL", "price").tolist()
[150]

Every third-party library is optional: ``import zepto_py`` works with none
of them, the ``HAS_*`` flags say what is installed, and each function that
needs a library says what to install when it is missing.
"""

from __future__ import annotations

from .arrow import ArrowSession, zepto_schema_to_arrow
from .dataframe import (from_arrow, from_numpy, from_pandas, from_polars, query_to_pandas, query_to_polars,
                        to_pandas, to_polars)
from .streaming import StreamingSession
from .utils import (HAS_DUCKDB, HAS_NUMPY, HAS_PANDAS, HAS_POLARS, HAS_PYARROW, HAS_TQDM, check_dependencies,
                    versions)

__all__ = [
    "from_pandas", "from_polars", "from_arrow", "from_numpy", "to_pandas", "to_polars",
    "query_to_pandas", "query_to_polars", "ArrowSession", "zepto_schema_to_arrow", "StreamingSession",
    "check_dependencies", "versions",
    "HAS_NUMPY", "HAS_PANDAS", "HAS_POLARS", "HAS_PYARROW", "HAS_DUCKDB", "HAS_TQDM",
]
from zepto_py.connection import ApexConnection, ZeptoConnection, ZeptoConnectionError, ZeptoError, connect  # noqa: E402,F401
