"""build_scenario: generate a named scenario into a work directory, streaming hour by hour.

The generator walks the scenario window one hour at a time: baseline events for that hour plus
the attacker's planned events, in time order, through the audit pipeline; finished hours go to
disk at once. Memory holds the tenant, the attacker plan and about two hours of records, so
it stays flat however many records are asked for.
"""

from __future__ import annotations

import dataclasses

import hashlib
import json
import os
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from evkit.emulator.scenarios import apps as A
from evkit.emulator.scenarios import constants as C
from evkit.emulator.scenarios.attacker import Script
from evkit.emulator.scenarios.baseline import OwnerBaseline, make_profile
from evkit.emulator.scenarios.casefile import case_toml
from evkit.emulator.scenarios.catalog import SCENARIOS as SPECS, ScenarioSpec, base_mailboxes
from evkit.emulator.scenarios import mailbox_state
from evkit.emulator.scenarios.errors import ScenarioParamError, UnknownScenarioError
from evkit.emulator.scenarios.ids import guid_from
from evkit.emulator.scenarios.messages import mail_store_rows
from evkit.emulator.scenarios.model import MailboxSpec, make_mailbox
from evkit.emulator.scenarios.pipeline import OrgState, Pipeline
from evkit.emulator.scenarios.records import RecordFactory
from evkit.emulator.scenarios.store import HourlyWriter, RecordStore
from evkit.emulator.scenarios.tenant import TenantView
from evkit.emulator.scenarios.truth import TruthRecorder, write_truth

GENERATOR_VERSION = 1


