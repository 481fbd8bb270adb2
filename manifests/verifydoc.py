"""VERIFY.md: the stock-tool commands a recipient runs, filled in with this bundle's signer.

Kept in step with manifests/verify.py: `evkit verify` checks exactly what these commands check
(tests run both on the same bundles).
"""

from __future__ import annotations

from evkit.manifests.layout import NAMESPACE

_TEMPLATE = """\
# How to verify this evidence bundle

- Case: `{case_id}`; collection: `{collection_id}`
- Sealed by: `{signer}`
- Signing key fingerprint: `{fingerprint}`

**Compare that fingerprint with the one the examiner published out of band** (engagement
letter, expert report, the firm's website, the paper case file). The copies under `keys/` are a
convenience only: whoever could alter this bundle could also replace them. A signature that
verifies against a key you have not checked proves nothing about who made the bundle.

Run every command from inside this directory (the one holding `bagit.txt`). Any `FAILED`,
`BROKEN`, `Could not verify` or non-zero exit status means: do not rely on the bundle, and ask
the examiner. "This tool cannot check it" (for example LibreSSL on macOS) is not the same as
"invalid": use another of the checks below.

Never "update", "repair" or re-save this bag with a BagIt tool: that rewrites the signed
manifests and breaks the signature.

What the bundle holds: `data/` is the evidence (every file listed in `manifest-sha256.txt` and
`manifest-sha512.txt`); `tagmanifest-*.txt` list the hashes of `bagit.txt`, `bag-info.txt`, the
manifests, this file and `keys/`; `signatures/` holds two signatures by the same Ed25519 key over
`tagmanifest-sha256.txt` (raw RFC 8032 `.sig`, OpenSSH `.sshsig` with namespace `{namespace}`);
`custody/NNNN.json` are the chain-of-custody records, each with the SHA-256 of the previous
record and of `tagmanifest-sha256.txt`, each signed (`.sshsig`) by whoever made it.

## With evkit

```sh
evkit verify . --signer-key /path/to/published/signer.pub      # or --allowed-signers FILE
```

## Linux (coreutils, OpenSSH >= 8.1, OpenSSL >= 3.0)

```sh
# 1. every tag file and every payload file matches the signed manifests
sha256sum -c tagmanifest-sha256.txt
sha256sum -c manifest-sha256.txt
# 2. no extra payload files (sha256sum -c cannot see additions); bash syntax
diff <(find data -type f | sort) <(cut -c67- manifest-sha256.txt | sort) && echo "payload set OK"
# 3. the signature over the tag manifest; compare the printed SHA256:... with the published fingerprint
ssh-keygen -Y verify -f keys/allowed_signers -I {signer} -n {namespace} \\
  -s signatures/tagmanifest-sha256.txt.sshsig < tagmanifest-sha256.txt
# 4. the same signature check with OpenSSL (raw Ed25519)
openssl pkeyutl -verify -pubin -inkey keys/signer.pub.pem -rawin \\
  -in tagmanifest-sha256.txt -sigfile signatures/tagmanifest-sha256.txt.sig
# 5. custody records: each names the SHA-256 of the previous record and of the tag manifest
prev=0000000000000000000000000000000000000000000000000000000000000000
tag=$(sha256sum < tagmanifest-sha256.txt | cut -c1-64)
for f in custody/[0-9][0-9][0-9][0-9].json; do
  grep -q "\\"prev_record_sha256\\":\\"$prev\\"" "$f" && grep -q "\\"tagmanifest_sha256\\":\\"$tag\\"" "$f" \\
    && echo "$f: chain OK" || echo "$f: chain BROKEN"
  prev=$(sha256sum < "$f" | cut -c1-64)
done
#    and each record's signature; record 0001 ("sealed") is signed by the key above:
ssh-keygen -Y verify -f keys/allowed_signers -I {signer} -n {namespace} \\
  -s custody/0001.json.sshsig < custody/0001.json
#    a later record made by someone else (its "actor" says who) verifies against THEIR
#    published key: ssh-keygen -Y verify -f their_allowed_signers -I their@address -n {namespace} ...
# 6. (optional, any OS with Python) full BagIt validation by an independent implementation
python3 -m pip install bagit && python3 -m bagit --validate .
```

## macOS

The same as Linux with two changes: use `shasum -a 256 -c` instead of `sha256sum -c` (and
`shasum -a 256 < FILE | cut -c1-64` in step 5); skip step 4 unless Homebrew `openssl@3` is
installed (`/usr/bin/openssl` is LibreSSL and cannot verify Ed25519). Step 3 (`ssh-keygen`) is
the stock check.

## Windows 10/11 (inbox OpenSSH, PowerShell 5+)

```powershell
# 1. file hashes: run for .\\tagmanifest-sha256.txt and for .\\manifest-sha256.txt;
#    prints nothing when every file matches
Get-Content .\\tagmanifest-sha256.txt | ForEach-Object {{
  $h, $p = $_ -split '\\s+', 2
  if ((Get-FileHash -Algorithm SHA256 -LiteralPath $p).Hash -ne $h.ToUpper()) {{ "FAILED $p" }} }}
# 2. no extra payload files
$listed = Get-Content .\\manifest-sha256.txt | ForEach-Object {{ ($_ -split '\\s+', 2)[1] }}
Get-ChildItem -Recurse -File data | ForEach-Object {{
  $rel = (Resolve-Path -Relative $_.FullName).Substring(2).Replace('\\', '/')
  if ($listed -notcontains $rel) {{ "EXTRA $rel" }} }}
# 3. signature: use cmd's '<' so the bytes reach ssh-keygen unchanged (do NOT pipe from PowerShell)
cmd /c "ssh-keygen -Y verify -f keys\\allowed_signers -I {signer} -n {namespace} -s signatures\\tagmanifest-sha256.txt.sshsig < tagmanifest-sha256.txt"
# (4. needs OpenSSL 3, which Windows does not ship: skip it)
# 5. custody: the SHA-256 of each record must appear as "prev_record_sha256" in the next one
Get-ChildItem custody\\*.json | Sort-Object Name | ForEach-Object {{
  "$($_.Name) $((Get-FileHash -Algorithm SHA256 -LiteralPath $_.FullName).Hash.ToLower())" }}
cmd /c "ssh-keygen -Y verify -f keys\\allowed_signers -I {signer} -n {namespace} -s custody\\0001.json.sshsig < custody\\0001.json"
```

## Years later

Use the same commands. If `ssh-keygen` is unavailable, `signatures/tagmanifest-sha256.txt.sig`
is a plain RFC 8032 Ed25519 signature over the bytes of `tagmanifest-sha256.txt`: any Ed25519
implementation can check it against the 32-byte public key in `keys/signer.pub.pem`.
"""


def render_verify_md(*, case_id: str, collection_id: str, signer: str, fingerprint: str) -> bytes:
    """VERIFY.md for one bundle, UTF-8, LF line endings."""
    return _TEMPLATE.format(case_id=case_id, collection_id=collection_id, signer=signer,
                            fingerprint=fingerprint, namespace=NAMESPACE).encode("utf-8")
