"""One module per evidence source (docs/collection.md §1); each exposes `collect(ctx) -> None`.

A source records every unit it handles in the run's ledger through `ctx.finish(entry)`, stores
every response through `ctx.evidence`, and never counts a record twice (ids are de-duplicated
per unit; raw files are never rewritten to remove duplicates).
"""

SOURCE_MODULES = {
    "ual": "evkit.collector.sources.ual",
    "graph": "evkit.collector.sources.graph",
    "mgmt": "evkit.collector.sources.mgmt",
    "config": "evkit.collector.sources.config",
    "licences": "evkit.collector.sources.licences",
    # run by `evkit resolve` only (collector/cli_resolve.py); not a source a collect.toml can name
    "items": "evkit.collector.sources.items",
    "mailbox": "evkit.collector.sources.mailbox",
    "signins": "evkit.collector.sources.signins",
    "apps": "evkit.collector.sources.apps",
}
