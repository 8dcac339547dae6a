"""docker-compose.yml and the files it mounts, checked by reading them (no Docker engine here).

What `docker compose up -d` needs from this repository: every service pinned or built from the
repo, health-checked and started in dependency order, published on 127.0.0.1 only, its bind mounts
present, every ${VAR} documented in .env.example; Grafana provisioned with the dashboards folder;
Prometheus, LiteLLM and Dagster configured consistently with each other.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_dashboards import load_dashboards, provisioned_datasources, referenced_variables

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}, $VAR; $$ is a literal $
_COMPOSE_VAR_RE = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<plain>[A-Za-z_]\w*)"
)


def env_example() -> dict[str, str]:
    values = {}
    for lineno, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", name), (
            f".env.example:{lineno}: not NAME=value: {line!r}"
        )
        values[name] = value
    return values


def compose_variables(text: str) -> set[str]:
    return {
        m.group("braced") or m.group("plain") for m in _COMPOSE_VAR_RE.finditer(text) if m.group(0) != "$$"
    }


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation, as `docker compose config` does it with this .env."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("plain")
        op, arg, value = m.group("op"), m.group("arg"), env.get(name)
        unset_or_empty = value is None or (value == "" and op and op.startswith(":"))
        if op in (":-", "-") and unset_or_empty:
            return arg
        if op in (":?", "?") and unset_or_empty:
            raise AssertionError(f"docker-compose.yml: required variable {name} unset: {arg}")
        return value or ""

    return _COMPOSE_VAR_RE.sub(repl, text)


# the compose model as Docker would see it after `cp .env.example .env`
COMPOSE: dict[str, Any] = yaml.safe_load(interpolate(COMPOSE_FILE.read_text(), env_example()))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
EXPECTED_SERVICES = {
    "postgres",
    "litellm",
    "litellm-dbless",
    "prometheus",
    "grafana",
    "init",
    "dagster-webserver",
    "dagster-daemon",
}


def one_shot(name: str) -> bool:
    return SERVICES[name].get("restart") == "no"


def container_mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> source for the service's volumes (short syntax)."""
    mounts = {}
    for volume in service.get("volumes", []):
        assert isinstance(volume, str), f"use the short volume syntax: {volume!r}"
        source, target = volume.split(":")[:2]
        mounts[target] = source
    return mounts


def test_the_stack_has_every_service() -> None:
    assert set(SERVICES) == EXPECTED_SERVICES


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES))
def test_image_is_pinned_or_built_from_the_repo(name: str) -> None:
    service = SERVICES[name]
    if "build" in service:
        build = service["build"]
        context = REPO / build["context"]
        assert context.is_dir(), f"{name}: build context {build['context']} missing"
        assert (context / build.get("dockerfile", "Dockerfile")).is_file(), f"{name}: Dockerfile missing"
        return
    image = service.get("image", "")
    repo, _, tag = image.rpartition(":")
    assert repo and tag, f"{name}: image {image!r} has no tag"
    assert "/" not in tag and re.search(r"\d", tag), f"{name}: image {image!r} is not pinned to a version"
    assert not re.search(r"latest|stable|nightly|main$", tag), f"{name}: image {image!r} uses a moving tag"


def test_dockerfile_installs_the_locked_dependencies() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "uv sync --locked" in text
    base = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert base and all(":" in b for b in base), f"unpinned base image in Dockerfile: {base}"
    uv = re.search(r"COPY --from=(\S+)", text)
    assert uv and re.search(r":\d+\.\d+\.\d+$", uv.group(1)), "pin the uv image version"


def test_dockerignore_keeps_what_the_dockerfile_copies_and_drops_secrets() -> None:
    text = (REPO / ".dockerignore").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "*", ".dockerignore should start from nothing and list what goes in"
    included = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for m in re.finditer(r"^COPY (?!--from)(.+)$", (REPO / "Dockerfile").read_text(), re.M):
        *sources, _dest = m.group(1).split()
        copied |= {s.rstrip("/").split("/")[0] for s in sources}
    assert copied <= included, f"COPY sources excluded by .dockerignore: {sorted(copied - included)}"
    assert not {".env", ".venv"} & included


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES))
def test_healthcheck(name: str) -> None:
    check = SERVICES[name].get("healthcheck", {})
    if one_shot(name):
        # a one-shot exits; the services after it wait with service_completed_successfully instead
        adopters = [
            other
            for other, spec in SERVICES.items()
            if spec.get("depends_on", {}).get(name, {}).get("condition") == "service_completed_successfully"
        ]
        assert adopters, (
            f"{name}: one-shot service no long-running service waits for (`up --wait` would fail)"
        )
        assert not any(one_shot(a) for a in adopters)
        return
    test = check.get("test")
    assert test and not check.get("disable"), f"{name}: no healthcheck"
    assert test[0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck test must be a CMD list: {test}"
    for key in ("interval", "timeout", "retries"):
        assert key in check, f"{name}: healthcheck has no {key}"


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES))
def test_depends_on_waits_for_health(name: str) -> None:
    depends = SERVICES[name].get("depends_on", {})
    assert isinstance(depends, dict), f"{name}: depends_on must use conditions, not a list"
    for dependency, spec in depends.items():
        expected = "service_completed_successfully" if one_shot(dependency) else "service_healthy"
        assert spec.get("condition") == expected, f"{name} -> {dependency}: condition must be {expected}"


