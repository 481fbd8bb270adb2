"""Build test bundles in the collector's raw-page layout (docs/evidence-layout.md).

Writes exactly what the collector stores for `ual.page` responses (envelope with AuditData as
a JSON string, gzip with mtime 0, sidecar), plus collection.json with a ledger. Pages go
through manifests.bundle.BundleWriter and are sealed when that package is present; otherwise
the payload is written directly (the report then runs with --allow-invalid).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def record(rid: str, time: str, operation: str, user: str, **fields: Any) -> dict[str, Any]:
    """A classic-schema record with the common fields filled in."""
    rec: dict[str, Any] = {"Id": rid, "CreationTime": time, "Operation": operation, "UserId": user,
                           "OrganizationId": "00000000-0000-0000-0000-0000000000aa", "Version": 1}
    rec.setdefault("RecordType", {"MailItemsAccessed": 50, "UserLoggedIn": 15}.get(operation, 2))
    rec["Workload"] = "AzureActiveDirectory" if operation.startswith("UserLog") else "Exchange"
    rec.update(fields)
    return rec


def mia(rid: str, time: str, mailbox: str, *, access: str = "Bind", throttled: bool = False,
        folders: dict[str, list[str]] | None = None, ip: str = "192.0.2.10",
        session: str = "owner-session", client: str = "Client=OWA;Action=ViaProxy",
        subjects: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    """A MailItemsAccessed record; folders maps a path to the InternetMessageIds listed."""
    subjects = subjects or {}
    folder_list = []
    for path, imids in (folders or {}).items():
        entry: dict[str, Any] = {"Id": "LgAA" + hashlib.sha1(path.encode()).hexdigest()[:12], "Path": path}
        if imids:
            entry["FolderItems"] = [
                {"InternetMessageId": m, **({"Subject": subjects[m]} if m in subjects else {})} for m in imids]
        folder_list.append(entry)
    return record(rid, time, "MailItemsAccessed", mailbox, RecordType=50, MailboxOwnerUPN=mailbox,
                  ClientIPAddress=ip, SessionId=session, ClientInfoString=client, LogonType=0,
                  OperationProperties=[{"Name": "MailAccessType", "Value": access},
                                       {"Name": "IsThrottled", "Value": "True" if throttled else "False"}],
                  Folders=folder_list, OperationCount=max(1, sum(len(v) for v in (folders or {}).values())),
                  **fields)


def _page_body(records: Sequence[dict[str, Any]]) -> bytes:
    rows = [{"RecordId": r.get("Id"), "CreationDate": r.get("CreationTime"), "Operations": r.get("Operation"),
             "UserIds": r.get("UserId"), "AuditData": json.dumps(r, separators=(",", ":")),
             "ResultIndex": i + 1, "ResultCount": len(records)} for i, r in enumerate(records)]
    envelope = {"@odata.context": "https://outlook.office365.com/adminapi/beta/t/$metadata#Collection",
                "@adminapi.warnings": [], "value": rows}
    return json.dumps(envelope, separators=(",", ":")).encode()


def page_files(unit: str, name: str, body: bytes, *, kind: str = "ual.page", status: int = 200,
               source: str = "ual", context: dict[str, Any] | None = None) -> dict[str, bytes]:
    """The body (gzip, mtime 0) and sidecar of one stored response, keyed by data/ relpath."""
    stored = gzip.compress(body, 6, mtime=0)
    sidecar = {
        "kind": kind, "source": source, "method": "POST",
        "url": "https://outlook.office365.com/adminapi/beta/t/InvokeCommand",
        "request_body": {}, "status": status, "headers": {"Date": "Sun, 29 Nov 2026 09:00:00 GMT"},
        "received_utc": "2026-11-29T09:00:00.000000Z", "server_date_utc": "2026-11-29T09:00:00Z",
        "body_file": f"{name}.json.gz", "body_size": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(), "stored_encoding": "gzip", "attempt": 1,
        "context": context or {},
    }
    base = f"raw/{source}/{unit}/{name}"
    return {f"{base}.json.gz": stored,
            f"{base}.meta.json": (json.dumps(sidecar, sort_keys=True, separators=(",", ":")) + "\n").encode()}


def collection_doc(case_id: str, window: tuple[str, str], ledger: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": "evkit.collection/1", "kind": "collect", "case_id": case_id,
            "collection_id": "C1", "examiner": "examiner@firm.example",
            "tenant": {"id": "t", "domain": "contoso.onmicrosoft.com", "cloud": "commercial"},
            "window": {"start": window[0], "end": window[1]}, "sources": ["ual"],
            "started_utc": "2026-11-29T08:00:00Z", "finished_utc": "2026-11-29T09:00:00Z",
            "ledger": ledger}


def write_bundle(root: Path, records: Iterable[dict[str, Any]], *, window: tuple[str, str],
                 page_size: int = 500, ledger: list[dict[str, Any]] | None = None,
                 extra_files: dict[str, bytes] | None = None, case_id: str = "IR-TEST",
                 key=None) -> Path:
    """A bundle holding `records` as ual.page responses, plus optional extra files; sealed
    with manifests.bundle.BundleWriter when a SigningKey is given, else a bare payload. `records`
    may be a stream (a large scenario's): only one page of records is held at a time."""
    unit = window[0].replace("-", "").replace(":", "") + "_" + window[1].replace("-", "").replace(":", "")
    files: dict[str, bytes] = {}
    stream, total = iter(records), 0
    for n in itertools.count(1):
        page = list(itertools.islice(stream, page_size))
        if page or n == 1:
            files.update(page_files(unit, f"p{n:06d}", _page_body(page)))
        total += len(page)
        if len(page) < page_size:
            break
    files.update(extra_files or {})
    if ledger is None:
        ledger = [{"source": "ual", "unit": unit, "window": {"start": window[0], "end": window[1]},
                   "expected": total, "received": total, "unique_ids": total,
                   "retries": 0, "status": "complete", "reason": ""}]
    collection = collection_doc(case_id, window, ledger)
    if key is not None:
        from evkit.manifests.bundle import BundleWriter

        writer = BundleWriter.create(root, case_id=case_id, collection_id="C1")
        for rel, blob in sorted(files.items()):
            writer.write(rel, blob)
        writer.seal(key, bag_info={"Source-Organization": "Contoso Ltd"}, collection=collection)
        return root
    data = root / "data"
    for rel, blob in sorted(files.items()):
        path = data / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    (data / "collection.json").write_text(json.dumps(collection, sort_keys=True) + "\n", encoding="utf-8")
    return root


def write_import_bundle(root: Path, files: dict[str, tuple[str, bytes]], *, case_id: str = "IR-TEST",
                        tenant: Any = None, collection_id: str = "IMPORT-1") -> Path:
    """An unsealed import bundle (the layout `evkit import` writes): files maps a stored name
    to (format, bytes); each gets the import sidecar the report reads."""
    imports = root / "data" / "imports"
    imports.mkdir(parents=True)
    ledger = []
    for name, (fmt, blob) in sorted(files.items()):
        (imports / name).write_bytes(blob)
        sidecar = {"kind": "import", "original_name": name, "stored_name": name, "size": len(blob),
                   "sha256": hashlib.sha256(blob).hexdigest(), "format": fmt, "record_count": 0,
                   "error_count": 0, "errors": [], "lossy_count": 0, "lossy": []}
        (imports / f"{name}.meta.json").write_text(json.dumps(sidecar, sort_keys=True) + "\n", encoding="utf-8")
        ledger.append({"source": "import", "unit": name, "window": None, "expected": 1, "received": 1,
                       "unique_ids": 0, "retries": 0, "status": "complete", "reason": ""})
    collection = {"schema": "evkit.collection/1", "kind": "import", "case_id": case_id,
                  "collection_id": collection_id, "tenant": tenant, "window": None,
                  "sources": ["import"], "started_utc": "2026-11-29T08:00:00Z",
                  "finished_utc": "2026-11-29T09:00:00Z", "ledger": ledger}
    (root / "data" / "collection.json").write_text(json.dumps(collection, sort_keys=True) + "\n", encoding="utf-8")
    return root


def mgmt_blob(records: Sequence[dict[str, Any]]) -> tuple[str, bytes]:
    """(format, bytes) of a Management Activity API blob export holding `records`."""
    return "mgmt-blob", json.dumps(list(records), separators=(",", ":")).encode()


def permissive_report_options() -> dict[str, Any]:
    """Keyword arguments for report.pipeline.run_report that let unsealed test bundles through
    (they cannot verify): `allow_invalid`, or a Trust allowing invalid and untrusted evidence
    where the pipeline takes one."""
    import inspect

    from evkit.report import pipeline

    if "trust" in inspect.signature(pipeline.run_report).parameters:
        from evkit.report.intake import Trust  # type: ignore[import-not-found]

        return {"trust": Trust(allow_invalid=True, allow_untrusted=True)}
    return {"allow_invalid": True}


def permissive_report_flags() -> list[str]:
    """The `evkit report` flags that let unsealed test bundles through."""
    from evkit.report.cli import report

    return ["--allow-invalid"] + (["--allow-untrusted"] if "--allow-untrusted" in (report.__doc__ or "") else [])
