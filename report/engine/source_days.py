"""What the report asks for its cross-check of `ual` against `mgmt` (report/rules/crosscheck.py):
per UTC day and workload, how many records each of the two sources holds (each record once per source that holds it: a
record both hold is in the events once and in duplicate_sources for the other; a record read
twice by one source, as overlapping windows do, counts once, so the counts can be compared), and
the listing windows of each Management API content type that the ledger records `complete`.

Queries only; the decision is in report.rules.crosscheck.
"""

from __future__ import annotations

from typing import Any

from evkit.report.engine.loader import Engine


def records_per_day(engine: Engine) -> list[tuple[str, str, str, int]]:
    """(day YYYY-MM-DD, workload, source `ual` or `mgmt`, records) for every day either source holds."""
    return [(str(day), str(workload), str(source), int(count)) for day, workload, source, count in engine.rows("""
        SELECT strftime(e.ts, '%Y-%m-%d') AS day, e.workload,
               CASE WHEN s.src LIKE '%/raw/mgmt/%' THEN 'mgmt' ELSE 'ual' END AS source, count(DISTINCT e.id)
        FROM record_sources s JOIN events e ON e.id = s.id
        WHERE e.ts IS NOT NULL AND e.workload IS NOT NULL
          AND (s.src LIKE '%/raw/mgmt/%' OR s.src LIKE '%/raw/ual/%')
        GROUP BY ALL ORDER BY ALL""")]


def mgmt_complete_windows(engine: Engine) -> list[dict[str, Any]]:
    """The `mgmt` ledger entries recorded complete: unit `<content type>/<window>`, with their windows."""
    return engine.dicts("""SELECT unit, window_start, window_end FROM gaps
        WHERE source = 'mgmt' AND status = 'complete' AND window_start IS NOT NULL AND window_end IS NOT NULL
        ORDER BY unit""")
