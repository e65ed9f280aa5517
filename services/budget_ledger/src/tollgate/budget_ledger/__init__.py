"""Tollgate budget ledger service."""
