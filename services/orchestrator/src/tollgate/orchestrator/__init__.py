"""Tollgate orchestrator: the only caller of Claude."""
