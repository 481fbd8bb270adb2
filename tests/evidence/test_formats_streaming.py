"""Large exports are streamed: memory stays bounded whatever the file size.

The files are generated on the fly from one rendered row (fast), and read in a child process
whose peak RSS growth over its own post-import baseline is measured (no tracing overhead).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evkit.emulator.exports import purview_json, sample_records, write_export

ROWS = 200_000
MAX_GROWTH = 8 << 20           # bytes of RSS growth allowed while reading
REPO = Path(__file__).resolve().parents[2]

CHILD = """
import json, resource, sys
from evkit.evidence.formats import summarise_file

def high_water() -> int:
    # VmHWM is reliable where ru_maxrss is not (some sandboxes never update the latter)
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

base = high_water()
summary = summarise_file(sys.argv[1])
print(json.dumps({"count": summary["record_count"], "errors": summary["errors"],
                  "format": summary["format"], "growth": high_water() - base}))
"""


def read_in_child(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                          text=True, cwd=REPO, timeout=300, check=True)
    return json.loads(done.stdout)


def template_record() -> dict:
    """A small record (per-row cost dominates reading time; size only needs to beat the bound)."""
    return {k: v for k, v in sample_records()[3].items()
            if k in ("CreationTime", "Id", "Operation", "RecordType", "UserId", "Workload",
                     "ClientIP", "MailboxOwnerUPN", "SessionId")}


def write_large_purview_csv(path: Path, rows: int, bad_row: int) -> None:
    """The same bytes write_export would give per row, without per-row formatting cost."""
    small = path.with_suffix(".head")
    write_export([template_record()], small, "purview-csv")
    with open(small, newline="") as fh:
        header, row = fh.read().split("\r\n", 1)
    small.unlink()
    old_id = template_record()["Id"]
    with open(path, "w", newline="") as out:
        out.write(header + "\r\n")
        for i in range(1, rows + 1):
            line = row.replace(old_id, f"00000000-0000-4000-8000-{i:012d}")
            out.write(line if i != bad_row else line.replace('{""', '{""Id', 1))


def test_large_purview_csv_streams_in_bounded_memory(tmp_path):
    path = tmp_path / "large.csv"
    write_large_purview_csv(path, ROWS, bad_row=ROWS // 2)
    size = path.stat().st_size
    try:
        got = read_in_child(path)
    finally:
        path.unlink()
    assert got["format"] == "purview-csv"
    assert got["count"] == ROWS - 1
    assert [e["row"] for e in got["errors"]] == [ROWS // 2]
    assert size > 4 * MAX_GROWTH
    assert got["growth"] < MAX_GROWTH, f"RSS grew {got['growth']} bytes reading {size} bytes"


@pytest.mark.parametrize("envelope", [True])
def test_large_json_array_streams_in_bounded_memory(tmp_path, envelope):
    rows = ROWS
    element = json.dumps(template_record(), separators=(",", ":"))
    old_id = template_record()["Id"]
    path = tmp_path / "large.json"
    with open(path, "w") as out:
        out.write('{"value":[' if envelope else "[")
        for i in range(1, rows + 1):
            out.write(("," if i > 1 else "") + element.replace(old_id, f"id-{i:08d}"))
        out.write("]}" if envelope else "]")
    size = path.stat().st_size
    try:
        got = read_in_child(path)
    finally:
        path.unlink()
    assert got["format"] == "mgmt-blob" and got["count"] == rows and got["errors"] == []
    assert size > 4 * MAX_GROWTH
    assert got["growth"] < MAX_GROWTH, f"RSS grew {got['growth']} bytes reading {size} bytes"


def test_purview_json_escapes_slashes_like_the_portal():
    assert purview_json({"UserAgent": "Mozilla/5.0"}) == '{"UserAgent":"Mozilla\\/5.0"}'
