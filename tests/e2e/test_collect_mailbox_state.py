"""The `mailbox` source end to end: the real collector (MSAL, requests) against the emulator over
HTTPS. A clean run stores every answer byte for byte with one ledger unit per mailbox and
cmdlet; a refused cmdlet fails only its units with the exact fix (asked once), the others are
collected and the run seals with exit 4."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bec_helpers import bec_config

from evkit.collector import cli_collect
from evkit.manifests.verify import verify_bundle

PER_MAILBOX = ("Get-InboxRule", "Get-MailboxPermission", "Get-RecipientPermission", "Get-MailboxFolderPermission")


def collect(cfg: Path, out: Path, key: Path, capsys) -> tuple[int, list[dict], str]:
    code = cli_collect.main(["collect", "--config", str(cfg), "--out", str(out), "--key", str(key), "--quiet"])
    err = capsys.readouterr().err
    return code, json.loads((out / "data" / "collection.json").read_bytes())["ledger"], err


def test_clean_run_seals_every_answer_with_a_unit_per_mailbox_and_cmdlet(bec_emu, bec_env, tmp_path, signing_key,
                                                                       capsys) -> None:
    users = ["alice@contoso.com", "finance@contoso.com"]
    out = tmp_path / "bundle"
    code, ledger, err = collect(bec_config(bec_emu, tmp_path, ["mailbox"], users), out, signing_key[0], capsys)
    assert code == 0, err
    units = {e["unit"]: e for e in ledger if e["source"] == "mailbox"}
    assert {"Get-Mailbox", "Get-TransportRule", "Get-AcceptedDomain"} <= set(units)
    per = [u for u in units if "/" in u]
    assert len(per) == len(users) * len(PER_MAILBOX) and all(e["status"] == "complete" for e in units.values())
    assert verify_bundle(out, signer_key=Path(f"{signing_key[0]}.pub")).verdict == "valid"
    pages = 0
    for meta in (out / "data" / "raw" / "mailbox").rglob("*.meta.json"):
        side = json.loads(meta.read_bytes())
        body = (meta.parent / side["body_file"]).read_bytes()
        if side["kind"] == "http.retried":  # kept as the record of what happened (a redirect, a retry)
            continue
        assert side["kind"] == "mailbox." + side["request_body"]["CmdletInput"]["CmdletName"]
        if side["stored_encoding"] == "identity":
            assert hashlib.sha256(body).hexdigest() == side["body_sha256"]
        pages += 1
        if side["kind"] == "mailbox.Get-InboxRule" and side["context"]["mailbox"] == users[0]:
            # the hidden rule only in the -IncludeHidden answer
            every = side["request_body"]["CmdletInput"]["Parameters"].get("IncludeHidden") is True
            assert every is (side["context"].get("part") != "visible")
            text = json.loads(body.decode()) if side["stored_encoding"] == "identity" else None
            assert text is None or ("ms-sync" in {r["Name"] for r in text["value"]}) is every
    # 3 tenant cmdlets; per mailbox 2 inbox-rule answers, 2 single-call cmdlets and 3 folders
    assert pages == 3 + len(users) * 7


def test_refused_cmdlet_fails_only_its_units_with_the_fix_and_exits_4(bec_emu, bec_env, tmp_path, signing_key,
                                                                    capsys) -> None:
    bec_emu.emulator.options.withhold = ("Recipient Management",)
    users = ["alice@contoso.com", "bob@contoso.com", "finance@contoso.com"]
    asked_before = sum(1 for r in bec_emu.requests if r[1] == "exchange")
    out = tmp_path / "bundle"
    code, ledger, err = collect(bec_config(bec_emu, tmp_path, ["mailbox"], users), out, signing_key[0], capsys)
    assert code == 4 and "finished INCOMPLETE" in err
    assert (out / "bagit.txt").is_file()
    by_cmdlet: dict[str, list[dict]] = {}
    for e in ledger:
        by_cmdlet.setdefault(e["unit"].split("/")[0], []).append(e)
    for cmdlet in ("Get-InboxRule", "Get-RecipientPermission"):
        assert len(by_cmdlet[cmdlet]) == len(users)
        for e in by_cmdlet[cmdlet]:
            assert e["status"] == "failed"
            assert 'Add-RoleGroupMember -Identity "Recipient Management"' in e["reason"], e["reason"]
    for cmdlet in ("Get-Mailbox", "Get-MailboxPermission", "Get-MailboxFolderPermission", "Get-TransportRule"):
        assert all(e["status"] == "complete" for e in by_cmdlet[cmdlet]), cmdlet
    # a refused cmdlet is asked once per run (then its other units fail with the same fix, unasked);
    # two threads may both have asked before the first refusal came back
    asked = bec_emu.requests[asked_before:]
    refused = [r for r in asked if r[1] == "exchange" and r[3] == 403]
    assert 2 <= len(refused) <= 2 * 4
