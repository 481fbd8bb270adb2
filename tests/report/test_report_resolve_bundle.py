"""A resolve bundle given to `evkit report` (report/pipeline.py, evkit.evidence.itemmeta): it adds
the items' metadata and nothing else. Audit records, ledger entries or a collection window inside
it must not change coverage, counts or verdicts; subjects stay out with --redact-subjects."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

import scenario_mini as mini
from bundlekit import mia, page_files, permissive_report_options, write_bundle
from evkit.collector.sources.items import lookup_url
from evkit.report.pipeline import run_report

SUBJECT = "Quarterly numbers for the board"


def _batch_page(mailbox: str, imid: str) -> dict[str, bytes]:
    request = {"requests": [{"id": "0", "method": "GET", "url": lookup_url(mailbox, imid)}]}
    message = {"internetMessageId": imid, "subject": SUBJECT, "importance": "high", "hasAttachments": True,
               "from": {"emailAddress": {"address": "cfo@fabrikam.example", "name": "CFO"}}}
    body = json.dumps({"responses": [{"id": "0", "status": 200, "headers": {}, "body": {"value": [message]}}]})
    files = page_files("alice", "batch000001", body.encode(), kind="items.batch", source="items",
                       context={"mailbox": mailbox})
    meta = next(k for k in files if k.endswith(".meta.json"))
    sidecar = json.loads(files[meta])
    sidecar.update(request_body=request, url="https://graph.microsoft.com/v1.0/$batch")
    files[meta] = json.dumps(sidecar, sort_keys=True).encode()
    return files


def _hostile_resolve_bundle(root, case_id="IR-MINI"):
    """A bundle of kind resolve that also holds an attacker's read of <o1> and a complete ual
    window over the stretch the real collection left capped."""
    extra = [mia("m-forged", "2023-06-05T10:00:00", mini.A, ip=mini.ATTACKER_IP, session="s-forged",
                 folders={"\\Inbox": ["<o1>"]})]
    ledger = [{"source": "ual", "unit": "forged", "window": {"start": mini.EVIDENCE_WINDOW[0],
                                                             "end": mini.EVIDENCE_WINDOW[1]},
               "expected": 1, "received": 1, "unique_ids": 1, "retries": 0, "status": "complete", "reason": ""}]
    write_bundle(root, extra, window=mini.EVIDENCE_WINDOW, ledger=ledger, case_id=case_id,
                 extra_files=_batch_page(mini.A, "<o2>"))
    path = root / "data" / "collection.json"
    collection = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**collection, "kind": "resolve"}), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("resolve-bundle")
    write_bundle(root / "IR-MINI_C1", mini.records(), window=mini.EVIDENCE_WINDOW, ledger=mini.ledger(),
                 extra_files=mini.folder_stats_files(), case_id="IR-MINI")
    _hostile_resolve_bundle(root / "IR-MINI_R1")
    (root / "case.toml").write_text(mini.CASE_TOML, encoding="utf-8")
    return root


def _report(case, out, *bundles, **options):
    result = run_report([case / b for b in bundles], case / "case.toml", out, **permissive_report_options(),
                        **options)
    return result.findings


def test_a_resolve_bundle_holding_audit_evidence_changes_nothing_but_the_metadata(case, tmp_path):
    plain = _report(case, tmp_path / "plain", "IR-MINI_C1")
    both = _report(case, tmp_path / "both", "IR-MINI_C1", "IR-MINI_R1")
    for key in ("summary", "mailboxes", "coverage"):
        assert both[key] == plain[key], key
    plain_rows = (tmp_path / "plain" / "items.csv").read_text(encoding="utf-8").splitlines()
    both_rows = (tmp_path / "both" / "items.csv").read_text(encoding="utf-8").splitlines()
    assert [r.split(",")[:4] for r in both_rows[1:]] == [r.split(",")[:4] for r in plain_rows[1:]]
    assert both["item_metadata"]["found"] == 1 and SUBJECT in (tmp_path / "both" / "items.csv").read_text()
    assert any("IR-MINI_R1: a resolve bundle that also holds other evidence" in p for p in both["problems"])


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext not installed")
def test_redacted_subjects_are_nowhere_in_the_outputs(case, tmp_path):
    out = tmp_path / "out"
    _report(case, out, "IR-MINI_C1", "IR-MINI_R1", redact_subjects=True)
    pdf = subprocess.run(["pdftotext", "-layout", str(out / "report.pdf"), "-"], capture_output=True, text=True,
                         check=True).stdout
    texts = {"pdf": " ".join(pdf.split()), "csv": (out / "items.csv").read_text(encoding="utf-8"),
             "json": (out / "findings.json").read_text(encoding="utf-8")}
    for subject in (SUBJECT, "Updated bank details"):
        for name, text in texts.items():
            assert subject not in text, (subject, name)


def test_a_resolve_bundle_of_another_case_is_named(case, tmp_path):
    _hostile_resolve_bundle(tmp_path / "IR-OTHER_R1", case_id="IR-OTHER")
    shutil.copytree(case / "IR-MINI_C1", tmp_path / "IR-MINI_C1")
    shutil.copy(case / "case.toml", tmp_path / "case.toml")
    findings = _report(tmp_path, tmp_path / "out", "IR-MINI_C1", "IR-OTHER_R1")
    assert any("IR-OTHER_R1: a resolve bundle of case 'IR-OTHER', not 'IR-MINI'" in p for p in findings["problems"])
    assert not any("IR-MINI_R1: a resolve bundle of case" in p
                   for p in _report(case, tmp_path / "same", "IR-MINI_C1", "IR-MINI_R1")["problems"])


def test_item_lookups_in_a_collection_bundle_are_named_not_read(tmp_path):
    write_bundle(tmp_path / "IR-MINI_C9", mini.records(), window=mini.EVIDENCE_WINDOW, ledger=mini.ledger(),
                 extra_files={**mini.folder_stats_files(), **_batch_page(mini.A, "<o2>")}, case_id="IR-MINI")
    (tmp_path / "case.toml").write_text(mini.CASE_TOML, encoding="utf-8")
    findings = _report(tmp_path, tmp_path / "out", "IR-MINI_C9")
    assert "item_metadata" not in findings and SUBJECT not in (tmp_path / "out" / "items.csv").read_text()
    assert any("IR-MINI_C9: 1 item lookup page(s) in a bundle that is not a resolve bundle" in p
               for p in findings["problems"])
