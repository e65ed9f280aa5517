"""Packed bulk classification: several items per Claude call, each item answered on its own."""
