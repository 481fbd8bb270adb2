"""Sidecars: the small JSON file beside every stored body that says what the body is.

A raw page `NAME.json` (or `NAME.json.gz`) has `NAME.meta.json` with its `kind`, HTTP
`status`, `body_file`, `body_size`, `stored_encoding`, `received_utc` and `context`; an
imported file `NAME` has `NAME.meta.json` with its `format`, `errors` and `lossy` rows
(docs/evidence-layout.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SIDECAR_SUFFIX = ".meta.json"


def read_json_file(path: Path) -> Any:
    """Small JSON files (sidecars, collection.json); raises ValueError with a short reason."""
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not valid JSON: {exc}") from exc


def read_page_sidecar(sidecar: Path) -> tuple[dict[str, Any], Path]:
    """A raw page's sidecar and the path of the body it names; ValueError with a short reason.

    The body name must be a plain file name beside the sidecar, so a crafted sidecar can never
    point the reader outside its folder.
    """
    meta = read_json_file(sidecar)
    if not isinstance(meta, dict):
        raise ValueError("sidecar is not a JSON object")
    body_name = meta.get("body_file")
    if not isinstance(body_name, str) or "/" in body_name or "\\" in body_name or body_name in ("", ".", ".."):
        raise ValueError("sidecar has no usable body_file")
    return meta, sidecar.parent / body_name


def page_status(meta: dict[str, Any]) -> int:
    """The HTTP status a page's sidecar records; 0 when it records none."""
    status = meta.get("status")
    return status if isinstance(status, int) else 0


def is_success(meta: dict[str, Any]) -> bool:
    """Whether the page was a 2xx answer (others are kept as the record of what happened and
    carry no evidence records)."""
    return 200 <= page_status(meta) < 300


def imported_body(sidecar: Path) -> Path:
    """The imported file an import sidecar describes: its name without `.meta.json`."""
    return sidecar.with_name(sidecar.name[: -len(SIDECAR_SUFFIX)])
