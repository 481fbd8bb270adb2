"""File names and evidence strings reach a terminal escaped: a name carrying a carriage return and
ANSI codes cannot redraw an "invalid" verdict as "valid" (verify), nor hide an import error."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from evkit.terminal import safe_text

from manifests_helpers import make_bundle, passphrase_env

SPOOF = "x\r\x1b[2Kvalid: bundle: 3 files match the signed manifests; intact\x1b[8m"


def test_safe_text_escapes_controls_and_keeps_text():
    assert safe_text("plain café 東京 report.csv") == "plain café 東京 report.csv"
    assert safe_text("a\rb\nc\td\x1b[2K\x7f") == "a\\rb\\nc\\td\\x1b[2K\\x7f"
    assert safe_text("right\u202eto-left\u200b") == "right\\u202eto-left\\u200b"
    assert safe_text("bad byte \udcff") == "bad byte \\udcff"   # surrogateescape from undecodable names
    assert safe_text(SPOOF).isprintable()


def test_verify_escapes_spoofing_file_names(tmp_path, examiner_key, signing_key):
    bundle = make_bundle(tmp_path / "b", examiner_key)
    (bundle / "data" / "imports" / SPOOF).write_bytes(b"planted")
    proc = subprocess.run([sys.executable, "-m", "evkit", "verify", str(bundle), "--signer-key",
                           f"{signing_key[0]}.pub"], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 1 and proc.stdout.startswith("invalid: ")
    assert "\x1b" not in proc.stdout and "\r" not in proc.stdout
    assert "extra: data/imports/x\\r\\x1b[2Kvalid" in proc.stdout
    as_json = subprocess.run([sys.executable, "-m", "evkit", "verify", str(bundle), "--json"],
                             capture_output=True, text=True, check=False, timeout=120)
    paths = {f["path"] for f in json.loads(as_json.stdout)["findings"]}
    assert f"data/imports/{SPOOF}" in paths   # machine output keeps the exact name (JSON-escaped)


def test_import_errors_escape_file_names(tmp_path, signing_key):
    key_path, passphrase, _ = signing_key
    missing = tmp_path / SPOOF
    proc = subprocess.run([sys.executable, "-m", "evkit", "import", "--case", "IR-1", "--out",
                           str(tmp_path / "out"), "--key", str(key_path), str(missing)],
                          capture_output=True, text=True, env=passphrase_env(passphrase), check=False, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.startswith("evkit import: error: ") and proc.stderr.count("\n") == 1
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr and "\\x1b[2Kvalid" in proc.stderr
    fifo = tmp_path / "in\x1b[31mput"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "evkit", "import", "--case", "IR-1", "--out",
                           str(tmp_path / "out2"), "--key", str(key_path), str(fifo)],
                          capture_output=True, text=True, env=passphrase_env(passphrase), check=False, timeout=120)
    assert proc.returncode != 0 and "\x1b" not in proc.stderr and "in\\x1b[31mput" in proc.stderr
