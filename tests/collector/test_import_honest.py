"""`evkit import` never turns an unreadable file into a quiet success (issue 14, items 1, 3 and 9):
one line per file, unknown formats sealed but warned about with exit 4, hostile rows counted in
bounded memory, and a file that changes while it is read refused."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from evkit.collector import importer
from evkit.collector.importer import import_files
from evkit.evidence.errors import ImportInputError
from evkit.evidence.formats import MAX_LISTED, summarise_file
from evkit.exitcodes import ExitCode
from evkit.manifests.verify import verify_bundle

RECORD = {"Id": "r-1", "CreationTime": "2023-06-02T08:05:00", "RecordType": 50,
          "Operation": "MailItemsAccessed", "UserId": "alice@contoso.com"}
HEADER = "RecordId,CreationDate,RecordType,Operation,UserId,AuditData\r\n"


def purview_row(record: dict, user: str = "alice@contoso.com") -> str:
    cell = json.dumps(record).replace('"', '""')
    return f'{record["Id"]},{record["CreationTime"]},50,{record["Operation"]},{user},"{cell}"\r\n'


def purview_csv(*records: dict) -> str:
    return HEADER + "".join(purview_row(r) for r in records)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("audit.csv", purview_csv(RECORD))
    return buf.getvalue()


# files in no format evkit knows, as a client hands them over
UNKNOWN = {
    "CloudAppEvents.csv": (b"Timestamp,ActionType,Application,AccountObjectId,RawEventData\r\n"
                           b"2023-06-02T08:05:00Z,MailItemsAccessed,Microsoft Exchange Online,x,{}\r\n",
                           "in no format evkit knows"),
    "export.zip": (_zip(), "a zip archive"),
    "empty.csv": (b"", "the file is empty"),
    "bom-only.csv": (b"\xef\xbb\xbf", "the file is empty (a byte-order mark and nothing else)"),
}


def _run_import(evkit_cli, signing_key, out: Path, *files: Path):
    key_path, passphrase, _ = signing_key
    env = dict(os.environ, EVKIT_PASSPHRASE=passphrase)
    return evkit_cli("import", "--case", "IR-14", "--out", str(out), "--key", str(key_path),
                     *map(str, files), env=env)


def test_one_line_per_file_and_an_unknown_format_is_sealed_named_and_exits_4(tmp_path, evkit_cli, signing_key):
    good = tmp_path / "audit.csv"
    good.write_text(purview_csv(RECORD, {**RECORD, "Id": "r-2"}) + "not,a,row\r\n", encoding="utf-8")
    sources = [good]
    for name, (blob, _) in UNKNOWN.items():
        (tmp_path / name).write_bytes(blob)
        sources.append(tmp_path / name)
    proc = _run_import(evkit_cli, signing_key, tmp_path / "b", *sources)
    assert proc.returncode == ExitCode.INCOMPLETE == 4, proc.stderr
    lines = proc.stdout.splitlines()
    assert "audit.csv: purview-csv, 2 record(s), 1 rejected row(s), 0 lossy cell(s)" in lines
    for name, (blob, why) in UNKNOWN.items():
        assert f"{name}: unknown, 0 record(s), 0 rejected row(s), 0 lossy cell(s)" in lines
        [warning] = [w for w in proc.stderr.splitlines() if w.startswith(f"evkit import: warning: {tmp_path / name}:")]
        assert why in warning and "sealed byte for byte" in warning
        assert (tmp_path / "b" / "data" / "imports" / name).read_bytes() == blob
    assert "4 file(s) in no known format: CloudAppEvents.csv, export.zip, empty.csv, bom-only.csv" in proc.stderr
    assert "Traceback" not in proc.stderr
    pub = Path(f"{signing_key[0]}.pub")
    assert verify_bundle(tmp_path / "b", signer_key=pub).verdict == "valid"


def test_a_known_export_alone_exits_0(tmp_path, evkit_cli, signing_key):
    good = tmp_path / "audit.csv"
    good.write_text(purview_csv(RECORD), encoding="utf-8")
    proc = _run_import(evkit_cli, signing_key, tmp_path / "b", good)
    assert proc.returncode == 0, proc.stderr
    assert "audit.csv: purview-csv, 1 record(s), 0 rejected row(s), 0 lossy cell(s)" in proc.stdout.splitlines()
    assert "warning" not in proc.stderr


def test_the_report_over_an_imported_unknown_file_states_it(tmp_path, evkit_cli, signing_key, monkeypatch):
    """End to end: what `evkit import` sealed is a problem and an unknown period in the report."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
    from bundlekit import permissive_report_options
    from evkit.report import pipeline
    from evkit.report.outputs import write
    src = tmp_path / "CloudAppEvents.csv"
    src.write_bytes(UNKNOWN["CloudAppEvents.csv"][0])
    assert _run_import(evkit_cli, signing_key, tmp_path / "b", src).returncode == 4
    case = tmp_path / "case.toml"
    case.write_text('[case]\nid = "IR-14"\nwindow = ["2023-06-01T00:00:00Z", "2023-06-10T00:00:00Z"]\n\n'
                    '[indicators]\naccounts = ["alice@contoso.com"]\nips = ["203.0.113.7"]\n', encoding="utf-8")
    monkeypatch.setattr(write, "pdf_renderer", lambda: None)
    findings = pipeline.run_report([tmp_path / "b"], case, tmp_path / "out", **permissive_report_options()).findings
    assert any("CloudAppEvents.csv" in p for p in findings["problems"])
    assert not findings["summary"]["headline"].startswith("No activity")
    [alice] = [m for m in findings["mailboxes"] if m["mailbox"] == "alice@contoso.com"]
    assert alice["verdict"] != "no evidence of access" and alice["unknown"]


