"""Mutable state of one emulator run: the scenario, credentials, signing key, and the
per-service session tables (audit queries, UAL sessions, subscriptions, device codes)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from evkit.emulator.certs import AppCredential, make_app_credential
from evkit.emulator.faults import FaultDice, FaultPlan, parse_faults
from evkit.emulator.options import Options


def seeded_uuid(seed: int, label: str) -> str:
    """A stable GUID for a seed and a label (app ids, so collect.toml is reproducible)."""
    return str(uuid.UUID(bytes=hashlib.sha256(f"{seed}:{label}".encode()).digest()[:16], version=4))


@dataclass
class DeviceCode:
    client_id: str
    resource: str
    scopes: list[str]
    issued: float
    expires_in: int
    interval: int
    polls: int = 0
    last_poll: float = 0.0
    redeemed: bool = False


@dataclass
class State:
    scenario: Any
    options: Options
    base_url: str = ""
    plan: FaultPlan = field(default_factory=FaultPlan)
    dice: FaultDice | None = None
    client_id: str = ""
    public_client_id: str = ""
    client_secret: str = ""
    app: AppCredential | None = None
    signing_key: rsa.RSAPrivateKey | None = None
    kid: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    device_codes: dict[str, DeviceCode] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    graph_queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    ual_sessions: OrderedDict[str, Any] = field(default_factory=OrderedDict)
    ual_seen: set[str] = field(default_factory=set)  # queries answered once (current service)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    mgmt_index: Any = None
    ual_index: Any = None             # emulator.ualindex.LineIndex, made on first search
    clock: Callable[[], float] = time.time  # token issue and expiry; tests set a clock they advance
    token_issued: dict[str, float] = field(default_factory=dict)  # uti -> exact issue time (token-expiry)
    mail_index: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # upn -> imid -> message

    @classmethod
    def create(cls, scenario: Any, options: Options) -> "State":
        plan = parse_faults(options.faults)
        state = cls(scenario=scenario, options=options, plan=plan, dice=FaultDice(plan, options.seed))
        state.client_id = seeded_uuid(options.seed, "confidential-app")
        state.public_client_id = seeded_uuid(options.seed, "public-app")
        state.client_secret = "emu~" + secrets.token_urlsafe(30)
        state.app = make_app_credential(state.client_id)
        state.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        state.kid = secrets.token_hex(8)
        for content_type in ("Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint",
                             "Audit.General", "DLP.All"):
            if options.subscriptions_on:
                state.subscriptions[content_type] = {"status": "enabled", "available_from": None}
        return state

    @property
    def tenant_id(self) -> str:
        return str(self.scenario.tenant_id)

    @property
    def tenant_domain(self) -> str:
        return str(self.scenario.tenant_domain)

    @property
    def now(self) -> dt.datetime:
        """Virtual now for data rules (Management API 24 h / 7-day windows)."""
        return self.options.now or self.scenario.end

    def tenant_matches(self, text: str) -> bool:
        """URLs may name the tenant by GUID or by domain."""
        return text.lower() in (self.tenant_id.lower(), self.tenant_domain.lower())
