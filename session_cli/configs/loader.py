"""Load every config file, validate each against its model, then cross-check the set.

All problems are collected (one line each: file, field, value, valid choices) so an operator
fixes a broken config set in one pass.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from session_cli.configs import templates
from session_cli.configs.models import (
    KINDS,
    Experiment,
    HarnessProfile,
    Provider,
    TaskCard,
    Variant,
    Versioned,
)
from session_cli.errors import ConfigError

T = TypeVar("T", bound=Versioned)
LITELLM_CONFIG = Path("litellm") / "config.yaml"


class ConfigValidationError(ConfigError):
    """One or more config problems; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more, hint="run `benchmark config validate` to list every problem")


@dataclass(frozen=True)
class Loaded(Generic[T]):
    item: T
    path: Path
    fingerprint: str


@dataclass
class ConfigSet:
    root: Path
    providers: dict[str, Loaded[Provider]] = field(default_factory=dict)
    harnesses: dict[str, Loaded[HarnessProfile]] = field(default_factory=dict)
    variants: dict[str, Loaded[Variant]] = field(default_factory=dict)
    experiments: dict[str, Loaded[Experiment]] = field(default_factory=dict)
    task_cards: dict[str, Loaded[TaskCard]] = field(default_factory=dict)
    litellm_models: frozenset[str] = frozenset()
    # names whose file failed to load: cross-checks skip references to them (the cause is reported)
    broken: set[str] = field(default_factory=set)

    def by_kind(self, kind: str) -> dict[str, Loaded[Any]]:
        return {
            "providers": self.providers,
            "harnesses": self.harnesses,
            "variants": self.variants,
            "experiments": self.experiments,
            "task-cards": self.task_cards,
        }[kind]

    def fingerprints_for(self, variant: str, experiment: str, task_card: str) -> dict[str, str]:
        v = self.variants[variant]
        return {
            "variant": v.fingerprint,
            "provider": self.providers[v.item.provider].fingerprint,
            "harness": self.harnesses[v.item.harness].fingerprint,
            "experiment": self.experiments[experiment].fingerprint,
            "task_card": self.task_cards[task_card].fingerprint,
        }


