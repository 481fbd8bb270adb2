"""Reading sealed evidence: the one place that knows the evidence layout inside a bundle.

- `kinds`: the page kinds a sidecar names (`ual.page`, `graph.records`, `mgmt.blob`,
  `config.*`, `licences.*`), RECORD_KINDS and where each keeps its records;
- `layout`: where evidence lives in the payload (`raw/`, `imports/`);
- `sidecars`: the JSON file beside every stored body;
- `inventory`: which files of a bundle are pages of which kind, imports, the ledger;
- `raw`: the records of one raw API page, record by record;
- `formats`: the client export formats `evkit import` accepts, and their detection;
- `records`: the records of one inventory item, every failure a row naming it;
- `errors`: EvidenceError and its kinds.

The collector's importer and the report both read evidence through this package; it imports
neither of them (tests/test_boundaries.py checks it). Times are parsed by `evkit.times`.
"""

from __future__ import annotations

from evkit.evidence.errors import EvidenceError, ImportInputError, RawPageError
from evkit.evidence.formats import FORMATS, LossyCell, ParsedRow, detect_format, read_records, summarise_file
from evkit.evidence.inventory import ImportFile, Inventory, Page, scan_bundle, scan_bundles, source_name
from evkit.evidence.kinds import GRAPH_RECORDS, MGMT_BLOB, RECORD_KINDS, RECORD_LAYOUTS, UAL_PAGE
from evkit.evidence.raw import read_raw_records, read_raw_rows
from evkit.evidence.records import import_rows, page_rows

__all__ = ["FORMATS", "GRAPH_RECORDS", "MGMT_BLOB", "RECORD_KINDS", "RECORD_LAYOUTS", "UAL_PAGE",
           "EvidenceError", "ImportFile", "ImportInputError", "Inventory", "LossyCell", "Page",
           "ParsedRow", "RawPageError", "detect_format", "import_rows", "page_rows", "read_raw_records",
           "read_raw_rows", "read_records", "scan_bundle", "scan_bundles", "source_name", "summarise_file"]
