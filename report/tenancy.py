"""Which tenant and case each bundle belongs to, checked before any evidence is merged.

Evidence from two tenants merged into one report doubles confirmed items and widens unknown
periods without a word, so it is refused unless the analyst says it is meant; a case id that no
bundle carries is most often the wrong case file or the wrong bundles, so it is warned about.
Import bundles state no tenant (a client export does not say reliably which tenant it came
from) and are not counted either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evkit.report.errors import MixedTenantsError


def tenant_of(collection: Mapping[str, Any]) -> str | None:
    """The tenant id a bundle's collection.json states (lower-cased), or None."""
    tenant = collection.get("tenant")
    value = tenant.get("id") if isinstance(tenant, Mapping) else None
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def check_tenants(bundles: Sequence[tuple[str, Mapping[str, Any]]], *, allow_mixed: bool) -> list[str]:
    """(bundle name, collection.json) pairs -> problems to state; MixedTenantsError when they
    name more than one tenant and mixing was not allowed."""
    by_tenant: dict[str, list[str]] = {}
    for name, collection in bundles:
        tenant = tenant_of(collection)
        if tenant is not None:
            by_tenant.setdefault(tenant, []).append(name)
    if len(by_tenant) < 2:
        return []
    listing = "; ".join(f"{tenant}: {', '.join(sorted(names))}" for tenant, names in sorted(by_tenant.items()))
    if not allow_mixed:
        raise MixedTenantsError(f"the bundles come from {len(by_tenant)} tenants ({listing}); "
                                "report on each tenant apart, or give --allow-mixed-tenants")
    return [f"the bundles come from {len(by_tenant)} tenants ({listing}); reported together "
            "(--allow-mixed-tenants)"]


def case_id_warnings(case_id: str, bundles: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """A warning when no bundle carries the case file's id (a bundle without one is not counted)."""
    ids = {c.get("case_id") for _, c in bundles if isinstance(c.get("case_id"), str) and c.get("case_id")}
    if not ids or case_id in ids:
        return []
    return [f"the case file's id {case_id!r} matches no bundle (their case ids: {', '.join(sorted(ids))}): "
            "check that these are the right bundles for this case"]
