"""``benchmark proxy``: start, stop and check a local LiteLLM proxy (needs the ``proxy`` extra).

The proxy runs in the background; its pid file and log live in ``$BENCHMARK_HOME/proxy/``.
With the database-less config (``configs/litellm/config.dbless.yaml``, the default when
``BENCHMARK_KEY_BACKEND=local``) ``start`` also checks the registry database, creates the
LiteLLM-compatible ``"LiteLLM_SpendLogs"`` table in ``LITELLM_DATABASE_URL`` if missing, hands
LiteLLM the resolved ``BENCHMARK_DATABASE_URL`` and keeps ``DATABASE_URL`` from it (LiteLLM would
otherwise start Prisma, which cannot run here).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import typer

from session_cli import console, settings
from session_cli.commands.common import ConfigsDirOpt
from session_cli.errors import BenchmarkError, ConfigError

app = typer.Typer(
    help="Run a local LiteLLM proxy in the background (needs the `proxy` extra).", no_args_is_help=True
)

PLUGIN_PREFIX = "session_cli.litellm_plugin"


def proxy_home() -> Path:
    return settings.benchmark_home() / "proxy"


def state_path() -> Path:
    return proxy_home() / "litellm.json"


def log_path() -> Path:
    return proxy_home() / "litellm.log"


def default_config(configs_dir: Path | None = None) -> Path:
    name = "config.dbless.yaml" if settings.key_backend() == "local" else "config.yaml"
    return settings.configs_dir(configs_dir) / "litellm" / name


def default_port() -> int:
    return urlsplit(settings.litellm_base_url()).port or 4000


def read_state() -> dict[str, Any] | None:
    try:
        return json.loads(state_path().read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise BenchmarkError(
            f"{state_path()}: unreadable proxy state: {exc}", hint="delete the file"
        ) from exc


def load_config(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: LiteLLM config not found", hint="pass --config PATH") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the LiteLLM config: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with model_list, general_settings, litellm_settings")
    return data


def is_dbless(config: dict[str, Any]) -> bool:
    """The config uses the project's plugin (database-less mode) rather than LiteLLM's database."""
    custom_auth = str((config.get("general_settings") or {}).get("custom_auth") or "")
    callbacks = (config.get("litellm_settings") or {}).get("callbacks") or []
    return custom_auth.startswith(PLUGIN_PREFIX) or any(str(cb).startswith(PLUGIN_PREFIX) for cb in callbacks)


def missing_env_references(config: dict[str, Any], path: Path) -> None:
    """Every ``os.environ/NAME`` in general_settings must be set (LiteLLM would start half-configured)."""
    for field, value in (config.get("general_settings") or {}).items():
        if isinstance(value, str) and value.startswith("os.environ/"):
            name = value.removeprefix("os.environ/")
            if not os.environ.get(name):
                raise ConfigError(
                    f"{path}: general_settings.{field} reads {name}, which is not set",
                    hint=f"export {name}=... (for the master key: any secret string starting with sk-)",
                )


def dbless_environment(env: dict[str, str]) -> dict[str, str]:
    """Check the databases the plugin needs and return LiteLLM's environment for them."""
    from session_cli.db import redact_url
    from session_cli.litellm_schema import apply_litellm_migrations

    spend_url = env.get("LITELLM_DATABASE_URL")
    if not spend_url:
        raise ConfigError(
            'LITELLM_DATABASE_URL is not set: the database-less proxy writes "LiteLLM_SpendLogs" there',
            hint="export LITELLM_DATABASE_URL=postgresql://USER@HOST:5432/litellm (any database; "
            "created tables are LiteLLM's own)",
        )
    registry_url = settings.database_url()
    import psycopg

    try:
        with psycopg.connect(registry_url, connect_timeout=5) as conn:
            found = conn.execute("select to_regclass('registry.sessions') is not null").fetchone()
    except psycopg.OperationalError as exc:
        raise BenchmarkError(
            f"cannot connect to the registry database {redact_url(registry_url)}: {str(exc).strip().splitlines()[0]}",
            hint="set BENCHMARK_DATABASE_URL (session keys are checked against registry.sessions)",
        ) from exc
    if not (found and found[0]):
        raise BenchmarkError(
            f"{redact_url(registry_url)}: registry.sessions does not exist",
            hint="run `benchmark config init-db`",
        )
    try:
        if apply_litellm_migrations(spend_url):
            console.status(
                f'created LiteLLM\'s tables (incl. "LiteLLM_SpendLogs") in {redact_url(spend_url)}'
            )
    except psycopg.Error as exc:
        raise BenchmarkError(
            f"cannot prepare LITELLM_DATABASE_URL {redact_url(spend_url)}: {str(exc).strip().splitlines()[0]}",
            hint="the database must exist and accept connections",
        ) from exc
    env = dict(env)
    env["BENCHMARK_DATABASE_URL"] = registry_url
    for name in ("DATABASE_URL", "DIRECT_URL"):
        env.pop(name, None)
    return env


