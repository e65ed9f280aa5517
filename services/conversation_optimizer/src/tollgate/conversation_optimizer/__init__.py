"""Tollgate conversation optimizer service."""
