"""Harness rendering: a profile (data) plus a session's values -> environment and config files.

Renderers are per output format (shell, dotenv, json, toml; files as json or toml), never per
harness. The key is substituted only into the environment, at `session env` time; rendered files
reference it through an environment variable.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from session_cli.configs import templates

if TYPE_CHECKING:  # pydantic stays out of `session env`, which must start fast
    from session_cli.configs.models import HarnessProfile, Variant

FORMATS = ("shell", "dotenv", "json", "toml")
KEY_PLACEHOLDER = "{{ api_key }}"


@dataclass(frozen=True)
class RenderedFile:
    path: str
    text: str


@dataclass(frozen=True)
class RenderedHarness:
    """Environment with ``{{ api_key }}`` left in place, variables to unset, and config files."""

    env: dict[str, str]
    unset: list[str]
    files: list[RenderedFile]


def session_variables(
    *,
    base_url: str,
    variant: Variant,
    harness: HarnessProfile,
    session_id: str,
    session_dir: str,
    harness_dir: str,
    key_alias: str,
    experiment: str,
    task_card: str,
) -> dict[str, str]:
    """Every template variable except the key, which stays a placeholder until `session env`."""
    base = base_url.rstrip("/")
    background = variant.background_model if "background" in harness.model_roles else None
    values = {
        "base_url": base,
        "base_url_v1": base + "/v1",
        "api_key": KEY_PLACEHOLDER,
        "model": variant.model,
        "background_model": background or variant.model,
        "harness_dir": harness_dir,
        "session_dir": session_dir,
        "session_id": session_id,
        "key_alias": key_alias,
        "experiment": experiment,
        "variant": variant.name,
        "task_card": task_card,
        "provider": variant.provider,
    }
    assert set(values) == set(templates.VARIABLES)
    return values


def _file_text(fmt: str, content: Any) -> str:
    if fmt == "json":
        return json.dumps(content, indent=2) + "\n"
    import tomli_w

    return tomli_w.dumps(content)


def render_harness(
    harness: HarnessProfile, variant: Variant, variables: Mapping[str, str]
) -> RenderedHarness:
    env = {name: templates.render(value, variables) for name, value in harness.env.items()}
    env.update({name: templates.render(value, variables) for name, value in variant.env.items()})
    files = [
        RenderedFile(path=f.path, text=_file_text(f.format, templates.render(f.content, variables)))
        for f in harness.files
    ]
    unset = [name for name in harness.unset if name not in env]
    return RenderedHarness(env=env, unset=unset, files=files)


def with_key(env: Mapping[str, str], key: str) -> dict[str, str]:
    return {name: value.replace(KEY_PLACEHOLDER, key) for name, value in env.items()}


def _dotenv_quote(value: str) -> str:
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("$", "\\$")
    return f'"{escaped}"'


def format_env(env: Mapping[str, str], unset: list[str], fmt: str, header: str) -> str:
    """Serialize an environment. Deterministic: profile order, then variant overrides."""
    if fmt == "shell":
        lines = [f"# {header}"]
        lines += [f"unset {name}" for name in unset]
        lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
        return "\n".join(lines) + "\n"
    if fmt == "dotenv":
        lines = [f"# {header}"]
        lines += [f"{name}=" for name in unset]  # dotenv cannot unset: empty means unset to most loaders
        lines += [f"{name}={_dotenv_quote(value)}" for name, value in env.items()]
        return "\n".join(lines) + "\n"
    if fmt == "json":
        return json.dumps({"env": dict(env), "unset": list(unset)}, indent=2) + "\n"
    if fmt == "toml":
        import tomli_w

        return f"# {header}\n" + tomli_w.dumps({"env": dict(env), "unset": list(unset)})
    raise ValueError(fmt)
