"""The tenant model: users, mailboxes, folders and the items in them.

Items are not stored: item k of a folder is a pure function of (seed, mailbox, folder, k), and a
folder only keeps a counter of how many items it has received. That keeps memory flat for the
largest scenarios while every item still has a stable InternetMessageId and subject.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from evkit.emulator.scenarios import constants as C
from evkit.emulator.scenarios.ids import folder_id, guid_from, puid_from, sid_from

# (path as audit records write it, FolderType, initial item range)
FOLDERS: tuple[tuple[str, str, tuple[int, int]], ...] = (
    ("\\Inbox", "Inbox", (600, 2400)),
    ("\\Sent Items", "SentItems", (150, 900)),
    ("\\Drafts", "Drafts", (2, 20)),
    ("\\Deleted Items", "DeletedItems", (40, 300)),
    ("\\Archive", "Archive", (1200, 5000)),
)
FOLDER_PATHS = tuple(f[0] for f in FOLDERS)
# Exchange names a mailbox's default folders in the mailbox's language when it is created, and
# audit records and Get-MailboxFolderStatistics carry those names (FolderType stays English).
# The English paths above stay the scenarios' keys; a mailbox in another language shows these.
LOCAL_FOLDERS: dict[str, dict[str, str]] = {
    "ru": {"\\Inbox": "\\Входящие", "\\Sent Items": "\\Отправленные", "\\Drafts": "\\Черновики",
           "\\Deleted Items": "\\Удаленные", "\\Archive": "\\Архив"},
    "ja": {"\\Inbox": "\\受信トレイ", "\\Sent Items": "\\送信済みアイテム", "\\Drafts": "\\下書き",
           "\\Deleted Items": "\\削除済みアイテム", "\\Archive": "\\アーカイブ"},
}

_EXTERNAL = ("mail.fabrikam.com", "northwindtraders.com", "adatum.com", "mail.tailspintoys.com",
             "litwareinc.com", "wingtiptoys.com", "contoso-partners.com", "bank.woodgrove.com")
_TOPICS = ("Invoice INV-{n} for payment", "RE: Q{q} forecast", "Wire transfer confirmation {n}",
           "Board meeting notes {n}", "Payroll run {n}", "RE: contract renewal {n}",
           "Updated bank details {n}", "Team lunch {n}", "FW: vendor invoice {n}",
           "Password reset notice {n}", "Travel itinerary {n}", "Quarterly budget review {n}",
           "RE: purchase order PO-{n}", "Customer escalation {n}", "HR policy update {n}",
           "Merger due diligence {n}")
_LOCAL_TOPICS: dict[str, tuple[str, ...]] = {
    "ru": ("Счёт INV-{n} на оплату", "RE: прогноз на Q{q}", "Подтверждение перевода {n}",
           "Протокол заседания совета {n}", "Расчёт зарплаты {n}", "RE: продление договора {n}",
           "Новые банковские реквизиты {n}", "Обед с командой {n}", "FW: счёт поставщика {n}",
           "Сброс пароля {n}", "Маршрут поездки {n}", "Квартальный бюджет {n}",
           "RE: заказ на закупку PO-{n}", "Жалоба клиента {n}", "Кадровая политика {n}",
           "Проверка перед слиянием {n}"),
    "ja": ("請求書 INV-{n} のお支払い", "RE: 第{q}四半期の見通し", "送金確認 {n}", "取締役会議事録 {n}",
           "給与計算 {n}", "RE: 契約更新 {n}", "振込先口座の変更 {n}", "チームランチ {n}",
           "FW: 仕入先の請求書 {n}", "パスワードリセットのお知らせ {n}", "出張旅程 {n}",
           "四半期予算レビュー {n}", "RE: 発注書 PO-{n}", "顧客エスカレーション {n}", "人事規程の改定 {n}",
           "合併デューデリジェンス {n}"),
}


@dataclass(slots=True)
class Folder:
    """One mail folder: how many items it has received, and which left it (moved away)."""

    path: str
    folder_type: str
    folder_id: str
    count: int                       # items ever placed here (index space 0..count-1)
    moved_out: set[int] = field(default_factory=set)
    moved_in: list[tuple[str, int]] = field(default_factory=list)   # (source folder, k)
    prefix: bytes = b""                   # seeded hash prefix: item k = hash(prefix + str(k))
    shown: str = ""                       # the path records show (the mailbox's language); "" = path

    @property
    def record_path(self) -> str:
        """The path as audit records and folder statistics write it."""
        return self.shown or self.path

    @property
    def present(self) -> int:
        """Items in the folder now."""
        return self.count - len(self.moved_out) + len(self.moved_in)


@dataclass(slots=True)
class Mailbox:
    """A mailbox and its owning account (shared mailboxes have a disabled account)."""

    upn: str
    display: str
    kind: str                        # "user" | "shared"
    licence: str | None              # "E5" | "E3" | None
    object_id: str
    mailbox_guid: str
    sid: str
    puid: str
    audit_owner: list[str]
    audit_delegate: list[str]
    audit_admin: list[str]
    default_audit_set: list[str]
    bypass: bool = False
    advanced_auditing: bool = False  # licence plan M365_ADVANCED_AUDITING enabled right now
    plan_removed_at: str | None = None
    licence_assigned: str = "2022-09-01T10:00:00Z"
    folders: dict[str, Folder] = field(default_factory=dict)
    is_admin: bool = False
    language: str = "en"             # default folder names and subjects: en, or a LOCAL_FOLDERS key

    @property
    def alias(self) -> str:
        return self.upn.split("@", 1)[0]


@dataclass(frozen=True, slots=True)
class MailboxSpec:
    """How a scenario wants one mailbox set up."""

    alias: str
    display: str
    kind: str = "user"
    licence: str | None = "E5"
    owner_set: tuple[str, ...] | None = None      # customised AuditOwner (drops Owner from default set)
    delegate_set: tuple[str, ...] | None = None   # customised AuditDelegate
    search_audited: bool = False                  # SearchQueryInitiated added to AuditOwner
    bypass: bool = False
    is_admin: bool = False
    language: str = "en"                          # "ru", "ja": localised folder names and subjects


def make_mailbox(seed: object, domain: str, spec: MailboxSpec, rng) -> Mailbox:
    """Create a mailbox with Microsoft-managed or customised audit sets and seeded folders."""
    upn = f"{spec.alias}@{domain}"
    premium = spec.licence == "E5"
    owner = list(C.OWNER_DEFAULT if premium else C.standard_set(C.OWNER_DEFAULT))
    delegate = list(C.DELEGATE_DEFAULT if premium else C.standard_set(C.DELEGATE_DEFAULT))
    admin = list(C.ADMIN_DEFAULT if premium else C.standard_set(C.ADMIN_DEFAULT))
    default_set = ["Admin", "Delegate", "Owner"]
    if spec.owner_set is not None or spec.search_audited:
        owner = list(spec.owner_set) if spec.owner_set is not None else owner
        if spec.search_audited and "SearchQueryInitiated" not in owner:
            owner.append("SearchQueryInitiated")
        default_set.remove("Owner")
    if spec.delegate_set is not None:
        delegate = list(spec.delegate_set)
        default_set.remove("Delegate")
    mbx = Mailbox(
        upn=upn, display=spec.display, kind=spec.kind, licence=spec.licence,
        object_id=guid_from(seed, "user", upn), mailbox_guid=guid_from(seed, "mailbox", upn),
        sid=sid_from(seed, upn), puid=puid_from(seed, upn),
        audit_owner=owner, audit_delegate=delegate, audit_admin=admin,
        default_audit_set=default_set, bypass=spec.bypass, advanced_auditing=premium,
        is_admin=spec.is_admin, language=spec.language,
    )
    local = LOCAL_FOLDERS.get(spec.language, {})
    for path, ftype, (lo, hi) in FOLDERS:
        mbx.folders[path] = Folder(path, ftype, folder_id(upn, path), rng.randint(lo, hi),
                                   prefix=f"{seed}|{upn}|{path}|".encode(), shown=local.get(path, ""))
    return mbx


def item_identity(seed: object, mailbox: Mailbox, folder: str, k: int) -> tuple[str, str, int]:
    """(InternetMessageId, Subject, SizeInBytes) of item k of a folder: a pure function."""
    # a short prefix per folder, not a live hasher object: 5 hashers per mailbox cost ~3 KB
    # each outside Python's heap, which dominated memory in the largest tenants
    d = hashlib.blake2b(mailbox.folders[folder].prefix + str(k).encode(), digest_size=12).digest()
    h = d.hex()
    if folder == "\\Sent Items" or folder == "\\Drafts":
        server = f"{mailbox.alias[:2].upper()}0PR0{d[0] % 9}MB{1000 + d[1] * 31 % 9000}"
        imid = f"<{h.upper()}@{server}.namprd05.prod.outlook.com>"
    else:
        imid = f"<{h}@{_EXTERNAL[d[2] % len(_EXTERNAL)]}>"
    topics = _LOCAL_TOPICS.get(mailbox.language, _TOPICS)
    subject = topics[d[3] % len(topics)].format(n=1000 + k, q=1 + d[4] % 4)
    size = 4000 + int.from_bytes(d[5:8], "big") % 250000
    return imid, subject, size


_LOGON_NAMES = {C.LOGON_OWNER: "Owner", C.LOGON_DELEGATE: "Delegate", C.LOGON_ADMIN: "Admin"}
_DEFAULTS = {C.LOGON_OWNER: C.OWNER_DEFAULT, C.LOGON_DELEGATE: C.DELEGATE_DEFAULT,
             C.LOGON_ADMIN: C.ADMIN_DEFAULT}


def audit_set(mbx: Mailbox, logon_type: int, after_expansion: bool) -> list[str] | tuple[str, ...]:
    """The actions audited for a logon type. A Microsoft-managed set (its logon type still in
    DefaultAuditSet) follows Microsoft's defaults, which gained the premium actions for
    E3 mailboxes at the expansion; a customised set stays as the admin left it (5.4)."""
    name = _LOGON_NAMES.get(logon_type, "Admin")
    if after_expansion and mbx.licence in ("E5", "E3") and name in mbx.default_audit_set:
        return _DEFAULTS.get(logon_type, C.ADMIN_DEFAULT)
    return (mbx.audit_owner if logon_type == C.LOGON_OWNER else
            mbx.audit_delegate if logon_type == C.LOGON_DELEGATE else mbx.audit_admin)
