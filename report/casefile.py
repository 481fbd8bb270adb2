"""The case file (docs/methodology.md §1-2): a hand-written TOML naming the incident window and indicators.

Users write these by hand, so the shape is a contract: unknown keys are errors (a typo such as
`ip = [...]` must not silently drop an indicator), and every error names the key at fault.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Iterable
from typing import Any

from evkit.tomlfile import read_toml
from evkit.report.errors import CaseFileError
from evkit.times import format_utc, parse_iso

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CASE_KEYS = {"id", "client", "window"}
_INDICATOR_KEYS = {"accounts", "ips", "app_ids", "session_ids", "user_agents"}
_TOP_KEYS = {"case", "indicators"}


@dataclass(frozen=True, slots=True)
class Indicators:
    """What the responder knows about the attacker; each value is matched as documented."""

    accounts: tuple[str, ...] = ()  # lower-cased UPNs; put their mailboxes in scope
    ips: tuple[IPNetwork, ...] = ()  # single addresses become /32 or /128 networks
    app_ids: tuple[str, ...] = ()  # lower-cased GUIDs: AppId or ClientAppId
    session_ids: tuple[str, ...] = ()  # lower-cased
    user_agents: tuple[str, ...] = ()  # case-insensitive substrings of ClientInfoString / UserAgent

    def to_json(self) -> dict[str, list[str]]:
        return {
            "accounts": list(self.accounts),
            "ips": [_net_text(n) for n in self.ips],
            "app_ids": list(self.app_ids),
            "session_ids": list(self.session_ids),
            "user_agents": list(self.user_agents),
        }


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A parsed, validated case file."""

    case_id: str
    client: str
    window_start: datetime
    window_end: datetime
    indicators: Indicators

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.case_id,
            "client": self.client,
            "window": [format_utc(self.window_start), format_utc(self.window_end)],
            "indicators": self.indicators.to_json(),
        }


def _net_text(net: IPNetwork) -> str:
    return str(net.network_address) if net.num_addresses == 1 else str(net)


def load_case(path: Path) -> CaseFile:
    """Read and validate a case file; CaseFileError names the file and the key at fault."""
    data = read_toml(path, CaseFileError, "case file")
    try:
        return parse_case(data)
    except CaseFileError as exc:
        raise CaseFileError(f"{path}: {exc}") from None


