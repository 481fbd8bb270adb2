"""Attribution rules (docs/methodology.md §1-2): which indicator, if any, a recorded value matches.

Pure functions over single values. The engine applies them to the distinct values present in
the evidence (a few thousand addresses, apps, sessions and client strings, however many records
there are) and joins the hits back to the records, then expands attributed sessions. Each hit
carries a label naming the indicator, so the report can say what led to every record.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Literal

from evkit.report.casefile import Indicators, IPNetwork, split_address

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Kind = Literal["ip", "app", "session", "ua"]
KINDS: tuple[Kind, ...] = ("ip", "app", "session", "ua")


def normalise_ip(value: str) -> IPAddress | None:
    """An address as logged, without port, brackets, zone or IPv4-mapped prefix; None if not one.

    Seen in the wild: `203.0.113.7:51234`, `[2001:db8::1]:443`, `::ffff:203.0.113.7`,
    `fe80::1%eth0`, and blanks or `<null>`.
    """
    text, _zone = split_address(value)
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _net_label(net: IPNetwork) -> str:
    return f"ip {net.network_address}" if net.num_addresses == 1 else f"ip {net}"


def match_ip(value: str, networks: Iterable[IPNetwork]) -> str | None:
    """The label of the first indicator network containing the logged address."""
    address = normalise_ip(value)
    if address is None:
        return None
    for net in networks:
        if address.version == net.version and address in net:
            return _net_label(net)
    return None


def match_app(value: str, app_ids: Iterable[str]) -> str | None:
    """AppId / ClientAppId GUIDs compare case-insensitively, braces ignored."""
    text = value.strip().strip("{}").lower()
    return f"app {text}" if text and text in set(app_ids) else None


def match_session(value: str, session_ids: Iterable[str]) -> str | None:
    text = value.strip().lower()
    return f"session {text}" if text and text in set(session_ids) else None


def match_user_agent(value: str, patterns: Iterable[str]) -> str | None:
    """Case-insensitive substring of ClientInfoString or the sign-in UserAgent."""
    lowered = value.lower()
    for pattern in patterns:
        if pattern.lower() in lowered:
            return f"user agent {pattern!r}"
    return None


def match_value(kind: Kind, value: str, indicators: Indicators) -> str | None:
    """Dispatch one recorded value to the rule for its kind."""
    if kind == "ip":
        return match_ip(value, indicators.ips)
    if kind == "app":
        return match_app(value, indicators.app_ids)
    if kind == "session":
        return match_session(value, indicators.session_ids)
    if kind == "ua":
        return match_user_agent(value, indicators.user_agents)
    raise ValueError(f"unknown indicator kind {kind!r}")


def kinds_sought(indicators: Indicators) -> tuple[str, ...]:
    """The kinds of recorded value some indicator is matched against (match_value)."""
    wanted = {"ip": indicators.ips, "app": indicators.app_ids, "session": indicators.session_ids,
              "ua": indicators.user_agents}
    return tuple(kind for kind, values in wanted.items() if values)


def indicator_hits(values: Iterable[tuple[str, str]], indicators: Indicators) -> list[tuple[str, str, str]]:
    """(kind, value) pairs present in the evidence -> sorted (kind, value, label) for matches."""
    hits = set()
    for kind, value in values:
        label = match_value(kind, value, indicators)  # type: ignore[arg-type]
        if label is not None:
            hits.add((kind, value, label))
    return sorted(hits)


def session_label(session_id: str, led_by: str) -> str:
    """How a record attributed only through its session is explained."""
    return f"session {session_id} (led there by {led_by})"
