# syntax=docker/dockerfile:1
# The pipeline image: Dagster webserver, Dagster daemon and the one-shot `benchmark config init-db`
# (docker-compose.yml). Dependencies come from uv.lock exactly (`--locked` fails on a stale lock).
# The `proxy` extra (litellm, ~740 MB) is not installed: LiteLLM runs from its own image. Building with
# `--build-arg EXTRAS="--extra proxy"` adds it: that image (harness-bench-proxy:local) runs the
# database-less proxy of the compose profile `dbless` (LiteLLM with the project's plugin).

FROM python:3.12-slim-bookworm

# uv pinned to the version that wrote uv.lock
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    BENCHMARK_CONFIGS_DIR=/app/configs \
    BENCHMARK_HOME=/opt/harness-bench

WORKDIR /app

# optional extras for `uv sync`, e.g. "--extra proxy"
ARG EXTRAS=""

# third-party dependencies first: this layer survives changes to the project's own code
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project ${EXTRAS}

COPY session_cli ./session_cli
COPY benchmark_pipeline ./benchmark_pipeline
COPY dbt_project ./dbt_project
COPY configs ./configs
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev ${EXTRAS}

# dagster-dbt loads dbt's manifest; parse it now (no database needed: profiles.yml has defaults)
RUN dbt parse --project-dir dbt_project --profiles-dir dbt_project

COPY configs/dagster/dagster.yaml configs/dagster/workspace.yaml /opt/dagster/home/

# run as an unprivileged user; dbt writes target/ and logs/ at run time
RUN useradd --system --uid 10001 --home-dir /opt/harness-bench --create-home harness \
    && mkdir -p /opt/dagster/home/storage \
    && chown -R harness /opt/dagster/home /app/dbt_project
USER harness

EXPOSE 3000
CMD ["dagster-webserver", "--host", "0.0.0.0", "--port", "3000", "--workspace", "/opt/dagster/home/workspace.yaml"]
