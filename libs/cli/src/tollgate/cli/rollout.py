"""`tollgate rollout`: what a Tollgate release runs, and the emergency switches.

  status             each service's Deployment rollout state, stable and canary images with the
                     share of calls each gets, and the flags in force (read from the cluster)
  set-flag FLAG      switch a flag off or on, or change its rollout percentage, mode or
                     parameters: the gateway applies it within seconds, no restart, no Helm run
  set-canary-weight  change the share of calls a backend's canary gets (0 stops it at once)
  clear-overrides    hand a flag, a canary or everything back to Helm's values
  routes             what a running gateway routes: each backend's canary weight, whether the
                     canary is ready, and the share it gets now (asks the gateway, admin key)

The switches are runtime overrides, kept in a ConfigMap of their own that Helm never renders
(`<release>-tollgate-flag-overrides`). The gateway layers them over Helm's flags, field by field,
so `helm upgrade` and `helm rollback` change what lies under an override but never undo it, and
Helm's own ConfigMap is never edited: no conflict with server-side apply, no drift for Helm to
fight. An override stays until `clear-overrides` removes it.

Connects with your kubeconfig (--kubeconfig, --context), or in-cluster credentials in a pod.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import grpc
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from tollgate.common.flag_definitions import FLAG_KEYS, definition
from tollgate.common.flag_layers import OVERRIDES_FILE_KEY, layered_text, yaml_mapping
from tollgate.v1 import gateway_pb2, gateway_pb2_grpc

FLAGS_FILE_KEY = "flags.yaml"
FLAG_MODES = ("enforce", "shadow")
# Annotations the switches leave on the overrides ConfigMap: the last change and when.
EDIT_ANNOTATION = "tollgate/cli-edit"
EDIT_TIME_ANNOTATION = "tollgate/cli-edit-at"
CONFLICT_RETRIES = 3
REQUEST_TIMEOUT_SECONDS = 15.0

EXIT_OK = 0
EXIT_FAILED_ROLLOUT = 1
EXIT_USAGE = 2
EXIT_CLUSTER_ERROR = 3


class RolloutError(Exception):
    """A problem to report in one sentence, with the process exit code to use."""

    def __init__(self, message: str, exit_code: int = EXIT_CLUSTER_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# ---- names -------------------------------------------------------------------------------------


def snake_case(name: str) -> str:
    """semanticCache, semantic-cache, semantic_cache -> semantic_cache."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[-\s]+", "_", spaced).lower()


def camel_case(name: str) -> str:
    """semantic_cache -> semanticCache: how the chart's values spell flags and services."""
    first, *rest = snake_case(name).split("_")
    return first + "".join(part.title() for part in rest)


# ---- deployments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentState:
    service: str
    track: str
    name: str
    image: str
    desired: int
    updated: int
    ready: int
    available: int
    state: str
    failed: bool


def _meta(obj: Any) -> k8s.V1ObjectMeta:
    """An object's metadata; the API always sends it, the client's models make it optional."""
    return obj.metadata or k8s.V1ObjectMeta()


def _pod_spec(deployment: k8s.V1Deployment) -> k8s.V1PodSpec:
    return deployment.spec.template.spec or k8s.V1PodSpec(containers=[])


def rollout_state(deployment: k8s.V1Deployment) -> tuple[str, bool]:
    """(description, failed) of a Deployment's rollout, with kubectl rollout status' rules."""
    spec = deployment.spec
    status = deployment.status or k8s.V1DeploymentStatus()
    desired = spec.replicas if spec.replicas is not None else 1
    if (_meta(deployment).generation or 0) > (status.observed_generation or 0):
        return "waiting for the controller to see the new spec", False
    for condition in status.conditions or []:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            return "failed: progress deadline exceeded (kubectl rollout undo reverts it)", True
    if spec.paused:
        return "paused", False
    updated = status.updated_replicas or 0
    if updated < desired:
        return f"rolling out: {updated} of {desired} pods updated", False
    total = status.replicas or 0
    if total > updated:
        return f"rolling out: {total - updated} old pods terminating", False
    available = status.available_replicas or 0
    if available < updated:
        return f"rolling out: {available} of {updated} updated pods available", False
    return "complete", False


