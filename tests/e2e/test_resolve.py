"""`evkit resolve` end to end: emulator -> `evkit collect` -> `evkit report` -> `evkit resolve`
(real MSAL, requests and HTTPS), the metadata scored against the scenario's own messages."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evkit.cli import main
from evkit.emulator.scenarios.build import Scenario
from evkit.emulator.scenarios.messages import messages
from evkit.evidence.itemmeta import asked_id

pytestmark = pytest.mark.slow
testing = pytest.importorskip("evkit.emulator.testing")

GONE = 3  # confirmed items the mailbox no longer holds (hard-deleted after the scenario)


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evkit", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def _named(report: Path) -> list[tuple[str, str, str]]:
    with (report / "items.csv").open(encoding="utf-8", newline="") as fh:
        return [(r["mailbox"], r["internet_message_id"], r["classification"]) for r in csv.DictReader(fh)
                if r["classification"] in ("confirmed", "inferred")]


def _answers(bundle: Path) -> dict[tuple[str, str], dict]:
    """What the bundle's stored batch answers say of each item: the message, or None when gone."""
    from evkit.evidence.itemmeta import batch_answers

    out: dict[tuple[str, str], dict] = {}
    for meta in sorted((bundle / "data" / "raw" / "items").rglob("*.meta.json")):
        sidecar = json.loads(meta.read_text(encoding="utf-8"))
        if sidecar["kind"] != "items.batch" or sidecar["status"] != 200:
            continue
        body = (meta.parent / meta.name.replace(".meta.json", ".json")).read_bytes()
        mailbox = sidecar["context"]["mailbox"]
        for imid, status, answer, _ in batch_answers(sidecar["request_body"], body):
            if status == 200:
                value = answer["value"]
                out[(mailbox, imid)] = value[0] if value else None
    return out


@pytest.fixture(scope="module")
def resolved(tmp_path_factory, signing_key):
    key, passphrase, _ = signing_key
    tmp = tmp_path_factory.mktemp("resolve")
    # a first emulator run only to learn which items the report will confirm; then the tenant
    # "loses" three of them (purged) before resolve looks them up
    with testing.running_emulator(tmp / "emu", scenario="bec-basic", seed=1) as emu:
        conn = emu.connection
        env = dict(os.environ, EVKIT_PASSPHRASE=passphrase, EVKIT_CLIENT_SECRET=conn["client_secret"],
                   EVKIT_CERT_PASSPHRASE=conn["certificate"]["key_passphrase"])
        bundle, report = tmp / "bundle", tmp / "report"
        proc = _run("collect", "--config", str(emu.workdir / "collect.toml"), "--out", str(bundle),
                    "--key", str(key), "--quiet", env=env)
        assert proc.returncode in (0, 4), proc.stderr
        assert main(["report", str(bundle), "--case", str(emu.workdir / "case.toml"), "--out", str(report),
                     "--signer-key", f"{key}.pub"]) == 0
        workdir = emu.workdir
    named = _named(report)
    gone = {imid for _, imid, c in named if c == "confirmed"}
    gone = set(sorted(gone)[:GONE])
    with testing.running_emulator(workdir, scenario="bec-basic", seed=1, purged_items=tuple(sorted(gone)),
                                  faults="429=0.2") as emu:
        conn = emu.connection
        env = dict(env, EVKIT_CLIENT_SECRET=conn["client_secret"],
                   EVKIT_CERT_PASSPHRASE=conn["certificate"]["key_passphrase"])
        items = tmp / "items"
        proc = _run("resolve", str(report), "--config", str(emu.workdir / "collect.toml"), "--out", str(items),
                    "--key", str(key), "--quiet", env=env)
    return {"proc": proc, "items": items, "report": report, "bundle": bundle, "named": named, "gone": gone,
            "workdir": workdir, "key": key, "env": env}


def test_every_named_item_is_answered_and_the_bundle_verifies(resolved):
    proc = resolved["proc"]
    assert proc.returncode == 0, proc.stderr
    assert main(["verify", str(resolved["items"]), "--signer-key", f"{resolved['key']}.pub"]) == 0
    answers = _answers(resolved["items"])
    assert {(m, i) for m, i, _ in resolved["named"]} == set(answers)
    assert sum(1 for a in answers.values() if a is None) == GONE
    record = json.loads((resolved["items"] / "data" / "collection.json").read_text(encoding="utf-8"))
    assert {e["status"] for e in record["ledger"]} == {"complete"}
    assert sum(e["retries"] for e in record["ledger"]) > 0  # throttled requests inside batches were sent again