def test_dependency_order() -> None:
    requires = {
        "litellm": {"postgres"},
        # registry.sessions (init) and "LiteLLM_SpendLogs" (the database-backed proxy's Prisma) exist
        "litellm-dbless": {"postgres", "init", "litellm"},
        "prometheus": {"litellm"},
        "grafana": {"postgres", "prometheus"},
        "init": {"postgres"},
        "dagster-webserver": {"postgres", "init"},
        "dagster-daemon": {"postgres", "init", "litellm", "prometheus"},
    }
    for name, needed in requires.items():
        assert needed <= set(SERVICES[name].get("depends_on", {})), f"{name} must wait for {needed}"


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES))
def test_ports_are_loopback_only(name: str) -> None:
    for port in SERVICES[name].get("ports", []):
        assert isinstance(port, str), f"{name}: use the short port syntax: {port!r}"
        assert port.startswith("127.0.0.1:"), f"{name}: port {port!r} is not bound to 127.0.0.1"
        assert re.fullmatch(r"127\.0\.0\.1:\d+:\d+", port), (
            f"{name}: port {port!r} must be 127.0.0.1:HOST:CONTAINER"
        )


def test_published_host_ports_are_distinct() -> None:
    hosts = [p.split(":")[1] for s in SERVICES.values() for p in s.get("ports", [])]
    assert len(hosts) == len(set(hosts)), hosts


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES))
def test_mounts_exist(name: str) -> None:
    named = set(COMPOSE.get("volumes") or {})
    for target, source in container_mounts(SERVICES[name]).items():
        if source.startswith((".", "/")):
            assert (REPO / source).exists(), f"{name}: bind mount source {source} (-> {target}) missing"
        else:
            assert source in named, f"{name}: volume {source!r} is not declared under top-level volumes"


def test_every_compose_variable_is_in_env_example() -> None:
    used = compose_variables(COMPOSE_FILE.read_text())
    documented = set(env_example())
    assert used - documented == set(), f"variables missing from .env.example: {sorted(used - documented)}"
    assert documented - used == set(), (
        f".env.example lists variables compose never uses: {sorted(documented - used)}"
    )


