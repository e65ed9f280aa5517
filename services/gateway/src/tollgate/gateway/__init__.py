"""Tollgate gateway: the one public gRPC API."""
