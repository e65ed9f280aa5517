"""Fixtures every test directory shares: real Redis and Postgres, in-process servers."""

# First, before anything imports gRPC (which reads the setting once): `tollgate.cli` turns gRPC's
# fork handlers off, as it does for the command and the benchmarks. Tests start processes that
# fork (the embedded Postgres's initdb and pg_ctl) while gRPC threads run, and with the handlers
# on such a child can die of a segmentation fault, or take the test process with it.
import tollgate.cli  # noqa: F401

pytest_plugins = ["tollgate.common.testing"]
