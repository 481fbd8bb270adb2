"""`signins` and `apps` collected over real HTTPS from the emulator: every sign-in of the window (all
event types, paged, 429s retried) sealed byte for byte and verifying; a missing permission or a
tenant without Entra ID P1 fails `signins` alone with the fix in the ledger, `apps` goes on, exit 4;
a run killed mid-paging resumes to the same records; the part of the window older than the log's
30 days is not asked for and is a `skipped` entry, a gap the report states.

The emulator keeps sign-ins 30 days back from its virtual now (the scenario's end unless set), and
the collector's clock is set to the same moment (scenario_clock; as the test-only clock hook of
test_collect_scenarios.py, in process), so both agree on what the log still holds."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from pathlib import Path

import pytest

from evkit.collector import cli_collect
from evkit.emulator.testing import running_emulator
from evkit.manifests.verify import verify_bundle

pytestmark = pytest.mark.slow


def _config(emu, tmp_path: Path, sources: list[str]) -> Path:
    text = (emu.workdir / "collect.toml").read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^sources = .*$", f"sources = {json.dumps(sources)}", text)
    assert n == 1  # (a literal replace here once missed a changed default and collected every source)
    for name in ("ca.pem", "app-cert.pem", "app-key.pem"):
        text = text.replace(f'"{name}"', json.dumps(str(emu.workdir / name)))
    path = tmp_path / "collect.toml"
    path.write_text(text + "\n[tuning]\nretry_base_seconds = 0.01\nretry_budget = 12\n", encoding="utf-8")
    return path


def scenario_clock(monkeypatch, now: dt.datetime) -> None:
    """Test-only: the collector's clock starts at `now` (and runs on from there)."""
    from evkit.collector import run

    real, t0 = run.collect, time.monotonic()

    def virtual(*args, **kwargs):
        kwargs.setdefault("now", lambda: now + dt.timedelta(seconds=time.monotonic() - t0))
        return real(*args, **kwargs)
    monkeypatch.setattr(run, "collect", virtual)


def _collect(emu, tmp_path: Path, monkeypatch, signing_key, sources: list[str], name: str = "bundle") -> tuple[int, Path]:
    scenario_clock(monkeypatch, emu.state.now)
    key, passphrase, _ = signing_key
    monkeypatch.setenv("EVKIT_PASSPHRASE", passphrase)
    monkeypatch.setenv("EVKIT_CERT_PASSPHRASE", emu.connection["certificate"]["key_passphrase"])
    out = tmp_path / name
    code = cli_collect.main(["collect", "--config", str(_config(emu, tmp_path, sources)), "--out", str(out),
                             "--key", str(key), "--quiet"])
    return code, out


