# Image of one Tollgate service; the same file builds all seven, and the single-process suite
# (every service in one process, `python -m tollgate.single_process`). From the repository root:
#   docker build --build-arg SERVICE=gateway -t tollgate/gateway .
# (`make images` builds every image.) SERVICE is the module name: gateway,
# conversation_optimizer, cache, semantic_cache, budget_ledger, orchestrator, lead_scoring,
# or single_process.
# BASE_IMAGE is any Debian-based image with Python 3.11 and its venv module; where the registry
# is out of reach, scripts/base-image.sh builds one from Debian's mirror.
#
# Dependencies come from uv.lock exactly (uv sync --frozen). Everything before `ARG SERVICE` is
# the same for every service, so seven builds share those layers: the base, uv, and one download
# of every service's third-party wheels. The runtime stage holds only the service's virtual
# environment (the semantic cache's embedding model is package data inside it), runs as an
# unprivileged user and writes nothing outside /tmp, so a read-only root filesystem works.
# No BuildKit-only syntax: the classic builder builds it too.

ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS deps
ARG UV_VERSION=0.13.9
# uv in a venv of its own: Debian's Python refuses `pip install` into the system (PEP 668).
RUN python3 -m venv /opt/uv \
 && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check --quiet "uv==${UV_VERSION}"
ENV PATH=/opt/uv/bin:$PATH \
    UV_CACHE_DIR=/opt/uv-cache \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_PROGRESS=1 \
    UV_SYSTEM_CERTS=1
WORKDIR /src

# The lock and every workspace member's pyproject (uv reads them all), nothing else: this layer
# is rebuilt only when dependencies change.
COPY pyproject.toml uv.lock ./
COPY libs/cli/pyproject.toml libs/cli/
COPY libs/client/pyproject.toml libs/client/
COPY libs/common/pyproject.toml libs/common/
COPY libs/emulator/pyproject.toml libs/emulator/
COPY services/budget_ledger/pyproject.toml services/budget_ledger/
COPY services/cache/pyproject.toml services/cache/
COPY services/conversation_optimizer/pyproject.toml services/conversation_optimizer/
COPY services/gateway/pyproject.toml services/gateway/
COPY services/lead_scoring/pyproject.toml services/lead_scoring/
COPY services/orchestrator/pyproject.toml services/orchestrator/
COPY services/semantic_cache/pyproject.toml services/semantic_cache/
COPY services/single_process/pyproject.toml services/single_process/
# Fills uv's cache with the wheels of all seven services and of the single-process suite (the
# same ones: it needs nothing of its own) and the build backend of the workspace's own
# packages; the environment itself is thrown away. Each image's stage below then installs from
# this cache without downloading anything.
RUN UV_PROJECT_ENVIRONMENT=/tmp/warm uv sync --frozen --no-dev --no-install-workspace \
      --package tollgate-budget-ledger --package tollgate-cache \
      --package tollgate-conversation-optimizer --package tollgate-gateway \
      --package tollgate-lead-scoring --package tollgate-orchestrator \
      --package tollgate-semantic-cache --package tollgate-single-process \
 && uv venv --quiet /tmp/backend \
 && uv pip install --quiet --python /tmp/backend/bin/python "hatchling>=1.25" \
 && rm -rf /tmp/warm /tmp/backend

FROM deps AS build
ARG SERVICE
ENV UV_PROJECT_ENVIRONMENT=/opt/venv
# The service's third-party dependencies, then the service and the shared library as regular
# (non-editable) packages.
RUN test -f "services/${SERVICE:-none}/pyproject.toml" || { \
      echo "SERVICE must name a folder under services/, e.g. --build-arg SERVICE=gateway" >&2; \
      exit 1; } \
 && uv sync --frozen --no-dev --offline --no-install-workspace \
      --package "tollgate-$(echo "${SERVICE}" | tr _ -)"
COPY libs/common/src libs/common/src
# Every service's source, not only ${SERVICE}'s: the single-process suite installs all seven.
# The classic builder cannot make a COPY depend on SERVICE, and this costs the other images
# nothing they keep: `uv sync --package` below installs only the service's own dependency
# closure into /opt/venv, the only thing the runtime stage takes, so each image holds exactly
# what it held before, and the layers every image shares (everything above `ARG SERVICE`) are
# unchanged. What changes is this stage's build cache: a change to one service's source reruns
# the `uv sync` step below for every image (seconds each: the wheels come from the cache above).
COPY services/budget_ledger/src services/budget_ledger/src
COPY services/cache/src services/cache/src
COPY services/conversation_optimizer/src services/conversation_optimizer/src
COPY services/gateway/src services/gateway/src
COPY services/lead_scoring/src services/lead_scoring/src
COPY services/orchestrator/src services/orchestrator/src
COPY services/semantic_cache/src services/semantic_cache/src
COPY services/single_process/src services/single_process/src
RUN uv sync --frozen --no-dev --offline --no-editable \
      --package "tollgate-$(echo "${SERVICE}" | tr _ -)"
# The entry point: metrics on 9090 unless told otherwise (the port the chart uses), then
# `exec python -m tollgate.<service>`, so Python is PID 1 and gets SIGTERM itself. The
# single-process suite's one metrics endpoint is the gateway's (TOLLGATE_GATEWAY_METRICS_PORT).
RUN prefix="TOLLGATE_$(echo "${SERVICE}" | sed 's/^single_process$/gateway/' | tr a-z A-Z)" \
 && printf '#!/bin/sh\nexport %s_METRICS_PORT="${%s_METRICS_PORT:-9090}"\nexec python -m tollgate.%s "$@"\n' \
      "$prefix" "$prefix" "${SERVICE}" > /opt/venv/bin/tollgate-service \
 && chmod 0755 /opt/venv/bin/tollgate-service

FROM ${BASE_IMAGE} AS runtime
RUN groupadd --system --gid 10001 tollgate \
 && useradd --system --uid 10001 --gid tollgate --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tollgate
ARG SERVICE
COPY --from=build /opt/venv /opt/venv
# Bytecode was compiled at build time: nothing needs to be written next to the code.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
LABEL org.opencontainers.image.title="tollgate-${SERVICE}"
WORKDIR /tmp
USER 10001:10001
# The metrics port; the gRPC port is the service's own (50051-50057, TOLLGATE_<SERVICE>_PORT).
EXPOSE 9090
ENTRYPOINT ["tollgate-service"]