# ---- NUL bytes and CR-only line endings are read, not "unknown" ----------------------------

def test_a_csv_with_a_nul_byte_is_read(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_text(HEADER + purview_row(RECORD, user="alice\x00@contoso.com")
                    + purview_row({**RECORD, "Id": "r-2"}), encoding="utf-8")
    summary = summarise_file(path)
    assert (summary["format"], summary["record_count"], summary["error_count"]) == ("purview-csv", 2, 0)


def test_a_nul_byte_inside_auditdata_is_a_counted_row(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_text(purview_csv({**RECORD, "UserId": "al\x00ice"}, {**RECORD, "Id": "r-2"})
                    .replace("\\u0000", "\x00"), encoding="utf-8")
    summary = summarise_file(path)
    assert (summary["format"], summary["record_count"], summary["error_count"]) == ("purview-csv", 1, 1)
    assert summary["errors"][0]["row"] == 1


def test_a_csv_with_cr_only_line_endings_is_read(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(purview_csv(RECORD, {**RECORD, "Id": "r-2"}).replace("\r\n", "\r").encode())
    summary = summarise_file(path)
    assert (summary["format"], summary["record_count"], summary["error_count"]) == ("purview-csv", 2, 0)


# ---- deep nesting and lone surrogates are counted rows --------------------------------------

DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize("shape", ["array", "lines", "csv", "ual-json", "sentinel-json"])
def test_5000_deep_nesting_is_a_counted_row_error(tmp_path, shape):
    deep = json.dumps({**RECORD, "Id": "r-deep", "Folders": "DEEP"}).replace('"DEEP"', DEEP)
    plain = json.dumps(RECORD)
    path = tmp_path / "deep.txt"
    if shape == "array":
        path.write_text(f"[{deep},{plain}]", encoding="utf-8")
    elif shape == "lines":
        path.write_text(f"{deep}\n{plain}\n", encoding="utf-8")
    elif shape == "csv":
        cell = deep.replace('"', '""')
        path.write_text(HEADER + f'r-deep,2023-06-02T08:05:00,50,MailItemsAccessed,a,"{cell}"\r\n'
                        + purview_row(RECORD), encoding="utf-8")
    elif shape == "ual-json":
        path.write_text(json.dumps([{"AuditData": plain, "Identity": "x"},
                                    {"AuditData": "DEEP", "Identity": "y"}]).replace('"DEEP"', json.dumps(deep)),
                        encoding="utf-8")
    else:
        row = {"OfficeId": "r-deep", "TimeGenerated": "2023-06-02T08:05:00Z", "Operation": "MailItemsAccessed",
               "OfficeWorkload": "Exchange", "Folders": "DEEP"}
        path.write_text(json.dumps([{**row, "OfficeId": "r-1", "Folders": "[]"}, row])
                        .replace('"DEEP"', DEEP), encoding="utf-8")
    summary = summarise_file(path)
    assert summary["record_count"] == 1 and summary["error_count"] == 1, summary
    assert "nested more than 100 levels deep" in summary["errors"][0]["reason"]


def test_a_record_nested_just_under_pythons_limit_is_refused_before_it_can_crash_later(tmp_path):
    deep = json.dumps({**RECORD, "Folders": "DEEP"}).replace('"DEEP"', "[" * 900 + "]" * 900)
    path = tmp_path / "deep.json"
    path.write_text(f"[{deep}]", encoding="utf-8")
    summary = summarise_file(path)
    assert summary["record_count"] == 0 and "nested more than 100" in summary["errors"][0]["reason"]


def test_a_lone_surrogate_is_kept_and_the_sidecar_still_written(tmp_path, signing_key):
    from evkit.manifests.keys import load_signing_key
    path = tmp_path / "blob.json"
    path.write_text('[{"Id": "\\udc00", "Operation": "X"}, '
                    + json.dumps({**RECORD, "UserId": "SUR"}).replace("SUR", "\\udc00") + "]", encoding="utf-8")
    bundle = import_files(tmp_path / "b", case_id="IR-14", key=load_signing_key(*signing_key[:2]), files=[path])
    meta = json.loads((bundle / "data" / "imports" / "blob.json.meta.json").read_bytes())
    assert (meta["record_count"], meta["error_count"]) == (1, 1)
    assert meta["errors"][0]["reason"] == "record \udc00 has no CreationTime"


# ---- huge error counts: the count and the first errors, in bounded memory -------------------

_PEAK_FN = """def peak_kib():
    # VmHWM, not ru_maxrss: exec keeps the forking test process's ru_maxrss
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
"""

_PEAK = """
import json, sys
def peak_kib():
    # VmHWM, not ru_maxrss: exec keeps the forking test process's ru_maxrss
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
from evkit.evidence.formats import summarise_file
from evkit.manifests.jsonio import canonical
summary = summarise_file(sys.argv[1])
print(json.dumps({"errors": summary["error_count"], "listed": len(summary["errors"]),
                  "sidecar": len(canonical(summary)),
                  "peak_kib": peak_kib()}))
"""


def test_a_million_bad_lines_keep_a_count_and_the_first_errors_in_bounded_memory(tmp_path):
    """The issue's file was a header and 5,000,000 bad lines (2.2 GB before); a fifth of it runs
    here in a few seconds, and memory must not grow with the number of errors."""
    path = tmp_path / "bad.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER)
        fh.write("x\n" * 1_000_000)
    proc = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True,
                          check=True, timeout=300)
    result = json.loads(proc.stdout)
    assert result["errors"] == 1_000_000 and result["listed"] == MAX_LISTED
    assert result["sidecar"] < 20_000
    assert result["peak_kib"] < 120 * 1024, result


def test_the_report_counts_all_rejected_rows_not_only_the_listed_ones(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
    from bundlekit import write_import_bundle
    bundle = write_import_bundle(tmp_path / "I", {"bad.csv": ("purview-csv", b"x")})
    meta_path = bundle / "data" / "imports" / "bad.csv.meta.json"
    meta = json.loads(meta_path.read_bytes())
    meta.update(error_count=5_000_000, errors=[{"row": 1, "reason": "row has 1 cells, the header has 6"}])
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    from evkit.evidence.inventory import scan_bundle
    inv = scan_bundle(bundle)
    assert any("5000000 row(s) could not be parsed" in p for p in inv.problems), inv.problems


# ---- a file that changes while it is read ----------------------------------------------------

def _grow(path: Path) -> None:
    with path.open("ab") as fh:
        fh.write(purview_row({**RECORD, "Id": "late"}).encode())


def _truncate(path: Path) -> None:
    os.truncate(path, 10)


def _rewrite(path: Path) -> None:
    """Same size, other bytes, a later modification time."""
    data = path.read_bytes()
    path.write_bytes(data.replace(b"alice", b"mally"))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _replace(path: Path) -> None:
    other = path.with_name("other")
    other.write_bytes(path.read_bytes())
    os.replace(other, path)


@pytest.mark.parametrize("change", [_grow, _truncate, _rewrite, _replace], ids=lambda f: f.__name__[1:])
def test_a_file_that_changes_while_it_is_read_is_an_error_and_nothing_is_sealed(tmp_path, signing_key,
                                                                                 monkeypatch, change):
    from evkit.manifests.keys import load_signing_key
    key = load_signing_key(*signing_key[:2])
    src = tmp_path / "audit.csv"
    src.write_text(purview_csv(*({**RECORD, "Id": f"r-{i}"} for i in range(200))), encoding="utf-8")
    real_open = open
    monkeypatch.setattr(importer, "CHUNK", 4096)

    def open_then_change(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if Path(path) != src:
            return handle
        read = handle.read

        def read_and_change(size=-1):
            chunk = read(size)
            if handle.tell() == 4096:       # after the first chunk, as a writer would
                change(src)
            return chunk
        handle.read = read_and_change
        return handle

    monkeypatch.setattr(importer, "open", open_then_change, raising=False)
    with pytest.raises(ImportInputError, match="changed while it was read"):
        import_files(tmp_path / "b", case_id="IR-14", key=key, files=[src])
    assert not (tmp_path / "b").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ---- compressed files: sealed, never inflated whole --------------------------------------------

def test_a_gzip_bomb_is_sealed_as_unknown_in_bounded_memory(tmp_path, evkit_cli, signing_key):
    """1 MB that inflates to 1 GiB: import stops inflating it at its cap (200 times its size) and
    seals it as in no known format, naming why."""
    bomb = tmp_path / "page.json.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        fh.write(b'{"value": [')
        block = b" " * (1 << 20)
        for _ in range(1024):
            fh.write(block)
        fh.write(b"]}")
    assert bomb.stat().st_size < 2 << 20
    script = ("import sys\n" + _PEAK_FN + "from evkit.cli import main\nrc = main(sys.argv[1:])\n"
              "print(peak_kib(), file=sys.stderr)\nsys.exit(rc)\n")
    env = dict(os.environ, EVKIT_PASSPHRASE=signing_key[1])
    proc = subprocess.run([sys.executable, "-c", script, "import", "--case", "IR-14", "--out", str(tmp_path / "b"),
                           "--key", str(signing_key[0]), str(bomb)], capture_output=True, text=True, env=env,
                          check=False, timeout=300)
    assert proc.returncode == 4, proc.stderr
    assert "gzip-compressed" in proc.stderr
    assert int(proc.stderr.splitlines()[-1]) < 150 * 1024


def test_the_report_over_millions_of_bad_rows_names_the_first_and_counts_them_all(tmp_path, monkeypatch):
    """Before: one problem per bad row (5,000,000 rows: 3.2 GB, 43 minutes, a 409 MB findings.json)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
    from bundlekit import permissive_report_options, write_import_bundle
    from evkit.report import pipeline
    from evkit.report.outputs import write
    blob = (HEADER + "x\n" * 20_000).encode()
    bundle = write_import_bundle(tmp_path / "I", {"bad.csv": ("purview-csv", blob)})
    case = tmp_path / "case.toml"
    case.write_text('[case]\nid = "IR-TEST"\nwindow = ["2023-06-01T00:00:00Z", "2023-06-10T00:00:00Z"]\n\n'
                    '[indicators]\naccounts = ["alice@contoso.com"]\n', encoding="utf-8")
    monkeypatch.setattr(write, "pdf_renderer", lambda: None)
    findings = pipeline.run_report([bundle], case, tmp_path / "out", **permissive_report_options()).findings
    rows = [p for p in findings["problems"] if "bad.csv: row " in p]
    assert len(rows) == 100
    assert any("20000 rows in all could not be read" in p for p in findings["problems"])


def test_nested_json_text_that_cannot_be_read_is_a_lossy_cell_at_import(tmp_path):
    """A SIEM export's JSON text cut short or nested 5,000 deep: the record is kept (its other
    fields are read), the cell is named on the import's line and in the sidecar."""
    folders = json.dumps([{"Path": "\\Inbox", "FolderItems": [{"InternetMessageId": "<a@x>"}]}])
    records = [dict(RECORD, Id="r-cut", Folders=folders[:-5]),
               dict(RECORD, Id="r-deep", OperationProperties="[" * 5000 + "]" * 5000),
               dict(RECORD, Id="r-fine", Folders=folders, Item="{}")]
    path = tmp_path / "blob.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    summary = summarise_file(path)
    assert (summary["format"], summary["record_count"], summary["lossy_count"]) == ("mgmt-blob", 3, 2)
    assert [(c["row"], c["column"]) for c in summary["lossy"]] == [(1, "Folders"), (2, "OperationProperties")]
    assert "JSON text that cannot be read" in summary["lossy"][0]["reason"]
    assert "nested more than 100 levels deep" in summary["lossy"][1]["reason"]


@pytest.mark.parametrize("shape", ["csv", "csv-quoted", "json-lines"])
def test_one_huge_line_is_a_counted_row_in_bounded_memory_and_the_next_rows_are_read(tmp_path, shape):
    """200 Mi characters on one line took 1.4 GB (CSV) and 0.9 GB (JSON lines) and put the whole
    line into the sidecar's reason; a line beyond 16 Mi characters is now read past."""
    good = dict(RECORD, Id="r-after")
    path = tmp_path / ("huge.json" if shape == "json-lines" else "huge.csv")
    with path.open("w", encoding="utf-8", newline="") as fh:
        if shape == "json-lines":
            fh.write(json.dumps(RECORD) + "\n" + '{"Id": "' + "x" * (200 << 20) + '"}\n' + json.dumps(good) + "\n")
        else:
            fh.write(purview_csv(RECORD))
            fh.write(('a,b,c,d,e,"' if shape == "csv-quoted" else "") + "x" * (200 << 20) + "\r\n")
            fh.write(purview_row(good))
    proc = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True,
                          check=True, timeout=300)
    result = json.loads(proc.stdout)
    assert result["peak_kib"] < 120 * 1024, result
    assert result["sidecar"] < 2_000
    summary = summarise_file(path)
    assert summary["record_count"] == 2 and summary["error_count"] == 1, summary["errors"]
    assert "longer than 16 Mi characters" in summary["errors"][0]["reason"]


def test_an_overlong_record_id_is_a_counted_row_named_shortly(tmp_path):
    path = tmp_path / "blob.json"
    path.write_text(json.dumps([dict(RECORD, Id="y" * 5000), RECORD]), encoding="utf-8")
    summary = summarise_file(path)
    assert (summary["record_count"], summary["error_count"]) == (1, 1)
    assert len(summary["errors"][0]["reason"]) < 120 and "longer than 256 characters" in summary["errors"][0]["reason"]
