"""Which audit tier a licence gives: Audit (Premium), Audit (Standard) or none.

Facts from docs/microsoft-365.md §5.2: Audit (Premium) is the service plan
`M365_ADVANCED_AUDITING`; Audit (Standard) rests on `M365_AUDIT_PLATFORM`. A plan switched off
in the user's licence (`provisioningStatus` other than Success, `capabilityStatus` other than
Enabled) does not count: Microsoft generates Premium events only while the "Microsoft 365
Advanced Auditing" app is enabled for the user. Pure functions over Graph objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PREMIUM_PLAN_ID = "2f442157-a11c-46b9-ae5b-6e39ff4e5849"
PREMIUM_PLAN_NAME = "M365_ADVANCED_AUDITING"
STANDARD_PLAN_ID = "f6de4823-28fa-440b-b886-4783fa86ddba"
STANDARD_PLAN_NAME = "M365_AUDIT_PLATFORM"

#: SKUs that carry M365_ADVANCED_AUDITING (docs/microsoft-365.md §5.2, Oct-2024 licensing CSV); used only
#: when a licence lists no service plans
PREMIUM_SKUS: Mapping[str, str] = {
    "SPE_E5": "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
    "SPE_E5_NOPSTNCONF": "cd2925a3-5076-4233-8931-638a8c94f773",
    "SPE_E5_CALLINGMINUTES": "a91fc4e0-65e5-4266-aa76-4037509c1626",
    "Microsoft_365_E5": "db684ac5-c0e7-4f92-8284-ef9ebde75d33",
    "Microsoft_365_E5_without_Audio_Conferencing": "2113661c-6509-4034-98bb-9c47bd28d63c",
    "DEVELOPERPACK_E5": "c42b9cae-ea4f-4ab7-9717-81576235ccac",
    "ENTERPRISEPREMIUM": "c7df2760-2c81-4ef7-b578-5b5392b571df",
    "ENTERPRISEPREMIUM_NOPSTNCONF": "26d45bd9-adf1-46cd-a9e1-51e9a5524128",
    "ENTERPRISEPREMIUM_FACULTY": "a4585165-0533-458a-97e3-c400570268c4",
    "ENTERPRISEPREMIUM_STUDENT": "ee656612-49fa-43e5-b67e-cb1fdf7699df",
    "ENTERPRISEPREMIUM_GOV": "8900a2c0-edba-4079-bdf3-b276e293b6a8",
    "M365EDU_A5_FACULTY": "e97c048c-37a4-45fb-ab50-922fbf07a370",
    "M365EDU_A5_STUDENT": "46c119d4-0379-4a9d-85e4-97c66d3f909e",
    "M365_G5_GCC": "e2be619b-b125-455f-8660-fb503e431a5d",
    "INFORMATION_PROTECTION_COMPLIANCE": "184efa21-98c3-4e5d-95ab-d07053a96e67",
    "EQUIVIO_ANALYTICS_GOV": "1a585bba-1ce3-416e-b1d6-9c482b52fcf6",
    "M365_SECURITY_COMPLIANCE_FOR_FLW": "2347355b-4e81-41a4-9c22-55057a399791",
    "SPE_F5_COMP": "91de26be-adfa-4a3d-989e-9131cc23dda7",
    "SPE_F5_COMP_GCC": "3f17cf90-67a2-4fdb-8587-37c1539507e1",
    "SPE_F5_COMP_AR_USGOV_GCCHIGH": "9f436c0e-fb32-424b-90be-6a9f2919d506",
    "SPE_F5_COMP_AR_D_USGOV_DOD": "9cfd6bc3-84cd-4274-8a21-8c7c41d6c350",
    "SPE_F5_SECCOMP": "32b47245-eb31-44fc-b945-a8b1576c439f",
}
#: E3-class SKUs without Advanced Auditing: Audit (Standard) (docs/microsoft-365.md §5.2)
STANDARD_SKUS: Mapping[str, str] = {
    "SPE_E3": "05e9a617-0261-4cee-bb44-138d3ef5d965",
    "ENTERPRISEPACK": "6fd2c87f-b296-42f0-b197-1e91e994b900",
    "SPE_E3_USGOV_GCCHIGH": "",
    "SPE_E3_USGOV_DOD": "",
    "ENTERPRISEPACK_USGOV_GCCHIGH": "",
    "ENTERPRISEPACK_USGOV_DOD": "",
}
#: the SKU recommended to add Premium to a mailbox that has another licence (E5 Compliance)
PREMIUM_ADDON_SKU = ("INFORMATION_PROTECTION_COMPLIANCE", PREMIUM_SKUS["INFORMATION_PROTECTION_COMPLIANCE"])

TIERS = ("premium", "standard", "none", "unknown")


@dataclass(frozen=True, slots=True)
class Licence:
    """A mailbox account's audit tier and the licence names that gave it (for the report)."""

    tier: str
    skus: tuple[str, ...] = ()
    detail: str = ""