def test_metadata_matches_the_mailbox_and_purged_items_are_gone(resolved):
    scenario = Scenario(resolved["workdir"])
    answers = _answers(resolved["items"])
    truth: dict[tuple[str, str], dict] = {}
    for mailbox in {m for m, _ in answers}:
        for message in messages(scenario.seed, mailbox, scenario.mail_store(mailbox), start=scenario.start):
            truth[(mailbox, message["internetMessageId"])] = message
    for (mailbox, imid), got in answers.items():
        if imid in resolved["gone"]:
            assert got is None, imid
            continue
        assert got is not None, imid
        want = truth[(mailbox, imid)]
        for field in ("subject", "from", "toRecipients", "receivedDateTime", "importance", "hasAttachments"):
            assert got[field] == want[field], (imid, field)
        assert "body" not in got and "bodyPreview" not in got


def test_the_request_names_the_report_it_came_from(resolved):
    request = json.loads((resolved["items"] / "data" / "resolve" / "request.json").read_text(encoding="utf-8"))
    import hashlib

    want = hashlib.sha256((resolved["report"] / "items.csv").read_bytes()).hexdigest()
    assert request["report_files"]["items.csv"] == want
    assert len(request["items"]) == len(set((m, i) for m, i, _ in resolved["named"]))
    record = json.loads((resolved["items"] / "data" / "collection.json").read_text(encoding="utf-8"))
    assert record["kind"] == "resolve" and "window" not in record


def test_without_mail_read_basic_each_mailbox_fails_with_the_fix_and_the_bundle_seals(resolved, tmp_path):
    with testing.running_emulator(resolved["workdir"], scenario="bec-basic", seed=1,
                                  withhold=("Mail.ReadBasic.All",)) as emu:
        env = dict(resolved["env"], EVKIT_CLIENT_SECRET=emu.connection["client_secret"],
                   EVKIT_CERT_PASSPHRASE=emu.connection["certificate"]["key_passphrase"])
        proc = _run("resolve", str(resolved["report"]), "--config", str(emu.workdir / "collect.toml"),
                    "--out", str(tmp_path / "items"), "--key", str(resolved["key"]), "--quiet", env=env)
    assert proc.returncode == 4, proc.stderr
    assert "Mail.ReadBasic.All" in proc.stderr and "grant admin consent" in proc.stderr
    record = json.loads((tmp_path / "items" / "data" / "collection.json").read_text(encoding="utf-8"))
    assert {e["status"] for e in record["ledger"]} == {"failed"}