def _code_digest() -> str:
    """SHA-256 of this package's source: a generated workdir is reused only by the same code."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


DOMAIN = "contoso.com"
TENANT_DOMAIN = "contoso.onmicrosoft.com"
ORG_DISPLAY = "Contoso Ltd"
# Calibrated owner-baseline volume: MailItemsAccessed-dominated records per user mailbox per
# day, used to size `large` from its `records` parameter.
RECORDS_PER_MAILBOX_DAY = 28.0

SCENARIOS: tuple[str, ...] = tuple(SPECS)
_NAMES = ("Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy",
          "Rupert", "Sybil", "Trent", "Uma", "Victor", "Walter", "Xena", "Yusuf", "Zoe")
_SURNAMES = ("Garcia", "Hughes", "Ito", "Jensen", "Khan", "Lee", "Moreau", "Novak", "Okafor",
             "Patel", "Quinn", "Rossi", "Schmidt", "Tanaka", "Usman", "Vargas", "Weber", "Young")


def _utc(t: int) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def _check_params(spec: ScenarioSpec, params: dict[str, Any] | None) -> dict[str, Any]:
    merged = dict(spec.params)
    for key, value in (params or {}).items():
        if key not in spec.params:
            allowed = ", ".join(sorted(spec.params)) or "none"
            raise ScenarioParamError(
                f"scenario {spec.name}: unknown parameter {key!r} (allowed: {allowed})")
        default = spec.params[key]
        if isinstance(default, bool):
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                value = value.lower() in ("true", "1", "yes")
            if not isinstance(value, bool):
                raise ScenarioParamError(f"scenario {spec.name}: parameter {key} must be true or false, got {value!r}")
        elif isinstance(default, int):
            try:
                value = int(str(value).replace("_", ""))
            except ValueError:
                raise ScenarioParamError(
                    f"scenario {spec.name}: parameter {key} must be an integer, got {value!r}") from None
            if value < 0:
                raise ScenarioParamError(f"scenario {spec.name}: parameter {key} must be >= 0, got {value}")
        merged[key] = value
    if spec.name == "large" and not 1_000 <= merged["records"] <= 20_000_000:
        raise ScenarioParamError(
            f"scenario large: parameter records must be between 1000 and 20000000, got {merged['records']}")
    if spec.name == "large" and not 7 <= merged["days"] <= 180:  # the attack starts 7 days before the end
        raise ScenarioParamError(f"scenario large: parameter days must be between 7 and 180, got {merged['days']}")
    if spec.name in ("throttled", "negatives") and not 1 <= merged["workers"] <= 8:
        raise ScenarioParamError(f"scenario {spec.name}: parameter workers must be 1..8, got {merged['workers']}")
    return merged


def _specs(spec: ScenarioSpec, params: dict[str, Any], rng: random.Random) -> list[MailboxSpec]:
    specs = base_mailboxes(spec.search_audited, spec.clean_search_audited, bool(params.get("non_latin")))
    extra = params.get("extra_mailboxes", 0)
    if spec.name == "large":
        days = (spec.end - spec.start) / 86400
        extra = max(0, round(params["records"] / (RECORDS_PER_MAILBOX_DAY * days)) - 6)
    for i in range(extra):
        licence = "E5" if rng.random() < 0.85 else "E3"
        specs.append(MailboxSpec(f"user{i + 1:05d}", f"User {i + 1:05d}", licence=licence,
                                 search_audited=spec.clean_search_audited and licence == "E5"))
    return specs


class Scenario:
    """A generated scenario: tenant snapshots in memory, records streamed from disk."""

    def __init__(self, workdir: Path) -> None:
        meta = json.loads((workdir / "scenario.json").read_text(encoding="utf-8"))
        tenant = json.loads((workdir / "tenant.json").read_text(encoding="utf-8"))
        self.workdir = workdir
        self.name: str = meta["name"]
        self.seed: int = meta["seed"]
        self.params: dict[str, Any] = meta["params"]
        self.tenant_id: str = meta["tenant_id"]
        self.tenant_domain: str = meta["tenant_domain"]
        self.organization_name: str = meta["organization_name"]
        self.display_name: str = meta["display_name"]
        self.start = datetime.fromisoformat(meta["start"])
        self.end = datetime.fromisoformat(meta["end"])
        self.incident_window = (datetime.fromisoformat(meta["incident_window"][0]),
                                datetime.fromisoformat(meta["incident_window"][1]))
        self.org_config: dict[str, Any] = tenant["org_config"]
        self.admin_audit_log_config: dict[str, Any] = tenant["admin_audit_log_config"]
        self.mailboxes: list[dict[str, Any]] = tenant["mailboxes"]
        self.bypass_associations: list[dict[str, Any]] = tenant["bypass_associations"]
        self.users: list[dict[str, Any]] = tenant["users"]
        self.subscribed_skus: list[dict[str, Any]] = tenant["subscribed_skus"]
        self.mailbox_state: dict[str, Any] = json.loads((workdir / mailbox_state.FILE).read_text(encoding="utf-8"))
        self._folders = _RowsFile(workdir / "folders.jsonl")
        self._licences = _RowsFile(workdir / "licences.jsonl")
        self._mail = _RowsFile(workdir / "mailstore.jsonl")
        self._keys: dict[str, str] = {}
        for m in self.mailboxes:
            for k in (m["UserPrincipalName"], m["Alias"], m["Identity"], m["Guid"],
                      m["ExternalDirectoryObjectId"], m["PrimarySmtpAddress"]):
                self._keys[str(k).lower()] = m["UserPrincipalName"]
        self.store = RecordStore(workdir / "records")
        self.ground_truth_path = workdir / "ground-truth.json"
        self.case_path = workdir / "case.toml"

    def _upn(self, key: str) -> str:
        upn = self._keys.get(str(key).strip().lower())
        if upn is None:
            raise KeyError(f"no mailbox or user {key!r} in scenario {self.name}")
        return upn

    def folder_statistics(self, upn: str) -> list[dict[str, Any]]:
        """Get-MailboxFolderStatistics rows for a mailbox (UPN, alias, GUID or object id)."""
        return self._folders.get(self._upn(upn))

    def mail_store(self, upn: str) -> list[dict[str, Any]]:
        """Each folder of a mailbox at the scenario's end: path, id, item counter, moves."""
        return self._mail.get(self._upn(upn))

    def license_details(self, user_id_or_upn: str) -> list[dict[str, Any]]:
        """Graph /users/{id}/licenseDetails values for a user (object id or UPN)."""
        return self._licences.get(self._upn(user_id_or_upn))

    def records(self, start: datetime, end: datetime,
                operations: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Classic-schema records with start <= CreationTime < end, ascending, streamed."""
        for line in self.store.lines(start, end, operations):
            yield json.loads(line)

    def record_lines(self, start: datetime, end: datetime,
                     operations: Iterable[str] | None = None) -> Iterator[str]:
        """The same records as compact JSON text (what blobs and AuditData strings carry)."""
        return self.store.lines(start, end, operations)

    def count(self, start: datetime, end: datetime,
              operations: Iterable[str] | None = None) -> int:
        """How many records records(start, end, operations) yields (hourly index + edges)."""
        return self.store.count(start, end, operations)

    @property
    def apps(self) -> dict[str, Any]:
        """servicePrincipals, oauth2PermissionGrants and appRoleAssignedTo (emulator/scenarios/apps.py)."""
        if not hasattr(self, "_apps"):
            self._apps: dict[str, Any] = json.loads((self.workdir / "apps.json").read_text(encoding="utf-8"))
        return self._apps

    @property
    def ground_truth(self) -> dict[str, Any]:
        return json.loads(self.ground_truth_path.read_text(encoding="utf-8"))


def build_scenario(name: str, seed: int, workdir: Path,
                   params: dict[str, Any] | None = None) -> Scenario:
    """Generate (or reuse, when the same name, seed and params were generated there) a scenario.

    Writes workdir/records/ (hourly JSONL + index.json), tenant.json, folders.jsonl,
    licences.jsonl, ground-truth.json, case.toml and, last, scenario.json (its presence marks a complete generation).
    """
    spec = SPECS.get(name)
    if spec is None:
        raise UnknownScenarioError(
            f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioParamError(f"scenario seed must be a non-negative integer, got {seed!r}")
    merged = _check_params(spec, params)
    if "days" in merged:  # `large`: the span ends where the spec ends and lasts `days`
        spec = dataclasses.replace(spec, start=spec.end - merged["days"] * 86400)
    workdir = Path(workdir)
    fingerprint = {"name": name, "seed": seed, "params": merged, "generator": GENERATOR_VERSION,
                   "code": _code_digest()}
    marker = workdir / "scenario.json"
    if marker.exists():
        try:
            old = json.loads(marker.read_text(encoding="utf-8"))
            if old.get("fingerprint") == fingerprint:
                return Scenario(workdir)
        except (OSError, ValueError):
            pass
        marker.unlink()
    _generate(spec, seed, merged, workdir, fingerprint)
    return Scenario(workdir)


def _generate(spec: ScenarioSpec, seed: int, params: dict[str, Any], workdir: Path,
              fingerprint: dict[str, Any]) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    records_dir = workdir / "records"
    if records_dir.exists():
        for old in records_dir.iterdir():
            old.unlink()
    key = f"{spec.name}|{seed}"
    tenant_rng = random.Random(f"tenant|{key}")
    tenant_id = guid_from("tenant", key)
    mspecs = _specs(spec, params, tenant_rng)
    mailboxes = {}
    for ms in mspecs:
        m = make_mailbox(key, DOMAIN, ms, tenant_rng)
        mailboxes[m.upn] = m
    users = [m for m in mailboxes.values() if m.kind == "user"]
    profiles = {m.upn: make_profile(tenant_rng, i) for i, m in enumerate(users)}
    delegates = {f"finance@{DOMAIN}": f"bob@{DOMAIN}"}
    org = OrgState(audit_disabled=bool(params.get("org_audit_disabled", False)))

    upns = {m.alias: m.upn for m in mailboxes.values()}
    script = Script(key, mailboxes, random.Random(f"attacker|{key}"))
    spec.plan(script, upns, spec.incident_start, params)
    attack = script.done()

    factory = RecordFactory(tenant_id, TENANT_DOMAIN, mailboxes)
    writer = HourlyWriter(records_dir)
    truth = TruthRecorder(key, mailboxes, attack.targets)
    pipe = Pipeline(key, factory, mailboxes, org, writer, truth)
    baseline = OwnerBaseline(key, list(mailboxes.values()), profiles, delegates,
                             random.Random(f"baseline|{key}"))
    planned = attack.events
    ai = 0
    for hour in range(spec.start, spec.end, 3600):
        hour_end = hour + 3600
        batch = []
        while ai < len(planned) and planned[ai].t < hour_end:
            batch.append(planned[ai])
            ai += 1
        batch.extend(baseline.events(hour))
        batch.sort(key=lambda e: e.t)
        for i, ev in enumerate(batch):
            pipe.feed(ev)
            if i & 511 == 511:        # keep only minutes of records in memory
                writer.flush_before(ev.t - C.AGGREGATION_SECONDS)
        pipe.advance(hour_end)
        writer.flush_before(hour_end - C.AGGREGATION_SECONDS)
    pipe.finish(spec.end)
    writer.close()
    writer.write_index(spec.start, spec.end)

    view = TenantView(key, tenant_id, DOMAIN, TENANT_DOMAIN, ORG_DISPLAY, mailboxes, org,
                      spec.end)
    _write_tenant(workdir, view)
    day_one = {"accounts": [attack.day_one_account], "ips": [attack.day_one_ip],
               "app_ids": [], "session_ids": [], "user_agents": []}
    window = (spec.incident_start, spec.end)
    doc = truth.result(scenario=spec.name, seed=seed, params=params, window=window,
                       scenario_window=(spec.start, spec.end), attack=attack,
                       changed_at=pipe.changed_at, day_one=day_one)
    state, doc["mailbox_state"] = mailbox_state.build_state(key, DOMAIN, mailboxes, planned, attack.hidden_rules,
                                                            records_dir)
    _write_json(workdir / mailbox_state.FILE, state)
    doc["apps"] = A.truth(attack.consents, spec.incident_start)
    admin = next((m.object_id for m in mailboxes.values() if m.is_admin), "")
    _write_json(workdir / "apps.json", A.directory(key, tenant_id, attack.consents, admin))
    write_truth(workdir / "ground-truth.json", doc)
    (workdir / "case.toml").write_text(
        case_toml(f"EMU-{spec.name.upper()}-{seed}", ORG_DISPLAY, window, day_one),
        encoding="utf-8")
    meta = {"fingerprint": fingerprint, "name": spec.name, "seed": seed, "params": params,
            "tenant_id": tenant_id, "tenant_domain": TENANT_DOMAIN,
            "organization_name": TENANT_DOMAIN, "display_name": ORG_DISPLAY,
            "start": _utc(spec.start).isoformat(), "end": _utc(spec.end).isoformat(),
            "incident_window": [_utc(window[0]).isoformat(), _utc(window[1]).isoformat()],
            "records": writer.total}
    _write_json(workdir / "scenario.json", meta)


def _write_tenant(workdir: Path, view: TenantView) -> None:
    """Configuration snapshots, streamed item by item (a large tenant has 10,000+ mailboxes):
    tenant.json for the lists the APIs page through, folders.jsonl, licences.jsonl and
    mailstore.jsonl (each folder's item counter and moves, from which emulator/mail.py derives
    the messages) with one line per mailbox for the per-mailbox calls."""
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    tmp = workdir / "tenant.json.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("{")
        fh.write(f'"org_config":{dumps(view.org_config())},')
        fh.write(f'"admin_audit_log_config":{dumps(view.admin_audit_log_config())},')
        fh.write(f'"subscribed_skus":{dumps(view.subscribed_skus())}')
        for name, items in (("mailboxes", view.mailboxes()),
                            ("bypass_associations", view.bypass_associations()),
                            ("users", view.users())):
            fh.write(f',"{name}":[')
            for i, item in enumerate(items):
                fh.write(("," if i else "") + "\n" + dumps(item))
            fh.write("]")
        fh.write("}\n")
    os.replace(tmp, workdir / "tenant.json")
    for name, rows in (("folders.jsonl", view.folder_statistics),
                       ("licences.jsonl", view.license_details)):
        tmp = workdir / (name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for m in view.ordered():
                fh.write(dumps({"upn": m.upn, "rows": rows(m.upn)}) + "\n")
        os.replace(tmp, workdir / name)
    tmp = workdir / "mailstore.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        for m in view.ordered():
            fh.write(dumps({"upn": m.upn, "rows": mail_store_rows(m)}) + "\n")
    os.replace(tmp, workdir / "mailstore.jsonl")


class _RowsFile:
    """Per-mailbox rows on disk (one JSON line per mailbox), read on demand by UPN."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offsets: dict[str, int] = {}
        with open(path, "rb") as fh:
            offset = 0
            for line in fh:
                self.offsets[line[8:line.index(b'"', 8)].decode()] = offset
                offset += len(line)

    def get(self, upn: str) -> list[dict[str, Any]]:
        with open(self.path, "rb") as fh:
            fh.seek(self.offsets[upn])
            return json.loads(fh.readline())["rows"]


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