def tier_of_plans(plans: Iterable[tuple[str, str]], skus: Iterable[tuple[str, str]], *,
                  plans_listed: bool) -> str:
    """Tier from the enabled (plan id, plan name) pairs of a user's licences.

    SKU names decide only when the evidence lists no service plans at all (`plans_listed`
    False): an E5 whose Advanced Auditing plan was switched off is not Premium.
    """
    ids = {i.lower() for i, _ in plans}
    names = {n.upper() for _, n in plans}
    sku_list = [(p or "", (i or "").lower()) for p, i in skus]
    if PREMIUM_PLAN_ID in ids or PREMIUM_PLAN_NAME in names:
        return "premium"
    if not plans_listed and any(p in PREMIUM_SKUS or i in PREMIUM_SKUS.values() for p, i in sku_list):
        return "premium"
    if STANDARD_PLAN_ID in ids or STANDARD_PLAN_NAME in names:
        return "standard"
    if any(p in STANDARD_SKUS or (i and i in STANDARD_SKUS.values()) for p, i in sku_list):
        return "standard"
    return "none"


def tier_of_text(text: str) -> str:
    """Tier named by an audit record's AssignedLicense / AssignedPlan value (free text).

    Entra writes these as bracketed entries: `[SkuName=SPE_E5, SkuId=..., DisabledPlans=[...]]`
    for licences, `[... CapabilityStatus=Enabled, ... ServicePlanId=...]` for plans. A plan id
    inside `DisabledPlans=[...]`, or a plan entry whose status is not Enabled, does not count.
    """
    plans: list[tuple[str, str]] = []
    skus: list[tuple[str, str]] = []
    disabled: set[str] = set()
    listed = False
    for entry in _entries(text):
        low = entry.lower()
        off = _DISABLED.search(low)
        if off:
            disabled.update(_GUID.findall(off.group(1)))
            low = low.replace(off.group(0), "")
        plan = _field(low, "serviceplanid")
        if plan:
            listed = True
            if _field(low, "capabilitystatus") in ("", "enabled"):
                plans.append((plan, ""))
            continue
        part = _field(low, "skuname") or _field(low, "skupartnumber")
        sku_id = _field(low, "skuid")
        if part or sku_id:
            skus.append((_PART_BY_LOWER.get(part, part.upper()), sku_id))
        else:
            plans.extend((g, "") for g in _GUID.findall(low))  # a bare list of plan ids
    if PREMIUM_PLAN_ID in disabled:
        listed = True  # the licence's plans are known: everything but the disabled ones
        plans.extend((STANDARD_PLAN_ID, "") for p, i in skus
                     if p in PREMIUM_SKUS or i in PREMIUM_SKUS.values())
    return tier_of_plans(plans, skus, plans_listed=listed)


_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DISABLED = re.compile(r"disabledplans\s*=\s*\[([^\]]*)\]")
_PART_BY_LOWER = {p.lower(): p for p in (*PREMIUM_SKUS, *STANDARD_SKUS)}


def _entries(text: str) -> list[str]:
    """Top-level `[...]` entries of a value (nested brackets kept inside their entry)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
            if depth == 0:
                out.append(text[start:i])
    return [e for e in out if e.strip()] or ([text] if text.strip() not in ("", "[]") else [])


def _field(entry: str, name: str) -> str:
    match = re.search(rf"(?:^|[\s,]){name}\s*=\s*([^,\]]*)", entry)
    return match.group(1).strip() if match else ""


def licence_from_details(details: Iterable[Mapping[str, Any]]) -> Licence:
    """Tier from a user's `licenseDetails` collection (servicePlans with provisioningStatus)."""
    plans: list[tuple[str, str]] = []
    skus: list[tuple[str, str]] = []
    listed = False
    for lic in details:
        skus.append((str(lic.get("skuPartNumber") or ""), str(lic.get("skuId") or "")))
        for plan in lic.get("servicePlans") or []:
            listed = True
            if str(plan.get("provisioningStatus", "Success")) == "Success":
                plans.append((str(plan.get("servicePlanId", "")), str(plan.get("servicePlanName", ""))))
    return Licence(tier_of_plans(plans, skus, plans_listed=listed),
                   tuple(sorted(p for p, _ in skus if p)), "licenseDetails")


def licence_from_user(user: Mapping[str, Any], skus: Iterable[Mapping[str, Any]]) -> Licence:
    """Tier from a user's `assignedPlans`, else `assignedLicenses` resolved via subscribedSkus."""
    by_id = {str(s.get("skuId", "")).lower(): s for s in skus}
    names: list[str] = []
    sku_pairs: list[tuple[str, str]] = []
    plans: list[tuple[str, str]] = []
    listed = False
    for lic in user.get("assignedLicenses") or []:
        sku = by_id.get(str(lic.get("skuId", "")).lower(), {})
        part = str(sku.get("skuPartNumber") or "")
        names.append(part or str(lic.get("skuId", "")))
        sku_pairs.append((part, str(lic.get("skuId", ""))))
        disabled = {str(d).lower() for d in lic.get("disabledPlans") or []}
        for plan in sku.get("servicePlans") or []:
            listed = True
            if str(plan.get("servicePlanId", "")).lower() not in disabled:
                plans.append((str(plan.get("servicePlanId", "")), str(plan.get("servicePlanName", ""))))
    assigned = user.get("assignedPlans")
    if assigned:  # the directory's own per-plan state wins over the SKU catalogue
        plans = [(str(p.get("servicePlanId", "")), "") for p in assigned
                 if str(p.get("capabilityStatus", "Enabled")) == "Enabled"]
        return Licence(tier_of_plans(plans, sku_pairs, plans_listed=True), tuple(sorted(names)),
                       "assignedPlans")
    return Licence(tier_of_plans(plans, sku_pairs, plans_listed=listed), tuple(sorted(names)),
                   "assignedLicenses")
