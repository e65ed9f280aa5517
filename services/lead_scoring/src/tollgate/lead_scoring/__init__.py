"""Tollgate lead scoring service."""
