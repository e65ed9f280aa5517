"""Typed async client for the Tollgate gateway."""