def deployment_state(deployment: k8s.V1Deployment) -> DeploymentState:
    meta = _meta(deployment)
    labels = meta.labels or {}
    name = meta.name or ""
    status = deployment.status or k8s.V1DeploymentStatus()
    containers = _pod_spec(deployment).containers
    state, failed = rollout_state(deployment)
    return DeploymentState(
        service=labels.get("app.kubernetes.io/component", name),
        track=labels.get("track", "stable"),
        name=name,
        image=(containers[0].image or "") if containers else "",
        desired=deployment.spec.replicas if deployment.spec.replicas is not None else 1,
        updated=status.updated_replicas or 0,
        ready=status.ready_replicas or 0,
        available=status.available_replicas or 0,
        state=state,
        failed=failed,
    )


def _gateway_configmap(gateway: k8s.V1Deployment, volume_name: str, env_name: str) -> str | None:
    pod = _pod_spec(gateway)
    for volume in pod.volumes or []:
        if volume.name == volume_name and volume.config_map is not None:
            return str(volume.config_map.name)
    for container in pod.containers:
        for env in container.env or []:
            if env.name == env_name and env.value:
                return str(env.value)
    return None


def flags_configmap_name(gateway: k8s.V1Deployment) -> str | None:
    """The ConfigMap the gateway reads Helm's flags from: its `flags` volume, else its env."""
    return _gateway_configmap(gateway, "flags", "TOLLGATE_GATEWAY_FLAGS_CONFIGMAP")


def overrides_configmap_name(gateway: k8s.V1Deployment, flags_configmap: str) -> str:
    """The ConfigMap the gateway reads runtime overrides from (the chart's name when the gateway
    does not say: `<fullname>-flag-overrides` next to `<fullname>-flags`)."""
    found = _gateway_configmap(
        gateway, "flag-overrides", "TOLLGATE_GATEWAY_FLAGS_OVERRIDES_CONFIGMAP"
    )
    return found or re.sub(r"-flags$", "", flags_configmap) + "-flag-overrides"


# ---- the flags file ----------------------------------------------------------------------------


@dataclass
class FlagsFile:
    """The gateway's flags file as YAML data, checked enough to edit it safely."""

    data: dict[str, Any]

    @classmethod
    def parse(cls, text: str, source: str) -> FlagsFile:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise RolloutError(f"{source} does not hold valid YAML: {error}") from error
        if not isinstance(data, dict) or not isinstance(data.get("flags", {}), dict):
            raise RolloutError(f"{source} is not a Tollgate flags file (no `flags` mapping)")
        if data.get("version", 1) != 1:
            raise RolloutError(
                f"{source} has flags file version {data.get('version')}; this CLI edits version 1"
            )
        data.setdefault("flags", {})
        data.setdefault("canaries", {})
        document = cls(data)
        document.check()
        return document

    @property
    def flags(self) -> dict[str, dict[str, Any]]:
        return dict(self.data["flags"])

    @property
    def canaries(self) -> dict[str, int]:
        return {
            name: int((entry or {}).get("canaryWeight", 0))
            for name, entry in (self.data.get("canaries") or {}).items()
        }

    def check(self) -> None:
        """Refuse a document the gateway would refuse, before it is written anywhere."""
        for key, flag in self.data["flags"].items():
            if key not in FLAG_KEYS:
                raise RolloutError(f"unknown flag {key} (known: {', '.join(FLAG_KEYS)})")
            if not isinstance(flag, dict):
                raise RolloutError(f"flag {key} is not a mapping")
            _check_parameters(key, flag.get("parameters") or {})
            if not isinstance(flag.get("enabled", False), bool):
                raise RolloutError(f"flag {key}: enabled must be true or false")
            percent = flag.get("rolloutPercent", 0)
            if not isinstance(percent, int) or isinstance(percent, bool) or not 0 <= percent <= 100:
                raise RolloutError(f"flag {key}: rolloutPercent must be a whole number 0-100")
            if flag.get("mode", "enforce") not in FLAG_MODES:
                raise RolloutError(f"flag {key}: mode must be one of {', '.join(FLAG_MODES)}")
        for name, weight in self.canaries.items():
            if not 0 <= weight <= 100:
                raise RolloutError(f"canary {name}: canaryWeight must be 0-100")

    def render(self) -> str:
        return yaml.safe_dump(self.data, sort_keys=False, default_flow_style=False)


