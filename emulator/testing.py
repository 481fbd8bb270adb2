"""Start an emulator inside a test: `with running_emulator(tmp_path) as emu: ...`.

The server runs in a background thread of the test process (fast to start, nothing to clean
up if the test dies); `emu.connection` is the parsed connection.json, `emu.url` the base URL,
`emu.workdir` the directory holding ca.pem, collect.toml, case.toml and ground-truth.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evkit.emulator.options import Options
from evkit.emulator.server import Emulator


@dataclass
class RunningEmulator:
    connection: dict[str, Any]
    workdir: Path
    url: str
    emulator: Emulator

    @property
    def ca(self) -> str:
        return str(self.connection["ca_bundle"])

    @property
    def requests(self) -> list[tuple[str, str, str, int, str | None]]:
        """(method, service, path, status, fault) of every request served so far."""
        return self.emulator.requests

    @property
    def state(self) -> Any:
        return self.emulator.state


@contextmanager
def running_emulator(workdir: Path | str, scenario: Any = "bec-basic", seed: int = 1, faults: str | None = None,
                     **options: Any) -> Iterator[RunningEmulator]:
    """`scenario` is a scenario name, or (in the emulator's own tests) a ready scenario object.
    Extra keyword options are emulator.options.Options fields (latency_ms, token_lifetime, ...)."""
    name = scenario if isinstance(scenario, str) else getattr(scenario, "name", "custom")
    opts = Options.from_kwargs(scenario=name, seed=seed, faults=faults, **options)
    emu = Emulator(workdir, opts, scenario=None if isinstance(scenario, str) else scenario)
    emu.start()
    try:
        connection = json.loads((Path(workdir) / "connection.json").read_text(encoding="utf-8"))
        yield RunningEmulator(connection=connection, workdir=Path(workdir), url=emu.url, emulator=emu)
    finally:
        emu.stop()
