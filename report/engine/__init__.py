"""The analysis engine: every bundle's records in DuckDB tables, and the SQL behind them."""
