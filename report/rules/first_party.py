"""Microsoft first-party application ids that are never suggested as attacker applications.

These ids name Microsoft's own services and clients, which every user of a tenant reaches: an
`AppId` of Microsoft Graph or Exchange Online on a MailItemsAccessed record says which service
was called, not who called it. Suggesting one would invite an analyst to attribute all of that
service's traffic to the attacker. The application that made the call is the record's
`ClientAppId` (or AppAccessContext.ClientAppId), which is weighed like any other app id.
A case file may still name one of these ids as an indicator: only suggestions skip them.

Sources (Microsoft documentation, by page title): "Verify first-party Microsoft applications in
sign-in reports" (Microsoft Entra, the table of application ids and names); "Microsoft Graph
permissions reference" (Microsoft Graph's application id); "Authenticate an EWS application by
using OAuth" and "App-only authentication for unattended scripts in Exchange Online PowerShell"
(Office 365 Exchange Online's application id). PowerShell, command-line and authentication
broker clients are deliberately absent: attackers use them, and a new one is a lead.
"""

from __future__ import annotations

from collections.abc import Mapping

FIRST_PARTY_APPS: Mapping[str, str] = {
    # resources: the service called
    "00000003-0000-0000-c000-000000000000": "Microsoft Graph",
    "00000002-0000-0ff1-ce00-000000000000": "Office 365 Exchange Online",
    "00000003-0000-0ff1-ce00-000000000000": "Office 365 SharePoint Online",
    "00000002-0000-0000-c000-000000000000": "Windows Azure Active Directory",
    "00000004-0000-0ff1-ce00-000000000000": "Skype for Business Online",
    "00000006-0000-0ff1-ce00-000000000000": "Microsoft Office 365 Portal",
    "c5393580-f805-4401-95e8-94b7a6ef2fc2": "Office 365 Management APIs",
    # clients everyone uses: Outlook, Outlook on the web, Office, Teams
    "d3590ed6-52b3-4102-aeff-aad2292ab01c": "Microsoft Office",
    "5d661950-3475-41cd-a2c3-d671a3162bc1": "Microsoft Outlook",
    "27922004-5251-4030-b22d-91ecd9a37ea4": "Outlook Mobile",
    "9199bf20-a13f-4107-85dc-02114787ef48": "One Outlook Web",
    "bc59ab01-8403-45c6-8796-ac3ef710b3e3": "Outlook Online Add-in App",
    "1fec8e78-bce4-4aaf-ab1b-5451cc387264": "Microsoft Teams",
    "5e3ce6c0-2b1f-4285-8d4b-75ee78787346": "Microsoft Teams Web Client",
    "0ec893e0-5785-4de6-99da-4ed124e5296c": "Office UWP PWA",
    "4345a7b9-9a63-4910-a426-35363201d503": "O365 Suite UX",
    "89bee1f7-5e6e-4d8a-9f3d-ecd601259da7": "Office365 Shell WCSS-Client",
}


def is_first_party(app_id: str) -> bool:
    """True for a Microsoft first-party application id (case and surrounding space ignored)."""
    return app_id.strip().lower() in FIRST_PARTY_APPS
