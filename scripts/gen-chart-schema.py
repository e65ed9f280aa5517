#!/usr/bin/env python3
"""Writes deploy/helm/tollgate/values.schema.json (or, with --check, fails when it is stale).

The seven services share most of their settings, and JSON Schema draft-07 cannot combine a shared
definition with `additionalProperties: false`, so the schema is generated here from one
description of each part. Draft-07 keeps it valid for every Helm 3 and Helm 4 release.

Usage: python scripts/gen-chart-schema.py [--check]
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from tollgate.common.flag_definitions import FLAGS

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "deploy/helm/tollgate/values.schema.json"

Schema = dict[str, Any]


def strict(
    properties: dict[str, Schema], required: list[str] | None = None, **extra: Any
) -> Schema:
    """An object that accepts only the named properties."""
    schema: Schema = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def map_of(values: Schema) -> Schema:
    return {"type": "object", "additionalProperties": values}


STRING: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
PERCENT: Schema = {"type": "integer", "minimum": 0, "maximum": 100}
PORT: Schema = {"type": "integer", "minimum": 1, "maximum": 65535}
NON_NEGATIVE: Schema = {"type": "number", "minimum": 0}
POSITIVE_INT: Schema = {"type": "integer", "minimum": 1}
OBJECT: Schema = {"type": "object"}
OBJECTS: Schema = {"type": "array", "items": {"type": "object"}}
LABELS: Schema = map_of({"type": "string"})
ENV: Schema = map_of({"type": ["string", "number", "boolean"]})
QUANTITY: Schema = {
    "type": ["string", "number"],
    "pattern": r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$",
}
PULL_POLICY: Schema = {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]}
DIGEST: Schema = {"type": "string", "pattern": "^(sha256:[0-9a-f]{64})?$"}
DURATION: Schema = {"type": "string", "pattern": "^([0-9]+(ms|s|m|h))*$"}
# A percentage ("25%") or a pod count, as PodDisruptionBudget accepts.
INT_OR_PERCENT: Schema = {
    "oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^[0-9]+%$"}]
}
SERVICE_NAMES = [
    "gateway",
    "orchestrator",
    "conversationOptimizer",
    "cache",
    "semanticCache",
    "budgetLedger",
    "leadScoring",
]
BACKENDS = [name for name in SERVICE_NAMES if name != "gateway"]


def resources() -> Schema:
    pair = strict({"cpu": QUANTITY, "memory": QUANTITY})
    return strict({"requests": pair, "limits": pair})


def probes() -> Schema:
    probe = strict(
        {
            "periodSeconds": POSITIVE_INT,
            "timeoutSeconds": POSITIVE_INT,
            "failureThreshold": POSITIVE_INT,
            "initialDelaySeconds": {"type": "integer", "minimum": 0},
        }
    )
    return strict({"startup": probe, "readiness": probe, "liveness": probe})


def workload_settings() -> dict[str, Schema]:
    """What `default` holds and any service may override."""
    return {
        "imagePullSecrets": {
            "type": "array",
            "items": strict({"name": STRING}, required=["name"]),
        },
        "replicas": {"type": "integer", "minimum": 0},
        "logLevel": {"type": "string", "enum": ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]},
        "callDeadlineSeconds": POSITIVE_INT,
        "shutdownGraceSeconds": NON_NEGATIVE,
        "connectionAgeSeconds": POSITIVE_INT,
        "connectionAgeGraceSeconds": POSITIVE_INT,
        "preStopSleepSeconds": {"type": "integer", "minimum": 0, "maximum": 120},
        "metricsPort": PORT,
        "healthPort": PORT,
        "otlpEndpoint": STRING,
        "env": ENV,
        "resources": resources(),
        "probes": probes(),
        "podDisruptionBudget": strict(
            {"enabled": BOOL, "maxUnavailable": INT_OR_PERCENT, "minAvailable": INT_OR_PERCENT},
            not_={"required": ["maxUnavailable", "minAvailable"]},
        ),
        "autoscaling": strict(
            {
                "enabled": BOOL,
                "minReplicas": POSITIVE_INT,
                "maxReplicas": POSITIVE_INT,
                "targetCPUUtilizationPercentage": {"type": "integer", "minimum": 1},
            }
        ),
        "spreadAcrossNodes": BOOL,
        "podAnnotations": LABELS,
        "podLabels": LABELS,
        "nodeSelector": LABELS,
        "tolerations": OBJECTS,
        "affinity": OBJECT,
        "priorityClassName": STRING,
        "service": strict({"annotations": LABELS}),
    }


def default_block() -> Schema:
    settings = workload_settings()
    settings["image"] = strict(
        {"registry": STRING, "tag": STRING, "digest": DIGEST, "pullPolicy": PULL_POLICY}
    )
    return strict(settings)


def canary(weighted: bool = True) -> Schema:
    """A canary Deployment's values. Backends take a weight (the gateway splits calls by it);
    the gateway's own canary takes its share of the public Service's pods, so no weight."""
    properties: dict[str, Schema] = {
        "enabled": BOOL,
        "replicas": {"type": "integer", "minimum": 0},
        "image": strict({"repository": STRING, "tag": STRING, "digest": DIGEST}),
        "resources": resources(),
    }
    if weighted:
        properties["weight"] = PERCENT
    return strict(properties)


def image() -> Schema:
    """An image of a service or of the suite: a repository of its own over `default.image`."""
    return strict(
        {
            "registry": STRING,
            "repository": {"type": "string", "minLength": 1},
            "tag": STRING,
            "digest": DIGEST,
            "pullPolicy": PULL_POLICY,
        }
    )


def service(name: str) -> Schema:
    settings = workload_settings()
    settings.update(
        {
            "enabled": BOOL,
            "port": PORT,
            "image": image(),
        }
    )
    if name == "gateway":
        settings["service"] = strict(
            {
                "type": {"type": "string", "enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                "headless": BOOL,
                "annotations": LABELS,
            }
        )
        # The HTTP front door (Anthropic's Messages API) beside gRPC.
        settings["http"] = strict({"enabled": BOOL, "port": PORT})
        settings["apiKeys"] = strict(
            {
                "existingSecret": STRING,
                "keys": {
                    "type": "array",
                    "items": strict(
                        {
                            "id": {"type": "string", "minLength": 1},
                            "tenant": {"type": "string", "minLength": 1},
                            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                            "admin": BOOL,
                            "role": {"type": "string", "enum": ["app", "admin", "operator"]},
                        },
                        required=["id", "tenant", "sha256"],
                    ),
                },
            }
        )
        settings["managedKeys"] = strict(
            {"enabled": BOOL, "refreshSeconds": {"type": "number", "exclusiveMinimum": 0}}
        )
        # As the gateway's session_ttl_seconds, session_max_bytes (at least 1 KiB) and
        # sessions_key_prefix.
        settings["sessions"] = strict(
            {
                "enabled": BOOL,
                "ttlSeconds": POSITIVE_INT,
                "maxBytes": {"type": "integer", "minimum": 1024},
                "keyPrefix": {"type": "string", "minLength": 1, "maxLength": 64},
            }
        )
        settings["flagsWatch"] = BOOL
        settings["canary"] = canary(weighted=False)
    else:
        settings["canary"] = canary()
    if name == "orchestrator":
        settings["anthropic"] = strict(
            {
                "existingSecret": STRING,
                "existingSecretKey": {"type": "string", "minLength": 1},
                "apiKey": STRING,
                "baseUrl": STRING,
            }
        )
        settings["pacing"] = strict(
            {
                "enabled": BOOL,
                # As the service's pacing_key_prefix.
                "keyPrefix": {"type": "string", "minLength": 1, "maxLength": 64},
            }
        )
    if name == "semanticCache":
        settings["modelPath"] = STRING
    if name == "leadScoring":
        settings["model"] = strict(
            {
                "json": STRING,
                "existingConfigMap": STRING,
                "existingConfigMapKey": {"type": "string", "minLength": 1},
            }
        )
        names = {"type": "array", "items": {"type": "string", "minLength": 1}}
        settings["pii"] = strict({"fields": names, "allowFields": names})
    if name == "budgetLedger":
        settings["migrateOnStart"] = BOOL
        settings["maxHoldTtlSeconds"] = POSITIVE_INT
        settings["migration"] = strict(
            {
                "enabled": BOOL,
                "backoffLimit": {"type": "integer", "minimum": 0},
                "activeDeadlineSeconds": POSITIVE_INT,
                "resources": resources(),
            }
        )
    return strict(settings)


def single_process() -> Schema:
    """The suite in the gateway's pods: its own image, and the resources and probes that differ
    from the gateway's; everything else comes from `services`."""
    return strict(
        {
            "enabled": BOOL,
            "image": image(),
            "resources": resources(),
            "probes": probes(),
        }
    )