def test_secrets_are_required_not_defaulted() -> None:
    text = COMPOSE_FILE.read_text()
    for secret in ("LITELLM_MASTER_KEY", "POSTGRES_PASSWORD", "BENCHMARK_DB_PASSWORD", "LITELLM_DB_PASSWORD",
                   "LITELLM_READER_DB_PASSWORD", "GRAFANA_DB_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):  # fmt: skip
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses and all(u.startswith(":?") for u in uses), (
            f"{secret} must be ${{{secret}:?...}} everywhere"
        )


def test_interpolation_helper() -> None:
    env = {"A": "1", "E": ""}
    assert interpolate("$A ${A} ${B:-2} ${E:-3} ${E-4} $$A", env) == "1 1 2 3  $A"
    with pytest.raises(AssertionError, match="required variable B"):
        interpolate("${B:?set B}", env)


def test_env_file_is_git_ignored() -> None:
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()


# ----------------------------------------------------------------------------- Postgres


def test_postgres_init_script_is_mounted_and_gets_its_passwords() -> None:
    service = SERVICES["postgres"]
    mounts = container_mounts(service)
    init = next(src for tgt, src in mounts.items() if tgt.startswith("/docker-entrypoint-initdb.d/"))
    script = REPO / init
    assert script.suffix == ".sh" and os.access(script, os.X_OK), f"{init} must be an executable .sh"
    roles_target = re.search(r"ROLES_SQL:-([^}]+)\}", script.read_text()).group(1)
    assert mounts.get(roles_target) == "./configs/postgres/roles.sql"
    required = set(re.findall(r"\$\{(\w+):\?", script.read_text()))
    assert required <= set(service["environment"]), f"init.sh needs {required - set(service['environment'])}"


# ----------------------------------------------------------------------------- LiteLLM and Prometheus


def litellm_config() -> dict[str, Any]:
    source = container_mounts(SERVICES["litellm"])["/app/config.yaml"]
    return yaml.safe_load((REPO / source).read_text())


def test_litellm_runs_the_versioned_config_with_its_environment() -> None:
    service = SERVICES["litellm"]
    assert "/app/config.yaml" in service["command"]
    text = yaml.safe_dump(litellm_config())
    needed = set(re.findall(r"os\.environ/(\w+)", text))
    assert needed <= set(service["environment"]), f"litellm lacks {needed - set(service['environment'])}"
    assert "/health/liveliness" in " ".join(service["healthcheck"]["test"])


def test_litellm_settings_telemetry_on_content_off() -> None:
    config = litellm_config()
    settings, general = config["litellm_settings"], config["general_settings"]
    assert "prometheus" in settings["callbacks"]
    assert isinstance(settings["require_auth_for_metrics_endpoint"], bool), "set it deliberately"
    assert settings["prometheus_deployment_and_latency_caller_identity"] == "api_key_alias"
    assert settings["turn_off_message_logging"] is True
    assert general["store_prompts_in_spend_logs"] is False
    assert general["disable_spend_logs"] is False
    assert general["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_prometheus_scrapes_litellm_the_way_litellm_serves_metrics() -> None:
    service = SERVICES["prometheus"]
    config_arg = next(a for a in service["command"] if a.startswith("--config.file="))
    container_path = config_arg.split("=", 1)[1]
    mount_dir = next(t for t in container_mounts(service) if container_path.startswith(t + "/"))
    config_file = REPO / container_mounts(service)[mount_dir] / container_path[len(mount_dir) + 1 :]
    config = yaml.safe_load(config_file.read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "litellm")
    assert job["metrics_path"] == "/metrics/"
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == ["litellm:4000"], "scrape the compose service on its container port"
    needs_auth = litellm_config()["litellm_settings"]["require_auth_for_metrics_endpoint"]
    has_auth = "authorization" in job or "bearer_token_file" in job
    assert has_auth == needs_auth, "Prometheus must authenticate exactly when LiteLLM requires it"
    assert any(a.startswith("--storage.tsdb.retention.time=") for a in service["command"]), "set retention"


# ----------------------------------------------------------------------------- database-less proxy (profile dbless)

DBLESS = "litellm-dbless"
DBLESS_CONFIG_TARGET = "/etc/harness-bench/litellm/config.dbless.yaml"


def dbless_config() -> dict[str, Any]:
    source = container_mounts(SERVICES[DBLESS])[DBLESS_CONFIG_TARGET]
    assert source == "./configs/litellm/config.dbless.yaml"
    return yaml.safe_load((REPO / source).read_text())


def test_the_dbless_proxy_is_opt_in_and_built_with_the_proxy_extra() -> None:
    service = SERVICES[DBLESS]
    assert service["profiles"] == ["dbless"]
    assert [name for name, spec in SERVICES.items() if spec.get("profiles")] == [DBLESS], (
        "the default stack (`make up`) must not change"
    )
    assert "--extra proxy" in service["build"]["args"]["EXTRAS"]
    pipeline_images = {SERVICES[n]["image"] for n in ("init", "dagster-webserver", "dagster-daemon")}
    assert service["image"] not in pipeline_images, "the slim pipeline image must not get litellm"
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r'^ARG EXTRAS=""$', dockerfile, re.M)
    syncs = re.findall(r"uv sync --locked[^\n]*", dockerfile)
    assert len(syncs) == 2 and all(line.endswith("${EXTRAS}") for line in syncs), syncs


def dbless_service(password: str) -> dict[str, Any]:
    """The service as Docker sees it with ``LITELLM_DBLESS_DB_PASSWORD=password`` in .env."""
    env = {**env_example(), "LITELLM_DBLESS_DB_PASSWORD": password}
    return yaml.safe_load(interpolate(COMPOSE_FILE.read_text(), env))["services"][DBLESS]


def test_the_dbless_proxy_runs_its_config_with_the_plugin_and_its_role() -> None:
    from urllib.parse import urlsplit

    service = dbless_service("pw-for-the-test")
    assert f"--config {DBLESS_CONFIG_TARGET} " in service["command"][-1]
    config = dbless_config()
    assert config["general_settings"]["custom_auth"] == "session_cli.litellm_plugin.auth.custom_auth"
    assert "session_cli.litellm_plugin.spend_logs.spend_log_writer" in config["litellm_settings"]["callbacks"]
    env = service["environment"]
    needed = set(re.findall(r"os\.environ/(\w+)", yaml.safe_dump(config)))
    assert needed <= set(env), f"{DBLESS} lacks {needed - set(env)}"
    # LiteLLM starts Prisma whenever it sees DATABASE_URL: the plugin's databases go by other names
    assert not {"DATABASE_URL", "DIRECT_URL"} & set(env)
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    registry, spend_logs = urlsplit(env["BENCHMARK_DATABASE_URL"]), urlsplit(env["LITELLM_DATABASE_URL"])
    assert (registry.username, registry.hostname, registry.path) == (
        "litellm_dbless",
        "postgres",
        "/benchmark",
    )
    assert (spend_logs.username, spend_logs.hostname, spend_logs.path) == (
        "litellm_dbless",
        "postgres",
        "/litellm",
    )
    assert registry.password == spend_logs.password == "pw-for-the-test"
    assert "/health/liveliness" in " ".join(service["healthcheck"]["test"])


def test_the_dbless_password_is_optional_for_the_stack_and_checked_by_the_proxy(tmp_path: Path) -> None:
    """Compose interpolates every service, profiles or not: a required variable here would break the
    default `make up`. The proxy's own command refuses to start with an empty password instead."""
    text = COMPOSE_FILE.read_text()
    uses = re.findall(r"\$\{LITELLM_DBLESS_DB_PASSWORD([^}]*)\}", text)
    assert uses and set(uses) == {":-"}
    assert env_example()["LITELLM_DBLESS_DB_PASSWORD"] == ""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "litellm").write_text('#!/bin/sh\necho "litellm $*"\n')
    (fake_bin / "litellm").chmod(0o755)

    def start(password: str) -> subprocess.CompletedProcess[str]:
        service = dbless_service(password)
        # an empty value (FIREWORKS_API_KEY:-) is YAML null: Docker passes it as an empty string
        values = {name: "" if value is None else str(value) for name, value in service["environment"].items()}
        env = {"PATH": f"{fake_bin}:/usr/bin:/bin", **values}
        return subprocess.run(service["command"], env=env, capture_output=True, text=True, timeout=10)

    refused = start("")
    assert refused.returncode == 2
    assert "LITELLM_DBLESS_DB_PASSWORD is empty in .env" in refused.stderr
    started = start("s3cret")
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == f"litellm --config {DBLESS_CONFIG_TARGET} --host 0.0.0.0 --port 4000"


