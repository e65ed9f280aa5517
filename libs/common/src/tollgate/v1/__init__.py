"""Code generated from protos/tollgate/v1 by `make protos`. Do not edit."""