def _check_parameters(key: str, parameters: Any) -> None:
    """The flag's parameters, checked with its one definition (as the gateway checks them)."""
    try:
        definition(key).parameters.model_validate(parameters)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'parameters'}: {err['msg']}"
            for err in error.errors()
        )
        raise RolloutError(f"flag {key}: parameters refused: {problems}", EXIT_USAGE) from None


def parameter_assignment(text: str) -> tuple[str, Any]:
    """`--parameter ttlSeconds=600` -> ("ttlSeconds", 600); the value is read as YAML."""
    name, separator, value = text.partition("=")
    if not separator or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    try:
        return name.strip(), yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: the value is not valid YAML") from error


@dataclass(frozen=True)
class FlagChange:
    """What `set-flag` changes; None leaves a field as it is."""

    flag: str
    enabled: bool | None = None
    rollout_percent: int | None = None
    mode: str | None = None
    # Parameter name -> new value; names and values are checked against the flag's definition.
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        wanted = {
            "enabled": self.enabled,
            "rolloutPercent": self.rollout_percent,
            "mode": self.mode,
        }
        return {name: value for name, value in wanted.items() if value is not None}

    def describe(self) -> str:
        changes = {**self.fields(), **{f"parameters.{k}": v for k, v in self.parameters.items()}}
        return f"{self.flag} " + " ".join(
            f"{name}={json.dumps(value)}" for name, value in changes.items()
        )

    def apply(self, overrides: dict[str, Any], helm: FlagsFile) -> None:
        """Record the change in the overrides document (only the fields it names)."""
        if self.flag not in helm.flags:
            known = ", ".join(sorted(helm.flags)) or "none"
            raise RolloutError(
                f"no flag named {self.flag} in the flags file (known: {known})", EXIT_USAGE
            )
        entry = overrides.setdefault("flags", {}).setdefault(self.flag, {})
        entry.update(self.fields())
        if self.parameters:
            entry["parameters"] = {**(entry.get("parameters") or {}), **self.parameters}


@dataclass(frozen=True)
class CanaryChange:
    service: str
    weight: int

    def describe(self) -> str:
        return f"canary {self.service} canaryWeight={self.weight}"

    def apply(self, overrides: dict[str, Any], helm: FlagsFile) -> None:
        if self.service not in helm.canaries:
            deployed = ", ".join(sorted(helm.canaries)) or "none"
            raise RolloutError(
                f"no canary of {self.service} is deployed (canaries deployed: {deployed}); "
                f"enable one with services.{camel_case(self.service)}.canary.enabled",
                EXIT_USAGE,
            )
        overrides.setdefault("canaries", {})[self.service] = {"canaryWeight": self.weight}


@dataclass(frozen=True)
class ClearOverrides:
    """Hand a flag, a canary, or everything (neither named) back to Helm's values."""

    flag: str | None = None
    canary: str | None = None

    def describe(self) -> str:
        named = [f"flag {self.flag}"] if self.flag else []
        named += [f"canary {self.canary}"] if self.canary else []
        return "cleared the overrides of " + (" and ".join(named) or "every flag and canary")

    def apply(self, overrides: dict[str, Any], helm: FlagsFile) -> None:
        if not self.flag and not self.canary:
            overrides.clear()
            return
        for section, name in (("flags", self.flag), ("canaries", self.canary)):
            if name:
                entries = overrides.get(section) or {}
                if name not in entries:
                    raise RolloutError(f"there is no override of {name} to clear", EXIT_USAGE)
                del entries[name]


# ---- the cluster -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagConfigMaps:
    """Helm's flags ConfigMap and the runtime overrides ConfigMap ("" = find it)."""

    helm: str = ""
    overrides: str = ""


