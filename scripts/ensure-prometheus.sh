#!/usr/bin/env bash
# A real Prometheus (and promtool) for the Prometheus ingestion and PromQL tests: Debian's package.
# Idempotent; installs only when missing. Without root (and no passwordless sudo) it says so and
# returns 0: those tests then skip locally (they fail in CI, where CI=true and this runs as root).
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "note: prometheus/promtool not found and no apt-get here: install Prometheus 2.x to run its tests" >&2
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif sudo -n true 2>/dev/null; then
    sudo="sudo -n"
else
    echo "note: prometheus/promtool not found; run 'sudo apt-get install prometheus' to run the Prometheus tests" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends prometheus \
    || { $sudo apt-get update -qq && $sudo apt-get install -y --no-install-recommends prometheus; }
