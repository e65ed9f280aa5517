"""The seven images, built from the one Dockerfile and run as the chart runs them: a read-only
root filesystem, a non-root user, no capabilities. They reach the machine's Postgres and Redis and
the Anthropic API emulator (served by this test) on loopback only. Through the gateway container
and the project's client: a unary answer, a stream, an exact-cache hit and a budget refusal; then
SIGTERM drains every container (a stream in flight on the gateway completes) and each exits 0
within its grace period. The single-process image, configured by the same variables, migrates the
ledger's schema, answers a completion on the gateway's port and drains on SIGTERM too.

Needs a Docker engine (`scripts/docker-engine.sh` starts one); without one it is skipped and the
run says so at the end. The images are (re)built first by scripts/build-images.sh, so they hold
the code under test; unchanged layers come from the engine's cache."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from tests.conftest import ADMIN_KEY, API_KEY, set_tenant_budget, write_keys_file
from tests.containers.docker import HARDENING, SKIP_REASON, Containers, docker, engine_answers
from tollgate.cli.local_suite import DEFAULT_FLAGS, SERVICES, free_port
from tollgate.client import TollgateClient, TollgateError
from tollgate.common.health import wait_until_serving
from tollgate.emulator import EmulatorServer
from tollgate.v1 import common_pb2

REPO = Path(__file__).resolve().parents[2]
GRACE_SECONDS = 10.0
# Starting seven containers on a busy 2-core machine, the semantic cache loading its model.
START_TIMEOUT_SECONDS = 120.0
REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-5-5",
    "system": "You answer questions about mortgages for a brokerage.",
    "messages": [{"role": "user", "content": "How long is a rate lock valid?"}],
    "max_tokens": 120,
    "temperature": 0.0,
}

pytestmark = [
    pytest.mark.skipif(not engine_answers(), reason=SKIP_REASON),
    # A cold build of the images happens inside this budget on a fresh machine.
    pytest.mark.timeout(1800),
]


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    """Image per service module, freshly built (cached layers make an unchanged build quick)."""
    tag = os.environ.get("TOLLGATE_IMAGE_TAG", "dev")
    result = subprocess.run(
        [str(REPO / "scripts" / "build-images.sh")],
        env={**os.environ, "TOLLGATE_IMAGE_TAG": tag},
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    modules = [*(module for module, _ in SERVICES), "single_process"]
    return {module: f"tollgate/{module.replace('_', '-')}:{tag}" for module in modules}


def service_env(
    ports: dict[str, int], emulator_url: str, redis_url: str, redis_prefix: str, database: str
) -> dict[str, dict[str, str]]:
    """Each container's environment: loopback addresses, the stores, a short grace period."""
    env: dict[str, dict[str, str]] = {}
    for module, _ in SERVICES:
        prefix = f"TOLLGATE_{module.upper()}_"
        env[module] = {
            prefix + "HOST": "127.0.0.1",
            prefix + "PORT": str(ports[module]),
            prefix + "METRICS_PORT": str(free_port()),
            prefix + "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        }
    env["orchestrator"] |= {
        "TOLLGATE_ORCHESTRATOR_ANTHROPIC_BASE_URL": emulator_url,
        "TOLLGATE_ORCHESTRATOR_ANTHROPIC_API_KEY": "emulator-key",
    }
    env["cache"] |= {
        "TOLLGATE_CACHE_REDIS_URL": redis_url,
        "TOLLGATE_CACHE_KEY_PREFIX": redis_prefix,
    }
    env["budget_ledger"] |= {
        "TOLLGATE_BUDGET_LEDGER_DATABASE_URL": database,
        "TOLLGATE_BUDGET_LEDGER_MIGRATE_ON_START": "true",
    }
    env["lead_scoring"]["TOLLGATE_LEAD_SCORING_ORCHESTRATOR_ADDR"] = (
        f"127.0.0.1:{ports['orchestrator']}"
    )
    env["gateway"] |= {
        "TOLLGATE_GATEWAY_API_KEYS_FILE": "/etc/tollgate/api-keys/keys.yaml",
        "TOLLGATE_GATEWAY_FLAGS_FILE": "/etc/tollgate/flags/flags.yaml",
        # The machine is shared: give the optional lookups room rather than skip them.
        "TOLLGATE_GATEWAY_CACHE_TIMEOUT_SECONDS": "2",
        "TOLLGATE_GATEWAY_SEMANTIC_CACHE_TIMEOUT_SECONDS": "5",
        "TOLLGATE_GATEWAY_CONVERSATION_OPTIMIZER_TIMEOUT_SECONDS": "5",
        "TOLLGATE_GATEWAY_BUDGET_LEDGER_TIMEOUT_SECONDS": "5",
    }
    for module, _ in SERVICES:
        if module != "gateway":
            env["gateway"][f"TOLLGATE_GATEWAY_{module.upper()}_ADDR"] = f"127.0.0.1:{ports[module]}"
    return env


def single_process_env(env: dict[str, dict[str, str]]) -> dict[str, str]:
    """The suite's one environment: the gateway's, less the backends' addresses (they are in its
    process), and each backend's own settings, less those of a server or a call of its own."""
    own = ("_HOST", "_PORT", "_METRICS_PORT", "_ORCHESTRATOR_ADDR")
    merged = {k: v for k, v in env["gateway"].items() if not k.endswith("_ADDR")}
    for module, settings in env.items():
        if module != "gateway":
            merged |= {k: v for k, v in settings.items() if not k.endswith(own)}
    return merged


def gateway_files(tmp_path: Path) -> dict[Path, str]:
    """The gateway's API keys and flags, mounted where the chart mounts them."""
    keys = write_keys_file(tmp_path / "keys.yaml")
    flags = tmp_path / "flags.yaml"
    flags.write_text(yaml.safe_dump(DEFAULT_FLAGS))
    for path in (keys, flags):
        path.chmod(0o644)  # read by the containers' unprivileged user
    return {keys: "/etc/tollgate/api-keys/keys.yaml", flags: "/etc/tollgate/flags/flags.yaml"}


Settings = tuple[dict[str, int], dict[str, dict[str, str]]]


@pytest.fixture
def settings(
    emulator: EmulatorServer, redis_url: str, redis_namespace: str, postgres_dsn: str
) -> Settings:
    """A free loopback port per service, and each container's environment."""
    ports = {module: free_port() for module, _ in SERVICES}
    return ports, service_env(ports, emulator.base_url, redis_url, redis_namespace, postgres_dsn)


@pytest.fixture
async def suite(
    images: dict[str, str], settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[Containers, str]]:
    """The seven containers, SERVING; the gateway's address. Removed whatever happens."""
    ports, env = settings
    mounts = {"gateway": gateway_files(tmp_path)}
    containers = Containers(prefix=f"tollgate-test-{secrets.token_hex(3)}")
    try:
        for module, _ in SERVICES:
            await containers.run(module, images[module], env[module], mounts.get(module, {}))
        for module, _ in SERVICES:
            try:
                await wait_until_serving(f"127.0.0.1:{ports[module]}", START_TIMEOUT_SECONDS)
            except TimeoutError:
                pytest.fail(f"{module} did not serve:\n{await containers.logs(module)}")
        yield containers, f"127.0.0.1:{ports['gateway']}"
    finally:
        await containers.remove_all()


async def _set_tenant_budget(gateway: str, limit_micros: int) -> None:
    async with TollgateClient(gateway, ADMIN_KEY) as admin:
        await set_tenant_budget(admin, "acme", limit_micros)


def upstream_calls(emulator: EmulatorServer) -> int:
    return sum(1 for r in emulator.stats.requests if r.path == "/v1/messages")


async def _until_exact_hit(client: TollgateClient) -> common_pb2.Account:
    """The answer is stored after the reply, off the critical path: ask until it is there."""
    for _ in range(20):
        answer = await client.complete(**REQUEST)
        if answer.account.cache_status == common_pb2.CACHE_STATUS_EXACT:
            return answer.account
        await asyncio.sleep(0.25)
    pytest.fail("the repeated request was never answered from the exact cache")


async def test_the_seven_images_serve_through_the_gateway_and_drain_on_sigterm(
    suite: tuple[Containers, str], emulator: EmulatorServer
) -> None:
    containers, gateway = suite
    for module in containers.names:
        # As the chart runs them: read-only root filesystem, the unprivileged user.
        assert await containers.inspect(module, "{{.HostConfig.ReadonlyRootfs}}") == "true"
        assert await containers.inspect(module, "{{.Config.User}}") == "10001:10001"
    async with TollgateClient(gateway, API_KEY) as client:
        unary = await client.complete(**REQUEST)
        assert unary.text
        assert unary.account.cache_status == common_pb2.CACHE_STATUS_MISS
        assert unary.account.cost.total_micros > 0

        stream = client.stream(
            **{**REQUEST, "messages": [{"role": "user", "content": "Draft a viewing reminder."}]}
        )
        events = [event async for event in stream]
        kinds = [event.WhichOneof("event") for event in events]
        assert kinds[0] == "message_start"
        assert kinds[-1] == "message_stop"
        assert "content_block_delta" in kinds
        assert stream.account is not None

        hit = await _until_exact_hit(client)
        assert hit.cost.total_micros == 0
        assert hit.saved_micros > 0

        await _set_tenant_budget(gateway, 100)  # less than any request
        upstream_before = upstream_calls(emulator)
        refused_question = {"role": "user", "content": "Summarise this lead's needs."}
        with pytest.raises(TollgateError) as refused:
            await client.complete(**{**REQUEST, "messages": [refused_question]})
        assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert refused.value.metadata["limit_micros"] == "100"
        assert upstream_calls(emulator) == upstream_before
        await _set_tenant_budget(gateway, 100_000_000)

        # SIGTERM while a streamed answer (about 3 s at 40 tokens/s) is in flight: it completes.
        emulator.config.latency.tokens_per_second = 40
        draining = client.stream(
            **{**REQUEST, "messages": [{"role": "user", "content": "Write a market update."}]}
        )
        events_in_flight = aiter(draining)
        first = await anext(events_in_flight)
        assert first.WhichOneof("event") == "message_start"
        gateway_stop = asyncio.create_task(containers.terminate("gateway", GRACE_SECONDS + 20))
        rest = [event async for event in events_in_flight]
        assert rest[-1].WhichOneof("event") == "message_stop"
        assert draining.account is not None
        assert draining.account.usage.output_tokens > 0

    stopped = {"gateway": await gateway_stop}
    for module, _ in SERVICES:
        if module != "gateway":
            stopped[module] = await containers.terminate(module, GRACE_SECONDS + 20)
    for module, result in stopped.items():
        logs = await containers.logs(module)
        assert result.exit_code == 0, f"{module} exited {result.exit_code}:\n{logs}"
        # Docker's own start-up of `kill`/`wait` adds a little to the measured drain.
        assert result.seconds < GRACE_SECONDS + 5, f"{module} took {result.seconds:.1f}s"
        assert '"msg": "stopped"' in logs, f"{module} did not drain:\n{logs}"
        assert "Traceback" not in logs, f"{module}:\n{logs}"


async def test_the_single_process_image_answers_on_the_gateways_port_and_drains(
    images: dict[str, str], settings: Settings, postgres_dsn: str, tmp_path: Path
) -> None:
    ports, env = settings
    suite_env = single_process_env(env) | {"TOLLGATE_BUDGET_LEDGER_MIGRATE_ON_START": "false"}
    image = images["single_process"]
    # The schema, as the chart's migration Job makes it in this mode: from the suite's image.
    await docker(
        "run",
        "--rm",
        *HARDENING,
        f"--env=TOLLGATE_BUDGET_LEDGER_DATABASE_URL={postgres_dsn}",
        "--entrypoint=python",
        image,
        *("-m", "tollgate.budget_ledger", "migrate"),
    )
    containers = Containers(prefix=f"tollgate-test-{secrets.token_hex(3)}")
    gateway = f"127.0.0.1:{ports['gateway']}"
    try:
        await containers.run("single_process", image, suite_env, gateway_files(tmp_path))
        try:
            await wait_until_serving(gateway, START_TIMEOUT_SECONDS)
        except TimeoutError:
            pytest.fail(f"the suite did not serve:\n{await containers.logs('single_process')}")
        async with TollgateClient(gateway, API_KEY) as client:
            answer = await client.complete(**REQUEST)
        assert answer.text
        assert answer.account.cost.total_micros > 0
        stopped = await containers.terminate("single_process", GRACE_SECONDS + 20)
        logs = await containers.logs("single_process")
        assert stopped.exit_code == 0, f"the suite exited {stopped.exit_code}:\n{logs}"
        assert '"msg": "stopped"' in logs, logs
        assert "Traceback" not in logs, logs
    finally:
        await containers.remove_all()