def test_a_resolve_killed_mid_run_resumes_without_asking_twice(resolved, tmp_path):
    import signal
    import time

    out = tmp_path / "items"
    with testing.running_emulator(resolved["workdir"], scenario="bec-basic", seed=1, latency_ms=400) as emu:
        env = dict(resolved["env"], EVKIT_CLIENT_SECRET=emu.connection["client_secret"],
                   EVKIT_CERT_PASSPHRASE=emu.connection["certificate"]["key_passphrase"])
        args = ["resolve", str(resolved["report"]), "--config", str(emu.workdir / "collect.toml"),
                "--out", str(out), "--key", str(resolved["key"]), "--quiet"]
        proc = subprocess.Popen([sys.executable, "-m", "evkit", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(out.glob("data/raw/items/*/batch*.meta.json")):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        asked_before = len(list(out.glob("data/raw/items/*/batch*.meta.json")))
        assert asked_before >= 1 and not (out / "data" / "collection.json").exists()
        again = _run(*args, "--resume", env=env)
    assert again.returncode == 0, again.stderr
    answers = _answers(out)
    assert {(m, i) for m, i, _ in resolved["named"]} == set(answers)
    asked = [asked_id(r["url"]) for meta in out.glob("data/raw/items/*/batch*.meta.json")
             for r in json.loads(meta.read_text(encoding="utf-8"))["request_body"]["requests"]]
    assert sorted(asked) == sorted(i for _, i in answers)  # every stored answer is asked once, none twice



def _report_with(resolved, out: Path, *extra: str) -> dict:
    assert main(["report", str(resolved["bundle"]), str(resolved["items"]), "--case",
                 str(resolved["workdir"] / "case.toml"), "--out", str(out), "--signer-key",
                 f"{resolved['key']}.pub", *extra]) == 0
    return json.loads((out / "findings.json").read_text(encoding="utf-8"))


def test_the_report_adds_the_metadata_to_every_named_item(resolved, tmp_path):
    findings = _report_with(resolved, tmp_path / "out")
    meta = findings["item_metadata"]
    named = {(m, i) for m, i, _ in resolved["named"]}
    assert meta["named_items"] == len(named) and meta["gone"] == GONE and meta["not_looked_up"] == 0
    assert meta["found"] == len(named) - GONE
    assert sum(d["items"] for d in meta["by_sender_domain"]) == meta["found"]
    assert {g["internet_message_id"] for g in meta["gone_items"]} == resolved["gone"]
    with (tmp_path / "out" / "items.csv").open(encoding="utf-8", newline="") as fh:
        rows = {(r["mailbox"], r["internet_message_id"]): r for r in csv.DictReader(fh)}
    answers = _answers(resolved["items"])
    for key in named:
        row, answer = rows[key], answers[key]
        if answer is None:
            assert row["lookup"] == "gone" and row["subject"] == ""
        else:
            assert row["lookup"] == "found" and row["subject"] == answer["subject"]
            assert row["sender"] == answer["from"]["emailAddress"]["address"]
    # the rest of the report is the report without the resolve bundle
    plain = tmp_path / "plain"
    assert main(["report", str(resolved["bundle"]), "--case", str(resolved["workdir"] / "case.toml"),
                 "--out", str(plain), "--signer-key", f"{resolved['key']}.pub"]) == 0
    without = json.loads((plain / "findings.json").read_text(encoding="utf-8"))
    assert findings["summary"] == without["summary"] and findings["mailboxes"] == without["mailboxes"]


def test_subjects_can_be_redacted_for_distribution(resolved, tmp_path):
    findings = _report_with(resolved, tmp_path / "out", "--redact-subjects")
    assert findings["item_metadata"]["redacted_subjects"] is True
    text = (tmp_path / "out" / "items.csv").read_text(encoding="utf-8")
    subjects = {a["subject"] for a in _answers(resolved["items"]).values() if a and a["subject"]}
    assert subjects and not any(s in text for s in subjects) and "[redacted]" in text
    pdf = _pdf_text(tmp_path / "out" / "report.pdf")
    assert "Subjects are left out of this report" in pdf
    assert not any(s in pdf for s in subjects) and not any(s in json.dumps(findings) for s in subjects)


def _pdf_text(path: Path) -> str:
    import shutil

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; `make tools` installs it")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_the_pdf_has_the_sender_domain_appendix(resolved, tmp_path):
    findings = _report_with(resolved, tmp_path / "out")
    pdf = " ".join(_pdf_text(tmp_path / "out" / "report.pdf").split())
    meta = findings["item_metadata"]
    assert "Accessed items by sender domain" in pdf
    top = meta["by_sender_domain"][0]
    assert top["domain"] in pdf
    assert f"{meta['gone']:,} no longer in the mailbox" in pdf
    # Graph's messages collection does not reach Recoverable Items nor the archive: gone is not purged
    assert "deleted and purged" not in pdf and "may still be held in Recoverable Items" in pdf


def test_items_a_resolve_did_not_answer_are_not_looked_up_not_blank(resolved, tmp_path):
    """A resolve bundle that answered nothing (permission missing) leaves every named item
    'not looked up', counted in findings.json."""
    with testing.running_emulator(resolved["workdir"], scenario="bec-basic", seed=1,
                                  withhold=("Mail.ReadBasic.All",)) as emu:
        env = dict(resolved["env"], EVKIT_CLIENT_SECRET=emu.connection["client_secret"],
                   EVKIT_CERT_PASSPHRASE=emu.connection["certificate"]["key_passphrase"])
        refused = tmp_path / "refused"
        proc = _run("resolve", str(resolved["report"]), "--config", str(emu.workdir / "collect.toml"),
                    "--out", str(refused), "--key", str(resolved["key"]), "--quiet", env=env)
    assert proc.returncode == 4
    out = tmp_path / "out"
    assert main(["report", str(resolved["bundle"]), str(refused), "--case", str(resolved["workdir"] / "case.toml"),
                 "--out", str(out), "--signer-key", f"{resolved['key']}.pub"]) == 0
    meta = json.loads((out / "findings.json").read_text(encoding="utf-8"))["item_metadata"]
    assert meta["found"] == 0 and meta["not_looked_up"] == meta["named_items"] > 0
