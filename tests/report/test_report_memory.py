"""Hostile evidence cannot take the report's memory (issue 14, item 9): a stored page of
1.5 MB that inflates to 1.5 GB is a named problem, read in bounded memory."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from bundlekit import mia, page_files, write_bundle

A = "alice@contoso.com"
HERE = Path(__file__).resolve().parent

_RUN = """
import json, sys
def peak_kib():
    # VmHWM, not ru_maxrss: exec keeps the forking test process's ru_maxrss
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from bundlekit import permissive_report_options
from evkit.report import pipeline
from evkit.report.outputs import write
write.pdf_renderer = lambda: None
tmp = Path(sys.argv[2])
result = pipeline.run_report([tmp / "B"], tmp / "case.toml", tmp / "out", **permissive_report_options())
print(json.dumps({"problems": result.findings["problems"],
                  "peak_kib": peak_kib()}))
"""


def _bomb(path: Path, mebibytes: int, *, one_line: bool) -> None:
    block = b" " * (1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(b'{"value": [' + (b"" if one_line else b"\n"))
        for _ in range(mebibytes):
            fh.write(block)
        fh.write(b"]}")


def test_a_page_inflating_to_1_5_gb_is_a_problem_in_bounded_memory(tmp_path):
    """Before: 3.2 GB. The trailer states 1500 MiB, so neither reader inflates it; measured
    peak about 100 MB for the whole report (the limit leaves room for a loaded machine)."""
    rec = mia("m-own", "2023-06-02T08:05:00", A, folders={"\\\\Inbox": ["<o1>"]})
    bundle = write_bundle(tmp_path / "B", [rec], window=("2023-05-20T00:00:00Z", "2023-06-10T00:00:00Z"),
                          extra_files=page_files("u2", "p000001", b'{"value": []}'))
    body = bundle / "data" / "raw" / "ual" / "u2" / "p000001.json.gz"
    _bomb(body, 1500, one_line=True)
    assert body.stat().st_size < 2_000_000
    (tmp_path / "case.toml").write_text(
        '[case]\nid = "IR-TEST"\nwindow = ["2023-06-01T00:00:00Z", "2023-06-10T00:00:00Z"]\n\n'
        f'[indicators]\naccounts = ["{A}"]\nips = ["203.0.113.7"]\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", _RUN, str(HERE), str(tmp_path)], capture_output=True,
                          text=True, check=True, timeout=300)
    result = json.loads(proc.stdout.splitlines()[-1])
    assert any("raw/ual/u2/p000001.json.gz" in p and "1500 MiB" in p for p in result["problems"]), result
    assert result["peak_kib"] < 250 * 1024, result
