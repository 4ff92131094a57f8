"""zepto_py: moves data between pandas, Polars, NumPy, Arrow, DuckDB and ZeptoDB."""
