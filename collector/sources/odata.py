"""One Graph collection unit paged through `@odata.nextLink`, resumable page by page.

Every page is stored byte for byte before its next link is committed to the resume state with
the running count, so a killed run asks again only the page it had not committed (stored beside
the first answer as `.r2`, docs/evidence-layout.md) and recounts unique ids from the pages
already in the bundle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from evkit.collector.sources.base import SourceContext, record_id, values


@dataclass(slots=True)
class Paged:
    """What one unit yielded: records received (with repeats), their unique ids, retries."""

    received: int = 0
    ids: set[str] = field(default_factory=set)
    retries: int = 0


def paged_unit(ctx: SourceContext, source: str, unit: str, url: str, kind: str,
               context: dict[str, Any] | None = None) -> Paged:
    """Fetch every page of `url` into data/raw/<source>/<unit>/ (kind `kind`)."""
    section = ctx.state.section(source)
    next_key, count_key = f"{unit}#next", f"{unit}#received"
    out = Paged(received=int(section.get(count_key, 0)))
    next_url: str | None = url
    if next_key in section:  # resumed: continue from the committed link, recount stored pages
        next_url = section[next_key]
        for _sidecar, body in ctx.evidence.read_back(source, unit, kind):
            out.ids.update(i for i in (record_id(r, "id") for r in values(_loads(body))) if i)
    while next_url:
        number = ctx.state.page(source, unit)
        resp = ctx.client.request("GET", next_url, scope=ctx.config.endpoints.graph_scope,
                                  record=ctx.evidence.recorder(source, unit, f"p{number:06d}", kind, context or {}))
        rows = values(resp.data)
        out.received += len(rows)
        out.retries += resp.retries
        out.ids.update(i for i in (record_id(r, "id") for r in rows) if i)
        ctx.progress.records(source, len(rows))
        link = resp.data.get("@odata.nextLink") if isinstance(resp.data, dict) else None
        next_url = link if isinstance(link, str) and link else None

        def cursor(s: dict[str, Any], nxt: str | None = next_url, n: int = out.received) -> None:
            s.setdefault(source, {}).update({next_key: nxt, count_key: n})
        ctx.state.commit_page(source, unit, number, update=cursor)
    return out


def stored_rows(ctx: SourceContext, source: str, unit: str, kind: str) -> list[Any]:
    """The records of a unit's stored pages (for a later unit that depends on them)."""
    rows: list[Any] = []
    for _sidecar, body in ctx.evidence.read_back(source, unit, kind):
        rows.extend(values(_loads(body)))
    return rows


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
