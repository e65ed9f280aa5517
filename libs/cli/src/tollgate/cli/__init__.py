"""The `tollgate` command."""

import os

# The command starts processes (embedded Postgres's initdb among them) while its gRPC threads
# run. gRPC's fork handlers are for children that go on running Python, which ours never do:
# with them on, a child forked mid-poll could abort before it reached exec.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
