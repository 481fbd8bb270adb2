"""Where and with what a bundle was made: the `host` block of data/collection.json.

Shared by the collector and the importer. `tool_sha256` is what `evkit --version` prints
(evkit/provenance.py): the portable collector's own SHA-256, or a digest of evkit's code.
"""

from __future__ import annotations

import platform
import socket
import sys

from evkit.provenance import tool_identity


def host_info() -> dict[str, str]:
    """The `host` block of collection.json."""
    tool = tool_identity()
    return {"hostname": socket.gethostname(), "os": platform.platform(),
            "python": sys.version.split()[0], "tool_version": tool.version,
            "tool_artefact": tool.artefact, "tool_sha256": tool.sha256}