@dataclass
class Cluster:
    """The few Kubernetes API calls the commands make, with errors turned into sentences."""

    api: k8s.ApiClient
    namespace: str
    release: str

    @property
    def selector(self) -> str:
        return f"app.kubernetes.io/instance={self.release},app.kubernetes.io/part-of=tollgate"

    def deployments(self) -> list[k8s.V1Deployment]:
        reply = self._call(
            "list Deployments",
            lambda: k8s.AppsV1Api(self.api).list_namespaced_deployment(
                self.namespace,
                label_selector=self.selector,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            ),
        )
        return list(reply.items)

    def flag_configmaps(
        self, deployments: list[k8s.V1Deployment] | None, names: FlagConfigMaps
    ) -> FlagConfigMaps:
        """Helm's flags ConfigMap and the overrides ConfigMap: as given, else as the release's
        gateway Deployment mounts them."""
        if names.helm and names.overrides:
            return names
        gateway = self._gateway(self.deployments() if deployments is None else deployments)
        helm = names.helm or flags_configmap_name(gateway)
        if not helm:
            raise RolloutError(
                f"the gateway of release {self.release} mounts no flags ConfigMap: pass --configmap"
            )
        return FlagConfigMaps(helm, names.overrides or overrides_configmap_name(gateway, helm))

    def _gateway(self, deployments: list[k8s.V1Deployment]) -> k8s.V1Deployment:
        for deployment in deployments:
            labels = _meta(deployment).labels or {}
            if labels.get("app.kubernetes.io/component") == "gateway" and (
                labels.get("track", "stable") == "stable"
            ):
                return deployment
        raise RolloutError(
            f"found no Tollgate gateway of release {self.release} in namespace {self.namespace} "
            "to read the flags ConfigMap name from: check --release and --namespace, or pass "
            "--configmap"
        )

    def read_configmap(self, name: str) -> k8s.V1ConfigMap:
        return self._call(
            f"read ConfigMap {name}",
            lambda: k8s.CoreV1Api(self.api).read_namespaced_config_map(
                name, self.namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
            ),
        )

    def find_configmap(self, name: str) -> k8s.V1ConfigMap | None:
        """The ConfigMap, or None when it does not exist (yet)."""
        try:
            return self.read_configmap(name)
        except RolloutError as error:
            if isinstance(error.__cause__, ApiException) and error.__cause__.status == 404:
                return None
            raise

    def create_configmap(self, name: str, body: dict[str, Any]) -> k8s.V1ConfigMap:
        manifest = {"apiVersion": "v1", "kind": "ConfigMap", **body}
        manifest["metadata"] = {**body.get("metadata", {}), "name": name}
        return self._call(
            f"create ConfigMap {name}",
            lambda: k8s.CoreV1Api(self.api).create_namespaced_config_map(
                self.namespace,
                manifest,  # type: ignore[arg-type]  # the client takes a plain mapping as well
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            ),
        )

    def delete_configmap(self, name: str, resource_version: str | None) -> None:
        self._call(
            f"delete ConfigMap {name}",
            lambda: k8s.CoreV1Api(self.api).delete_namespaced_config_map(
                name,
                self.namespace,
                body=k8s.V1DeleteOptions(
                    preconditions=k8s.V1Preconditions(resource_version=resource_version)
                ),
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            ),
        )

    def patch_configmap(self, name: str, patch: dict[str, Any]) -> k8s.V1ConfigMap:
        return self._call(
            f"patch ConfigMap {name}",
            lambda: k8s.CoreV1Api(self.api).patch_namespaced_config_map(
                name,
                self.namespace,
                patch,
                _content_type="application/merge-patch+json",
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            ),
        )

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ApiException as error:
            raise RolloutError(self._explain(what, error)) from error
        except OSError as error:
            raise RolloutError(
                f"cannot reach the Kubernetes API at {self.api.configuration.host} to {what}: "
                f"{error}"
            ) from error
        except Exception as error:
            # urllib3 wraps connection failures in its own exception types.
            if type(error).__module__.startswith("urllib3"):
                raise RolloutError(
                    f"cannot reach the Kubernetes API at {self.api.configuration.host} to "
                    f"{what}: {error}"
                ) from error
            raise

    def _explain(self, what: str, error: ApiException) -> str:
        reason = _api_message(error)
        if error.status in (401, 403):
            return (
                f"not allowed to {what} in namespace {self.namespace}: {reason}. The chart's "
                "rbac.rolloutOperator Role grants what `tollgate rollout` needs"
            )
        if error.status == 404:
            return f"cannot {what}: it does not exist in namespace {self.namespace}"
        return f"cannot {what} in namespace {self.namespace}: {error.status} {reason}"


def _api_message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except (ValueError, AttributeError):
        return str(error.reason)


