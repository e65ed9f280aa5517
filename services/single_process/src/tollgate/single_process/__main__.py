"""`python -m tollgate.single_process`: run the whole suite in one process (see `suite`)."""

from __future__ import annotations

from tollgate.common.server import run
from tollgate.single_process.suite import build_suite

if __name__ == "__main__":
    run(build_suite)