def _pages(bundle: Path, source: str) -> list[tuple[dict, bytes]]:
    pages = []
    for meta in sorted((bundle / "data" / "raw" / source).rglob("*.meta.json")):
        side = json.loads(meta.read_bytes())
        body = (meta.parent / side["body_file"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == side["body_sha256"]
        pages.append((side, body))
    return pages


def _ledger(bundle: Path, source: str) -> list[dict]:
    return [e for e in json.loads((bundle / "data" / "collection.json").read_bytes())["ledger"] if e["source"] == source]


def test_signins_and_apps_collected_whole(tmp_path, monkeypatch, signing_key):
    with running_emulator(tmp_path / "emu", "bec-basic", faults="429=0.25,retry-after=1",
                          signin_page_size=60) as emu:
        code, bundle = _collect(emu, tmp_path, monkeypatch, signing_key, ["signins", "apps"])
        served = [r for r in emu.requests if "/auditLogs/signIns" in r[2]]
        sc = emu.state.scenario
        want = {r["Id"] for r in sc.records(sc.start, sc.end) if r["Operation"] in ("UserLoggedIn", "UserLoginFailed")}
    assert code == 0
    result = verify_bundle(bundle, signer_key=Path(f"{signing_key[0]}.pub"))
    assert result.verdict == "valid", result.findings
    assert any(fault == "429" for *_, fault in served)            # throttled, retried
    pages = [(s, b) for s, b in _pages(bundle, "signins") if s["kind"] == "signins.page"]
    assert len(pages) > 3 and all("$filter=" in s["url"] for s, _ in pages)
    got = {row["id"] for _, body in pages for row in json.loads(body)["value"]}
    assert got == want
    ledger = {e["unit"]: e for e in _ledger(bundle, "signins")}
    assert set(ledger) == {"interactiveUser", "nonInteractiveUser", "servicePrincipal"}
    assert all(e["status"] == "complete" and e["api_version"] == "beta" for e in ledger.values())
    assert sum(e["unique_ids"] for e in ledger.values()) == len(want)
    apps = {e["unit"]: e for e in _ledger(bundle, "apps")}
    assert set(apps) == {"servicePrincipals", "oauth2PermissionGrants", "appRoleAssignedTo-graph",
                         "appRoleAssignedTo-exchange"}
    assert all(e["status"] == "complete" for e in apps.values()) and apps["servicePrincipals"]["unique_ids"] >= 4


@pytest.mark.parametrize("refusal, words", [
    ({"withhold": ("AuditLog.Read.All",)}, ("AuditLog.Read.All and Directory.Read.All", "grant admin consent")),
    ({"entra_p1": False}, ("licence Microsoft Entra ID P1", "UserLoggedIn")),
])
def test_a_refused_sign_in_log_fails_only_signins_and_exits_4(tmp_path, monkeypatch, signing_key, capsys,
                                                              refusal, words):
    with running_emulator(tmp_path / "emu", "bec-basic", **refusal) as emu:
        code, bundle = _collect(emu, tmp_path, monkeypatch, signing_key, ["signins", "apps"])
    err = capsys.readouterr().err
    assert code == 4 and "finished INCOMPLETE" in err
    signins = _ledger(bundle, "signins")
    assert len(signins) == 3 and all(e["status"] == "failed" for e in signins)
    for word in words:
        assert all(word in e["reason"] for e in signins), (word, signins[0]["reason"])
    assert all(e["status"] == "complete" for e in _ledger(bundle, "apps"))
    refused = [s for s, _ in _pages(bundle, "signins")]
    assert refused and all(s["status"] == 403 for s in refused)   # the refusal itself is evidence


@pytest.mark.parametrize("step", [30, 75])
def test_killed_mid_paging_resumes_to_every_sign_in_once(tmp_path, monkeypatch, signing_key, step):
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from crashpoints import CrashInjector, Killed

    crash = CrashInjector(monkeypatch)
    with running_emulator(tmp_path / "emu", "bec-basic", signin_page_size=40) as emu:
        sc = emu.state.scenario
        want = {r["Id"] for r in sc.records(sc.start, sc.end) if r["Operation"] in ("UserLoggedIn", "UserLoginFailed")}
        with pytest.raises(Killed), crash.armed(step):
            _collect(emu, tmp_path, monkeypatch, signing_key, ["signins"])
        key, passphrase, _ = signing_key
        code = cli_collect.main(["collect", "--config", str(tmp_path / "collect.toml"), "--out",
                                 str(tmp_path / "bundle"), "--key", str(key), "--quiet", "--resume"])
    assert code == 0
    bundle = tmp_path / "bundle"
    got = [row["id"] for s, body in _pages(bundle, "signins") if s["kind"] == "signins.page"
           for row in json.loads(body)["value"]]
    assert set(got) == want
    ledger = _ledger(bundle, "signins")
    assert sum(e["unique_ids"] for e in ledger) == len(want) and all(e["status"] == "complete" for e in ledger)


def test_the_part_beyond_the_logs_30_days_is_not_asked_for_and_is_a_stated_gap(tmp_path, monkeypatch, signing_key,
                                                                              capsys):
    from evkit.cli import main
    from evkit.emulator import entra

    with running_emulator(tmp_path / "emu", "bec-basic") as probe:
        sc = probe.state.scenario
        case = (probe.workdir / "case.toml").read_text(encoding="utf-8")
    start = sc.start
    now = start + dt.timedelta(days=35)  # the log holds sign-ins from 5 days after the window's start
    with running_emulator(tmp_path / "emu2", "bec-basic", now=now) as emu:
        text = (emu.workdir / "collect.toml").read_text(encoding="utf-8")
        code, bundle = _collect(emu, tmp_path, monkeypatch, signing_key, ["signins"])
        held = now - dt.timedelta(days=30)
        want = {r["Id"] for r in sc.records(held + dt.timedelta(hours=1), sc.end) if entra._is_logon(r)}
        older = {r["Id"] for r in sc.records(sc.start, held) if entra._is_logon(r)}
    assert "window" in text and older and want
    err = capsys.readouterr().err
    assert code == 4 and "beyond-retention" in err
    entries = {e["unit"]: e for e in _ledger(bundle, "signins")}
    gap = entries.pop("beyond-retention")
    kept = (held + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert gap["status"] == "skipped" and gap["window"]["end"] == kept and not gap.get("covered_by")
    assert "keeps sign-ins for 30 days" in gap["reason"] and f"to {kept} were older than that" in gap["reason"]
    assert all(e["status"] == "complete" and e["window"]["start"] == kept for e in entries.values())
    pages = [(s, b) for s, b in _pages(bundle, "signins") if s["kind"] == "signins.page"]
    got = {row["id"] for _, body in pages for row in json.loads(body)["value"]}
    assert got == want  # every sign-in the log still held, none it did not
    # the report says the sign-in log is missing for that period, as a gap of the collection
    (tmp_path / "case.toml").write_text(case, encoding="utf-8")
    key = signing_key[0]
    assert main(["report", str(bundle), "--case", str(tmp_path / "case.toml"), "--out", str(tmp_path / "report"),
                 "--signer-key", f"{key}.pub"]) == 0
    findings = json.loads((tmp_path / "report" / "findings.json").read_text(encoding="utf-8"))
    note = findings["sign_ins"]["retention_note"] or findings["sign_ins"]["gap"]
    assert "keeps sign-ins for 30 days" in note and "so they are not in it" in note
    assert any(r["source"] == "signins" and r["unit"] == "beyond-retention" and r["status"] == "skipped"
               for r in findings["completeness"])
