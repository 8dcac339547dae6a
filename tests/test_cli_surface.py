"""The command surface operators rely on: every command takes --configs-dir; create/list/show take --json;
the names of the workflow this product descends from still work."""

from __future__ import annotations

import typer.main

from session_cli.main import app


def commands() -> dict[str, set[str]]:
    """Every leaf command (and group callback that runs by itself) -> its option names."""
    found: dict[str, set[str]] = {}

    def walk(command, path: list[str]) -> None:
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        if hasattr(command, "commands"):
            if path and getattr(command, "invoke_without_command", False):
                found[" ".join(path)] = options
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = options

    walk(typer.main.get_command(app), [])
    return found


def test_every_command_takes_configs_dir():
    missing = sorted(name for name, options in commands().items() if "--configs-dir" not in options)
    assert missing == []


def test_create_list_show_take_json():
    all_commands = commands()
    wanted = [
        n
        for n in all_commands
        if n.split()[-1] in ("create", "list", "show") or n.endswith(" list-providers")
    ]
    assert {"session create", "session list", "session show", "config list", "config show"} <= set(wanted)
    assert [n for n in wanted if "--json" not in all_commands[n]] == []


def test_legacy_names_exist():
    names = set(commands())
    assert {
        "config list-providers",
        "config list-harnesses",
        "config list-variants",
        "config list-experiments",
        "config list-task-cards",
        "health check",
        "health",
    } <= names
    assert "--harness" in commands()["session create"]
