"""The official TypeScript SDK (@anthropic-ai/sdk from npm, run by node) against the HTTP door:
message, exact-cache hit with the account headers, stream, tool use, count_tokens, models, a batch
from create to results, and each error status. The SDK is installed by `make ts-sdk` (npm), as
buf is, so a fresh machine needs only node and npm."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY, FullSuite
from tests.e2e.conftest import set_tenant_budget

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).with_name("http_sdk_scenarios.mjs")
SDK_DIR = ROOT / ".tools" / "anthropic-sdk-ts"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="needs node and npm"
)


@pytest.fixture(scope="module")
def sdk_dir() -> Path:
    subprocess.run(["make", "-s", "ts-sdk"], cwd=ROOT, check=True)
    return SDK_DIR


async def _run(sdk_dir: Path, base_url: str, phase: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        "node",
        str(SCENARIOS),
        phase,
        env={
            "SDK_DIR": str(sdk_dir),
            "BASE_URL": base_url,
            "API_KEY": API_KEY,
            "PATH": os.environ.get("PATH", ""),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def test_typescript_sdk_scenarios(door: tuple[FullSuite, str], sdk_dir: Path) -> None:
    suite, base_url = door
    seen = await _run(sdk_dir, base_url, "main")
    assert seen["message"]["text"]
    assert seen["message"]["stopReason"] == "end_turn"
    assert seen["message"]["cache"] == "miss"
    assert int(seen["message"]["costMicros"]) > 0
    assert seen["repeat"] == {
        "text": seen["message"]["text"],
        "cache": "exact",
        "savedMicros": seen["repeat"]["savedMicros"],
    }
    assert int(seen["repeat"]["savedMicros"]) > 0
    stream = seen["stream"]
    assert stream["streamed"] == stream["final"]
    assert stream["stopReason"] == "end_turn"
    # The SDK passes Tollgate's account event to raw-event listeners and leaves it out of the
    # message it assembles (the text and stop reason above are whole).
    assert stream["kinds"][0] == "message_start"
    assert stream["kinds"][-2:] == ["tollgate_account", "message_stop"]
    assert seen["toolUse"] == {"stopReason": "tool_use", "name": "get_weather", "sameInput": True}
    assert seen["countTokens"] > 0
    assert "claude-sonnet-5-5" in seen["models"]
    assert seen["batch"] == {"status": "ended", "results": [["a", "succeeded"], ["b", "succeeded"]]}
    errors = seen["errors"]
    assert errors["unauthenticated"]["status"] == 401
    assert errors["unauthenticated"]["class"] == "AuthenticationError"
    assert errors["badRequest"]["status"] == 400
    assert errors["badRequest"]["type"] == "invalid_request_error"
    assert errors["notFound"]["status"] == 404
    assert errors["tooLarge"]["status"] == 413
    assert errors["tooLarge"]["type"] == "request_too_large"

    await suite.settled()
    suite.emulator.config.faults.overloaded = 1.0
    overloaded = (await _run(sdk_dir, base_url, "overloaded"))["overloaded"]
    suite.emulator.config.faults.overloaded = 0.0
    assert overloaded["status"] == 529
    assert overloaded["type"] == "overloaded_error"

    await set_tenant_budget(suite, 100)  # less than any request
    refused = (await _run(sdk_dir, base_url, "refused"))["refused"]
    assert refused["status"] == 429
    assert refused["class"] == "RateLimitError"
    assert int(refused["retryAfter"]) > 0
