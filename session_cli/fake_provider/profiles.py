"""Latency and failure profiles of the fake provider, one per upstream model name.

File format (YAML or JSON)::

    defaults: {ttft_ms: 150, tokens_per_s: 80, output_tokens: 24}
    models:
      fast-model: {ttft_ms: 50, tokens_per_s: 400}
      slow-model: {ttft_ms: 600, tokens_per_s: 40, failure_rate: 0.1, cached_prompt_fraction: 0.5}

A model missing from ``models`` gets ``defaults``. Every field of a model entry falls back to the
same field of ``defaults``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from session_cli.errors import ConfigError

# A prompt containing this word fails deterministically with ``failure_status`` (tests use it).
FAIL_WORD = "HB_FORCE_FAILURE"


class ModelProfile(BaseModel):
    """How one fake model behaves."""

    model_config = ConfigDict(extra="forbid")

    ttft_ms: float = Field(150.0, ge=0, description="delay from request to the first output token")
    prefill_ms_per_1k_tokens: float = Field(
        0.0, ge=0, description="added to ttft_ms per 1000 uncached prompt tokens (prompt processing)"
    )
    tokens_per_s: float = Field(80.0, gt=0, description="output tokens per second after the first")
    output_tokens: int = Field(24, ge=1, description="words in a text answer (one token each)")
    failure_rate: float = Field(0.0, ge=0, le=1, description="share of requests failing at random (seeded)")
    failure_status: int = Field(500, ge=400, le=599, description="HTTP status of a failure")
    cached_prompt_fraction: float = Field(
        0.0, ge=0, le=1, description="share of prompt tokens reported cached"
    )
    cache_write_fraction: float = Field(0.0, ge=0, le=1, description="share reported as cache writes")
    seed: int = Field(0, description="seed of the random failure sequence")
    stream_usage: Literal["requested", "always"] = Field(
        "requested",
        description="chat streams: a usage chunk only with stream_options.include_usage (OpenAI), or always "
        "(some OpenAI-compatible hosts; LiteLLM's Gemini route needs it to log tokens)",
    )


class ProfileSet(BaseModel):
    """All profiles the server knows."""

    model_config = ConfigDict(extra="forbid")

    defaults: ModelProfile = Field(default_factory=ModelProfile)
    models: dict[str, ModelProfile] = Field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str = "profiles") -> ProfileSet:
        """Model entries inherit every field they leave out from ``defaults``."""
        defaults = _validate(data.get("defaults") or {}, f"{source}: defaults")
        base = defaults.model_dump()
        models = {
            str(name): _validate({**base, **(spec or {})}, f"{source}: models.{name}")
            for name, spec in (data.get("models") or {}).items()
        }
        return cls(defaults=defaults, models=models)

    def for_model(self, model: str) -> ModelProfile:
        """The profile of ``model``; a provider prefix (``openai/``) is ignored."""
        if model in self.models:
            return self.models[model]
        bare = model.rsplit("/", 1)[-1]
        return self.models.get(bare, self.defaults)


def load_profiles(path: Path | None) -> ProfileSet:
    """Read a profiles file; ``None`` gives the built-in defaults."""
    if path is None:
        return ProfileSet()
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the fake-provider profiles: {exc.strerror}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from exc
    if data is None:
        return ProfileSet()
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping with 'defaults' and 'models', got {type(data).__name__}"
        )
    unknown = set(data) - {"defaults", "models"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level field {sorted(unknown)[0]!r}", hint="use 'defaults' and 'models'"
        )
    return ProfileSet.from_mapping(data, source=str(path))


def _validate(spec: object, where: str) -> ModelProfile:
    try:
        return ModelProfile.model_validate(spec)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(entry)"
        raise ConfigError(
            f"{where}.{field}: {first['msg']} (value {first.get('input')!r})",
            hint="see session_cli/fake_provider/profiles.py for the fields",
        ) from exc
