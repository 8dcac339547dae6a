# harness-bench: every target runs from the repository root.
SHELL := /bin/bash
UV ?= uv
# installing with compiled bytecode halves start-up on machines with PYTHONDONTWRITEBYTECODE=1
SYNC := $(UV) sync --locked --all-extras --compile-bytecode

.PHONY: install install-dev lint format test-deps test demo up down reset dev check-defs dbt-parse

install:
	$(SYNC)

# the name operators know from the workflow this product descends from
install-dev: install

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format:
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

# the Dagster definitions read dbt_project/target/manifest.json (no database needed to parse)
dbt-parse:
	$(UV) run dbt parse --project-dir dbt_project --profiles-dir dbt_project --quiet

# the code location loads and its definitions are valid (about 5 s; `dg check defs` takes 11-20 s)
check-defs: dbt-parse
	$(UV) run dagster definitions validate -m benchmark_pipeline.definitions

# what the tests need beyond the Python environment (idempotent, quick when already there)
test-deps:
	scripts/ensure-prometheus.sh
	scripts/install-harness-clis.sh

test: install test-deps lint dbt-parse check-defs
	$(UV) run pytest

demo: install
	$(UV) run benchmark demo

# Dagster UI + daemon on 127.0.0.1:3000, sharing the instance `benchmark pipeline run` records into
# (DAGSTER_HOME, else $$BENCHMARK_HOME/dagster; see benchmark_pipeline/instance.py)
dev: install dbt-parse
	@home="$$($(UV) run python -m benchmark_pipeline.instance)" && echo "DAGSTER_HOME=$$home" && \
		DAGSTER_HOME="$$home" $(UV) run dagster dev -m benchmark_pipeline.definitions -h 127.0.0.1 -p 3000

# --- local stack (docker-compose.yml; docs/operations.md) ---
COMPOSE ?= docker compose

# build the pipeline image, start everything, wait until every service is healthy (init: exited 0)
up:
	@test -f .env || { echo "error: .env not found: cp .env.example .env, then fill in the secrets (docs/operations.md)" >&2; exit 1; }
	@bad=$$(grep -E '^[A-Z_]+=.*change-me' .env | cut -d= -f1 | tr '\n' ' '); \
	if [ -n "$$bad" ]; then echo "error: .env still holds change-me placeholders for: $$bad" >&2; exit 1; fi
	$(COMPOSE) up -d --build --wait --wait-timeout 600
	$(COMPOSE) ps

# stop and remove the containers; every volume (all data) is kept
down:
	$(COMPOSE) down --remove-orphans

# DELETES ALL STACK DATA: containers plus the volumes postgres-data (registry, sessions, raw,
# marts, Dagster history, LiteLLM keys and spend logs), prometheus-data and grafana-data.
# Asks for "yes" unless CONFIRM=yes. Back up first: docs/operations.md, "Backup".
reset:
	@if [ "$(CONFIRM)" != "yes" ]; then \
		read -r -p "make reset deletes every stack volume (benchmark + litellm databases, Prometheus, Grafana). Type yes: " answer; \
		[ "$$answer" = "yes" ] || { echo "reset cancelled" >&2; exit 1; }; \
	fi
	$(COMPOSE) down --volumes --remove-orphans