def fingerprint(item: BaseModel) -> str:
    """sha256 of the canonical JSON of the validated config: any semantic change shows."""
    canonical = json.dumps(item.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field_type(model: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    """The annotation at ``loc`` inside ``model`` (through dicts, lists and optionals), if known."""
    current: Any = model
    for part in loc:
        origin = typing.get_origin(current)
        if origin in (typing.Union, types.UnionType):
            current = next((a for a in typing.get_args(current) if a is not type(None)), None)
            origin = typing.get_origin(current)
        if origin is typing.Annotated:
            current = typing.get_args(current)[0]
            origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return None
            current = info.annotation
        elif origin is dict:
            current = typing.get_args(current)[1]
        elif origin is list:
            current = typing.get_args(current)[0]
        else:
            return None
    return current


def _pydantic_problems(path: Path, model: type[BaseModel], exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")
        if error["type"] == "extra_forbidden":
            parent = _field_type(model, loc[:-1])
            allowed = (
                f" (allowed: {', '.join(parent.model_fields)})"
                if isinstance(parent, type) and issubclass(parent, BaseModel)
                else ""
            )
            problems.append(f"{display(path)}: {where}: unknown key{allowed}")
        elif error["type"] == "missing":
            problems.append(f"{display(path)}: {where}: required field is missing")
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{display(path)}: {where or '(file)'}: {message} (got {_short(error['input'])})")
    return problems


def _read_yaml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.append(f"{display(path)}:{line}: not valid YAML: {reason}")
        return None
    except OSError as exc:
        problems.append(f"{display(path)}: cannot read: {exc.strerror}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{display(path)}: (file): expected a mapping of fields, got {type(data).__name__}")
        return None
    return data


def _load_kind(root: Path, kind: str, problems: list[str], broken: set[str]) -> dict[str, Loaded[Any]]:
    model = KINDS[kind]
    loaded: dict[str, Loaded[Any]] = {}
    folder = root / kind
    if not folder.is_dir():
        problems.append(f"{display(folder)}: missing config folder for {kind}")
        return loaded
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        data = _read_yaml(path, problems)
        if data is None:
            broken.add(path.stem)
            continue
        try:
            item = model.model_validate(data)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(path, model, exc))
            broken.update(str(n) for n in (data.get("name"), path.stem) if n)
            continue
        if item.name in loaded:
            other = display(loaded[item.name].path)
            problems.append(f"{display(path)}: name: {item.name!r} is already defined in {other}")
            continue
        loaded[item.name] = Loaded(item=item, path=path, fingerprint=fingerprint(item))
    return loaded


def _litellm_models(root: Path, problems: list[str]) -> frozenset[str]:
    path = root / LITELLM_CONFIG
    if not path.is_file():
        problems.append(f"{display(path)}: missing LiteLLM config (variants' aliases are checked against it)")
        return frozenset()
    data = _read_yaml(path, problems)
    if data is None:
        return frozenset()
    entries = data.get("model_list") or []
    if not isinstance(entries, list):
        problems.append(f"{display(path)}: model_list: expected a list (got {_short(entries)})")
        return frozenset()
    return frozenset(e["model_name"] for e in entries if isinstance(e, dict) and e.get("model_name"))


def _choices(names: Any) -> str:
    return ", ".join(sorted(names)) or "none defined"


def _check_templates(path: Path, prefix: str, value: Any, *, allow_secret: bool, problems: list[str]) -> None:
    for where, name in templates.names_in(value):
        location = f"{prefix}.{where}" if where else prefix
        if name not in templates.VARIABLES:
            problems.append(
                f"{display(path)}: {location}: unknown template variable {name!r} "
                f"(known: {_choices(templates.VARIABLES)})"
            )
        elif name in templates.SECRET_VARIABLES and not allow_secret:
            problems.append(
                f"{display(path)}: {location}: {{{{ {name} }}}} may not appear in a file "
                "(the key stays out of files: reference an environment variable instead)"
            )


def _cross_check(cs: ConfigSet, problems: list[str]) -> None:
    litellm_path = display(cs.root / LITELLM_CONFIG)
    for loaded in cs.harnesses.values():
        h, path = loaded.item, loaded.path
        _check_templates(path, "env", h.env, allow_secret=True, problems=problems)
        for i, f in enumerate(h.files):
            _check_templates(path, f"files[{i}].content", f.content, allow_secret=False, problems=problems)
        _check_templates(path, "launch", h.launch.model_dump(), allow_secret=False, problems=problems)

    for loaded in cs.variants.values():
        v, path = loaded.item, loaded.path
        _check_templates(path, "env", v.env, allow_secret=True, problems=problems)
        provider = cs.providers.get(v.provider)
        harness = cs.harnesses.get(v.harness)
        if provider is None and v.provider not in cs.broken:
            problems.append(
                f"{display(path)}: provider: unknown provider {v.provider!r} (providers: {_choices(cs.providers)})"
            )
        if harness is None and v.harness not in cs.broken:
            problems.append(
                f"{display(path)}: harness: unknown harness profile {v.harness!r} "
                f"(harnesses: {_choices(cs.harnesses)})"
            )
        if provider is not None:
            for field_name, alias in (("model", v.model), ("background_model", v.background_model)):
                if alias is not None and alias not in provider.item.models:
                    problems.append(
                        f"{display(path)}: {field_name}: {alias!r} is not a model of provider "
                        f"{v.provider!r} (models: {_choices(provider.item.models)})"
                    )
        if harness is not None:
            if v.background_model is not None and "background" not in harness.item.model_roles:
                problems.append(
                    f"{display(path)}: background_model: harness {v.harness!r} has no background model "
                    f"role (roles: {', '.join(harness.item.model_roles)})"
                )
            if provider is not None and harness.item.protocol not in provider.item.protocols:
                problems.append(
                    f"{display(path)}: harness: {v.harness!r} speaks {harness.item.protocol}, which "
                    f"provider {v.provider!r} does not serve (serves: {', '.join(provider.item.protocols)})"
                )
            if cs.litellm_models:
                for alias in v.aliases(harness.item):
                    if alias not in cs.litellm_models:
                        problems.append(
                            f"{display(path)}: model: alias {alias!r} is not routed: no model_name "
                            f"{alias!r} in {litellm_path} (routed: {_choices(cs.litellm_models)})"
                        )

    for loaded in cs.experiments.values():
        e, path = loaded.item, loaded.path
        for i, name in enumerate(e.variants):
            if name not in cs.variants and name not in cs.broken:
                problems.append(
                    f"{display(path)}: variants[{i}]: unknown variant {name!r} (variants: {_choices(cs.variants)})"
                )
        if e.baseline is not None and e.baseline not in e.variants:
            problems.append(
                f"{display(path)}: baseline: {e.baseline!r} is not one of the experiment's variants "
                f"(variants: {', '.join(e.variants)})"
            )


def load_configs(root: Path) -> ConfigSet:
    """Load and cross-check the config set under ``root``; raise ConfigValidationError listing problems."""
    problems: list[str] = []
    if not root.is_dir():
        raise ConfigError(
            f"{display(root)}: configs directory not found",
            hint="run from the repository root, or pass --configs-dir / set BENCHMARK_CONFIGS_DIR",
        )
    cs = ConfigSet(root=root)
    cs.providers = _load_kind(root, "providers", problems, cs.broken)
    cs.harnesses = _load_kind(root, "harnesses", problems, cs.broken)
    cs.variants = _load_kind(root, "variants", problems, cs.broken)
    cs.experiments = _load_kind(root, "experiments", problems, cs.broken)
    cs.task_cards = _load_kind(root, "task-cards", problems, cs.broken)
    cs.litellm_models = _litellm_models(root, problems)
    seen: dict[str, str] = {}
    for loaded in cs.providers.values():
        for alias in loaded.item.models:
            if alias in seen:
                problems.append(
                    f"{display(loaded.path)}: models.{alias}: alias already served by provider {seen[alias]!r} "
                    "(an alias is one LiteLLM model_name, so it belongs to one provider)"
                )
            seen.setdefault(alias, loaded.item.name)
    _cross_check(cs, problems)
    if problems:
        raise ConfigValidationError(problems)
    return cs
