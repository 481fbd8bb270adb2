"""The items `evkit resolve` looks up: every item a report named as confirmed or inferred.

Read from the report's folder (items.csv for the items, findings.json for the case and the
report's date), checked like any input from another party: a row that is not a mailbox address
and an InternetMessageId is counted and named, never sent to an API. The digests of both files go
into the resolve bundle, so its metadata can be tied to the exact report that asked for it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evkit.collector.errors import ConfigError
from evkit.provenance import file_sha256

WANTED = ("confirmed", "inferred")
MAX_ID_LENGTH = 998  # RFC 5322's line limit; a longer "id" is not a message id
MAX_FILE_BYTES = 2 * 1024 ** 3
_ADDRESS = re.compile(r"^[^@\s/\\?#%<>\"'\x00-\x1f\x7f]{1,64}@[A-Za-z0-9.-]{1,253}$")
# report/outputs/csvcells.py writes a cell starting with one of these behind a single quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class WantedItem:
    mailbox: str
    internet_message_id: str
    classification: str


@dataclass(frozen=True, slots=True)
class ResolveRequest:
    """What a resolve run asks for, and which report asked."""

    items: tuple[WantedItem, ...]
    case_id: str | None
    report_date: str | None
    items_csv_sha256: str
    findings_sha256: str
    refused_rows: tuple[str, ...]   # "row N: why", first 100
    refused_count: int

    def digest(self) -> str:
        """Identifies the item list, so a resumed run asks for the same items."""
        text = "\n".join(f"{i.mailbox}\t{i.internet_message_id}" for i in self.items)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {"schema": "evkit.resolve-request/1", "case_id": self.case_id, "report_date": self.report_date,
                "report_files": {"items.csv": self.items_csv_sha256, "findings.json": self.findings_sha256},
                "refused_rows": {"count": self.refused_count, "first": list(self.refused_rows)},
                "items": [{"mailbox": i.mailbox, "internet_message_id": i.internet_message_id,
                           "classification": i.classification} for i in self.items]}


def _cell(value: str | None) -> str:
    """A cell as the report meant it: the quote csvcells put before a formula start removed."""
    text = value or ""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS) else text


def _check(path: Path) -> Path:
    if path.is_symlink() or not path.is_file():
        raise ConfigError(f"{path}: not a regular file (a report folder holds items.csv and findings.json)")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES // 1024 ** 3} GiB; not a report's output")
    return path


def _read(path: Path) -> bytes:
    return _check(path).read_bytes()


def _why_not(mailbox: str, imid: str) -> str | None:
    if not _ADDRESS.match(mailbox):
        return f"mailbox {mailbox[:80]!r} is not an address"
    if not (imid.startswith("<") and imid.endswith(">")) or len(imid) > MAX_ID_LENGTH:
        return f"{imid[:80]!r} is not an InternetMessageId"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in imid):
        return "the InternetMessageId holds control characters"
    return None


def _rows(reader: csv.DictReader[str], report_dir: Path) -> Iterator[tuple[int, dict[str, str | None]]]:
    """The rows with their line numbers; a row the csv module cannot read (a cell beyond its field
    limit) is a one-line error, never a traceback."""
    try:
        yield from enumerate(reader, start=2)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{report_dir}/items.csv: not a report's item list ({exc})") from None


def read_request(report_dir: Path) -> ResolveRequest:
    """The named confirmed and inferred items of the report in `report_dir`."""
    items_path = _check(report_dir / "items.csv")
    findings_raw = _read(report_dir / "findings.json")
    try:
        findings = json.loads(findings_raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{report_dir}: findings.json cannot be read ({exc})") from None
    if not isinstance(findings, dict) or not str(findings.get("schema", "")).startswith("evkit.findings/"):
        raise ConfigError(f"{report_dir}/findings.json: not the findings of an evkit report")
    with items_path.open("rb") as raw:  # read as a stream: only the wanted items are held
        return _request(report_dir, csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")),
                        findings, file_sha256(items_path), hashlib.sha256(findings_raw).hexdigest())


def _request(report_dir: Path, reader: csv.DictReader[str], findings: dict[str, Any], items_sha256: str,
             findings_sha256: str) -> ResolveRequest:
    try:
        fieldnames = reader.fieldnames
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{report_dir}/items.csv cannot be read ({exc})") from None
    needed = {"mailbox", "internet_message_id", "classification"}
    if not needed <= set(fieldnames or ()):
        raise ConfigError(f"{report_dir}/items.csv: columns {', '.join(sorted(needed))} expected")
    items: dict[tuple[str, str], WantedItem] = {}
    refused: list[str] = []
    count = 0
    for row_no, row in _rows(reader, report_dir):
        classification = _cell(row.get("classification"))
        if classification not in WANTED:
            continue
        mailbox, imid = _cell(row.get("mailbox")).strip().lower(), _cell(row.get("internet_message_id")).strip()
        why = _why_not(mailbox, imid)
        if why is not None:
            count += 1
            if len(refused) < 100:
                refused.append(f"row {row_no}: {why}")
            continue
        items.setdefault((mailbox, imid), WantedItem(mailbox, imid, classification))
    case = findings.get("case") if isinstance(findings.get("case"), dict) else {}
    case_id = case.get("id") if isinstance(case.get("id"), str) else None
    date = findings.get("generated_utc") if isinstance(findings.get("generated_utc"), str) else None
    return ResolveRequest(tuple(sorted(items.values(), key=lambda i: (i.mailbox, i.internet_message_id))),
                          case_id, date, items_sha256, findings_sha256, tuple(refused), count)
