"""`evkit collect` end to end, as a subprocess, over real HTTPS against the emulator.

Clean runs with each auth method must end with exactly the ground truth's logged records;
faults must not change the record set; a cap window must be `capped` with exit 4. KILLER and
kill_then_resume (SIGKILL from a test-only sitecustomize, not in the product) serve
test_collect_scenarios.py and test_collect_ual_dense.py, which resume killed runs to the ground truth.

The collector's clock is set by run_collect (CLOCK, test-only, not in the product) to a week and a
day after the emulator's now, the scenario's end, as in a case collected the week after: past the
Management API's 7 days (`mgmt` skips, `ual` covers them) and within the Entra sign-in log's 30
days. On its own clock (years after the scenarios) no sign-in would still be in the log.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from evkit.emulator.testing import running_emulator
from evkit.manifests.verify import verify_bundle

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ALL_FAULTS = ("429=0.04,429-no-retry-after=0.03,af429-403=0.04,503=0.03,504=0.03,reset=0.03,"
              "slow=0.02:0.3,truncate=0.03,restart=0.05,token-expiry=20,retry-after=1")
TUNING = "\n[tuning]\nretry_base_seconds = 0.02\npoll_seconds = 0.05\nconcurrency = 4\nretry_budget = 12\n"

# A test-only hook: SIGKILL this process in the middle of its N-th atomic file write (after
# part of the temp file is written, before the rename), counting payload and state writes.
KILLER = textwrap.dedent('''
    import os, signal
    _after = int(os.environ.get("EVKIT_TEST_KILL_AFTER", "0"))
    if _after:
        import evkit.manifests.bundle as _b
        _real = _b.BundleWriter._atomic
        _count = [0]
        def _atomic(self, target, data):
            _count[0] += 1
            if _count[0] >= _after:
                tmp = self._open / "tmp" / "torn-by-test"
                with open(tmp, "wb") as handle:
                    handle.write(b"partial")
                os.kill(os.getpid(), signal.SIGKILL)
            return _real(self, target, data)
        _b.BundleWriter._atomic = _atomic
''')


# Test-only: the collector's clock starts at EVKIT_TEST_NOW (and runs on from there).
CLOCK = '''
import os
if os.environ.get("EVKIT_TEST_NOW"):
    import datetime as _dt, time as _time
    import evkit.collector.run as _run
    _base = _dt.datetime.fromisoformat(os.environ["EVKIT_TEST_NOW"])
    _t0 = _time.monotonic()
    _collect = _run.collect
    def _virtual(*args, **kwargs):
        kwargs.setdefault("now", lambda: _base + _dt.timedelta(seconds=_time.monotonic() - _t0))
        return _collect(*args, **kwargs)
    _run.collect = _virtual
'''
A_WEEK_LATER = dt.timedelta(days=8)


def clock_env(tmp: Path, now: dt.datetime) -> dict[str, str]:
    hook = tmp / "clock"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(CLOCK, encoding="utf-8")
    pythonpath = os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {"PYTHONPATH": pythonpath, "EVKIT_TEST_NOW": now.isoformat()}


def collected_at(emu: Any) -> dt.datetime:
    """When run_collect's collector thinks it runs: a week and a day after the emulator's now."""
    return emu.state.now + A_WEEK_LATER


def make_config(emu: Any, *, method: str = "certificate", sources: list[str] | None = None,
                name: str = "collect.toml") -> Path:
    text = (emu.workdir / "collect.toml").read_text(encoding="utf-8")
    text = text.replace('method = "certificate"', f'method = "{method}"')
    if sources is not None:
        text = re.sub(r"(?m)^sources = .*$", "sources = " + json.dumps(sources), text)
    path = emu.workdir / name
    path.write_text(text + TUNING, encoding="utf-8")
    return path


def run_collect(config: Path, out: Path, signing_key: tuple, emu: Any, *, resume: bool = False,
                env_extra: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    key, passphrase, _ = signing_key
    conn = emu.connection
    env = dict(os.environ, EVKIT_PASSPHRASE=passphrase, EVKIT_CLIENT_SECRET=conn["client_secret"],
               EVKIT_CERT_PASSPHRASE=conn["certificate"]["key_passphrase"])
    if "PYTHONPATH" not in (env_extra or {}):  # a caller with its own hook sets its own clock
        env.update(clock_env(emu.workdir, collected_at(emu)))
    env.update(env_extra or {})
    args = [sys.executable, "-m", "evkit", "collect", "--config", str(config), "--out", str(out),
            "--key", str(key), "--quiet"] + (["--resume"] if resume else [])
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout, check=False)


def kill_then_resume(config: Path, out: Path, signing_key: tuple, emu: Any, points: tuple[int, ...],
                     hook: Path, *, prelude: str = "", env_extra: dict[str, str] | None = None,
                     ) -> tuple[int, subprocess.CompletedProcess[str]]:
    """`evkit collect` SIGKILLed at each of `points` (KILLER, counted afresh in every run), resumed
    each time, then finished: (kills, the finishing run). A run killed before its bundle appeared
    left nothing to resume, so the next one starts again. `prelude`: more test-only hook code
    (run before KILLER) and `env_extra` its environment."""
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(prelude + KILLER, encoding="utf-8")
    pythonpath = os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    kills = 0
    proc = None
    for point in points:
        proc = run_collect(config, out, signing_key, emu, resume=out.exists(),
                           env_extra={**(env_extra or {}), "PYTHONPATH": pythonpath,
                                      "EVKIT_TEST_KILL_AFTER": str(point)})
        if proc.returncode != -signal.SIGKILL:
            break
        kills += 1
    if proc is None or not (out / "bagit.txt").exists():
        proc = run_collect(config, out, signing_key, emu, resume=True,
                           env_extra={**(env_extra or {}), "PYTHONPATH": pythonpath})
    return kills, proc


def raw_records(bundle: Path) -> dict[str, dict[str, str]]:
    """source -> {record id: operation} from every stored 2xx page (duplicates collapse)."""
    found: dict[str, dict[str, str]] = {"ual": {}, "mgmt": {}, "graph": {}}
    for meta in (bundle / "data" / "raw").rglob("*.meta.json"):
        side = json.loads(meta.read_bytes())
        if side["kind"] not in ("ual.page", "mgmt.blob", "graph.records") or not 200 <= side["status"] < 300:
            continue
        body = json.loads((meta.parent / side["body_file"]).read_bytes())
        if side["kind"] == "ual.page":
            recs = [json.loads(r["AuditData"]) for r in body["value"] if r["ResultIndex"] != -1]
        elif side["kind"] == "mgmt.blob":
            recs = body
        else:
            recs = [r["auditData"] for r in body["value"]]
        for rec in recs:
            found[side["source"]][rec["Id"]] = rec["Operation"]
    return found


def ledger(bundle: Path) -> list[dict[str, Any]]:
    return json.loads((bundle / "data" / "collection.json").read_bytes())["ledger"]


def assert_verifies(bundle: Path, signing_key: tuple) -> None:
    result = verify_bundle(bundle, signer_key=Path(f"{signing_key[0]}.pub"))
    assert result.verdict == "valid", result.findings


@pytest.fixture(scope="module")
def clean(tmp_path_factory, signing_key):
    """One clean certificate-auth run of bec-basic, shared by the comparisons below."""
    work = tmp_path_factory.mktemp("collect-clean")
    with running_emulator(work / "emu", scenario="bec-basic", seed=1) as emu:
        config = make_config(emu)
        proc = run_collect(config, work / "bundle", signing_key, emu)
        truth = json.loads((emu.workdir / "ground-truth.json").read_bytes())
        yield {"proc": proc, "bundle": work / "bundle", "truth": truth, "emu": emu}


def test_certificate_run_collects_the_ground_truth(clean, signing_key) -> None:
    proc, bundle, truth = clean["proc"], clean["bundle"], clean["truth"]
    assert proc.returncode == 0, proc.stderr
    assert f"evkit collect: complete; sealed {bundle}" in proc.stderr  # --quiet keeps the summary line
    assert "\x1b" not in proc.stderr  # no cursor escapes into a non-terminal
    assert_verifies(bundle, signing_key)
    records = raw_records(bundle)
    assert Counter(records["ual"].values()) == Counter(truth["logged"]["by_operation"])
    entries = ledger(bundle)
    # a 2023 window is wholly older than mgmt's 7 days: one skip per content type, stated, `ual` covering it
    skipped = [e for e in entries if e["status"] != "complete"]
    assert len(skipped) == 3 and all(e["source"] == "mgmt" and e["status"] == "skipped" and e["covered_by"] == "ual"
                                     for e in skipped), skipped
    assert "skipped, covered by another source: mgmt Audit.Exchange/" in proc.stderr
    assert sum(e["unique_ids"] for e in entries if e["source"] == "ual") == truth["logged"]["total"]
    units = {(e["source"], e["unit"].split("/")[0]) for e in entries}
    for needed in [("config", "Get-Mailbox"), ("config", "Get-AdminAuditLogConfig"),
                   ("config", "Get-OrganizationConfig"), ("config", "Get-MailboxAuditBypassAssociation"),
                   ("config", "Get-MailboxFolderStatistics"), ("licences", "subscribedSkus"),
                   ("licences", "users")]:
        assert needed in units
    users = json.loads(next((bundle / "data/raw/licences/users").glob("p000001.json")).read_bytes())
    assert any("assignedPlans" in u for u in users["value"])
    mailboxes = json.loads((bundle / "data/raw/config/Get-Mailbox/p000001.json").read_bytes())["value"]
    assert any(m.get("RecipientTypeDetails") == "SharedMailbox" for m in mailboxes)
    assert any("AuditOwner" in m for m in mailboxes)
    record = json.loads((bundle / "data/collection.json").read_bytes())
    assert record["clock"]["samples"] > 0 and len(record["host"]["tool_sha256"]) == 64
    assert (bundle / "data/logs/collect-01.log").is_file()
    assert records["graph"] and set(records["graph"]) <= set(records["ual"])


def test_secret_auth(tmp_path, signing_key) -> None:
    with running_emulator(tmp_path / "emu", scenario="bec-basic", seed=1) as emu:
        config = make_config(emu, method="secret", sources=["ual", "licences"])
        proc = run_collect(config, tmp_path / "bundle", signing_key, emu)
        truth = json.loads((emu.workdir / "ground-truth.json").read_bytes())
    assert proc.returncode == 0, proc.stderr
    assert_verifies(tmp_path / "bundle", signing_key)
    assert Counter(raw_records(tmp_path / "bundle")["ual"].values()) == Counter(truth["logged"]["by_operation"])


def test_device_code_auth_prints_the_user_code(tmp_path, signing_key) -> None:
    with running_emulator(tmp_path / "emu", scenario="bec-basic", seed=1, device_interval=1,
                          device_approve_after=1) as emu:
        config = make_config(emu, method="device-code", sources=["ual", "config"])
        proc = run_collect(config, tmp_path / "bundle", signing_key, emu)
        truth = json.loads((emu.workdir / "ground-truth.json").read_bytes())
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"code", proc.stderr, re.IGNORECASE)
    assert_verifies(tmp_path / "bundle", signing_key)
    assert Counter(raw_records(tmp_path / "bundle")["ual"].values()) == Counter(truth["logged"]["by_operation"])


def test_every_fault_kind_still_yields_the_clean_record_set(clean, tmp_path, signing_key) -> None:
    with running_emulator(tmp_path / "emu", scenario="bec-basic", seed=1, faults=ALL_FAULTS) as emu:
        config = make_config(emu)
        proc = run_collect(config, tmp_path / "bundle", signing_key, emu)
        served = Counter(fault for *_, fault in emu.requests if fault)
    assert proc.returncode == 0, proc.stderr
    assert_verifies(tmp_path / "bundle", signing_key)
    got, want = raw_records(tmp_path / "bundle"), raw_records(clean["bundle"])
    for source in ("ual", "mgmt", "graph"):
        assert got[source] == want[source], source
    assert {"429", "503", "reset", "truncate"} <= set(served), served
    retried = list((tmp_path / "bundle" / "data" / "raw").rglob("*.a1.meta.json"))
    assert retried and all(json.loads(p.read_bytes())["kind"] == "http.retried" for p in retried)
    assert sum(e["retries"] for e in ledger(tmp_path / "bundle")) > 0


def test_cap_window_is_capped_and_exits_4(clean, tmp_path, signing_key) -> None:
    start = clean["truth"]["incident_window"][0]
    day = start[:10]
    with running_emulator(tmp_path / "emu", scenario="bec-basic", seed=1,
                          faults=f"cap-window={day}T10:00:00Z/{day}T10:05:00Z") as emu:
        config = make_config(emu, sources=["ual"])
        proc = run_collect(config, tmp_path / "bundle", signing_key, emu)
    assert proc.returncode == 4, proc.stderr
    assert "capped" in proc.stderr and "INCOMPLETE" in proc.stderr
    assert_verifies(tmp_path / "bundle", signing_key)
    capped = [e for e in ledger(tmp_path / "bundle") if e["status"] == "capped"]
    assert capped and all("more exist" in e["reason"] for e in capped)
    assert all(e["window"]["end"] > f"{day}T10:00:00Z" and e["window"]["start"] < f"{day}T10:05:00Z"
               for e in capped)
    for entry in capped:  # split down to the smallest window (60 s .. 120 s) before giving up
        start_s, end_s = (datetime.fromisoformat(entry["window"][k].replace("Z", "+00:00")) for k in ("start", "end"))
        assert 60 <= (end_s - start_s).total_seconds() < 120
        assert "smallest split" in entry["reason"]
