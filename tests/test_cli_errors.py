"""The one mapping from errors to exit codes and messages (evkit.clitools.run_cli), and the
escaping of everything a command prints from file names or evidence (evkit.terminal.safe_text)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evkit.cli import main
from evkit.clitools import UsageError, run_cli
from evkit.errors import EvkitError
from evkit.exitcodes import ExitCode
from evkit.report.errors import CaseFileError, InvalidEvidenceError
from evkit.terminal import safe_text

DOC = """Usage:
  evkit thing [--flag]
"""


def run_raising(capsys, exc: BaseException, **kwargs) -> tuple[int, str, str]:
    def body(_args):
        raise exc
    code = run_cli(DOC, ["thing"], body, **kwargs)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- safe_text --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["plain ascii", "Müller – 東京 ✓", "tab-free path/with spaces", ""])
def test_printable_text_is_unchanged(text):
    assert safe_text(text) == text


@pytest.mark.parametrize("raw, shown", [
    ("a\x1b[2Jb", "a\\x1b[2Jb"),                    # terminal escape sequence
    ("line1\nline2\rover\tt", "line1\\nline2\\rover\\tt"),
    ("invoice\u202efdp.exe", "invoice\\u202efdp.exe"),  # right-to-left override
    ("x\x00y\x7f\x9b", "x\\x00y\\x7f\\x9b"),            # NUL, DEL, C1 CSI
    ("a\u2028b", "a\\u2028b"),                         # line separator
    ("\U000f0000", "\\U000f0000"),                      # private use
])
def test_control_and_format_characters_are_escaped(raw, shown):
    assert safe_text(raw) == shown


def test_non_strings_are_shown_as_text():
    assert safe_text(Path("a\nb")) == "a\\nb"


# -- EvkitError ---------------------------------------------------------------------------------

def test_evkit_error_is_one_line_with_its_exit_status(capsys):
    code, out, err = run_raising(capsys, EvkitError("the thing failed"))
    assert code == ExitCode.FAILED and out == ""
    assert err == "evkit thing: error: the thing failed\n"


def test_a_package_errors_class_exit_status_is_used(capsys):
    code, _, err = run_raising(capsys, CaseFileError("case.toml: window.start: not a time"))
    assert code == ExitCode.USAGE and err == "evkit thing: error: case.toml: window.start: not a time\n"


def test_an_instance_exit_status_wins(capsys):
    code, _, _ = run_raising(capsys, EvkitError("cannot verify", exit_status=ExitCode.CANNOT_VERIFY))
    assert code == ExitCode.CANNOT_VERIFY


def test_details_are_printed_before_the_one_line_error(capsys):
    code, _, err = run_raising(capsys, InvalidEvidenceError("2 finding(s): refused", ["b1: altered", "b2: extra"]))
    assert code == ExitCode.FAILED
    assert err.splitlines() == ["  b1: altered", "  b2: extra", "evkit thing: error: 2 finding(s): refused"]


def test_usage_error_raised_by_the_body_exits_two(capsys):
    code, _, err = run_raising(capsys, UsageError("set the environment variable EVKIT_PASSPHRASE"))
    assert code == ExitCode.USAGE
    assert err == "evkit thing: error: set the environment variable EVKIT_PASSPHRASE\n"


def test_control_characters_in_a_message_are_escaped(capsys):
    code, _, err = run_raising(capsys, EvkitError("bad file evil\x1b]0;owned\x07\nname"),
                               hint=lambda args, exc: "; hint \x1b[1m")
    assert code == ExitCode.FAILED
    assert "\x1b" not in err and "\x07" not in err
    assert err == "evkit thing: error: bad file evil\\x1b]0;owned\\x07\\nname; hint \\x1b[1m\n"


def test_control_characters_in_details_are_escaped(capsys):
    _, _, err = run_raising(capsys, InvalidEvidenceError("refused", ["data/\x1b[2Jx: altered"]))
    assert "\x1b" not in err and "  data/\\x1b[2Jx: altered\n" in err


# -- OSError, Ctrl-C, closed pipe ---------------------------------------------------------------

def test_os_error_names_the_file_on_one_line(capsys):
    exc = FileNotFoundError(errno.ENOENT, "No such file or directory", "/cases/in\x1bput.csv")
    code, _, err = run_raising(capsys, exc)
    assert code == ExitCode.FAILED
    assert err == "evkit thing: error: /cases/in\\x1bput.csv: No such file or directory\n"


def test_os_error_without_a_file_gives_its_reason(capsys):
    code, _, err = run_raising(capsys, OSError(errno.ENOSPC, "No space left on device"))
    assert code == ExitCode.FAILED and err == "evkit thing: error: No space left on device\n"


def test_keyboard_interrupt_exits_130(capsys):
    code, _, err = run_raising(capsys, KeyboardInterrupt())
    assert code == ExitCode.INTERRUPTED == 130
    assert err == "evkit thing: interrupted.\n"


def test_broken_pipe_exits_quietly(capsys):
    code, out, err = run_raising(capsys, BrokenPipeError(errno.EPIPE, "Broken pipe"))
    assert code == ExitCode.FAILED and out == "" and err == ""


def test_other_exceptions_are_not_swallowed(capsys):
    with pytest.raises(ZeroDivisionError):
        run_raising(capsys, ZeroDivisionError("a bug shows as a bug"))


# -- collect: how to resume --------------------------------------------------------------------

@pytest.fixture
def collect_stubbed(monkeypatch, tmp_path):
    """`evkit collect` with pre-flight and token set-up stubbed; returns (set the run's failure, out)."""
    from evkit.collector import auth, cli_collect, run
    from evkit.manifests.layout import OPEN_DIR

    out = tmp_path / "case 1"
    monkeypatch.setattr(cli_collect, "preflight", lambda args: (None, None, None))
    monkeypatch.setattr(auth, "make_tokens", lambda cfg, credentials: None)
    failure: dict[str, BaseException] = {}

    def collect(cfg, out_dir, **kwargs):
        (out_dir / OPEN_DIR).mkdir(parents=True)  # the bundle is open (not sealed) when the run stops
        raise failure["exc"]
    monkeypatch.setattr(run, "collect", collect)
    return failure, out


def test_ctrl_c_during_collect_says_how_to_resume(collect_stubbed, capsys):
    failure, out = collect_stubbed
    failure["exc"] = KeyboardInterrupt()
    code = main(["collect", "--config", "collect.toml", "--out", str(out), "--key", "examiner.key"])
    err = capsys.readouterr().err
    assert code == 130
    assert err == (f"evkit collect: interrupted; the bundle in {out} stays open: continue with "
                   f"`evkit collect --config collect.toml --out '{out}' --key examiner.key --resume`\n")


def test_a_failed_collect_says_how_to_resume(collect_stubbed, capsys):
    from evkit.collector.errors import NetworkError

    failure, out = collect_stubbed
    failure["exc"] = NetworkError("graph.microsoft.com: connection reset")
    code = main(["collect", "--config", "collect.toml", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == ExitCode.FAILED and err.count("\n") == 1
    assert err.startswith("evkit collect: error: graph.microsoft.com: connection reset; the bundle in ")
    assert err.endswith(f"fix the cause, then continue with `evkit collect --config collect.toml --out '{out}' "
                        "--resume`\n")


def test_no_resume_hint_when_nothing_was_opened(monkeypatch, tmp_path, capsys):
    from evkit.collector import cli_collect

    def interrupted(args):
        raise KeyboardInterrupt  # at the passphrase prompt, before the bundle exists
    monkeypatch.setattr(cli_collect, "preflight", interrupted)
    code = main(["collect", "--config", "c.toml", "--out", str(tmp_path / "new")])
    assert code == 130 and capsys.readouterr().err == "evkit collect: interrupted.\n"


# -- real commands --------------------------------------------------------------------------------

def test_a_hostile_path_reaches_the_terminal_escaped(tmp_path, capsys):
    hostile = tmp_path / "bundle\x1b[2J\x1b]0;pwned\x07"
    code = main(["custody", str(hostile), "--event", "note", "--key", "k"])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE
    assert "\x1b" not in err and "\x07" not in err and "bundle\\x1b[2J\\x1b]0;pwned\\x07" in err


def test_verify_findings_naming_a_hostile_file_are_escaped(tmp_path, signing_key, capsys):
    from evkit.manifests.bundle import BundleWriter
    from evkit.manifests.keys import load_signing_key

    key_path, passphrase, _ = signing_key
    root = tmp_path / "IR-1_C1"
    writer = BundleWriter.create(root, case_id="IR-1", collection_id="C1")
    writer.write("imports/a.csv", b"a,b\n")
    writer.seal(load_signing_key(key_path, passphrase), bag_info={}, collection={"kind": "import"})
    (root / "data" / "imports" / "x\x1b[31m\rfake: valid").write_bytes(b"planted")
    code = main(["verify", str(root), "--signer-key", f"{key_path}.pub"])
    out = capsys.readouterr().out
    assert code == ExitCode.FAILED
    assert "\x1b" not in out and "\r" not in out
    assert "x\\x1b[31m\\rfake: valid" in out


def test_a_bad_trusted_key_option_is_a_usage_error(tmp_path, capsys):
    code = main(["verify", str(tmp_path), "--signer-key", str(tmp_path / "missing.pub")])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE and err.count("\n") == 1 and err.startswith("evkit verify: error: ")


# -- a bug --------------------------------------------------------------------------------------

BUGGY_VERIFY = ("import sys; from evkit.manifests import cli_verify; "
                "cli_verify.verify_bundle = lambda *a, **k: 1 / 0; "
                "sys.argv = ['evkit', 'verify', 'bundle']; "
                "from evkit.cli import main; sys.exit(main())")


def _buggy_verify(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BUGGY_VERIFY], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env}, check=False)


def test_a_bug_ends_the_program_with_one_line_not_a_traceback():
    proc = _buggy_verify(EVKIT_DEBUG="")
    assert proc.returncode == 1
    assert proc.stderr == ("evkit verify: internal error (ZeroDivisionError: division by zero); this is a bug "
                           "in evkit: run again with EVKIT_DEBUG=1 to see where it happened, and report it\n")


def test_evkit_debug_shows_the_traceback():
    proc = _buggy_verify(EVKIT_DEBUG="1")
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "ZeroDivisionError" in proc.stderr
