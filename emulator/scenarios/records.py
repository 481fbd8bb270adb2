"""Builders for classic-schema AuditData records (docs/microsoft-365.md §4.1-§4.5), field for field.

Key order follows the reference examples (CreationTime, Id, Operation, ...). Records are plain
dicts serialised compactly, so the documented filters such as
'*"MailAccessType","Value":"Sync"*' match the stored JSON.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from json.encoder import encode_basestring_ascii as _q
from typing import Any

from evkit.emulator.scenarios.activity import Context
from evkit.emulator.scenarios.ids import digest, guid_from, token_id
from evkit.emulator.scenarios.model import Mailbox

_PREFIX: dict[int, str] = {}


def creation_time(t: int) -> str:
    """Zone-less UTC 'YYYY-MM-DDTHH:MM:SS' for epoch seconds (hour prefix cached: hot path)."""
    hour = t - t % 3600
    prefix = _PREFIX.get(hour)
    if prefix is None:
        if len(_PREFIX) > 50000:
            _PREFIX.clear()
        prefix = datetime.fromtimestamp(hour, timezone.utc).strftime("%Y-%m-%dT%H:")
        _PREFIX[hour] = prefix
    m, s = divmod(t - hour, 60)
    return f"{prefix}{m:02d}:{s:02d}"


def _props(access: str, throttled: bool) -> list[dict[str, str]]:
    return [{"Name": "MailAccessType", "Value": access},
            {"Name": "IsThrottled", "Value": "True" if throttled else "False"}]


class RecordFactory:
    """Knows the tenant; turns logged activity into records."""

    def __init__(self, tenant_id: str, org_name: str, users: dict[str, Mailbox]) -> None:
        self.tenant_id = tenant_id
        self.org_name = org_name
        self.users = users
        self._fragments: dict[tuple[str, Context], str] = {}

    def _fragment(self, mbx: Mailbox, ctx: Context, client_ip: bool = False) -> str:
        """The JSON text of the context's mailbox fields (cached: the same for every record of
        one context in one mailbox), without the surrounding braces."""
        key = (mbx.upn, ctx, client_ip)
        text = self._fragments.get(key)
        if text is None:
            if len(self._fragments) > 20000:
                self._fragments.clear()
            rec: dict[str, Any] = {}
            self._mailbox_fields(rec, mbx, ctx, client_ip=client_ip)
            text = _DUMPS(rec)[1:-1]
            self._fragments[key] = text
        return text

    def mail_items_accessed_line(self, t: int, rid: str, mbx: Mailbox, ctx: Context,
                                 access: str,
                                 folders: list[tuple[str, str, list[tuple[str, str, int]]]],
                                 count: int, throttled: bool) -> str:
        """Exactly the compact JSON of mail_items_accessed(...), built from cached fragments
        (the hot path of large scenarios; a test pins the two together)."""
        who = self.users.get(ctx.user)
        parts = [f'{{"CreationTime":"{creation_time(t)}","Id":"{rid}",'
                 f'"Operation":"MailItemsAccessed","OrganizationId":"{self.tenant_id}",'
                 f'"RecordType":50,"ResultStatus":"Succeeded",'
                 f'"UserKey":{_q(who.puid if who else ctx.user)},"UserType":0,"Version":1,'
                 f'"Workload":"Exchange",', self._fragment(mbx, ctx),
                 f',"OperationProperties":[{{"Name":"MailAccessType","Value":"{access}"}},'
                 f'{{"Name":"IsThrottled","Value":"{"True" if throttled else "False"}"}}],'
                 f'"Folders":[']
        first = True
        for path, fid, items in folders:
            parts.append(("" if first else ",") + f'{{"Id":{_q(fid)},"Path":{_q(path)}')
            first = False
            if access == "Bind":
                parts.append(',"FolderItems":[' + ",".join(
                    f'{{"InternetMessageId":{_q(imid)},"SizeInBytes":{size},"Subject":{_q(subject)}}}'
                    for imid, subject, size in items) + "]")
            parts.append("}")
        parts.append(f'],"OperationCount":{count}}}')
        return "".join(parts)

    def _head(self, t: int, rid: str, op: str, rtype: int, actor: str, user_type: int = 0,
              workload: str = "Exchange", status: str | None = "Succeeded") -> dict[str, Any]:
        who = self.users.get(actor)
        rec: dict[str, Any] = {"CreationTime": creation_time(t), "Id": rid, "Operation": op,
                               "OrganizationId": self.tenant_id, "RecordType": rtype}
        if status is not None:
            rec["ResultStatus"] = status
        rec["UserKey"] = (who.puid if workload == "Exchange" else who.object_id) if who else actor
        rec["UserType"] = user_type
        rec["Version"] = 1
        rec["Workload"] = workload
        return rec

    def _mailbox_fields(self, rec: dict[str, Any], mbx: Mailbox, ctx: Context, *,
                        client_ip: bool = False) -> None:
        actor = self.users.get(ctx.user)
        rec["UserId"] = ctx.user
        rec["AppId"] = ctx.app_id
        if ctx.client_app_id:
            rec["ClientAppId"] = ctx.client_app_id
        if ctx.aad_session_id:
            aac: dict[str, Any] = {"AADSessionId": ctx.aad_session_id,
                                   "APIId": ctx.app_id}
            if ctx.client_app_id:
                aac["ClientAppId"] = ctx.client_app_id
            if ctx.client_app_name:
                aac["ClientAppName"] = ctx.client_app_name
            aac["UniqueTokenId"] = token_id(ctx.aad_session_id, ctx.session_id, ctx.ip)
            rec["AppAccessContext"] = aac
        if client_ip:
            rec["ClientIP"] = ctx.ip
        rec["ClientIPAddress"] = ctx.ip
        rec["ClientInfoString"] = ctx.client_info
        rec["ExternalAccess"] = False
        rec["InternalLogonType"] = ctx.logon_type
        rec["LogonType"] = ctx.logon_type
        rec["LogonUserSid"] = actor.sid if actor else mbx.sid
        rec["MailboxGuid"] = mbx.mailbox_guid
        rec["MailboxOwnerSid"] = mbx.sid
        rec["MailboxOwnerUPN"] = mbx.upn
        rec["OrganizationName"] = self.org_name
        rec["OriginatingServer"] = _server(mbx.upn)
        if ctx.session_id:
            rec["SessionId"] = ctx.session_id

    def mail_items_accessed(self, t: int, rid: str, mbx: Mailbox, ctx: Context, access: str,
                            folders: list[tuple[str, str, list[tuple[str, str, int]]]],
                            count: int, throttled: bool) -> dict[str, Any]:
        """A MailItemsAccessed record (RecordType 50); Sync folders carry no FolderItems."""
        rec = self._head(t, rid, "MailItemsAccessed", 50, ctx.user)
        self._mailbox_fields(rec, mbx, ctx)
        rec["OperationProperties"] = _props(access, throttled)
        out = []
        for path, fid, items in folders:
            entry: dict[str, Any] = {"Id": fid, "Path": path}
            if access == "Bind":
                entry["FolderItems"] = [{"InternetMessageId": imid, "SizeInBytes": size,
                                         "Subject": subject} for imid, subject, size in items]
            out.append(entry)
        rec["Folders"] = out
        rec["OperationCount"] = count
        return rec

    def send_line(self, t: int, rid: str, op: str, mbx: Mailbox, ctx: Context,
                  item: tuple[str, str, int], item_store_id: str) -> str:
        """Exactly the compact JSON of send(...), from cached fragments (a test pins them)."""
        who = self.users.get(ctx.user)
        imid, subject, size = item
        sent = mbx.folders["\\Sent Items"]
        tail = (f',"SendAsUserSmtp":{_q(mbx.upn)},"SendAsUserMailboxGuid":{_q(mbx.mailbox_guid)}'
                if op == "SendAs" else "")
        return (f'{{"CreationTime":"{creation_time(t)}","Id":"{rid}","Operation":{_q(op)},'
                f'"OrganizationId":"{self.tenant_id}","RecordType":2,"ResultStatus":"Succeeded",'
                f'"UserKey":{_q(who.puid if who else ctx.user)},"UserType":0,"Version":1,'
                f'"Workload":"Exchange",{self._fragment(mbx, ctx, True)},'
                f'"Item":{{"Id":{_q(item_store_id)},"InternetMessageId":{_q(imid)},'
                f'"ParentFolder":{{"Id":{_q(sent.folder_id)},"Path":{_q(sent.record_path)}}},'
                f'"SizeInBytes":{size},"Subject":{_q(subject)}}},"SaveToSentItems":true{tail}}}')

    def send(self, t: int, rid: str, op: str, mbx: Mailbox, ctx: Context,
             item: tuple[str, str, int], item_store_id: str) -> dict[str, Any]:
        """Send / SendAs (RecordType 2) naming the sent item."""
        rec = self._head(t, rid, op, 2, ctx.user)
        self._mailbox_fields(rec, mbx, ctx, client_ip=True)
        imid, subject, size = item
        rec["Item"] = {"Id": item_store_id, "InternetMessageId": imid,
                       "ParentFolder": {"Id": mbx.folders["\\Sent Items"].folder_id,
                                        "Path": mbx.folders["\\Sent Items"].record_path},
                       "SizeInBytes": size, "Subject": subject}
        rec["SaveToSentItems"] = True
        if op == "SendAs":
            rec["SendAsUserSmtp"] = mbx.upn
            rec["SendAsUserMailboxGuid"] = mbx.mailbox_guid
        return rec

    def move_to_deleted(self, t: int, rid: str, mbx: Mailbox, ctx: Context, folder: str,
                        item: tuple[str, str, int], item_store_id: str) -> dict[str, Any]:
        """MoveToDeletedItems (RecordType 3, group record) naming the moved item."""
        rec = self._head(t, rid, "MoveToDeletedItems", 3, ctx.user)
        self._mailbox_fields(rec, mbx, ctx, client_ip=True)
        imid, subject, size = item
        src = mbx.folders[folder]
        rec["AffectedItems"] = [{"Id": item_store_id, "InternetMessageId": imid,
                                 "ParentFolder": {"Id": src.folder_id, "Path": src.record_path},
                                 "SizeInBytes": size, "Subject": subject}]
        rec["CrossMailboxOperation"] = False
        rec["DestFolder"] = {"Id": mbx.folders["\\Deleted Items"].folder_id,
                             "Path": mbx.folders["\\Deleted Items"].record_path}
        rec["Folder"] = {"Id": src.folder_id, "Path": src.record_path}
        return rec

    def search(self, t: int, rid: str, mbx: Mailbox, ctx: Context, query: str) -> dict[str, Any]:
        """SearchQueryInitiatedExchange (RecordType 101); the query text is in QueryText."""
        rec = self._head(t, rid, "SearchQueryInitiatedExchange", 101, ctx.user)
        self._mailbox_fields(rec, mbx, ctx)
        rec["QueryText"] = query
        rec["QuerySource"] = "OWA" if "OWA" in ctx.client_info else "Outlook"
        return rec

    def signin(self, t: int, rid: str, user: Mailbox, ctx: Context, resource: str,
               failed: bool = False) -> dict[str, Any]:
        """UserLoggedIn / UserLoginFailed (RecordType 15, AzureActiveDirectory)."""
        op = "UserLoginFailed" if failed else "UserLoggedIn"
        rec = self._head(t, rid, op, 15, user.upn, workload="AzureActiveDirectory",
                         status="Failed" if failed else "Success")
        rec["ObjectId"] = resource
        rec["UserId"] = user.upn
        rec["AzureActiveDirectoryEventType"] = 1
        rec["ExtendedProperties"] = [
            {"Name": "ResultStatusDetail", "Value": "Failed" if failed else "Success"},
            {"Name": "UserAgent", "Value": ctx.user_agent},
            {"Name": "UserAuthenticationMethod", "Value": "1"},
            {"Name": "RequestType", "Value": "OAuth2:Token" if ctx.client_info.startswith("Client=REST")
             else "OAuth2:Authorize"}]
        rec["ModifiedProperties"] = []
        rec["Actor"] = [{"ID": user.object_id, "Type": 0}, {"ID": user.upn, "Type": 5}]
        rec["ActorContextId"] = self.tenant_id
        rec["ActorIpAddress"] = ctx.ip
        rec["InterSystemsId"] = guid_from("isid", rid)
        rec["IntraSystemId"] = rid
        rec["SupportTicketId"] = ""
        rec["Target"] = [{"ID": resource, "Type": 0}]
        rec["TargetContextId"] = self.tenant_id
        rec["ApplicationId"] = ctx.client_app_id or ctx.app_id
        rec["ClientIP"] = ctx.ip
        os_name = "Ios" if "iOS" in ctx.user_agent else "Windows10"
        rec["DeviceProperties"] = [{"Name": "OS", "Value": os_name},
                                   {"Name": "BrowserType", "Value": _browser(ctx.user_agent)},
                                   {"Name": "IsCompliantAndManaged", "Value": "False"},
                                   {"Name": "SessionId", "Value": ctx.aad_session_id}]
        rec["ErrorNumber"] = "50126" if failed else "0"
        if failed:
            rec["LogonError"] = "InvalidUserNameOrPassword"
        return rec

    def consent(self, t: int, rid: str, user: Mailbox, consent: Any, sp: str, resource_sp: str) -> dict[str, Any]:
        """'Consent to application.' (RecordType 8, AzureActiveDirectory): ObjectId is the app's
        service principal; ConsentAction.Permissions carries the grant as Entra writes it."""
        rec = self._head(t, rid, "Consent to application.", 8, user.upn, workload="AzureActiveDirectory",
                         status="Success")
        rec["ObjectId"] = sp
        rec["UserId"] = user.upn
        rec["AzureActiveDirectoryEventType"] = 1
        grant = (f"[[Id: {guid_from('grant-id', rid)}, ClientId: {sp}, PrincipalId: {user.object_id}, "
                 f"ResourceId: {resource_sp}, ConsentType: Principal, Scope: {' '.join(consent.scopes)}, "
                 f"CreatedDateTime: , LastModifiedDateTime: ]]")
        rec["ModifiedProperties"] = [
            {"Name": "ConsentContext.IsAdminConsent", "NewValue": "False", "OldValue": ""},
            {"Name": "ConsentContext.OnBehalfOfAll", "NewValue": "False", "OldValue": ""},
            {"Name": "ConsentAction.Permissions", "NewValue": grant, "OldValue": ""},
            {"Name": "TargetId.ServicePrincipalNames", "NewValue": consent.app_id, "OldValue": ""}]
        rec["ExtendedProperties"] = [{"Name": "additionalDetails", "Value": "{}"},
                                     {"Name": "extendedAuditEventCategory", "Value": "ServicePrincipal"}]
        rec["Actor"] = [{"ID": "Microsoft_Azure_Portal", "Type": 1}, {"ID": user.upn, "Type": 5},
                        {"ID": user.object_id, "Type": 2}, {"ID": f"User_{user.object_id}", "Type": 2}]
        rec["ActorContextId"] = self.tenant_id
        rec["InterSystemsId"] = guid_from("isid", rid)
        rec["IntraSystemId"] = guid_from("intra", rid)
        rec["SupportTicketId"] = ""
        rec["Target"] = [{"ID": f"ServicePrincipal_{sp}", "Type": 2}, {"ID": sp, "Type": 2},
                         {"ID": "ServicePrincipal", "Type": 2}, {"ID": consent.app_name, "Type": 1},
                         {"ID": consent.app_id, "Type": 2}]
        rec["TargetContextId"] = self.tenant_id
        return rec

    def admin_cmdlet(self, t: int, rid: str, ctx: Context, cmdlet: str, object_id: str,
                     parameters: list[tuple[str, str]]) -> dict[str, Any]:
        """An Exchange admin cmdlet record (RecordType 1): New-InboxRule, Set-Mailbox, ..."""
        rec = self._head(t, rid, cmdlet, 1, ctx.user, user_type=2, status="True")
        rec["ObjectId"] = object_id
        rec["UserId"] = ctx.user
        rec["AppId"] = ctx.app_id
        rec["ClientAppId"] = ctx.client_app_id
        port = 49152 + int.from_bytes(digest(rid, size=2), "big") % 16000
        rec["ClientIP"] = f"{ctx.ip}:{port}" if ":" not in ctx.ip else f"[{ctx.ip}]:{port}"
        rec["ExternalAccess"] = False
        rec["OrganizationName"] = self.org_name
        rec["OriginatingServer"] = _server(ctx.user)
        rec["Parameters"] = [{"Name": n, "Value": v} for n, v in parameters]
        if ctx.session_id:
            rec["SessionId"] = ctx.session_id
        if ctx.aad_session_id:
            rec["AppAccessContext"] = {"AADSessionId": ctx.aad_session_id,
                                       "UniqueTokenId": token_id(ctx.aad_session_id, cmdlet)}
        return rec

    def licence_change(self, t: int, rid: str, actor: Mailbox, target: Mailbox,
                       old: str, new: str) -> dict[str, Any]:
        """'Change user license.' (RecordType 8): Entra directory audit, no client IP."""
        rec = self._head(t, rid, "Change user license.", 8, actor.upn,
                         workload="AzureActiveDirectory", status="Success")
        rec["ObjectId"] = target.upn
        rec["UserId"] = actor.upn
        rec["AzureActiveDirectoryEventType"] = 1
        rec["ExtendedProperties"] = [{"Name": "additionalDetails", "Value": "{}"},
                                     {"Name": "extendedAuditEventCategory", "Value": "User"}]
        rec["ModifiedProperties"] = [
            {"Name": "AssignedLicense", "NewValue": new, "OldValue": old},
            {"Name": "Included Updated Properties", "NewValue": "AssignedLicense",
             "OldValue": ""}]
        rec["Actor"] = [{"ID": actor.upn, "Type": 5}, {"ID": actor.object_id, "Type": 2}]
        rec["ActorContextId"] = self.tenant_id
        rec["InterSystemsId"] = guid_from("isid", rid)
        rec["IntraSystemId"] = guid_from("intra", rid)
        rec["SupportTicketId"] = ""
        rec["Target"] = [{"ID": target.object_id, "Type": 2}, {"ID": target.upn, "Type": 5}]
        rec["TargetContextId"] = self.tenant_id
        return rec


_DUMPS = json.JSONEncoder(separators=(",", ":")).encode


def _server(upn: str) -> str:
    d = digest("server", upn, size=4)
    return f"CY{d[0] % 9}PR0{d[1] % 9}MB{1000 + int.from_bytes(d[2:], 'big') % 9000} (15.20.6500.000)\r\n"


def _browser(ua: str) -> str:
    if "Edg/" in ua:
        return "Edge"
    if "Chrome/" in ua:
        return "Chrome"
    if "python" in ua.lower() or "Microsoft Office" in ua or "Outlook" in ua:
        return ""
    return "Other"
