"""Where evidence lives inside a bundle's payload (`data/`; the envelope around it is named by
`evkit.manifests.layout`): raw API pages under `raw/<source>/<unit>/`, client exports under
`imports/` (docs/evidence-layout.md)."""

from __future__ import annotations

from evkit.manifests.layout import COLLECTION, DATA

RAW_DIR = "raw"  # data/raw/<source>/<unit>/<name>.json[.gz] with <name>.meta.json
IMPORTS_DIR = "imports"  # data/imports/<safe name> with <safe name>.meta.json

__all__ = ["COLLECTION", "DATA", "IMPORTS_DIR", "RAW_DIR"]