def flag(parameters: Schema, description: str) -> Schema:
    return strict(
        {
            "enabled": BOOL,
            "rolloutPercent": PERCENT,
            "mode": {"type": "string", "enum": ["enforce", "shadow"]},
            "parameters": parameters,
        },
        required=["enabled", "rolloutPercent", "mode"],
        description=description,
    )


def flags() -> Schema:
    """Each flag's parameters come from its one definition (tollgate.common.flag_definitions),
    which the gateway parses its flags file with."""
    return strict(
        {
            definition.helm_key: flag(definition.parameters_schema(), definition.description)
            for definition in FLAGS
        }
    )


def store(
    extra: dict[str, Schema] | None = None, external_extra: dict[str, Schema] | None = None
) -> Schema:
    properties: dict[str, Schema] = {
        "enabled": BOOL,
        "image": strict(
            {
                "repository": {"type": "string", "minLength": 1},
                "tag": {"type": "string", "minLength": 1},
                "pullPolicy": PULL_POLICY,
            }
        ),
        "persistence": strict(
            {"enabled": BOOL, "size": QUANTITY, "storageClass": STRING},
        ),
        "resources": resources(),
        "external": strict(
            {
                "url": STRING,
                "existingSecret": STRING,
                "existingSecretKey": {"type": "string", "minLength": 1},
                **(external_extra or {}),
            }
        ),
    }
    properties.update(extra or {})
    return strict(properties)


