"""Fixtures every test directory shares: real Redis and Postgres, in-process servers."""

import os

# Before anything imports gRPC, which reads this once: tests start processes (the embedded
# Postgres's initdb and pg_ctl, which fork rather than spawn) while gRPC threads run, and gRPC's
# fork handlers, meant for children that go on running Python, can crash a child forked
# mid-poll, or the test process itself. Ours always exec at once.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

pytest_plugins = ["tollgate.common.testing"]