def connect(kubeconfig: str | None, context: str | None) -> tuple[k8s.ApiClient, str]:
    """An API client and the namespace of the kubeconfig context (or the pod's namespace)."""
    in_cluster = not kubeconfig and not context and "KUBERNETES_SERVICE_HOST" in os.environ
    try:
        if in_cluster:
            configuration = k8s.Configuration()
            k8s_config.load_incluster_config(client_configuration=configuration)
            namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
            with open(namespace_file) as handle:
                return k8s.ApiClient(configuration), handle.read().strip() or "default"
        api = k8s_config.new_client_from_config(config_file=kubeconfig, context=context)
        _, active = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
        chosen = active
        if context:
            contexts, _ = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
            chosen = next((c for c in contexts if c["name"] == context), active)
        namespace = (chosen or {}).get("context", {}).get("namespace") or "default"
        return api, str(namespace)
    except (k8s_config.ConfigException, OSError) as error:
        raise RolloutError(f"cannot load Kubernetes credentials: {error}") from error


# ---- status ------------------------------------------------------------------------------------


@dataclass
class Status:
    release: str
    namespace: str
    configmap: str
    overrides_configmap: str
    deployments: list[DeploymentState]
    # What the gateway applies: Helm's flags with the overrides layered over them.
    flags: dict[str, dict[str, Any]]
    canaries: dict[str, int]
    # The overrides document as written by the switches ({} when there is none).
    overrides: dict[str, Any] = field(default_factory=dict)
    last_edit: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(d.failed for d in self.deployments)

    def share(self, deployment: DeploymentState) -> int | None:
        """Percent of the service's calls this track gets from the gateway."""
        weight = self.canaries.get(snake_case(deployment.service))
        if weight is None:
            return None
        return weight if deployment.track == "canary" else 100 - weight

    def overridden(self, flag: str) -> list[str]:
        """The fields of `flag` an override sets."""
        entry = (self.overrides.get("flags") or {}).get(flag) or {}
        return sorted(entry)


@dataclass
class FlagDocuments:
    """Helm's flags, the overrides over them, and the ConfigMap holding the overrides."""

    helm: FlagsFile
    helm_text: str
    overrides: dict[str, Any]
    overrides_configmap: k8s.V1ConfigMap | None

    def effective(self, source: str) -> FlagsFile:
        """The layered document, as the gateway computes it, checked as the gateway would."""
        overrides_text = yaml.safe_dump(self.overrides) if self.overrides else ""
        try:
            text = layered_text(self.helm_text, overrides_text)
        except ValueError as error:
            raise RolloutError(f"{source}: {error}") from error
        return FlagsFile.parse(text, source)


def read_documents(cluster: Cluster, names: FlagConfigMaps) -> FlagDocuments:
    configmap = cluster.read_configmap(names.helm)
    text = (configmap.data or {}).get(FLAGS_FILE_KEY)
    if text is None:
        raise RolloutError(f"ConfigMap {names.helm} has no {FLAGS_FILE_KEY}")
    helm = FlagsFile.parse(text, f"ConfigMap {names.helm}")
    overrides_configmap = cluster.find_configmap(names.overrides)
    overrides_text = ((overrides_configmap and overrides_configmap.data) or {}).get(
        OVERRIDES_FILE_KEY, ""
    )
    try:
        overrides = yaml_mapping(overrides_text, f"ConfigMap {names.overrides}")
    except ValueError as error:
        raise RolloutError(str(error)) from error
    return FlagDocuments(helm, text, overrides, overrides_configmap)


def read_status(cluster: Cluster, names: FlagConfigMaps) -> Status:
    deployments = cluster.deployments()
    if not deployments:
        raise RolloutError(
            f"no Deployments of Tollgate release {cluster.release} in namespace "
            f"{cluster.namespace}: check --release and --namespace"
        )
    names = cluster.flag_configmaps(deployments, names)
    documents = read_documents(cluster, names)
    effective = documents.effective(f"ConfigMaps {names.helm} + {names.overrides}")
    states = sorted(
        (deployment_state(d) for d in deployments), key=lambda s: (s.service, s.track != "stable")
    )
    annotations = (
        _meta(documents.overrides_configmap).annotations or {}
        if documents.overrides_configmap is not None
        else {}
    )
    last_edit = (
        {
            "change": annotations.get(EDIT_ANNOTATION, ""),
            "at": annotations.get(EDIT_TIME_ANNOTATION, ""),
        }
        if documents.overrides and EDIT_ANNOTATION in annotations
        else {}
    )
    return Status(
        release=cluster.release,
        namespace=cluster.namespace,
        configmap=names.helm,
        overrides_configmap=names.overrides,
        deployments=states,
        flags=effective.flags,
        canaries=effective.canaries,
        overrides=documents.overrides,
        last_edit=last_edit,
    )


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        out.write("\n")


