"""Tollgate cache service."""
