"""The output folder of `evkit report` and `evkit readiness`: new or empty, unless --force.

A report-generated custody record names the outputs by hash; overwriting an earlier report's
files would leave such a record pointing at files that no longer exist, so a folder that
already holds anything is refused unless the analyst says --force.
"""

from __future__ import annotations

from pathlib import Path

from evkit.report.errors import OutputExistsError, RenderError


def check_output_folder(out: Path, *, force: bool) -> None:
    """Raise OutputExistsError when `out` is not a folder, or holds files and not `force`;
    RenderError when it cannot be listed. Creates nothing."""
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise OutputExistsError(f"{out} exists and is not a folder; choose another --out")
    try:
        occupied = any(out.iterdir())
    except OSError as exc:
        raise RenderError(f"cannot read the output folder {out}: {exc.strerror or exc}") from exc
    if occupied and not force:
        raise OutputExistsError(f"{out} already holds files; choose an empty folder, or pass --force "
                                "to overwrite the outputs in it")
