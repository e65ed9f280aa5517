"""Tollgate semantic cache service."""