def test_prometheus_finds_the_dbless_proxy_by_dns_when_it_runs() -> None:
    config = yaml.safe_load((REPO / "configs/prometheus/prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == DBLESS)
    assert job["metrics_path"] == "/metrics/" and "static_configs" not in job
    [sd] = job["dns_sd_configs"]
    assert (sd["names"], sd["type"], sd["port"]) == ([DBLESS], "A", 4000)
    needs_auth = dbless_config()["litellm_settings"]["require_auth_for_metrics_endpoint"]
    assert ("authorization" in job) == needs_auth


def test_litellm_setting_names_exist_in_the_installed_litellm() -> None:
    """A misspelled setting is silently ignored by LiteLLM: look each name up in litellm's source."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        pytest.skip("litellm is not installed (uv sync --all-extras installs the proxy extra)")
    package = Path(spec.origin).parent
    module_globals = (package / "__init__.py").read_text()
    proxy_server = (package / "proxy/proxy_server.py").read_text() + (package / "proxy/_types.py").read_text()
    router = (package / "router.py").read_text()
    config = litellm_config()
    for name in config["litellm_settings"]:
        assert re.search(rf"^{name}\s*[:=]", module_globals, re.M), (
            f"litellm_settings.{name} unknown to litellm"
        )
    for name in config["general_settings"]:
        assert re.search(rf"[\"']{name}[\"']|^\s+{name}\s*:", proxy_server, re.M), f"general_settings.{name}?"
    for name in config.get("router_settings", {}):
        assert re.search(rf"^\s+{name}\s*:", router, re.M), f"router_settings.{name} is not a Router argument"


# ----------------------------------------------------------------------------- Grafana


def test_grafana_provisioning_points_at_the_dashboards_folder() -> None:
    mounts = container_mounts(SERVICES["grafana"])
    provisioning = mounts["/etc/grafana/provisioning"]
    assert (REPO / provisioning).resolve() == (REPO / "configs/grafana/provisioning").resolve()
    providers = yaml.safe_load((REPO / provisioning / "dashboards/dashboards.yaml").read_text())["providers"]
    assert len(providers) == 1
    provider = providers[0]
    assert provider["folder"] == "Benchmark" and provider["type"] == "file"
    dashboards_path = provider["options"]["path"]
    assert (REPO / mounts[dashboards_path]).resolve() == (REPO / "dashboards").resolve()
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_path + "/")
    assert (REPO / "dashboards" / home[len(dashboards_path) + 1 :]).is_file()


def test_grafana_datasources() -> None:
    datasources = provisioned_datasources()
    assert datasources == {"hb-prometheus": "prometheus", "hb-marts": "grafana-postgresql-datasource"}
    spec = yaml.safe_load((REPO / "configs/grafana/provisioning/datasources/datasources.yaml").read_text())
    marts = next(d for d in spec["datasources"] if d["uid"] == "hb-marts")
    assert marts["user"] == "grafana" and marts["jsonData"]["database"] == "benchmark"
    assert marts["url"] == "postgres:5432"
    password_var = marts["secureJsonData"]["password"].lstrip("$").strip("{}")
    assert password_var in SERVICES["grafana"]["environment"]
    prometheus = next(d for d in spec["datasources"] if d["uid"] == "hb-prometheus")
    assert prometheus["url"] == "http://prometheus:9090"


EXPECTED_DASHBOARDS = {
    "hb-live-latency": "Live Request Latency",
    "hb-live-ttft": "Live TTFT",
    "hb-live-errors": "Live Error Rate",
    "hb-experiment-summary": "Experiment Summary",
    "hb-session-detail": "Session Detail",
    "hb-pipeline-health": "Pipeline Health",
}


def test_dashboards_are_the_expected_set_and_well_formed() -> None:
    dashboards = load_dashboards()
    assert {d.uid: d.title for d in dashboards} == EXPECTED_DASHBOARDS
    datasources = provisioned_datasources()
    for d in dashboards:
        ids = [p["id"] for p in d.model["panels"]] + [
            p["id"] for r in d.model["panels"] for p in r.get("panels", [])
        ]
        assert len(ids) == len(set(ids)), f"{d.path.name}: duplicate panel ids"
        assert d.model.get("editable") is False, f"{d.path.name}: provisioned dashboards are read-only"
        assert "harness-bench" in d.model.get("tags", [])
        defined = {v["name"] for v in d.variables()}
        for panel in d.panels():
            where = f"{d.path.name}: panel {panel.get('title')!r}"
            assert panel.get("title") and panel.get("targets"), f"{where}: needs a title and a query"
            assert panel.get("description"), f"{where}: say what the panel shows in its description"
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, f"{where}: wider than the grid"
        for target in [*d.targets(), *d.variable_targets()]:
            assert datasources.get(target.datasource_uid) == target.datasource_type, (
                f"{target.id}: datasource {target.datasource_uid!r} ({target.datasource_type}) is not provisioned"
            )
            assert target.query.strip(), f"{target.id}: empty query"
            undefined = referenced_variables(target.query) - defined
            assert not undefined, f"{target.id}: undefined template variables {sorted(undefined)}"
        kinds = {t.datasource_type for t in d.targets()}
        assert len(kinds) == 1, f"{d.path.name}: one datasource kind per dashboard, got {kinds}"


# ----------------------------------------------------------------------------- Dagster


def test_dagster_services_use_the_postgres_instance_and_the_workspace() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "configs/dagster/dagster.yaml configs/dagster/workspace.yaml /opt/dagster/home/" in dockerfile
    assert "DAGSTER_HOME=/opt/dagster/home" in dockerfile
    instance = (REPO / "configs/dagster/dagster.yaml").read_text()
    needed = set(re.findall(r"\{env: (\w+)\}", instance))
    for name in ("dagster-webserver", "dagster-daemon"):
        service = SERVICES[name]
        assert "/opt/dagster/home/workspace.yaml" in service["command"]
        assert needed <= set(service["environment"]), f"{name} lacks {needed - set(service['environment'])}"
    workspace = yaml.safe_load((REPO / "configs/dagster/workspace.yaml").read_text())
    module = workspace["load_from"][0]["python_module"]["module_name"]
    assert importlib.util.find_spec(module) is not None, f"workspace module {module} not importable"
    assert SERVICES["init"]["command"] == ["benchmark", "config", "init-db"]
