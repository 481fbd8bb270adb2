"""Readiness: could a mailbox breach be investigated from this tenant's logging today?"""
