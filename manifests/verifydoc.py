"""VERIFY.md: the stock-tool commands a recipient runs, filled in with this bundle's signer.

Kept in step with manifests/verify.py: `evkit verify` checks exactly what these commands check
(tests run both on the same bundles, trusting a key the recipient holds, never the bundle's own
keys/ copies). The template uses literal braces (PowerShell needs them); only the
`{case_id}`, `{collection_id}`, `{signer}`, `{fingerprint}` and `{namespace}` tokens are filled in.
"""

from __future__ import annotations

from evkit.manifests.layout import NAMESPACE

# The placeholders a recipient replaces before running the commands.
KEY_PLACEHOLDER = "/path/to/examiner-key.pub"
TRUST_PLACEHOLDER = "$HOME/evkit_allowed_signers"
WINDOWS_KEY_PLACEHOLDER = "C:\\path\\to\\examiner-key.pub"

_TEMPLATE = """\
# How to verify this evidence bundle

- Case: `{case_id}`; collection: `{collection_id}`
- The bundle says it was sealed by: `{signer}`, key fingerprint `{fingerprint}`

That line comes from the bundle itself, so it proves nothing: whoever could alter this bundle
could also rewrite it, and replace the key copies under `keys/`. **Check the signature against
the examiner's public key as you received it out of band** (in the engagement letter, from a
known e-mail address, on the firm's website, on paper), and compare the fingerprint that
`ssh-keygen -lf` prints for that key file with the fingerprint the examiner published. The
commands below never use the bundle's own `keys/` folder.

Run every command from inside this directory (the one holding `bagit.txt`). Any `FAILED`,
`BROKEN`, `NOT VERIFIED`, `Could not verify`, `LINK` or non-zero exit status means: do not rely
on the bundle, and ask the examiner. "This tool cannot check it" (for example LibreSSL on macOS)
is not the same as "invalid": use another of the checks below.

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
evkit verify . --signer-key /path/to/examiner-key.pub      # or --allowed-signers YOUR_FILE
```

## Linux (coreutils, OpenSSH >= 8.1, OpenSSL >= 3.0)

```sh
# 0. Fill in the two paths. EXAMINER_KEY: the examiner's public key file as you received it
#    out of band. TRUSTED: your own allowed_signers file (one line per person whose key you
#    trust: the examiner, and anyone else who signed a custody record); it is created or
#    extended here with the examiner's key. Keep both outside this folder.
EXAMINER_KEY=/path/to/examiner-key.pub
TRUSTED=$HOME/evkit_allowed_signers
EXAMINER='{signer}'
#    compare this fingerprint with the one the examiner published
ssh-keygen -lf "$EXAMINER_KEY"
grep -qF "$(cut -d' ' -f2 "$EXAMINER_KEY")" "$TRUSTED" 2>/dev/null || \\
  printf '%s namespaces="{namespace}" %s\\n' "$EXAMINER" "$(cut -d' ' -f1,2 "$EXAMINER_KEY")" >> "$TRUSTED"
# 1. nothing in the bundle is a link or a special file (those are never evidence)
#    (if this prints LINK, stop here: the other steps could follow the link or wait forever)
if [ -n "$(find . \\( -type l -o \\( ! -type f ! -type d \\) \\) -print)" ]; then
  echo "LINK or special file found: do not rely on this bundle"; else echo "no links or special files"; fi
# 2. every tag file and every payload file matches the manifests (prints only failures)
sha256sum -c --quiet tagmanifest-sha256.txt && sha256sum -c --quiet manifest-sha256.txt && echo "hashes OK"
# 3. no extra payload files (sha256sum -c cannot see additions); bash syntax
diff <(find data -type f | sort) <(cut -c67- manifest-sha256.txt | sort) && echo "payload set OK"
# 4. the signature over the tag manifest, checked against YOUR copy of the examiner's key
ssh-keygen -Y verify -f "$TRUSTED" -I "$EXAMINER" -n {namespace} \\
  -s signatures/tagmanifest-sha256.txt.sshsig < tagmanifest-sha256.txt
# 5. the same signature with OpenSSL (raw Ed25519), again with YOUR copy of the key
{ printf '\\060\\052\\060\\005\\006\\003\\053\\145\\160\\003\\041\\000'; cut -d' ' -f2 "$EXAMINER_KEY" | base64 -d | tail -c 32; } \\
  | openssl pkey -pubin -inform DER -out "$TRUSTED.examiner.pem"
openssl pkeyutl -verify -pubin -inkey "$TRUSTED.examiner.pem" -rawin \\
  -in tagmanifest-sha256.txt -sigfile signatures/tagmanifest-sha256.txt.sig
# 6. custody records: each names the SHA-256 of the previous record and of the tag manifest,
#    and EVERY record is signed by a key in YOUR trust file under the name it states
prev=0000000000000000000000000000000000000000000000000000000000000000
tag=$(sha256sum < tagmanifest-sha256.txt | cut -c1-64)
for f in custody/[0-9][0-9][0-9][0-9].json; do
  grep -q "\\"prev_record_sha256\\":\\"$prev\\"" "$f" && grep -q "\\"tagmanifest_sha256\\":\\"$tag\\"" "$f" \\
    && echo "$f: chain OK" || echo "$f: chain BROKEN"
  who=$(grep -o '"signer":"[^"]*"' "$f" | head -n 1 | cut -d'"' -f4)
  ssh-keygen -Y verify -f "$TRUSTED" -I "$who" -n {namespace} -s "$f.sshsig" < "$f" > /dev/null 2>&1 \\
    && echo "$f: signed by $who with a key you trust" || echo "$f: signature NOT VERIFIED for $who"
  prev=$(sha256sum < "$f" | cut -c1-64)
done
# 7. (optional, any OS with Python) full BagIt validation by an independent implementation
python3 -m pip install bagit && python3 -m bagit --validate .
```

`ssh-keygen -Y verify` exits 0 and prints `Good "{namespace}" signature for NAME` when the
signature is good and the key is in your file under NAME; it exits 255 otherwise. A record
signed by someone whose key you have not added shows `NOT VERIFIED`: add their key (received
out of band) to your trust file as a line `their@address namespaces="{namespace}" ssh-ed25519 AAAA...`.

## macOS

The same as Linux with these changes: use `shasum -a 256 -c --quiet` instead of
`sha256sum -c --quiet`, and `shasum -a 256 < FILE | cut -c1-64` instead of
`sha256sum < FILE | cut -c1-64` in step 6; `base64 -D` instead of `base64 -d` on older macOS;
skip step 5 unless Homebrew `openssl@3` is installed (`/usr/bin/openssl` is LibreSSL and cannot
verify Ed25519). Step 4 (`ssh-keygen`) is the stock check.

## Windows 10/11 (inbox OpenSSH, PowerShell 5+)

```powershell
# 0. Fill in: the examiner's key file as you received it out of band, and your trust file
$ExaminerKey = 'C:\\path\\to\\examiner-key.pub'
$Trusted = "$env:USERPROFILE\\evkit_allowed_signers"
$Examiner = '{signer}'
ssh-keygen -lf $ExaminerKey     # compare with the fingerprint the examiner published
$k = ((Get-Content $ExaminerKey -TotalCount 1) -split ' ')[0..1] -join ' '
if (-not ((Test-Path $Trusted) -and (Select-String -Quiet -SimpleMatch $k $Trusted))) {
  Add-Content -Encoding ascii $Trusted "$Examiner namespaces=`"{namespace}`" $k" }
# 1. nothing in the bundle is a link (reparse point)
Get-ChildItem -Recurse -Force -Attributes ReparsePoint . | ForEach-Object { "LINK $($_.FullName)" }
# 2. file hashes: prints nothing when every file matches
foreach ($m in 'tagmanifest-sha256.txt', 'manifest-sha256.txt') {
  Get-Content $m | ForEach-Object {
    $h, $p = $_ -split '\\s+', 2
    if ((Get-FileHash -Algorithm SHA256 -LiteralPath $p).Hash -ne $h.ToUpper()) { "FAILED $p" } } }
# 3. no extra payload files
$listed = Get-Content .\\manifest-sha256.txt | ForEach-Object { ($_ -split '\\s+', 2)[1] }
Get-ChildItem -Recurse -File data | ForEach-Object {
  $rel = (Resolve-Path -Relative $_.FullName).Substring(2).Replace('\\', '/')
  if ($listed -notcontains $rel) { "EXTRA $rel" } }
# 4. signature, against YOUR trust file; cmd's '<' passes the bytes unchanged (do NOT pipe)
cmd /c "ssh-keygen -Y verify -f `"$Trusted`" -I $Examiner -n {namespace} -s signatures\\tagmanifest-sha256.txt.sshsig < tagmanifest-sha256.txt"
# (5. needs OpenSSL 3, which Windows does not ship: skip it)
# 6. custody: the chain, and EVERY record's signature against YOUR trust file
$prev = '0' * 64
$tag = (Get-FileHash -Algorithm SHA256 -LiteralPath tagmanifest-sha256.txt).Hash.ToLower()
Get-ChildItem custody\\*.json | Sort-Object Name | ForEach-Object {
  $text = [IO.File]::ReadAllText($_.FullName)
  if (-not ($text.Contains("`"prev_record_sha256`":`"$prev`"") -and $text.Contains("`"tagmanifest_sha256`":`"$tag`""))) {
    "$($_.Name): chain BROKEN" }
  $who = [regex]::Match($text, '"signer":"([^"]*)"').Groups[1].Value
  cmd /c "ssh-keygen -Y verify -f `"$Trusted`" -I `"$who`" -n {namespace} -s custody\\$($_.Name).sshsig < custody\\$($_.Name)" | Out-Null
  if ($LASTEXITCODE -ne 0) { "$($_.Name): signature NOT VERIFIED for $who" }
  $prev = (Get-FileHash -Algorithm SHA256 -LiteralPath $_.FullName).Hash.ToLower() }
```

## Years later

Use the same commands with the key you kept. If `ssh-keygen` is unavailable,
`signatures/tagmanifest-sha256.txt.sig` is a plain RFC 8032 Ed25519 signature over the bytes of
`tagmanifest-sha256.txt`: any Ed25519 implementation can check it against the 32-byte public key
(the last 32 bytes of the base64-decoded second field of the examiner's `.pub` file).
"""  # noqa: E501 - three command lines of the template are copied and run as they are: not wrapped


def render_verify_md(*, case_id: str, collection_id: str, signer: str, fingerprint: str) -> bytes:
    """VERIFY.md for one bundle, UTF-8, LF line endings."""
    text = _TEMPLATE
    for token, value in (("{case_id}", case_id), ("{collection_id}", collection_id), ("{signer}", signer),
                         ("{fingerprint}", fingerprint), ("{namespace}", NAMESPACE)):
        text = text.replace(token, value)
    return text.encode("utf-8")
