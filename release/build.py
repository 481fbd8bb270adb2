"""`make dist`: the wheel, the sdist and a portable collector, reproducibly, with checksums and an SBOM.

Usage: python release/build.py --out DIR [--key RELEASE_KEY]

Same inputs give the same bytes: every archive entry carries SOURCE_DATE_EPOCH (default: the time
of the last commit) as its time, entries are sorted, owners and modes are normalised, and the
portable collector's dependencies are pinned to the versions installed in the building
environment. With `--key` (a key made by `evkit keygen`; passphrase from EVKIT_PASSPHRASE)
SHA256SUMS is signed as an OpenSSH signature in the namespace `evkit-release`.

The portable collector is a shiv zipapp (see release/README.md for why): keygen, collect, import,
verify and custody, with their dependencies, for this machine's Python and platform.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile
from importlib.metadata import distribution
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What the portable collector needs at run time (the report stage's duckdb and reportlab stay out).
PORTABLE_REQUIREMENTS = ("msal", "requests", "cryptography", "tqdm", "docopt-ng")
# Packages of evkit left out of the portable collector: they need duckdb, reportlab or serve tests.
PORTABLE_EXCLUDES = ("evkit/report", "evkit/emulator")
ZIP_EPOCH_FLOOR = 315532800  # 1980-01-01: the earliest time a zip entry can hold


def source_date_epoch() -> int:
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        out = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%ct"],
                             capture_output=True, text=True, check=True).stdout.strip()
        return int(out)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return ZIP_EPOCH_FLOOR


def version() -> str:
    namespace: dict[str, str] = {}
    exec((REPO / "evkit" / "__init__.py").read_text(encoding="utf-8"), namespace)
    return namespace["__version__"]


def artefact_platform() -> str:
    """The interpreter and platform the portable collector's native modules were built for."""
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    return f"{tag}-{sysconfig.get_platform().replace('-', '_').replace('.', '_')}"


def _run(args: list[str], **kwargs: object) -> None:
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise SystemExit(f"release/build.py: {' '.join(args[:4])} ... failed:\n{result.stderr[-3000:]}")


def _source_copy(tmp: Path) -> Path:
    """A clean copy of the tracked sources (no virtualenv, caches or earlier builds)."""
    source = tmp / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "demo-output", "out", "__pycache__",
        ".pytest_cache", ".ruff_cache", ".mypy_cache"))
    return source


def normalise_zip(path: Path, epoch: int) -> None:
    """Rewrite a zip with sorted entries, one timestamp and normalised permissions."""
    stamp = _zip_time(epoch)
    with zipfile.ZipFile(path) as old:
        entries = [(info, old.read(info)) for info in old.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as new:
        for info, data in sorted(entries, key=lambda item: item[0].filename):
            fresh = zipfile.ZipInfo(info.filename, date_time=stamp)
            fresh.compress_type = zipfile.ZIP_DEFLATED
            executable = (info.external_attr >> 16) & 0o111
            fresh.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
            new.writestr(fresh, data)
    path.write_bytes(buffer.getvalue())


def _zip_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    import time  # noqa: PLC0415 - only here
    t = time.gmtime(max(epoch, ZIP_EPOCH_FLOOR))
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec // 2 * 2)


def normalise_sdist(path: Path, epoch: int) -> None:
    """Rewrite a .tar.gz with sorted members, one mtime, owner root and no gzip timestamp."""
    with tarfile.open(path, "r:gz") as old:
        members = [(m, old.extractfile(m).read() if m.isfile() else None) for m in old.getmembers()]  # type: ignore[union-attr]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as new:
        for member, data in sorted(members, key=lambda item: item[0].name):
            member.mtime = epoch
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            member.mode = 0o755 if member.isdir() or member.mode & 0o111 else 0o644
            member.pax_headers = {}
            new.addfile(member, io.BytesIO(data) if data is not None else None)
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=epoch) as handle:
        handle.write(raw.getvalue())
    path.write_bytes(packed.getvalue())


def build_wheel_and_sdist(source: Path, out: Path, epoch: int) -> tuple[Path, Path]:
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch), PYTHONHASHSEED="0")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", str(out), str(source)], env=env)
    _run([sys.executable, "-c", "import sys; from setuptools import build_meta; "
          "build_meta.build_sdist(sys.argv[1])", str(out)], cwd=source, env=env)
    (wheel,) = out.glob("evkit-*.whl")
    (sdist,) = out.glob("evkit-*.tar.gz")
    normalise_zip(wheel, epoch)
    normalise_sdist(sdist, epoch)
    return wheel, sdist


def pinned_requirements() -> list[str]:
    """The portable requirements and everything they need, at the versions installed here."""
    pins: dict[str, str] = {}
    pending = list(PORTABLE_REQUIREMENTS)
    while pending:
        name = pending.pop()
        dist = distribution(name)
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in pins:
            continue
        pins[key] = dist.version
        for requirement in dist.requires or []:
            if ";" in requirement and not _marker_applies(requirement.split(";", 1)[1]):
                continue
            pending.append(_requirement_name(requirement))
    return [f"{name}=={pins[name]}" for name in sorted(pins)]


def _requirement_name(requirement: str) -> str:
    head = requirement.split(";", 1)[0].strip()
    for stop in "<>=!~[ (":
        head = head.split(stop, 1)[0]
    return head.strip()