@app.command()
def start(
    config: Path | None = typer.Option(
        None, "--config", help="LiteLLM config (default: by BENCHMARK_KEY_BACKEND)"
    ),
    port: int | None = typer.Option(None, "--port", help="default: the port of LITELLM_BASE_URL, else 4000"),
    host: str = typer.Option("127.0.0.1", "--host"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds to wait for /health/liveliness"),
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """Start LiteLLM in the background and wait until it is healthy; prints its base URL."""
    from session_cli import proxy_process as pp

    state = read_state()
    if state and pp.process_alive(int(state["pid"])):
        raise BenchmarkError(
            f"a proxy is already running (pid {state['pid']}) at {state['base_url']}",
            hint="`benchmark proxy stop` first, or use it as it is",
        )
    config_path = (config or default_config(configs_dir)).resolve()
    loaded = load_config(config_path)
    executable = pp.litellm_executable()  # fails early with the install hint
    missing_env_references(loaded, config_path)
    port = port or default_port()
    if pp.port_in_use(host, port):
        raise BenchmarkError(f"{host}:{port} is already in use", hint="pick another --port")
    dbless = is_dbless(loaded)
    env = pp.litellm_environment()
    if dbless:
        env = dbless_environment(env)
    log = log_path()
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    console.status(
        f"starting LiteLLM ({'database-less' if dbless else 'database'} mode) with {config_path} ..."
    )
    server = pp.start_litellm(config_path, port=port, env=env, log_path=log, host=host, timeout_s=timeout)
    record = {
        "pid": server.pid,
        "host": host,
        "port": port,
        "base_url": server.base_url,
        "config": str(config_path),
        "mode": "dbless" if dbless else "database",
        "executable": executable,
        "log": str(log),
        "started_at": datetime.now(UTC).isoformat(),
    }
    state_path().write_text(json.dumps(record, indent=2) + "\n")
    console.status(f"LiteLLM is healthy (pid {server.pid}); log: {log}")
    typer.echo(server.base_url)


@app.command()
def stop(
    timeout: float = typer.Option(20.0, "--timeout", help="seconds before SIGKILL"),
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """Stop the background proxy (SIGTERM to its process group, SIGKILL after --timeout)."""
    from session_cli import proxy_process as pp

    state = read_state()
    if not state:
        console.status("no proxy started by `benchmark proxy start` is recorded")
        return
    pid = int(state["pid"])
    if pp.process_alive(pid) or pp.group_members(pid):
        pp.stop_process_group(pid, timeout_s=timeout)
        console.status(f"stopped the proxy (pid {pid}) at {state['base_url']}")
    else:
        console.status(f"the proxy (pid {pid}) was not running")
    state_path().unlink(missing_ok=True)


@app.command()
def status(configs_dir: ConfigsDirOpt = None) -> None:
    """Print the recorded proxy and whether it answers /health/liveliness (JSON on stdout)."""
    import httpx

    from session_cli import proxy_process as pp

    state = read_state()
    if not state:
        console.print_json({"running": False})
        raise typer.Exit(1)
    running = pp.process_alive(int(state["pid"]))
    healthy = False
    if running:
        try:
            healthy = httpx.get(state["base_url"] + pp.LIVELINESS_PATH, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            healthy = False
    console.print_json({**state, "running": running, "healthy": healthy})
    if not healthy:
        raise typer.Exit(1)