def redis_settings() -> dict[str, Schema]:
    return {
        "maxMemory": {"type": "string", "pattern": "^[0-9]+(kb|mb|gb)$"},
        "auth": strict({"enabled": BOOL, "password": {"type": "string", "minLength": 1}}),
    }


def tls_secret() -> Schema:
    """`enabled` and the Secret holding the certificate. An enabled block without a Secret is
    refused by the chart (tollgate.tlsValidate), whose message says what to set."""
    return strict({"enabled": BOOL, "secretName": STRING})


def values_schema() -> Schema:
    schema = strict(
        {
            # Helm adds `global` when the chart is used as a dependency.
            "global": OBJECT,
            "nameOverride": STRING,
            "fullnameOverride": STRING,
            "clusterDomain": {"type": "string", "minLength": 1},
            "default": default_block(),
            "services": strict({name: service(name) for name in SERVICE_NAMES}),
            "singleProcess": single_process(),
            "flags": flags(),
            "redis": store(redis_settings()),
            # The sessions' own Redis: the same settings; the chart runs it without eviction.
            "sessionsRedis": store(redis_settings()),
            "postgres": store(
                {
                    "auth": strict(
                        {
                            "username": {"type": "string", "minLength": 1},
                            "password": {"type": "string", "minLength": 1},
                            "database": {"type": "string", "minLength": 1},
                        }
                    )
                }
            ),
            "qdrant": store(
                external_extra={
                    "apiKeySecret": strict(
                        {"name": STRING, "key": {"type": "string", "minLength": 1}}
                    )
                }
            ),
            "networkPolicy": strict(
                {
                    "enabled": BOOL,
                    "gatewayFrom": OBJECTS,
                    "metricsFrom": OBJECTS,
                    "egress": strict(
                        {
                            "enabled": BOOL,
                            "anthropicTo": OBJECTS,
                            "storesTo": OBJECTS,
                            "collectorTo": OBJECTS,
                        }
                    ),
                }
            ),
            "prometheusRule": strict(
                {
                    "enabled": BOOL,
                    "labels": LABELS,
                    "failOpenPerSecond": NON_NEGATIVE,
                    "serverErrorRatio": {"type": "number", "minimum": 0, "maximum": 1},
                }
            ),
            "serviceMonitor": strict(
                {
                    "enabled": BOOL,
                    "interval": DURATION,
                    "scrapeTimeout": DURATION,
                    "labels": LABELS,
                }
            ),
            "rbac": strict(
                {
                    "create": BOOL,
                    "rolloutOperator": strict({"create": BOOL, "subjects": OBJECTS}),
                }
            ),
            "dashboard": strict(
                {"enabled": BOOL, "namespace": STRING, "labels": LABELS, "annotations": LABELS}
            ),
            "tests": strict({"enabled": BOOL}),
            "tls": strict(
                {
                    "gateway": tls_secret(),
                    "internal": strict(
                        {"enabled": BOOL, "secretName": STRING, "certificateDays": POSITIVE_INT}
                    ),
                }
            ),
        }
    )
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Values of the tollgate chart",
        "description": "Generated by scripts/gen-chart-schema.py; edit that script, not this file.",
        **schema,
    }


def _rename_not(schema: Any) -> Any:
    """`not` is a Python keyword, so builders spell it `not_`."""
    if isinstance(schema, dict):
        return {("not" if k == "not_" else k): _rename_not(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_rename_not(v) for v in schema]
    return schema


def render() -> str:
    return json.dumps(_rename_not(copy.deepcopy(values_schema())), indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text() != text:
            print(
                f"{SCHEMA_PATH} is stale: run python scripts/gen-chart-schema.py", file=sys.stderr
            )
            return 1
        return 0
    SCHEMA_PATH.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
