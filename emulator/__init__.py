"""A faithful fake Microsoft 365 over HTTPS on loopback, with scenarios, ground truth and faults.

Imports no product code (nothing from evkit, manifests, collector or report).
"""
