#!/usr/bin/env bash
# First start of an empty data volume (postgres image: /docker-entrypoint-initdb.d): create the
# benchmark and litellm databases and their roles from roles.sql. Passwords come from the
# container environment (docker-compose.yml <- .env); they are passed as psql variables, never
# written to a file or echoed. LITELLM_DBLESS_DB_PASSWORD is optional: only the database-less proxy
# (compose profile dbless) logs in as litellm_dbless; without it that role cannot log in.
set -euo pipefail

: "${BENCHMARK_DB_PASSWORD:?BENCHMARK_DB_PASSWORD is not set (see .env.example)}"
: "${LITELLM_DB_PASSWORD:?LITELLM_DB_PASSWORD is not set (see .env.example)}"
: "${LITELLM_READER_DB_PASSWORD:?LITELLM_READER_DB_PASSWORD is not set (see .env.example)}"
: "${GRAFANA_DB_PASSWORD:?GRAFANA_DB_PASSWORD is not set (see .env.example)}"

ROLES_SQL="${HARNESS_BENCH_ROLES_SQL:-/etc/harness-bench/postgres/roles.sql}"

psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v benchmark_db=benchmark -v benchmark_role=benchmark \
    -v benchmark_password="$BENCHMARK_DB_PASSWORD" \
    -v litellm_db=litellm -v litellm_role=litellm \
    -v litellm_password="$LITELLM_DB_PASSWORD" \
    -v litellm_reader_role=litellm_reader \
    -v litellm_reader_password="$LITELLM_READER_DB_PASSWORD" \
    -v grafana_role=grafana \
    -v grafana_password="$GRAFANA_DB_PASSWORD" \
    -v litellm_dbless_role=litellm_dbless \
    -v litellm_dbless_password="${LITELLM_DBLESS_DB_PASSWORD:-}" \
    -f "$ROLES_SQL"

echo "harness-bench: databases benchmark and litellm ready (roles benchmark, litellm, litellm_reader, grafana, litellm_dbless)"
