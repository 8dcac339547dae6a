"""``benchmark config``: validate, init-db, list, show (plus the legacy list-* names)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from session_cli.commands.common import ConfigsDirOpt, JsonOpt, load
from session_cli.console import err, out, print_json
from session_cli.errors import ConfigError

app = typer.Typer(help="Versioned YAML configs and the registry they sync into.", no_args_is_help=True)

KindArg = Annotated[str, typer.Argument(help="providers | harnesses | variants | experiments | task-cards")]


def _kind(kind: str) -> str:
    from session_cli.configs.models import KINDS, normalize_kind

    found = normalize_kind(kind)
    if found is None:
        raise ConfigError(f"KIND: unknown config kind {kind!r} (kinds: {', '.join(KINDS)})")
    return found


@app.command()
def validate(configs_dir: ConfigsDirOpt = None, json_out: JsonOpt = False) -> None:
    """Validate every config file and cross-check the set (exit 2 listing each problem)."""
    from session_cli.configs.loader import ConfigValidationError

    try:
        cs = load(configs_dir)
    except ConfigValidationError as exc:
        if json_out:
            print_json({"valid": False, "problems": exc.problems})
        else:
            for problem in exc.problems:
                err.print(f"[bold red]error:[/bold red] {problem}", markup=True, highlight=False)
            err.print(f"{len(exc.problems)} problem(s) in {cs_root(configs_dir)}")
        raise typer.Exit(2) from None
    counts = {
        kind: len(cs.by_kind(kind))
        for kind in ("providers", "harnesses", "variants", "experiments", "task-cards")
    }
    if json_out:
        print_json({"valid": True, "counts": counts})
    else:
        err.print(f"[green]ok[/green]: {', '.join(f'{n} {k}' for k, n in counts.items())} in {cs.root}")


def cs_root(configs_dir):
    from session_cli import settings

    return settings.configs_dir(configs_dir)


@app.command("init-db")
def init_db(configs_dir: ConfigsDirOpt = None, json_out: JsonOpt = False) -> None:
    """Migrate the registry to head, then upsert every config with its fingerprint."""
    from session_cli.db import connect
    from session_cli.registry.migrate import upgrade_to_head
    from session_cli.registry.sync import sync_configs
    from session_cli.settings import database_url

    cs = load(configs_dir)  # validate before touching the database
    url = database_url()
    with connect(url):  # a readable error when the database is unreachable
        pass
    revision = upgrade_to_head(url)
    with connect(url) as conn:
        result = sync_configs(conn, cs)
    summary = {
        "revision": revision,
        "inserted": result.inserted,
        "changed": result.changed,
        "unchanged": result.unchanged,
    }
    if json_out:
        print_json(summary)
    else:
        err.print(
            f"[green]registry at revision {revision}[/green]: configs {result.inserted} new, "
            f"{result.changed} changed, {result.unchanged} unchanged"
        )


def _rows(kind: str, cs) -> list[dict]:
    rows = []
    for name, loaded in sorted(cs.by_kind(kind).items()):
        item = loaded.item
        row = {"name": name, "fingerprint": loaded.fingerprint[:12], "file": str(loaded.path)}
        if kind == "providers":
            row |= {
                "route": item.route_name,
                "protocols": ", ".join(item.protocols),
                "models": ", ".join(item.models),
            }
        elif kind == "harnesses":
            row |= {"protocol": item.protocol, "roles": ", ".join(item.model_roles)}
        elif kind == "variants":
            row |= {
                "provider": item.provider,
                "model": item.model,
                "background": item.background_model or "-",
                "harness": item.harness,
            }
        elif kind == "experiments":
            row |= {"baseline": item.baseline_variant, "variants": ", ".join(item.variants)}
        else:
            row |= {"timebox_min": item.timebox_minutes, "goal": item.goal}
        rows.append(row)
    return rows


@app.command("list")
def list_kind(kind: KindArg, configs_dir: ConfigsDirOpt = None, json_out: JsonOpt = False) -> None:
    """List the configs of one kind."""
    kind = _kind(kind)
    rows = _rows(kind, load(configs_dir))
    if json_out:
        print_json(rows)
        return
    table = Table(title=kind, title_justify="left")
    for column in rows[0].keys() if rows else ["name"]:
        if column != "file":
            table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(v) for k, v in row.items() if k != "file"))
    out.print(table)


@app.command()
def show(kind: KindArg, name: str, configs_dir: ConfigsDirOpt = None, json_out: JsonOpt = False) -> None:
    """Show one config as validated (defaults filled in) with its fingerprint."""
    import yaml

    kind = _kind(kind)
    items = load(configs_dir).by_kind(kind)
    if name not in items:
        raise ConfigError(
            f"NAME: no {kind} config named {name!r} (names: {', '.join(sorted(items)) or 'none'})"
        )
    loaded = items[name]
    data = {
        "kind": kind,
        "file": str(loaded.path),
        "fingerprint": loaded.fingerprint,
        **loaded.item.model_dump(mode="json"),
    }
    if json_out:
        print_json(data)
    else:
        out.print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="", markup=False)


def _legacy(kind: str):
    def command(configs_dir: ConfigsDirOpt = None, json_out: JsonOpt = False) -> None:
        list_kind(kind, configs_dir, json_out)

    command.__doc__ = f"Same as `benchmark config list {kind}`."
    return command


for _kind_name, _command in (
    ("providers", "list-providers"),
    ("harnesses", "list-harnesses"),
    ("variants", "list-variants"),
    ("experiments", "list-experiments"),
    ("task-cards", "list-task-cards"),
):
    app.command(_command)(_legacy(_kind_name))
