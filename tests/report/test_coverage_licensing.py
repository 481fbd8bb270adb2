"""evkit.report.coverage.licensing: audit tier from Graph licence objects and from licence-change records."""

from __future__ import annotations

import pytest

from evkit.report.coverage.licensing import (PREMIUM_PLAN_ID, STANDARD_PLAN_ID, licence_from_details,
                              licence_from_user, tier_of_text)

from readiness_data import E3, E5

P = PREMIUM_PLAN_ID


@pytest.mark.parametrize("text, tier", [
    ("[SkuName=SPE_E5, DisabledPlans=[]]", "premium"),
    (f"[SkuName=SPE_E5, DisabledPlans=[{P}]]", "standard"),
    ("[SkuName=SPE_E3, AccountId=x, SkuId=05e9a617-0261-4cee-bb44-138d3ef5d965, DisabledPlans=[]]", "standard"),
    ("[]", "none"),
    ("", "none"),
    (f"[SubscribedPlanId=a, CapabilityStatus=Enabled, ServicePlanId={P}]", "premium"),
    (f"[SubscribedPlanId=a, CapabilityStatus=Deleted, ServicePlanId={P}]", "none"),
    (f"[SubscribedPlanId=b, CapabilityStatus=Enabled, ServicePlanId={STANDARD_PLAN_ID}]", "standard"),
])
def test_tier_of_text(text, tier):
    assert tier_of_text(text) == tier


def test_licence_details_respect_provisioning_status():
    assert licence_from_details([E5]).tier == "premium"
    assert licence_from_details([E3]).tier == "standard"
    assert licence_from_details([]).tier == "none"
    off = dict(E5, servicePlans=[dict(E5["servicePlans"][0], provisioningStatus="Disabled")])
    assert licence_from_details([off]).tier == "none"
    no_plans = {"skuPartNumber": "SPE_E5", "skuId": E5["skuId"]}
    assert licence_from_details([no_plans]).tier == "premium"  # SKU name only when no plan is listed


def test_licence_from_user_resolves_skus_and_disabled_plans():
    skus = [E5, E3]
    user = {"assignedLicenses": [{"skuId": E5["skuId"], "disabledPlans": []}]}
    assert licence_from_user(user, skus).tier == "premium"
    user_off = {"assignedLicenses": [{"skuId": E5["skuId"], "disabledPlans": [P]}]}
    assert licence_from_user(user_off, skus).tier == "none"
    plans = {"assignedLicenses": [{"skuId": E3["skuId"]}],
             "assignedPlans": [{"servicePlanId": P, "capabilityStatus": "Deleted"},
                               {"servicePlanId": STANDARD_PLAN_ID, "capabilityStatus": "Enabled"}]}
    assert licence_from_user(plans, skus).tier == "standard"
