"""VERIFY.txt: how anyone checks the bundle by hand, with sha256sum and openssl only."""

from __future__ import annotations

TEXT = """\
HOW TO CHECK THIS EVIDENCE FILE
===============================

This folder was exported by No Contact. Every message in items/ is the exact original, byte for
byte as it was received. Nothing here needs No Contact to be checked: a Linux or macOS terminal
with sha256sum (or "shasum -a 256") and OpenSSL 3 is enough. Run the commands inside the
unzipped folder.

1. The manifest is signed by the service that received the messages.

     openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin \\
         -in manifest.json -sigfile manifest.sig

   It must print "Signature Verified Successfully". The signature is Ed25519 (RFC 8032) over
   the exact bytes of manifest.json. The same public key is in manifest.json ("public_key").
   Compare its fingerprint with one obtained independently from the person who runs the
   service:   sha256sum public-key.pem

2. The list of checksums is the one the manifest names.

     sha256sum SHA256SUMS

   The hash printed must equal "sha256sums" in manifest.json.

3. Every file is unchanged.

     sha256sum -c SHA256SUMS

   Every line must end in "OK". The same hashes are listed under "files" in manifest.json,
   and each message's hash also appears under "items" (field "sha256"): it was computed when
   the message arrived, before anyone could read it.

4. The ledger is unbroken (optional, needs a small script or No Contact).

   ledger.jsonl holds one line per event, oldest first. Each line has "prev", "hash" and
   "entry", and   hash = SHA-256( bytes of prev (hex-decoded) || UTF-8 bytes of entry ).
   The first line's prev is 64 zeros; each line's prev is the hash of the line before. Each
   item in the manifest names its line ("ledger_seq"); that entry holds the same "sha256".
   Entries hold only ids and hashes, so the whole chain can be shown while disclosing only
   the messages in items/. The last entry is this export. "checkpoint" in manifest.json is
   a statement of the ledger's length and head signed with the same key.

   With No Contact installed, all of this is one command:   nocontact verify <bundle.zip>

Times are UTC from the receiving server's clock. report.pdf and report.html are readable
copies for convenience; the originals in items/ are the evidence. incidents.csv lists one
row per contact attempt in the shape of a police incident log.
"""


def verify_text() -> str:
    return TEXT
