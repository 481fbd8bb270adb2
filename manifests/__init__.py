"""Evidence bundles: BagIt layout, hashing, Ed25519 signing, custody records and verification.

Imports nothing from collector or report: this is what a third party runs to verify.
"""
