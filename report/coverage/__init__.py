"""Audit coverage: was a mailbox's access logged, and when (shared by report and readiness)."""
