"""A collect.toml for the bec-basic emulator of conftest.py's `bec_emu`."""

from __future__ import annotations

import json
from pathlib import Path


def bec_config(emu, folder: Path, sources: list[str], users: list[str] | None = None) -> Path:
    """The emulator's collect.toml with these sources (and mailboxes), absolute paths, fast retries."""
    text = (emu.workdir / "collect.toml").read_text(encoding="utf-8")
    text = "\n".join("sources = " + json.dumps(sources) if line.startswith("sources = ") else line
                     for line in text.splitlines())
    if users is not None:
        text = text.replace("users = []", "users = " + json.dumps(users))
    for name in ("ca.pem", "app-cert.pem", "app-key.pem"):
        text = text.replace(f'"{name}"', json.dumps(str(emu.workdir / name)))
    path = folder / "collect.toml"
    path.write_text(text + "\n[tuning]\nretry_base_seconds = 0.01\n", encoding="utf-8")
    return path
