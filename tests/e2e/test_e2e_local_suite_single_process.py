"""`local_suite(single_process=True)`: the seven services as one process answer a Complete and a
streamed Complete as the suite does, with the exact cache and a budget hold, lead reasoning
reaches the orchestrator in the same process, no backend listens on a port of its own, and
SIGTERM stops it cleanly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import set_tenant_budget
from tollgate.cli.local_suite import DEMO_TENANT, local_suite
from tollgate.client import TollgateClient
from tollgate.gateway.flags_config import BACKENDS
from tollgate.v1 import common_pb2, gateway_pb2, lead_scoring_pb2

QUESTION: dict[str, Any] = {
    "messages": [{"role": "user", "content": "Is the house on Elm Street still for sale?"}],
    # Large enough that the answer ends on its own: cut-off answers are not cached.
    "max_tokens": 1000,
    "temperature": 0.0,
}
BUDGET_MICROS = 5_000_000
LEAD = lead_scoring_pb2.Lead(
    profile=lead_scoring_pb2.LeadProfile(lead_id="lead-1", name="Maria Lopez", source="web"),
    answers=lead_scoring_pb2.QualificationAnswers(
        budget="$450k", timeline="3 months", location="Austin", pre_approval="yes"
    ),
)


def _listening_ports(pid: int) -> set[int]:
    """Ports the process (and any child of it) listens on."""
    process = psutil.Process(pid)
    ports = set()
    for each in (process, *process.children(recursive=True)):
        for connection in each.net_connections(kind="inet"):
            if connection.status == psutil.CONN_LISTEN:
                ports.add(connection.laddr.port)
    return ports


@pytest.mark.timeout(300)
async def test_one_process_answers_a_complete_and_a_stream_with_cache_and_budget(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The emulator, never the real API; the suite's own embedded stores.
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    async with local_suite(start_timeout=240, single_process=True, workdir=tmp_path) as suite:
        names = [p.name for p in suite.processes]
        # The whole suite is the process named "gateway" (beside the emulator of the API).
        (service,) = [p for p in suite.processes if p.name == "gateway"]
        async with TollgateClient(suite.gateway, suite.admin_key) as admin:
            await set_tenant_budget(admin, DEMO_TENANT, BUDGET_MICROS)
        async with TollgateClient(suite.gateway, suite.api_key) as client:
            answered = await client.complete(**QUESTION)
            stream = client.stream(**QUESTION)
            streamed = await stream.text()
            scored = await client.stub.ScoreLead(
                gateway_pb2.ScoreLeadRequest(lead=LEAD, with_reasoning=True),
                metadata=client.metadata,
            )
        pid = service.process.pid
        environ = psutil.Process(pid).environ()
        listening = _listening_ports(pid)
    assert len(names) == 2, names
    # Claude answered the first through the orchestrator; the ledger held money for it.
    assert answered.account.cache_status == common_pb2.CACHE_STATUS_MISS
    assert answered.account.cost.total_micros > 0
    budget = answered.account.budget
    assert budget.scope == f"tenant:{DEMO_TENANT}/month"
    assert budget.limit_micros == BUDGET_MICROS
    assert 0 < budget.remaining_micros < BUDGET_MICROS
    # The exact cache answered the stream, for nothing.
    assert streamed == answered.text
    assert stream.account is not None
    assert stream.account.cache_status == common_pb2.CACHE_STATUS_EXACT
    assert stream.account.cost.total_micros == 0
    # Lead scoring asked Claude for its reasoning through the orchestrator of this process (its
    # own setting names another address; scoring would fail open without the reasoning).
    assert scored.score.reasoning_cost.total_micros > 0
    # The gateway listens where it should; no backend does, though each was given a port.
    assert int(suite.gateway.rsplit(":", 1)[1]) in listening
    backend_ports = {int(environ[f"TOLLGATE_{name.upper()}_PORT"]) for name in BACKENDS}
    assert not backend_ports & listening, (backend_ports, listening)
    # Stopped with SIGTERM on the way out: every service's stop hooks ran, and it exited cleanly.
    assert service.process.returncode == 0
    log = service.log_path.read_text()
    assert '"msg": "stopped"' in log
    assert "stop hook failed" not in log
