"""One pydantic model per config kind. Unknown keys are rejected everywhere."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

Protocol = Literal["openai-chat", "openai-responses", "anthropic-messages", "gemini-generate-content"]
PROTOCOLS: tuple[str, ...] = Protocol.__args__
ModelRole = Literal["main", "background"]
FileFormat = Literal["json", "toml"]

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100)]
EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Versioned(Strict):
    version: Literal[1] = 1
    name: Name
    description: str = ""


class ProviderModel(Strict):
    upstream: NonBlank
    context_window: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)


class Provider(Versioned):
    """An upstream provider as LiteLLM routes it: which aliases it serves and on which surfaces."""

    route_name: Name
    api_key_env: EnvVarName
    protocols: list[Protocol] = Field(min_length=1)
    models: dict[Name, ProviderModel] = Field(min_length=1)


class HarnessFile(Strict):
    """A config file rendered into the harness's isolated directory."""

    path: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-][A-Za-z0-9._/-]*$")]
    format: FileFormat
    content: dict[str, Any]

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if ".." in value.split("/"):
            raise ValueError("must stay inside the harness directory (no '..')")
        return value


class Launch(Strict):
    command: str = ""
    notes: str = ""


class HarnessProfile(Versioned):
    """How one harness CLI is pointed at the proxy: pure data, rendered by per-format renderers."""

    protocol: Protocol
    model_roles: list[ModelRole] = Field(default_factory=lambda: ["main"])
    env: dict[EnvVarName, str] = Field(default_factory=dict)
    unset: list[EnvVarName] = Field(default_factory=list)
    files: list[HarnessFile] = Field(default_factory=list)
    launch: Launch = Field(default_factory=Launch)

    @field_validator("model_roles")
    @classmethod
    def _main_first(cls, roles: list[str]) -> list[str]:
        if "main" not in roles:
            raise ValueError("must include 'main'")
        if len(set(roles)) != len(roles):
            raise ValueError("roles must not repeat")
        return roles

    @model_validator(mode="after")
    def _env_or_files(self) -> HarnessProfile:
        overlap = sorted(set(self.env) & set(self.unset))
        if overlap:
            raise ValueError(f"variables both set and unset: {', '.join(overlap)}")
        return self


class Variant(Versioned):
    """One benchmarked setup: provider x model alias(es) x harness profile x harness settings."""

    provider: Name
    model: Name
    background_model: Name | None = None
    harness: Name
    env: dict[EnvVarName, str] = Field(default_factory=dict)
    tags: dict[str, str | int | float | bool] = Field(default_factory=dict)

    def background_alias(self, harness: HarnessProfile) -> str | None:
        """The distinct background alias the harness will call, if it has that role and one is set."""
        if "background" in harness.model_roles and self.background_model not in (None, self.model):
            return self.background_model
        return None

    def aliases(self, harness: HarnessProfile) -> list[str]:
        """Every alias the harness will call with this variant (the key's allowed models)."""
        background = self.background_alias(harness)
        return [self.model] if background is None else [self.model, background]


class Experiment(Versioned):
    description: NonBlank
    variants: list[Name] = Field(min_length=1)
    baseline: Name | None = None

    @field_validator("variants")
    @classmethod
    def _unique(cls, variants: list[str]) -> list[str]:
        dupes = sorted({v for v in variants if variants.count(v) > 1})
        if dupes:
            raise ValueError(f"variants listed twice: {', '.join(dupes)}")
        return variants

    @property
    def baseline_variant(self) -> str:
        return self.baseline or self.variants[0]


class TaskCard(Versioned):
    goal: NonBlank
    starting_prompt: NonBlank
    stop_condition: NonBlank
    timebox_minutes: int = Field(gt=0, le=24 * 60)
    repo_path: str | None = None
    notes: str = ""


KINDS: dict[str, type[Versioned]] = {
    "providers": Provider,
    "harnesses": HarnessProfile,
    "variants": Variant,
    "experiments": Experiment,
    "task-cards": TaskCard,
}
KIND_ALIASES = {
    "provider": "providers",
    "harness": "harnesses",
    "harness-profiles": "harnesses",
    "variant": "variants",
    "experiment": "experiments",
    "task-card": "task-cards",
    "task_cards": "task-cards",
    "taskcards": "task-cards",
}


def normalize_kind(kind: str) -> str | None:
    kind = kind.strip().lower()
    return kind if kind in KINDS else KIND_ALIASES.get(kind)


def is_valid_name(name: str) -> bool:
    return re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name) is not None
