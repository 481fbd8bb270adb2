"""The "Mailbox state at collection" section end to end: emulator (bec-basic) -> the real
collector over HTTPS -> `evkit report`, scored against the scenario's ground truth and read
back from the rendered PDF with pdftotext. A refused cmdlet and a collection without the
`mailbox` source are stated, never shown as "nothing found"."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))

from bec_helpers import bec_config
from scoring import Score, score_mailbox_state

from evkit.cli import main
from evkit.collector import cli_collect

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext missing (bash .ci/install-tools)")


def collect_and_report(emu, tmp_path: Path, key: Path, sources: list[str]) -> tuple[int, dict, str]:
    config = bec_config(emu, tmp_path, sources)
    bundle, out = tmp_path / "bundle", tmp_path / "out"
    code = cli_collect.main(["collect", "--config", str(config), "--out", str(bundle), "--key", str(key), "--quiet"])
    assert main(["report", str(bundle), "--case", str(emu.workdir / "case.toml"), "--out", str(out),
                 "--signer-key", f"{key}.pub"]) == 0
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    pdf = subprocess.run(["pdftotext", str(out / "report.pdf"), "-"], capture_output=True, text=True,
                         check=True).stdout
    return code, findings, pdf


def section_text(pdf: str) -> str:
    """The section's text (cells in reading order), from its heading to the next section's,
    squeezed to single spaces."""
    start = pdf.index("\nMailbox state at collection\n")
    end = pdf.index("\nFolder synchronisation\n", start)
    return " ".join(pdf[start:end].split())


def test_the_section_names_each_planted_item_with_its_record_or_why_none(bec_emu, bec_env, tmp_path, signing_key) -> None:
    code, findings, pdf = collect_and_report(bec_emu, tmp_path, signing_key[0], ["ual", "config", "mailbox"])
    assert code == 0
    truth = json.loads((bec_emu.workdir / "ground-truth.json").read_text(encoding="utf-8"))
    s = Score()
    score_mailbox_state(truth, findings, s)
    assert s.failures == [], "\n".join(s.failures)
    assert findings["mailbox_state"]["status"] == "collected"
    text = section_text(pdf)
    [hidden] = [t for t in truth["mailbox_state"]["findings"] if t.get("hidden")]
    # the hidden forwarding rule with its parameters and the record that created it
    assert f"inbox rule, hidden (external): {hidden['name']}" in text
    assert f"actions: forward, delete; to: {hidden['external'][0]}" in text
    row = text[text.index(f"inbox rule, hidden (external): {hidden['name']}"):][:400].replace("- ", "-")
    assert "New-InboxRule at 2023-06-08 09:33 UTC" in row and hidden["record_id"] in row
    # the rule no record explains, flagged with the reason
    assert "Copy to home" in text
    assert text.count("No record explains it") == sum(1 for t in truth["mailbox_state"]["findings"]
                                                      if t["record_id"] is None)
    assert "predates the window" in text and "Newsletters" not in text
    # the shared mailbox's Inbox everyone may read; a calendar delegate is not a finding
    assert "everyone in the organisation can read Inbox (Reviewer)" in text
    assert not [f for f in findings["mailbox_state"]["findings"] if f.get("folder") == "Calendar"]
    # page 1 tells the reader the same findings are still in place, with the section's counts
    first = " ".join(pdf.split("\f")[0].split())
    planted = truth["mailbox_state"]["findings"]
    unexplained = sum(1 for t in planted if t["record_id"] is None)
    assert "Still in place when collected" in first and findings["mailbox_state"]["page_one"] in first
    assert f"{len(planted)} rules, forwarding settings and grants" in first or f"{len(planted)} inbox rule" in first
    assert f"{unexplained} that no audit record explains" in first


def test_a_refused_cmdlet_is_stated_as_not_read(bec_emu, bec_env, tmp_path, signing_key) -> None:
    bec_emu.emulator.options.withhold = ("Recipient Management",)
    code, findings, pdf = collect_and_report(bec_emu, tmp_path, signing_key[0], ["ual", "mailbox"])
    assert code == 4
    block = findings["mailbox_state"]
    assert block["status"] == "partial"
    assert {g["unit"].split("/")[0] for g in block["gaps"]} == {"Get-InboxRule", "Get-RecipientPermission"}
    assert not [f for f in block["findings"] if f["kind"] in ("inbox rule", "send as")]
    text = section_text(pdf)
    assert "could not be read" in text and "Not read" in text and "Recipient Management" in text
    first = " ".join(pdf.split("\f")[0].split())
    assert f"{len(block['gaps'])} parts could not be read: more may be in place there." in first
    assert "forwarding" in text   # what could be read is still shown


def test_a_collection_without_the_source_says_it_was_not_collected(bec_emu, bec_env, tmp_path, signing_key) -> None:
    _, findings, pdf = collect_and_report(bec_emu, tmp_path, signing_key[0], ["ual"])
    assert findings["mailbox_state"]["status"] == "not collected"
    text = section_text(pdf)
    assert "was not collected" in text and "None found" not in text
    assert "Still in place? Not known: the mailbox state was not collected" in " ".join(pdf.split("\f")[0].split())
