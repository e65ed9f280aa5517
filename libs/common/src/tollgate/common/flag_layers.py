"""Runtime flag overrides layered over Helm's flags file.

The gateway reads two documents: the flags file Helm renders, and an overrides document that only
`tollgate rollout` writes (kill switch, set-flag, set-canary-weight), kept in a ConfigMap Helm
never renders. The overrides win mapping by mapping (a flag's `enabled` can be overridden while
its `rolloutPercent` stays Helm's). The gateway and the CLI layer them with this one function, so
what `tollgate rollout status` shows is what the gateway applies.
"""

from __future__ import annotations

from typing import Any

import yaml

OVERRIDES_FILE_KEY = "overrides.yaml"


def layered_text(base: str, overrides: str) -> str:
    """One flags document: `overrides` merged over `base`.

    Raises ValueError when either is not a YAML mapping. An empty overrides text returns `base`
    unchanged, byte for byte (so its digest, the config version operators see, stays the same).
    """
    if not overrides.strip():
        return base
    merged = deep_merge(yaml_mapping(base, "flags"), yaml_mapping(overrides, "flag overrides"))
    return yaml.safe_dump(merged, sort_keys=True)


def yaml_mapping(text: str, what: str) -> dict[str, Any]:
    """`text` as a mapping ({} when empty); ValueError with a sentence otherwise."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{what} are not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a YAML mapping")
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
