"""Which tenant and case each bundle belongs to, checked before any evidence is merged.

Evidence from two tenants merged into one report doubles confirmed items and widens unknown
periods without a word, so it is refused unless the analyst says it is meant; a case id that no
bundle carries is most often the wrong case file or the wrong bundles, so it is warned about.
Import bundles state no tenant, but the records in them do (`OrganizationId`, Sentinel's
`OfficeTenantId`): once the records are loaded, the tenants they name are checked with the
bundles' own (check_record_tenants), so an export from another tenant is not merged silently.
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
    return _mixed("the bundles come from {n} tenants ({listing})", by_tenant, allow_mixed)


def _mixed(what: str, by_tenant: Mapping[str, Sequence[str] | set[str]], allow_mixed: bool) -> list[str]:
    """The problem stating several tenants (`what` with {n} and {listing}), or MixedTenantsError."""
    listing = "; ".join(f"{tenant}: {', '.join(sorted(names))}" for tenant, names in sorted(by_tenant.items()))
    said = what.format(n=len(by_tenant), listing=listing)
    if not allow_mixed:
        raise MixedTenantsError(f"{said}; report on each tenant apart, or give --allow-mixed-tenants")
    return [f"{said}; reported together (--allow-mixed-tenants)"]


def case_id_warnings(case_id: str, bundles: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """A warning when no bundle carries the case file's id (a bundle without one is not counted)."""
    ids = {c.get("case_id") for _, c in bundles if isinstance(c.get("case_id"), str) and c.get("case_id")}
    if not ids or case_id in ids:
        return []
    return [f"the case file's id {case_id!r} matches no bundle (their case ids: {', '.join(sorted(ids))}): "
            "check that these are the right bundles for this case"]


def check_record_tenants(bundles: Sequence[tuple[str, Mapping[str, Any]]],
                         record_tenants: Sequence[tuple[str, str, int]], *, allow_mixed: bool) -> list[str]:
    """The same check over the tenants the records name: (bundle, tenant, records) rows; a
    bundle whose records name none counts with the tenant its collection.json states. Problems
    to state; MixedTenantsError when more than one tenant is named and mixing was not allowed."""
    named: dict[str, set[str]] = {}
    for name, tenant, _ in record_tenants:
        named.setdefault(name, set()).add(tenant.strip().lower())
    by_tenant: dict[str, set[str]] = {}
    stated: set[str] = set()
    for name, collection in bundles:
        tenant = tenant_of(collection)
        if tenant is not None:
            stated.add(tenant)
        for value in named.get(name) or ({tenant} if tenant is not None else set()):
            by_tenant.setdefault(value, set()).add(name)
    if len(by_tenant) < 2 or set(by_tenant) == stated:     # none, or check_tenants said it already
        return []
    return _mixed("the records come from {n} tenants (OrganizationId; {listing})", by_tenant, allow_mixed)
