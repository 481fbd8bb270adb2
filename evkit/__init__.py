"""evkit: evidence collection, sealed bundles and breach-scope reports for Microsoft 365."""

__version__ = "0.1.0"