def _marker_applies(marker: str) -> bool:
    """Evaluate a requirement's environment marker for this interpreter (extras never apply)."""
    if "extra" in marker:
        return False
    from pip._vendor.packaging.markers import Marker  # noqa: PLC0415 - pip's own marker evaluator
    return bool(Marker(marker).evaluate())


def build_pyz(wheel: Path, out: Path, tmp: Path, epoch: int, name: str) -> tuple[Path, list[dict[str, str]]]:
    site = tmp / "site"
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch), PIP_DISABLE_PIP_VERSION_CHECK="1")
    requirements = pinned_requirements()
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-compile", "--no-deps", "--only-binary=:all:",
          "--target", str(site), str(wheel), *requirements], env=env)
    for excluded in PORTABLE_EXCLUDES:
        shutil.rmtree(site / excluded)
    for direct_url in site.glob("*.dist-info/direct_url.json"):
        direct_url.unlink()  # names the build folder, which differs from build to build
    for record in site.glob("*.dist-info/RECORD"):
        record.unlink()  # lists files removed above; pip never reads it from a zipapp
    (site / "evkit" / "artefact.json").write_text(
        json.dumps({"kind": "portable-collector", "name": name,
                    "python": f"{sys.version_info.major}.{sys.version_info.minor}"}, sort_keys=True) + "\n",
        encoding="utf-8")
    components = sbom_components(site)
    pyz = out / name
    _run([sys.executable, "-m", "shiv", "--site-packages", str(site), "-e", "evkit.cli:main",
          "-o", str(pyz), "-p", "/usr/bin/env python3", "--reproducible", "--compressed"], env=env)
    pyz.chmod(0o755)
    return pyz, components


def sbom_components(site: Path) -> list[dict[str, str]]:
    components = []
    for meta in sorted(site.glob("*.dist-info/METADATA")):
        fields: dict[str, str] = {}
        for line in meta.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line:
                break
            key, _, value = line.partition(": ")
            fields.setdefault(key, value)
        name, ver = fields.get("Name", ""), fields.get("Version", "")
        component = {"type": "library", "name": name, "version": ver,
                     "purl": f"pkg:pypi/{name.lower().replace('_', '-')}@{ver}"}
        if fields.get("License-Expression") or fields.get("License"):
            component["licenses"] = [{"expression": fields.get("License-Expression") or fields["License"]}]  # type: ignore[assignment]
        components.append(component)
    return components


def write_sbom(path: Path, name: str, ver: str, components: list[dict[str, str]], epoch: int) -> None:
    import time  # noqa: PLC0415 - only here
    document = {
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "serialNumber": "urn:uuid:" + _uuid_from(name + ver),
        "metadata": {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
                     "component": {"type": "application", "name": name, "version": ver}},
        "components": components,
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _uuid_from(text: str) -> str:
    import uuid  # noqa: PLC0415 - only here
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "evkit-sbom:" + text))


def write_checksums(out: Path, files: list[Path]) -> Path:
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(files)]
    sums = out / "SHA256SUMS"
    sums.write_text("".join(lines), encoding="utf-8")
    return sums


def sign_checksums(sums: Path, key_path: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from evkit.manifests.keys import load_signing_key  # noqa: PLC0415 - only when signing
    from evkit.manifests.signing import sshsig_sign  # noqa: PLC0415
    passphrase = os.environ.get("EVKIT_PASSPHRASE")
    if passphrase is None:
        raise SystemExit("release/build.py: set EVKIT_PASSPHRASE to sign with the release key")
    key = load_signing_key(key_path, passphrase)
    signature = sums.with_name("SHA256SUMS.sshsig")
    signature.write_text(sshsig_sign(key, sums.read_bytes(), namespace="evkit-release"), encoding="utf-8")
    return signature


def build(out: Path, key: Path | None) -> list[Path]:
    epoch = source_date_epoch()
    ver = version()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file():
            old.unlink()
    with tempfile.TemporaryDirectory(prefix="evkit-dist-") as scratch:
        tmp = Path(scratch)
        wheel, sdist = build_wheel_and_sdist(_source_copy(tmp), out, epoch)
        name = f"evkit-collect-{ver}-{artefact_platform()}.pyz"
        pyz, components = build_pyz(wheel, out, tmp, epoch, name)
    sbom = out / f"evkit-collect-{ver}-{artefact_platform()}.cdx.json"
    write_sbom(sbom, "evkit-collect", ver, components, epoch)
    made = [wheel, sdist, pyz, sbom]
    sums = write_checksums(out, made)
    made.append(sums)
    if key is not None:
        made.append(sign_checksums(sums, key))
    return made


def main() -> int:
    parser = argparse.ArgumentParser(prog="release/build.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist")
    parser.add_argument("--key", type=Path, default=None, help="release key made by `evkit keygen`")
    args = parser.parse_args()
    for path in build(args.out, args.key):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{digest}  {path.relative_to(args.out.parent) if path.is_relative_to(args.out.parent) else path}"
              f"  ({path.stat().st_size:,} bytes)")
    if args.key is None:
        print("SHA256SUMS is not signed: pass --key (make dist RELEASE_KEY=PATH) to sign it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
