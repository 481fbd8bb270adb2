"""`evkit collect --check` against the emulator: each withheld permission or Exchange role group is
named with its fix; with everything in place it exits 0. During a collection the same refusal
fails only its source (same message), the others go on, and the run seals with exit 4.

One emulator serves every case: the permission withheld (`Options.withhold`, what `--withhold`
sets) is read when a token is issued or a cmdlet is run, so it is changed between cases."""

from __future__ import annotations

import json

import pytest

from evkit.collector import cli_collect
from evkit.emulator.testing import running_emulator

# withheld permission -> (sources whose probe must name it, words the fix must contain)
CASES = {
    "AuditLogsQuery.Read.All": ({"graph"}, ("application permission AuditLogsQuery.Read.All",
                                            "Microsoft Graph", "grant admin consent")),
    "Organization.Read.All": ({"licences"}, ("application permission Organization.Read.All",)),
    "User.Read.All": ({"licences"}, ("application permission User.Read.All",)),
    "ActivityFeed.Read": ({"mgmt"}, ("application permission ActivityFeed.Read", "Office 365 Management APIs")),
    "Exchange.ManageAsApp": ({"ual", "config", "mailbox"}, ("application permission Exchange.ManageAsApp",
                                                 "Office 365 Exchange Online")),
    "View-Only Organization Management": ({"config", "mailbox"}, (
        "Exchange role group View-Only Organization Management", "New-ServicePrincipal -AppId",
        'Add-RoleGroupMember -Identity "View-Only Organization Management"')),
    "View-Only Audit Logs": ({"ual"}, ("Exchange role group View-Only Audit Logs",
                                       'Add-RoleGroupMember -Identity "View-Only Audit Logs"')),
    # Get-InboxRule and Get-RecipientPermission: the Mail Recipients role, in no view-only group
    "Recipient Management": ({"mailbox"}, ("Exchange role group Recipient Management",
                                           'Add-RoleGroupMember -Identity "Recipient Management"')),
    "AuditLog.Read.All": ({"signins"}, ("application permission AuditLog.Read.All and Directory.Read.All",
                                        "Microsoft Graph")),
    "Application.Read.All": ({"apps"}, ("application permission Application.Read.All",)),
    "DelegatedPermissionGrant.Read.All": ({"apps"}, ("application permission DelegatedPermissionGrant.Read.All",)),
}


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("check"), scenario="bec-basic", seed=1,
                          mgmt_subscriptions="enabled") as running:
        yield running


@pytest.fixture
def env(emu, monkeypatch):
    monkeypatch.setenv("EVKIT_CERT_PASSPHRASE", emu.connection["certificate"]["key_passphrase"])
    monkeypatch.setenv("EVKIT_CLIENT_SECRET", emu.connection["client_secret"])
    yield
    emu.emulator.options.withhold = ()


def run_check(emu, capsys, *withhold: str) -> tuple[int, list[str]]:
    emu.emulator.options.withhold = tuple(withhold)
    code = cli_collect.main(["collect", "--config", str(emu.workdir / "collect.toml"), "--check"])
    return code, capsys.readouterr().out.splitlines()


def test_everything_in_place_exits_0(emu, env, capsys) -> None:
    code, lines = run_check(emu, capsys)
    assert code == 0, lines
    assert lines and all(line.startswith("ok  ") for line in lines)
    assert {line.split()[1].rstrip(":") for line in lines} == {"ual", "mgmt", "graph", "config", "licences",
                                                                  "mailbox", "signins", "apps"}


@pytest.mark.parametrize("permission", sorted(CASES))
def test_each_withheld_permission_is_named_with_its_fix(emu, env, capsys, permission) -> None:
    sources, words = CASES[permission]
    code, lines = run_check(emu, capsys, permission)
    assert code == 1
    missing = [line for line in lines if line.startswith("MISSING")]
    assert {line.split()[1].rstrip(":") for line in missing} == sources, lines
    for line in missing:
        for word in words:
            assert word in line, (word, line)
    client_id = emu.connection["client_id"]
    assert all(client_id in line for line in missing)  # the fix names the app to change


@pytest.mark.parametrize("permission", ["ActivityFeed.ReadDlp", "ServiceHealth.Read", "directory-role"])
def test_withholding_what_evkit_does_not_need_keeps_the_check_green(emu, env, capsys, permission) -> None:
    # least privilege: under the current service the role groups stand in for an Entra directory role
    code, lines = run_check(emu, capsys, permission)
    assert code == 0, lines
    assert all(line.startswith("ok  ") for line in lines)


def test_a_content_type_without_subscription_is_named_with_the_config_key(emu, env, capsys) -> None:
    subs = emu.emulator.state.subscriptions
    saved = dict(subs)
    subs.pop("Audit.Exchange")
    try:
        code, lines = run_check(emu, capsys)
    finally:
        subs.update(saved)
    assert code == 1
    (line,) = [line for line in lines if line.startswith("MISSING")]
    assert "Audit.Exchange" in line and "collection.mgmt_start_subscriptions = true" in line


def test_collection_fails_only_the_refused_source_with_the_same_message_and_exits_4(
        emu, env, capsys, monkeypatch, signing_key, tmp_path) -> None:
    config = tmp_path / "collect.toml"
    text = (emu.workdir / "collect.toml").read_text(encoding="utf-8")
    text = text.replace('sources = ["ual", "mgmt", "graph", "config", "licences", "mailbox", "signins", "apps"]',
                        'sources = ["graph", "licences"]')
    text = text.replace('ca_bundle = "ca.pem"', f'ca_bundle = {json.dumps(str(emu.workdir / "ca.pem"))}')
    text = text.replace('"app-cert.pem"', json.dumps(str(emu.workdir / "app-cert.pem")))
    text = text.replace('"app-key.pem"', json.dumps(str(emu.workdir / "app-key.pem")))
    config.write_text(text + "\n[tuning]\npoll_seconds = 0.05\nretry_base_seconds = 0.01\n", encoding="utf-8")
    code, lines = run_check(emu, capsys, "AuditLogsQuery.Read.All")
    (expected,) = [line.split(": ", 2)[2] for line in lines if line.startswith("MISSING")]
    key, passphrase, _ = signing_key
    monkeypatch.setenv("EVKIT_PASSPHRASE", passphrase)
    emu.emulator.options.withhold = ("AuditLogsQuery.Read.All",)
    out = tmp_path / "bundle"
    code = cli_collect.main(["collect", "--config", str(config), "--out", str(out), "--key", str(key), "--quiet"])
    err = capsys.readouterr().err
    assert code == 4, err
    assert (out / "bagit.txt").is_file()  # sealed
    ledger = json.loads((out / "data" / "collection.json").read_bytes())["ledger"]
    graph = [e for e in ledger if e["source"] == "graph"]
    assert [e["status"] for e in graph] == ["failed"] and graph[0]["reason"] == expected
    licences = [e for e in ledger if e["source"] == "licences"]
    assert licences and all(e["status"] == "complete" for e in licences)
    assert "AuditLogsQuery.Read.All" in err and "finished INCOMPLETE" in err


def test_a_tenant_without_entra_p1_is_named_as_a_licence(emu, env, capsys) -> None:
    emu.emulator.options.entra_p1 = False
    try:
        code, lines = run_check(emu, capsys)
    finally:
        emu.emulator.options.entra_p1 = True
    assert code == 1
    (line,) = [line for line in lines if line.startswith("MISSING")]
    assert line.startswith("MISSING  signins:") and "licence Microsoft Entra ID P1" in line
    assert "UserLoggedIn" in line   # says what the report falls back to