def _parameters(flag: Mapping[str, Any]) -> str:
    parameters = flag.get("parameters") or {}
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in parameters.items()) or "-"


def print_status(status: Status, out: TextIO) -> None:
    out.write(f"Release {status.release} in namespace {status.namespace}\n\n")
    rows = [["SERVICE", "TRACK", "IMAGE", "READY", "UPDATED", "CALLS", "ROLLOUT"]]
    for d in status.deployments:
        share = status.share(d)
        rows.append(
            [
                d.service,
                d.track,
                d.image,
                f"{d.ready}/{d.desired}",
                str(d.updated),
                "100%" if share is None else f"{share}%",
                d.state,
            ]
        )
    _table(rows, out)
    out.write(
        f"\nFlags in force (Helm's ConfigMap {status.configmap}, "
        f"overrides from {status.overrides_configmap}):\n"
    )
    flag_rows = [["FLAG", "ENABLED", "ROLLOUT", "MODE", "PARAMETERS", "OVERRIDDEN"]]
    for key, flag in sorted(status.flags.items()):
        flag_rows.append(
            [
                key,
                "yes" if flag.get("enabled") else "no",
                f"{flag.get('rolloutPercent', 0)}%",
                str(flag.get("mode", "enforce")),
                _parameters(flag),
                ",".join(status.overridden(key)) or "-",
            ]
        )
    _table(flag_rows, out)
    canaries = status.overrides.get("canaries") or {}
    if status.overrides:
        overridden = [f"flag {k}" for k in status.overrides.get("flags") or {}]
        overridden += [f"canary {k}" for k in canaries]
        out.write(
            f"\nRuntime overrides in force: {', '.join(overridden)}"
            + (
                f" (last: {status.last_edit['change']} at {status.last_edit['at']})"
                if status.last_edit
                else ""
            )
            + ".\nHelm upgrades and rollbacks keep them; `tollgate rollout clear-overrides` "
            "hands control back to Helm's values.\n"
        )


# ---- edits -------------------------------------------------------------------------------------


Change = FlagChange | CanaryChange | ClearOverrides


