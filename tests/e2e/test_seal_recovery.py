"""`evkit collect` killed while sealing: every crash point ends in a bundle that verifies, with
nothing fetched twice and every run's log kept.

Two kinds of kill, against the emulator over real HTTPS:
- in process, `Killed` at filesystem steps of sealing spread over the whole seal, around its
  commit and in the clean-up after it (tests/crashpoints.py), then `--resume` as a user would
  (tests/manifests/test_seal_crash.py covers every single step of the bundle writer);
- real SIGKILLs of the `evkit collect` process, injected by strace at the system calls that
  open, commit and clean up a bundle (skipped, saying why, where strace cannot run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from crashpoints import CrashInjector, Killed
from test_collect_emulator import collected_at, make_config, raw_records, run_collect

from evkit.collector.auth import make_tokens
from evkit.collector.cli_collect import preflight
from evkit.collector import run as collector_run
from evkit.emulator.testing import running_emulator
from evkit.manifests.bundle import BundleWriter
from evkit.manifests.sealstate import SealState, has_leftover, seal_state
from evkit.manifests.verify import verify_bundle

pytestmark = pytest.mark.slow
MAX_STEPS = 1000


def refetched(bundle: Path) -> list[str]:
    """Pages stored a second time (`<name>.r2`...: fetched again after a crash)."""
    return sorted(p.name for p in (bundle / "data" / "raw").rglob("*") if re.search(r"\.r\d+\.", p.name))


def raw_files(bundle: Path) -> set[str]:
    raw = bundle / "data" / "raw"
    return {p.relative_to(raw).as_posix() for p in raw.rglob("*") if p.is_file()}


def run_logs(bundle: Path) -> list[str]:
    return sorted(p.name for p in (bundle / "data" / "logs").iterdir())


def assert_valid(bundle: Path, pub: Path, what: str) -> None:
    result = verify_bundle(bundle, signer_key=pub)
    assert result.verdict == "valid", (what, [str(f) for f in result.findings])


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("seal-emu"), scenario="bec-basic", seed=1) as running:
        yield running


CLOCK: list = []


def collect(*args, **kwargs):
    """collector.run.collect in this process, at the clock run_collect gives its subprocesses."""
    kwargs.setdefault("now", CLOCK[-1])
    return collector_run.collect(*args, **kwargs)


def in_process(emu, config: Path, signing_key: tuple, monkeypatch) -> tuple:
    """(cfg, key, tokens) for calling collector.run.collect in this process."""
    at = collected_at(emu)
    CLOCK.append(lambda: at)
    key_path, passphrase, _ = signing_key
    conn = emu.connection
    monkeypatch.setenv("EVKIT_PASSPHRASE", passphrase)
    monkeypatch.setenv("EVKIT_CERT_PASSPHRASE", conn["certificate"]["key_passphrase"])
    monkeypatch.setenv("EVKIT_CLIENT_SECRET", conn["client_secret"])
    cfg, credentials, key = preflight({"--config": str(config), "--out": str(config.parent / "unused"),
                                       "--key": str(key_path), "--resume": False})
    return cfg, key, make_tokens(cfg, credentials)


def test_killed_at_every_step_of_seal_then_resumed(emu, tmp_path, signing_key, monkeypatch) -> None:
    pub = Path(f"{signing_key[0]}.pub")
    cfg, key, tokens = in_process(emu, make_config(emu, name="seal-crash.toml"), signing_key, monkeypatch)
    injector = CrashInjector(monkeypatch)
    kill_at: list[int | None] = [1]
    real_seal = BundleWriter.seal

    def seal(self, *args, **kwargs):
        if kill_at[0] is None:
            return real_seal(self, *args, **kwargs)
        with injector.armed(kill_at[0]):
            return real_seal(self, *args, **kwargs)

    monkeypatch.setattr(BundleWriter, "seal", seal)
    template = tmp_path / "template"
    with pytest.raises(Killed):   # a whole collection, killed at the first step of its seal
        collect(cfg, template, key=key, tokens=tokens, quiet=True)
    fetched = raw_files(template)
    assert fetched and run_logs(template) == ["collect-01.log"]
    # a dry pass counts the steps of one seal and finds its commit (bagit.txt renamed into place)
    dry = tmp_path / "dry"
    shutil.copytree(template, dry, symlinks=True)
    kill_at[0] = MAX_STEPS
    collect(cfg, dry, key=key, tokens=tokens, resume=True, quiet=True)
    steps = list(injector.calls)
    commit = next(n for n, call in enumerate(steps, 1) if call.startswith("rename") and "bagit.txt'" in call)
    assert 20 < commit < len(steps)
    chosen = sorted({*range(1, commit, max(1, commit // 8)), commit - 1, commit, commit + 1,
                     *range(commit + 2, len(steps) + 1)})
    committed = 0
    for step in chosen:
        out = tmp_path / f"b{step}"
        shutil.copytree(template, out, symlinks=True)
        kill_at[0] = step
        with pytest.raises(Killed):
            collect(cfg, out, key=key, tokens=tokens, resume=True, quiet=True)
        kill_at[0] = None
        state = seal_state(out)
        assert state is (SealState.SEALED if step > commit else SealState.OPEN), (step, steps[step - 1], state)
        if state is SealState.SEALED:   # the commit happened: verifies as it lies, leftover or not
            committed += 1
            assert_valid(out, pub, f"step {step} ({steps[step - 1]}) before the clean-up")
        outcome = collect(cfg, out, key=key, tokens=tokens, resume=True, quiet=True)
        assert outcome.complete and outcome.already_sealed == (state is SealState.SEALED), step
        assert not os.path.lexists(out / ".evkit-open"), step
        assert_valid(out, pub, f"step {step} ({steps[step - 1]})")
        assert raw_files(out) == fetched, f"step {step} ({steps[step - 1]}): pages fetched again"
        record = json.loads((out / "data" / "collection.json").read_bytes())
        assert run_logs(out) == [f"collect-{n:02d}.log" for n in range(1, record["runs"] + 1)], step
        assert record["runs"] == (2 if state is SealState.SEALED else 3), step
        shutil.rmtree(out)
    assert committed >= 2


# --------------------------------------------------------------------------- real SIGKILLs
def _strace_usable() -> str | None:
    if shutil.which("strace") is None:
        return "strace is not installed (.ci/install-tools installs it)"
    probe = subprocess.run(["strace", "-f", "-qq", "-e", "trace=none", "true"], capture_output=True,
                           text=True, check=False)
    if probe.returncode != 0:
        return f"strace cannot trace here (ptrace not permitted?): {probe.stderr.strip()[:200]}"
    return None


def strace_collect(config: Path, out: Path, signing_key: tuple, emu, strace_args: list[str],
                   *, resume: bool = False) -> subprocess.CompletedProcess[str]:
    """run_collect, under strace; the SIGKILL is delivered to the collector at the chosen call."""
    real = subprocess.run
    try:
        subprocess.run = lambda args, **kw: real(["strace", "-f", "-qq", "-o", os.devnull, *strace_args,
                                                  *args], **kw)   # a later -o wins
        return run_collect(config, out, signing_key, emu, resume=resume)
    finally:
        subprocess.run = real


@pytest.fixture(scope="module")
def clean_run(emu, tmp_path_factory, signing_key):
    """One clean run: the reference bundle every recovered one must match."""
    if _strace_usable():
        pytest.skip(_strace_usable())
    work = tmp_path_factory.mktemp("seal-strace")
    config = make_config(emu, name="seal-strace.toml")
    proc = run_collect(config, work / "clean", signing_key, emu)
    assert proc.returncode == 0, proc.stderr
    return {"config": config, "bundle": work / "clean"}


def commit_point(config: Path, out: Path, signing_key: tuple, emu, monkeypatch) -> str:
    """Leave `out` open with everything fetched, and return the strace `inject` filter that kills
    its resumed run exactly at the commit rename (a resumed run with nothing left to fetch makes
    the same system calls every time, so the count found on a copy holds)."""
    cfg, key, tokens = in_process(emu, config, signing_key, monkeypatch)
    with monkeypatch.context() as patch:
        patch.setattr(BundleWriter, "seal", lambda *a, **kw: (_ for _ in ()).throw(Killed("at seal")))
        with pytest.raises(Killed):
            collect(cfg, out, key=key, tokens=tokens, quiet=True)
    assert seal_state(out) is SealState.OPEN and run_logs(out) == ["collect-01.log"]
    probe = out.parent / "probe"
    shutil.copytree(out, probe, symlinks=True)
    trace = out.parent / "renames.trace"
    done = strace_collect(config, probe, signing_key, emu, ["-e", "trace=rename", "-o", str(trace)], resume=True)
    assert done.returncode == 0, done.stderr
    # strace counts invocations per thread: count the renames of the thread that commits
    calls = [line.split(None, 1) for line in trace.read_text().splitlines()
             if "rename(" in line and "resumed>" not in line]
    commits = [n for n, (_, call) in enumerate(calls) if '/bagit.txt"' in call]
    assert len(commits) == 1, commits
    thread = calls[commits[0]][0]
    return f"rename:when={sum(1 for tid, _ in calls[:commits[0] + 1] if tid == thread)}"


@pytest.mark.parametrize("inject, expect", [
    ("rename:when=1", "absent"),            # the first rename: the new bundle was never renamed into place
    ("COMMIT", "open"),                     # killed at the commit itself (bagit.txt renamed in): still open
    ("rmdir:when=1", "sealed"),             # killed at the final rmdir of the open-state folder
    ("unlinkat:when=2", "sealed"),          # killed while the open-state folder is being removed
])
def test_sigkill_under_strace_then_recover(emu, clean_run, tmp_path, signing_key, monkeypatch, inject,
                                          expect) -> None:
    config, clean = clean_run["config"], clean_run["bundle"]
    pub = Path(f"{signing_key[0]}.pub")
    out = tmp_path / "bundle"
    if inject == "COMMIT":
        inject, resume = commit_point(config, out, signing_key, emu, monkeypatch), True
    else:
        resume = False
    call, when = inject.split(":")
    killed = strace_collect(config, out, signing_key, emu, ["-e", f"inject={call}:signal=SIGKILL:{when}"],
                            resume=resume)
    assert killed.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL), (inject, killed.returncode, killed.stderr)
    state = "absent" if not os.path.lexists(out) else str(seal_state(out))
    assert state == expect, (inject, state, sorted(p.name for p in out.iterdir()) if out.exists() else None)
    if expect == "sealed":
        assert has_leftover(out)
        assert_valid(out, pub, inject)
    fetched = raw_files(out) if expect != "absent" else set()
    again = run_collect(config, out, signing_key, emu, resume=expect != "absent")
    assert again.returncode == 0, again.stderr
    if expect == "sealed":
        assert "already sealed" in again.stderr
    assert not os.path.lexists(out / ".evkit-open")
    assert_valid(out, pub, inject)
    assert refetched(out) == [] and fetched <= raw_files(out), "pages fetched twice or lost"
    assert raw_records(out) == raw_records(clean)
    # every run got as far as sealing, so each stored its own log; none overwrote or lost another's
    runs = json.loads((out / "data" / "collection.json").read_bytes())["runs"]
    assert runs == {"absent": 1, "open": 3, "sealed": 1}[expect]
    assert run_logs(out) == [f"collect-{n:02d}.log" for n in range(1, runs + 1)]
