"""A LiteLLM config whose aliases all point at the fake provider (tests, the demo).

Starts from a real config (by default ``configs/litellm/config.dbless.yaml``) and keeps everything
but the deployments: each alias keeps its name and is served by the fake provider under the same
name (so a profiles file is keyed by alias). Aliases of ``anthropic/`` deployments reach the
fake's Anthropic ``/v1/messages``; all others reach its OpenAI surface, as ``openai/<alias>``
(chat completions; LiteLLM forwards ``/v1/responses`` to the fake's own Responses endpoint) or,
with ``responses_via_chat=True``, as ``custom_openai/<alias>`` (LiteLLM bridges ``/v1/responses``
onto chat completions, as it does for a chat-only upstream).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from session_cli.errors import ConfigError

FAKE_API_KEY = "fake-provider-key"


def fake_model_list(
    model_list: list[dict[str, Any]], fake_base_url: str, *, responses_via_chat: bool = False
) -> list[dict[str, Any]]:
    base = fake_base_url.rstrip("/")
    fake: list[dict[str, Any]] = []
    for entry in model_list:
        alias = entry["model_name"]
        upstream = str((entry.get("litellm_params") or {}).get("model", ""))
        if upstream.startswith("anthropic/"):
            params = {"model": f"anthropic/{alias}", "api_base": base, "api_key": FAKE_API_KEY}
        else:
            prefix = "custom_openai" if responses_via_chat else "openai"
            params = {"model": f"{prefix}/{alias}", "api_base": f"{base}/v1", "api_key": FAKE_API_KEY}
        fake.append(
            {
                **copy.deepcopy({k: v for k, v in entry.items() if k != "litellm_params"}),
                "litellm_params": params,
            }
        )
    return fake


def fake_config(
    source: dict[str, Any], fake_base_url: str, *, responses_via_chat: bool = False
) -> dict[str, Any]:
    """``source`` with every deployment replaced by the fake provider; other settings untouched."""
    config = copy.deepcopy(source)
    config["model_list"] = fake_model_list(
        source.get("model_list") or [], fake_base_url, responses_via_chat=responses_via_chat
    )
    return config


def write_fake_config(
    dest: Path, fake_base_url: str, source: Path, *, responses_via_chat: bool = False, **overrides: Any
) -> Path:
    """Write a fake-provider variant of the config at ``source`` to ``dest``.

    ``overrides`` are merged one level deep into the top-level sections (e.g.
    ``router_settings={"num_retries": 0}``).
    """
    try:
        loaded = yaml.safe_load(source.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: cannot read the LiteLLM config: {exc}") from exc
    if not isinstance(loaded, dict) or not isinstance(loaded.get("model_list"), list):
        raise ConfigError(f"{source}: field 'model_list': expected a list of deployments")
    config = fake_config(loaded, fake_base_url, responses_via_chat=responses_via_chat)
    for section, values in overrides.items():
        if isinstance(values, dict):
            config[section] = {**(config.get(section) or {}), **values}
        else:
            config[section] = values
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(config, sort_keys=False))
    return dest
