"""Breach-scope report: loading bundles into DuckDB, attribution, classification, outputs."""
