"""Helpers of the security tests: a plain Complete request, a usage reader, and test
certificates made with the openssl command line."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_KEY, FullSuite
from tollgate.common.pricing import PriceTable
from tollgate.v1 import budget_ledger_pb2, common_pb2, gateway_pb2


def question(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-5-5",
        "messages": [{"role": "user", "content": text}],
        # Large enough that answers end on their own: cut-off answers are not cached.
        "max_tokens": 1000,
        "temperature": 0.0,
        **extra,
    }


async def usage_totals(suite: FullSuite, tenant: str) -> tuple[int, int]:
    """(requests, cost in micro-dollars) the ledger reports for `tenant`, read as an admin."""
    await suite.settled()
    async with suite.client(ADMIN_KEY) as admin:
        reply = await admin.stub.GetUsageReport(
            gateway_pb2.GetUsageReportRequest(tenant_id=tenant), metadata=admin.metadata
        )
    totals = reply.report.totals
    return totals.requests, totals.cost_micros


def upstream_cost_micros(suite: FullSuite, *, output: bool = True) -> int:
    """What the Messages calls the emulator answered cost, priced from the usage it reported:
    what Anthropic would bill, whatever the ledger recorded. Without `output`, their prompts
    alone: the least a call that broke off mid-answer cost."""
    prices = PriceTable.load()
    total = 0
    for record in suite.emulator.stats.requests:
        if record.path != "/v1/messages" or not record.usage or not record.model:
            continue
        usage = common_pb2.Usage(
            **{k: int(v or 0) for k, v in record.usage.items() if k in _USAGE_FIELDS}
        )
        split = record.usage.get("cache_creation") or {}
        usage.cache_creation_5m_input_tokens = int(split.get("ephemeral_5m_input_tokens") or 0)
        usage.cache_creation_1h_input_tokens = int(split.get("ephemeral_1h_input_tokens") or 0)
        if not output:
            usage.output_tokens = 0
        total += prices.cost(record.model, usage).total_micros
    return total


_USAGE_FIELDS = {
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
}


async def set_tenant_budget(suite: FullSuite, tenant: str, limit_micros: int) -> None:
    """A monthly budget of `limit_micros` for `tenant`, set by the operator."""
    budget = budget_ledger_pb2.Budget(
        scope=budget_ledger_pb2.BudgetScope(
            kind=budget_ledger_pb2.SCOPE_KIND_TENANT, tenant_id=tenant
        ),
        period=budget_ledger_pb2.BUDGET_PERIOD_MONTH,
        limit_micros=limit_micros,
    )
    async with suite.client(ADMIN_KEY) as admin:
        await admin.stub.SetBudget(
            gateway_pb2.SetBudgetRequest(budget=budget), metadata=admin.metadata
        )


@pytest.fixture
def ask() -> Any:
    return question


@pytest.fixture
def read_usage() -> Any:
    return usage_totals


@dataclass(frozen=True)
class Certificates:
    """A test CA, a certificate it signed for the services (server and client use), and an
    unrelated CA with its own certificate, which no service may accept."""

    ca: Path
    cert: Path
    key: Path
    rogue_cert: Path
    rogue_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(folder: Path, name: str, ca: str) -> None:
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=folder,
    )  # fmt: skip
    (folder / f"{name}.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        cwd=folder,
    )  # fmt: skip


def _authority(folder: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
        cwd=folder,
    )  # fmt: skip


def issue_certificate(certificates: Certificates, name: str) -> tuple[Path, Path]:
    """(certificate, key) for `name` (its common name), signed by the test CA."""
    folder = certificates.ca.parent
    if not (folder / f"{name}.pem").exists():
        _issue(folder, name, certificates.ca.stem)
    return folder / f"{name}.pem", folder / f"{name}.key"


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    folder = tmp_path_factory.mktemp("tls")
    _authority(folder, "tollgate-test-ca")
    _issue(folder, "tollgate-service", "tollgate-test-ca")
    _authority(folder, "rogue-ca")
    _issue(folder, "rogue-service", "rogue-ca")
    return Certificates(
        ca=folder / "tollgate-test-ca.pem",
        cert=folder / "tollgate-service.pem",
        key=folder / "tollgate-service.key",
        rogue_cert=folder / "rogue-service.pem",
        rogue_key=folder / "rogue-service.key",
    )
