"""The PDF renderers (reportlab is confined to this package)."""
