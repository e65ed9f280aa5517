"""Every setting a service reads is documented: its environment name appears in docs/ or the
README, whole (`TOLLGATE_BUDGET_LEDGER_POOL_MAX_SIZE`) or without the leading part a page leaves
implied (`POOL_MAX_SIZE` in the ledger's table, `CLASSIFICATION_CHUNK_ITEMS` in the gateway's),
so an operator reading the docs sees every knob there is, and a setting added without its line
fails here."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = (
    "tollgate.gateway.settings:Settings",
    "tollgate.gateway.classification:ClassificationSettings",
    "tollgate.cache.settings:Settings",
    "tollgate.semantic_cache.settings:Settings",
    "tollgate.budget_ledger.settings:Settings",
    "tollgate.orchestrator.settings:Settings",
    "tollgate.orchestrator.classification.settings:ClassificationSettings",
    "tollgate.lead_scoring.settings:Settings",
    "tollgate.conversation_optimizer.settings:Settings",
)
# The gateway's backend addresses are documented as one row each for all backends
# (`<SERVICE>_ADDR`, `<SERVICE>_CANARY_ADDR`); the first names every backend.
GROUPED = ("_CANARY_ADDR", "_ADDR")


def _documentation() -> str:
    pages = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
    return "\n".join(page.read_text() for page in pages)


def _settings_class(path: str) -> type[BaseSettings]:
    module, name = path.split(":")
    settings: type[BaseSettings] = getattr(importlib.import_module(module), name)
    return settings


def _documented(docs: str, env_name: str, field_name: str) -> bool:
    """`env_name` or one of its tails that still holds the whole field name, as a word."""
    parts = env_name.split("_")
    tails = ["_".join(parts[i:]) for i in range(len(parts))]
    names = "|".join(re.escape(t) for t in tails if len(t) >= len(field_name))
    return re.search(rf"(?<![A-Z0-9_])(?:{names})(?![A-Z0-9_])", docs) is not None


@pytest.mark.parametrize("path", SETTINGS)
def test_every_setting_is_documented(path: str) -> None:
    docs = _documentation()
    settings = _settings_class(path)
    prefix = str(settings.model_config.get("env_prefix", ""))
    # The row of `<SERVICE>_ADDR`, which names every backend.
    addresses_row = next((line for line in docs.splitlines() if "`<SERVICE>_ADDR`" in line), "")
    missing = []
    for field in settings.model_fields:
        name = field.upper()
        group = next((g for g in GROUPED if name.endswith(g)), None)
        if group is not None:
            backend = name.removesuffix(group)
            documented = f"`<SERVICE>{group}`" in docs and f"`{backend}`" in addresses_row
        else:
            documented = _documented(docs, prefix + name, name)
        if not documented:
            missing.append(prefix + name)
    assert not missing, f"settings not in docs/: {missing}"
