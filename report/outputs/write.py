"""Writing the report's three outputs (items.csv, findings.json, report.pdf) into the output
folder, returning each one's sha256 for the custody record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evkit.report.analysis import Analysis
from evkit.report.errors import RenderError
from evkit.report.outputs.csvcells import csv_bytes
from evkit.report.outputs.itemmeta import META_COLUMNS, ItemMetadata, meta_cells
from evkit.report.outputs.model import Findings
from evkit.times import format_utc

ITEM_COLUMNS = ("mailbox", "internet_message_id", "folder", "classification", "reason",
                "first_access_utc", "last_access_utc", "record_ids")
OUTPUTS = ("findings.json", "items.csv", "report.pdf")

PdfRenderer = Callable[[Findings, Path], None]


def items_csv(analysis: Analysis, meta: ItemMetadata | None = None) -> bytes:
    """items.csv; cells a spreadsheet would evaluate are neutralised (report.outputs.csvcells).
    With item metadata (a resolve bundle among the evidence) each row gains its META_COLUMNS."""
    columns = ITEM_COLUMNS + (META_COLUMNS if meta is not None else ())
    return csv_bytes(columns, ([v.mailbox, v.imid, v.folder, v.classification.value, v.reason,
                                format_utc(v.first_access) if v.first_access else "",
                                format_utc(v.last_access) if v.last_access else "",
                                " ".join(v.record_ids), *(meta_cells(meta, v) if meta is not None else ())]
                               for v in analysis.verdicts))


def findings_json(findings: Mapping[str, Any]) -> bytes:
    return (json.dumps(findings, sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def pdf_renderer() -> PdfRenderer | None:
    """The PDF renderer; imported on call so reportlab loads only for a report (and in the
    background while the engine loads). None means "write no PDF" (tests use it)."""
    from evkit.report.pdf.report import render_report  # noqa: PLC0415 - reportlab only when rendering
    return render_report


def write_outputs(out: Path, findings: Findings, analysis: Analysis,
                  render: PdfRenderer | None, meta: ItemMetadata | None = None) -> tuple[dict[str, str], str | None]:
    """Write the three outputs; `render` is the PDF renderer (pdf_renderer), None without one."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = {"items.csv": items_csv(analysis, meta), "findings.json": findings_json(findings)}
        for name, blob in written.items():
            (out / name).write_bytes(blob)
        hashes = {name: hashlib.sha256(blob).hexdigest() for name, blob in written.items()}
        if render is None:
            return hashes, "report.pdf not written: the PDF renderer (report.pdf) is not installed"
        render(findings, out / "report.pdf")
        hashes["report.pdf"] = hashlib.sha256((out / "report.pdf").read_bytes()).hexdigest()
        return dict(sorted(hashes.items())), None
    except OSError as exc:
        raise RenderError(f"cannot write the report into {out}: {exc.strerror or exc}") from exc
