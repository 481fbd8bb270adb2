"""One module per evidence source (DESIGN 4.1); each exposes `collect(ctx) -> None`.

A source records every unit it handles in the run's ledger through `ctx.finish(entry)`, stores
every response through `ctx.evidence`, and never counts a record twice (ids are de-duplicated
per unit; raw files are never rewritten to remove duplicates).
"""

SOURCE_MODULES = {
    "ual": "collector.sources.ual",
    "graph": "collector.sources.graph",
    "mgmt": "collector.sources.mgmt",
    "config": "collector.sources.config",
    "licences": "collector.sources.licences",
}