def apply_edit(
    cluster: Cluster,
    change: Change,
    names: FlagConfigMaps,
    dry_run: bool,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[FlagConfigMaps, FlagsFile]:
    """Record `change` in the overrides ConfigMap (created on first use, deleted when it holds
    nothing); Helm's ConfigMap is only read. Retried when someone else wrote in between.

    Writes carry the resourceVersion they were computed from, so the API server refuses them
    (409) if the overrides changed since they were read: a concurrent edit is never overwritten.
    """
    names = cluster.flag_configmaps(None, names)
    for _attempt in range(CONFLICT_RETRIES):
        documents = read_documents(cluster, names)
        change.apply(documents.overrides, documents.helm)
        effective = documents.effective("the flags with this change")
        if dry_run:
            return names, effective
        try:
            _write_overrides(cluster, names.overrides, documents, change, now())
        except RolloutError as error:
            if isinstance(error.__cause__, ApiException) and error.__cause__.status == 409:
                continue
            raise
        return names, effective
    raise RolloutError(
        f"ConfigMap {names.overrides} kept changing while it was being edited "
        f"({CONFLICT_RETRIES} tries); nothing was written: run the command again"
    )


def _write_overrides(
    cluster: Cluster, name: str, documents: FlagDocuments, change: Change, at: datetime
) -> None:
    existing = documents.overrides_configmap
    overrides = {k: v for k, v in documents.overrides.items() if v}
    if not overrides:
        if existing is not None:
            cluster.delete_configmap(name, _meta(existing).resource_version)
        return
    annotations = {
        EDIT_ANNOTATION: change.describe(),
        EDIT_TIME_ANNOTATION: at.isoformat(timespec="seconds"),
    }
    data = {OVERRIDES_FILE_KEY: yaml.safe_dump(overrides, sort_keys=True)}
    if existing is None:
        labels = {
            "app.kubernetes.io/instance": cluster.release,
            "app.kubernetes.io/part-of": "tollgate",
            "app.kubernetes.io/component": "flag-overrides",
            # Not Helm's: nothing in the release renders this object.
            "app.kubernetes.io/managed-by": "tollgate-rollout",
        }
        cluster.create_configmap(
            name, {"metadata": {"labels": labels, "annotations": annotations}, "data": data}
        )
        return
    cluster.patch_configmap(
        name,
        {
            "metadata": {
                "resourceVersion": _meta(existing).resource_version,
                "annotations": annotations,
            },
            "data": data,
        },
    )


# ---- command line ------------------------------------------------------------------------------


def _percent(text: str) -> int:
    try:
        value = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from error
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is outside 0-100")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rollout",
        help="rollout state of a Tollgate release; flag and canary kill switches",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="rollout_command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--release", default="tollgate", help="Helm release (default tollgate)")
        sub.add_argument(
            "-n", "--namespace", help="namespace (default: the kubeconfig context's namespace)"
        )
        sub.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube)")
        sub.add_argument("--context", help="kubeconfig context (default: the current one)")
        sub.add_argument(
            "--configmap", help="Helm's flags ConfigMap (default: the one the gateway mounts)"
        )
        sub.add_argument(
            "--overrides-configmap",
            help="the runtime overrides ConfigMap (default: the one the gateway mounts)",
        )

    status = commands.add_parser("status", help="Deployments, images, canary weights, flags")
    common(status)
    status.add_argument("-o", "--output", choices=["table", "json"], default="table")
    status.set_defaults(handler=run_status)

    set_flag = commands.add_parser(
        "set-flag",
        help="override a flag at runtime (kill switch)",
        description="Override a flag at runtime; Helm upgrades and rollbacks keep the override.\n"
        "Example, the kill switch:\n  tollgate rollout set-flag semantic_cache --off",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(set_flag)
    set_flag.add_argument("flag", help="flag name, e.g. semantic_cache (or semanticCache)")
    switch = set_flag.add_mutually_exclusive_group()
    switch.add_argument(
        "--off", dest="enabled", action="store_false", default=None, help="switch the flag off"
    )
    switch.add_argument("--on", dest="enabled", action="store_true", help="switch the flag on")
    set_flag.add_argument(
        "--rollout-percent",
        type=_percent,
        metavar="0-100",
        help="percent of tenant+contact buckets the flag applies to",
    )
    set_flag.add_argument(
        "--mode", choices=FLAG_MODES, help="enforce, or shadow: compute and report, don't act"
    )
    set_flag.add_argument(
        "--parameter",
        type=parameter_assignment,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set one of the flag's parameters, e.g. ttlSeconds=600 or failOpenTenants=[acme]",
    )
    set_flag.add_argument("--dry-run", action="store_true", help="print the result, write nothing")
    set_flag.set_defaults(handler=run_set_flag)

    set_canary = commands.add_parser(
        "set-canary-weight", help="change the percent of calls a backend's canary gets"
    )
    common(set_canary)
    set_canary.add_argument("service", help="backend service, e.g. orchestrator or semantic-cache")
    set_canary.add_argument("weight", type=_percent, help="percent of calls, 0-100")
    set_canary.add_argument(
        "--dry-run", action="store_true", help="print the result, write nothing"
    )
    set_canary.set_defaults(handler=run_set_canary_weight)

    clear = commands.add_parser(
        "clear-overrides",
        help="hand a flag, a canary or everything back to Helm's values",
        description="Remove runtime overrides. With neither --flag nor --canary: all of them.",
    )
    common(clear)
    clear.add_argument("--flag", help="the flag whose override to remove")
    clear.add_argument("--canary", help="the backend whose canary weight override to remove")
    clear.add_argument("--dry-run", action="store_true", help="print the result, write nothing")
    clear.set_defaults(handler=run_clear_overrides)

    routes = commands.add_parser(
        "routes",
        help="what a running gateway routes to each backend's canary (asks the gateway)",
        description="Ask a gateway (with an admin key) how it splits calls right now: the weight "
        "configured, whether the canary is ready, and the weight in effect.",
    )
    routes.add_argument("--gateway", required=True, metavar="HOST:PORT", help="a gateway address")
    routes.add_argument(
        "--api-key",
        default=os.environ.get("TOLLGATE_API_KEY", ""),
        help="admin API key (default: $TOLLGATE_API_KEY)",
    )
    routes.set_defaults(handler=run_routes)


def _cluster(args: argparse.Namespace) -> Cluster:
    api, namespace = connect(args.kubeconfig, args.context)
    return Cluster(api=api, namespace=args.namespace or namespace, release=args.release)


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except RolloutError as error:
            print(f"tollgate rollout: {error}", file=sys.stderr)
            return error.exit_code

    return run


@_guarded
def run_status(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    try:
        status = read_status(cluster, _names(args))
    finally:
        cluster.api.close()
    if args.output == "json":
        payload = asdict(status)
        payload["failed"] = status.failed
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_status(status, sys.stdout)
    return EXIT_FAILED_ROLLOUT if status.failed else EXIT_OK


def _names(args: argparse.Namespace) -> FlagConfigMaps:
    return FlagConfigMaps(args.configmap or "", args.overrides_configmap or "")


def _run_edit(args: argparse.Namespace, change: Change) -> int:
    cluster = _cluster(args)
    try:
        names, document = apply_edit(cluster, change, _names(args), args.dry_run)
    finally:
        cluster.api.close()
    if args.dry_run:
        print(f"Dry run: the gateway would apply these flags ({change.describe()}):\n")
        print(document.render())
        return EXIT_OK
    print(
        f"{change.describe()} (ConfigMap {names.overrides}). The gateway applies it within seconds."
    )
    if not isinstance(change, ClearOverrides):
        print(
            "Helm upgrades and rollbacks keep this override; remove it with "
            "`tollgate rollout clear-overrides` to hand control back to Helm's values."
        )
    return EXIT_OK


@_guarded
def run_set_flag(args: argparse.Namespace) -> int:
    change = FlagChange(
        flag=snake_case(args.flag),
        enabled=args.enabled,
        rollout_percent=args.rollout_percent,
        mode=args.mode,
        parameters=dict(args.parameter),
    )
    if not change.fields() and not change.parameters:
        raise RolloutError(
            "nothing to change: give --off, --on, --rollout-percent, --mode or --parameter",
            EXIT_USAGE,
        )
    return _run_edit(args, change)


@_guarded
def run_set_canary_weight(args: argparse.Namespace) -> int:
    return _run_edit(args, CanaryChange(service=snake_case(args.service), weight=args.weight))


@_guarded
def run_clear_overrides(args: argparse.Namespace) -> int:
    return _run_edit(
        args,
        ClearOverrides(
            flag=snake_case(args.flag) if args.flag else None,
            canary=snake_case(args.canary) if args.canary else None,
        ),
    )


def read_routes(gateway: str, api_key: str) -> list[dict[str, Any]]:
    """The gateway's own account of its routes (GetEffectiveConfig, admin only)."""
    channel = grpc.insecure_channel(gateway)
    try:
        reply = gateway_pb2_grpc.GatewayServiceStub(channel).GetEffectiveConfig(
            gateway_pb2.GetEffectiveConfigRequest(),
            metadata=(("authorization", f"Bearer {api_key}"),),
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    except grpc.RpcError as error:
        raise RolloutError(
            f"gateway {gateway} refused: {error.code().name}: {error.details()}"
        ) from error
    finally:
        channel.close()
    return [
        {
            "service": route.service,
            "canary_weight": route.canary_weight,
            "canary_ready": route.canary_ready,
            "effective_canary_weight": route.effective_canary_weight,
        }
        for route in reply.routes
    ]


@_guarded
def run_routes(args: argparse.Namespace) -> int:
    if not args.api_key:
        raise RolloutError("routes needs an admin key: --api-key or $TOLLGATE_API_KEY", EXIT_USAGE)
    rows = [["SERVICE", "CANARY WEIGHT", "CANARY READY", "CANARY GETS NOW"]]
    for route in read_routes(args.gateway, args.api_key):
        rows.append(
            [
                route["service"],
                f"{route['canary_weight']}%",
                "yes" if route["canary_ready"] else "no",
                f"{route['effective_canary_weight']}%",
            ]
        )
    _table(rows, sys.stdout)
    return EXIT_OK
