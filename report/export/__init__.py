"""`evkit export`: the verified evidence's normalised tables as Parquet or CSV for other engines."""