def parse_case(data: dict[str, Any]) -> CaseFile:
    """Validate an already-parsed TOML document (pure; used by load_case and tests)."""
    _no_extra(data, _TOP_KEYS, "")
    case = data.get("case")
    if not isinstance(case, dict):
        raise CaseFileError("missing table [case]")
    _no_extra(case, _CASE_KEYS, "case.")
    case_id = _string(case, "id", "case.", required=True)
    client = _string(case, "client", "case.", required=False)
    start, end = _window(case.get("window"))
    indicators = data.get("indicators", {})
    if not isinstance(indicators, dict):
        raise CaseFileError("indicators: must be a table [indicators]")
    _no_extra(indicators, _INDICATOR_KEYS, "indicators.")
    return CaseFile(
        case_id=case_id,
        client=client,
        window_start=start,
        window_end=end,
        indicators=Indicators(
            accounts=_unique(v.lower() for v in _strings(indicators, "accounts")),
            ips=tuple(sorted(set(_network(v, i) for i, v in enumerate(_strings(indicators, "ips"))),
                             key=lambda n: (n.version, int(n.network_address), n.prefixlen))),
            app_ids=_unique(v.lower() for v in _strings(indicators, "app_ids")),
            session_ids=_unique(v.lower() for v in _strings(indicators, "session_ids")),
            user_agents=_unique(_user_agent(v, i) for i, v in enumerate(_strings(indicators, "user_agents"))),
        ),
    )


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def _no_extra(table: dict[str, Any], allowed: set[str], prefix: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise CaseFileError(
            f"unknown key {prefix}{extra[0]} (allowed: {', '.join(prefix + k for k in sorted(allowed))})")


def _string(table: dict[str, Any], key: str, prefix: str, *, required: bool) -> str:
    value = table.get(key)
    if value is None:
        if required:
            raise CaseFileError(f"missing key {prefix}{key}")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise CaseFileError(f"{prefix}{key}: must be a non-empty string, got {value!r}")
    return value.strip()


def _strings(table: dict[str, Any], key: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise CaseFileError(f"indicators.{key}: must be a list of strings, got {value!r}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise CaseFileError(f"indicators.{key}[{i}]: must be a non-empty string, got {item!r}")
        out.append(item.strip())
    return out


def parse_utc(value: Any, where: str) -> datetime:
    """An ISO 8601 time with an explicit zone (Z or offset), as an aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = parse_iso(value)
        except ValueError:
            raise CaseFileError(f"{where}: not an ISO 8601 time: {value!r}") from None
    else:
        raise CaseFileError(f"{where}: must be a time string like \"2023-05-15T00:00:00Z\", got {value!r}")
    if parsed.tzinfo is None:
        raise CaseFileError(f"{where}: time {value!r} has no zone; write it in UTC with a trailing Z")
    return parsed.astimezone(timezone.utc)


def _window(value: Any) -> tuple[datetime, datetime]:
    if value is None:
        raise CaseFileError("missing key case.window")
    if not isinstance(value, list) or len(value) != 2:
        raise CaseFileError(f"case.window: must be [start, end], got {value!r}")
    start = parse_utc(value[0], "case.window[0]")
    end = parse_utc(value[1], "case.window[1]")
    if start >= end:
        raise CaseFileError(f"case.window: start {format_utc(start)} is not before end {format_utc(end)}")
    return start, end


# The widest networks a case file may name: anything wider attributes a large part of the
# internet (`0.0.0.0/0` would make every record the attacker's).
_WIDEST_PREFIX = {4: 8, 6: 32}
_MIN_USER_AGENT = 4  # shorter substrings ("a", "Mo") match nearly every client string


def _network(value: str, index: int) -> IPNetwork:
    """An indicator address or CIDR, normalised exactly as recorded addresses are: brackets and
    port stripped, IPv4-mapped IPv6 as IPv4; a zone id or a network wider than /8 (IPv4) or
    /32 (IPv6) is an error, not a silent match of everything."""
    where = f"indicators.ips[{index}]"
    text, zone = split_address(value)
    if zone:
        raise CaseFileError(f"{where}: an IPv6 zone id (%{zone}) names a local interface, not an address: {value!r}")
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise CaseFileError(f"{where}: not an IP address or CIDR: {value!r}") from None
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 \
            and net.network_address.ipv4_mapped is not None:
        net = ipaddress.IPv4Network((net.network_address.ipv4_mapped, net.prefixlen - 96), strict=False)
    if net.prefixlen < _WIDEST_PREFIX[net.version]:
        raise CaseFileError(f"{where}: {value!r} is wider than /{_WIDEST_PREFIX[net.version]}; "
                            "name the attacker's addresses, not a large part of the internet")
    return net


def split_address(value: str) -> tuple[str, str]:
    """(address text, zone id) of an address as written in exports and case files: brackets
    and port stripped (`[2001:db8::1]:443`, `203.0.113.7:443`), `%zone` split off."""
    text = value.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1 and "/" not in text:
        text = text.split(":", 1)[0]
    address, _, zone = text.partition("%")
    if "/" in zone:  # fe80::1%eth0/64: the prefix belongs to the address
        zone, _, prefix = zone.partition("/")
        address = f"{address}/{prefix}"
    return address, zone


def _user_agent(value: str, index: int) -> str:
    if len(value) < _MIN_USER_AGENT:
        raise CaseFileError(f"indicators.user_agents[{index}]: {value!r} is shorter than {_MIN_USER_AGENT} "
                            "characters and would match almost every client string")
    return value
