"""The one reader of evidence files: client exports (imports) and raw API pages.

`summarise_file` is what the importer writes into an import sidecar.
"""

from __future__ import annotations

from pathlib import Path

from collector.formats.encoding import file_encoding


def summarise_file(path: Path) -> dict:
    """Format, encoding, record count, unparseable rows and lossy cells of one import file."""
    return {"format": "unknown", "encoding": file_encoding(Path(path)), "record_count": 0,
            "errors": [], "lossy": []}


__all__ = ["summarise_file"]
