"""Config validation: the shipped set passes; each broken-config class gives its one-line message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from session_cli.configs.loader import ConfigValidationError, fingerprint, load_configs
from tests.cli import run_cli
from tests.conftest import CONFIGS_DIR


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "configs"
    shutil.copytree(CONFIGS_DIR, root)
    monkeypatch.chdir(tmp_path)  # messages name files relative to the working directory
    return root


def edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def problems(root: Path) -> list[str]:
    with pytest.raises(ConfigValidationError) as info:
        load_configs(root)
    return info.value.problems


def test_shipped_configs_are_valid():
    cs = load_configs(CONFIGS_DIR)
    assert set(cs.providers) == {"fireworks", "openai", "anthropic"}
    assert set(cs.harnesses) == {
        "claude-code",
        "codex",
        "opencode",
        "openhands",
        "gemini-cli",
        "openai-compatible",
    }
    assert {"kimi-k2-5", "kimi-k2-5-turbo", "glm-5", "glm-5-fast"} == set(
        cs.providers["fireworks"].item.models
    )
    assert {"gpt-5.4", "gpt-5.4-mini"} == set(cs.providers["openai"].item.models)
    assert {"claude-opus-4-6", "claude-sonnet-4-6"} == set(cs.providers["anthropic"].item.models)
    harness_cmp = cs.experiments["fireworks-kimi-k2-5-harness-comparison"].item
    assert harness_cmp.variants == ["kimi-k2-5-claude-code", "kimi-k2-5-opencode"]
    assert harness_cmp.baseline_variant == "kimi-k2-5-claude-code"
    assert "repo-auth-analysis" in cs.task_cards


def test_validate_command_ok(capsys, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CONFIGS_DIR", str(CONFIGS_DIR))
    result = run_cli(capsys, "config", "validate", "--json")
    assert result.code == 0
    assert '"valid": true' in result.stdout


def test_unknown_key_is_rejected_with_allowed_keys(configs):
    edit(configs / "variants/kimi-k2-5-opencode.yaml", modle="kimi-k2-5")
    assert problems(configs) == [
        "configs/variants/kimi-k2-5-opencode.yaml: modle: unknown key "
        "(allowed: version, name, description, provider, model, background_model, harness, env, tags)"
    ]


def test_unknown_nested_key_is_rejected(configs):
    path = configs / "providers/openai.yaml"
    data = yaml.safe_load(path.read_text())
    data["models"]["gpt-5.4"]["contex_window"] = 5
    path.write_text(yaml.safe_dump(data))
    assert problems(configs) == [
        "configs/providers/openai.yaml: models.gpt-5.4.contex_window: unknown key "
        "(allowed: upstream, context_window, max_output_tokens)"
    ]


def test_duplicate_name(configs):
    shutil.copy(configs / "variants/glm-5-opencode.yaml", configs / "variants/zz-copy.yaml")
    assert problems(configs) == [
        "configs/variants/zz-copy.yaml: name: 'glm-5-opencode' is already defined in configs/variants/glm-5-opencode.yaml"
    ]


def test_variant_unknown_provider(configs):
    edit(configs / "variants/glm-5-opencode.yaml", provider="fireworx")
    assert problems(configs) == [
        "configs/variants/glm-5-opencode.yaml: provider: unknown provider 'fireworx' "
        "(providers: anthropic, fireworks, openai)"
    ]


def test_variant_alias_not_in_provider(configs):
    edit(configs / "variants/glm-5-opencode.yaml", model="gpt-5.4")
    assert problems(configs) == [
        "configs/variants/glm-5-opencode.yaml: model: 'gpt-5.4' is not a model of provider 'fireworks' "
        "(models: glm-5, glm-5-fast, kimi-k2-5, kimi-k2-5-turbo)"
    ]


def test_variant_unknown_harness(configs):
    edit(configs / "variants/glm-5-opencode.yaml", harness="open-code")
    assert problems(configs) == [
        "configs/variants/glm-5-opencode.yaml: harness: unknown harness profile 'open-code' "
        "(harnesses: claude-code, codex, gemini-cli, openai-compatible, opencode, openhands)"
    ]


def test_protocol_surface_incompatible(configs):
    edit(configs / "variants/claude-sonnet-4-6-claude-code.yaml", harness="codex")
    assert problems(configs) == [
        "configs/variants/claude-sonnet-4-6-claude-code.yaml: harness: 'codex' speaks openai-responses, "
        "which provider 'anthropic' does not serve (serves: anthropic-messages, openai-chat)"
    ]


def test_background_model_without_background_role(configs):
    edit(configs / "variants/gpt-5-4-codex.yaml", background_model="gpt-5.4-mini")
    assert problems(configs) == [
        "configs/variants/gpt-5-4-codex.yaml: background_model: harness 'codex' has no background model "
        "role (roles: main)"
    ]


def test_experiment_unknown_variant(configs):
    edit(
        configs / "experiments/fireworks-opencode-model-comparison.yaml",
        variants=["kimi-k2-5-opencode", "glm-6-opencode"],
    )
    assert problems(configs) == [
        "configs/experiments/fireworks-opencode-model-comparison.yaml: variants[1]: unknown variant "
        "'glm-6-opencode' (variants: claude-opus-4-6-claude-code, claude-sonnet-4-6-claude-code, "
        "glm-5-opencode, glm-5-openhands, gpt-5-4-codex, gpt-5-4-mini-codex, gpt-5-4-mini-openai-compatible, "
        "kimi-k2-5-claude-code, kimi-k2-5-gemini-cli, kimi-k2-5-opencode, kimi-k2-5-turbo-opencode)"
    ]


def test_baseline_not_in_experiment(configs):
    edit(configs / "experiments/fireworks-kimi-k2-5-harness-comparison.yaml", baseline="glm-5-opencode")
    assert problems(configs) == [
        "configs/experiments/fireworks-kimi-k2-5-harness-comparison.yaml: baseline: 'glm-5-opencode' is not "
        "one of the experiment's variants (variants: kimi-k2-5-claude-code, kimi-k2-5-opencode)"
    ]


def test_baseline_defaults_to_first_variant(configs):
    edit(configs / "experiments/fireworks-kimi-k2-5-harness-comparison.yaml", baseline=None)
    cs = load_configs(configs)
    assert (
        cs.experiments["fireworks-kimi-k2-5-harness-comparison"].item.baseline_variant
        == "kimi-k2-5-claude-code"
    )


def test_unknown_template_variable(configs):
    path = configs / "harnesses/openhands.yaml"
    data = yaml.safe_load(path.read_text())
    data["env"]["LLM_BASE_URL"] = "{{ base_uri }}"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    [problem] = problems(configs)
    assert problem.startswith(
        "configs/harnesses/openhands.yaml: env.LLM_BASE_URL: unknown template variable 'base_uri' (known: api_key, "
    )


def test_unknown_template_variable_in_variant_env(configs):
    edit(configs / "variants/glm-5-openhands.yaml", env={"LLM_TIMEOUT": "{{ timeout }}"})
    [problem] = problems(configs)
    assert problem.startswith(
        "configs/variants/glm-5-openhands.yaml: env.LLM_TIMEOUT: unknown template variable 'timeout'"
    )


def test_key_template_in_file_is_rejected(configs):
    path = configs / "harnesses/codex.yaml"
    data = yaml.safe_load(path.read_text())
    data["files"][0]["content"]["model_providers"]["harness-bench"]["api_key"] = "{{ api_key }}"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert problems(configs) == [
        "configs/harnesses/codex.yaml: files[0].content.model_providers.harness-bench.api_key: "
        "{{ api_key }} may not appear in a file (the key stays out of files: reference an environment variable instead)"
    ]


def test_alias_not_routed_by_litellm(configs):
    path = configs / "litellm/config.yaml"
    data = yaml.safe_load(path.read_text())
    data["model_list"] = [m for m in data["model_list"] if m["model_name"] != "glm-5-fast"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    [problem] = problems(configs)
    assert problem.startswith(
        "configs/variants/glm-5-opencode.yaml: model: alias 'glm-5-fast' is not routed: no model_name "
        "'glm-5-fast' in configs/litellm/config.yaml (routed: claude-opus-4-6, "
    )


def test_blank_stop_condition(configs):
    edit(configs / "task-cards/repo-auth-analysis.yaml", stop_condition="   ")
    assert problems(configs) == [
        "configs/task-cards/repo-auth-analysis.yaml: stop_condition: String should have at least 1 character "
        "(got '   ')"
    ]


def test_missing_stop_condition(configs):
    edit(configs / "task-cards/repo-auth-analysis.yaml", stop_condition=None)
    assert problems(configs) == [
        "configs/task-cards/repo-auth-analysis.yaml: stop_condition: required field is missing"
    ]


def test_invalid_yaml_names_the_line(configs):
    (configs / "variants/glm-5-opencode.yaml").write_text("name: glm\nprovider: [unclosed\n")
    [problem] = problems(configs)
    assert problem.startswith("configs/variants/glm-5-opencode.yaml: line 3: not valid YAML:")


def test_invalid_protocol_value(configs):
    edit(configs / "harnesses/openhands.yaml", protocol="openai-chats")
    [problem] = problems(configs)
    assert problem.startswith("configs/harnesses/openhands.yaml: protocol: Input should be 'openai-chat', ")
    assert problem.endswith("(got 'openai-chats')")


def test_validate_command_lists_every_problem_and_exits_2(configs, capsys):
    edit(configs / "variants/glm-5-opencode.yaml", provider="nope")
    edit(configs / "experiments/fireworks-kimi-k2-5-harness-comparison.yaml", baseline="nope")
    result = run_cli(capsys, "config", "validate", "--configs-dir", str(configs))
    assert result.code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 2
    assert "2 problem(s)" in result.stderr


def test_fingerprint_changes_with_content_only(configs):
    before = load_configs(configs)
    path = configs / "variants/glm-5-opencode.yaml"
    path.write_text("# a comment changes nothing\n" + path.read_text())
    same = load_configs(configs)
    assert same.variants["glm-5-opencode"].fingerprint == before.variants["glm-5-opencode"].fingerprint
    edit(path, env={"OPENCODE_EXPERIMENTAL": "1"})
    changed = load_configs(configs)
    assert changed.variants["glm-5-opencode"].fingerprint != before.variants["glm-5-opencode"].fingerprint
    assert (
        fingerprint(changed.variants["glm-5-opencode"].item) == changed.variants["glm-5-opencode"].fingerprint
    )
