"""``benchmark session``: create, env, show, list, finalize."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from session_cli.commands.common import ConfigsDirOpt, JsonOpt, jsonable, load, when
from session_cli.console import err, out, print_json
from session_cli.errors import ConfigError

app = typer.Typer(
    help="Benchmark sessions: one LiteLLM key and one harness snippet each.", no_args_is_help=True
)

SessionArg = Annotated[str, typer.Argument(help="Session id (or a unique prefix of it).")]

HIDDEN_IN_SHOW = {"key_hash"}  # not secret, but noise for humans; --json keeps it


@app.command()
def create(
    experiment: Annotated[str, typer.Option("--experiment", "-e", help="Experiment name.")],
    variant: Annotated[
        str, typer.Option("--variant", "-v", help="Variant name (must belong to the experiment).")
    ],
    task_card: Annotated[str, typer.Option("--task-card", "-t", help="Task card name.")],
    harness: Annotated[
        str | None,
        typer.Option("--harness", help="Optional check: must equal the variant's harness profile."),
    ] = None,
    label: Annotated[str | None, typer.Option(help="Free label, e.g. a batch name.")] = None,
    notes: Annotated[str | None, typer.Option(help="Free notes.")] = None,
    operator: Annotated[
        str | None, typer.Option(help="Who runs it (default: $BENCHMARK_OPERATOR or $USER).")
    ] = None,
    duration: Annotated[str, typer.Option(help="Key lifetime: 30m, 8h, 2d ...")] = "8h",
    repo: Annotated[
        Path | None,
        typer.Option(help="Repository the harness works in (git facts); default: task card or cwd."),
    ] = None,
    configs_dir: ConfigsDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register a session, mint its key, render its harness files into a private directory."""
    from session_cli.sessions import CreateRequest, create_session

    row = create_session(
        load(configs_dir),
        CreateRequest(
            experiment=experiment,
            variant=variant,
            task_card=task_card,
            harness=harness,
            label=label,
            notes=notes,
            operator=operator,
            duration=duration,
            repo=repo,
        ),
    )
    if json_out:
        print_json(jsonable(row))
        return
    out.print(row["session_id"])
    err.print(
        f"[green]created[/green] session {row['session_id']} ({row['experiment']} / {row['variant']}, "
        f"harness {row['harness']}, key {row['key_alias']}, expires {when(row['key_expires_at'])})"
    )
    err.print(f'next: eval "$(uv run benchmark session env {row["session_id"]})"  then run the harness')


@app.command()
def env(
    session: SessionArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="shell | dotenv | json | toml")] = "shell",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (mode 0600).")
    ] = None,
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """Print the harness environment (the only command that prints the key). Reads the private directory only."""
    from session_cli.render import FORMATS, format_env, with_key
    from session_cli.session_dir import resolve_local, write_private

    if fmt not in FORMATS:
        raise ConfigError(f"--format: {fmt!r} is not a format (choices: {', '.join(FORMATS)})")
    sdir = resolve_local(session)
    meta = sdir.meta()
    header = (
        f"harness-bench session {meta['session_id']} ({meta['experiment']} / {meta['variant']}, "
        f"harness {meta['harness']}); files in {sdir.harness_dir}"
    )
    text = format_env(with_key(meta["env"], sdir.key()), meta["unset"], fmt, header)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_private(output, text)
        err.print(f"wrote {output} (mode 0600; it holds the session key: delete it after the session)")


@app.command()
def show(session: SessionArg, configs_dir: ConfigsDirOpt = None, json_out: JsonOpt = False) -> None:
    """Show one session's registry row (never the key)."""
    from session_cli.db import connect
    from session_cli.registry.sessions import get
    from session_cli.registry.sync import require_registry
    from session_cli.session_dir import SessionDir

    with connect() as conn:
        require_registry(conn)
        row = get(conn, session)
    row["private_dir"] = (
        str(SessionDir.for_session(row["session_id"]).path) if row["status"] == "active" else None
    )
    if json_out:
        print_json(jsonable(row))
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in row.items():
        if key in HIDDEN_IN_SHOW:
            continue
        table.add_row(
            key, when(value) if hasattr(value, "strftime") else ("-" if value is None else str(value))
        )
    out.print(table)


@app.command("list")
def list_(
    experiment: Annotated[str | None, typer.Option("--experiment", "-e")] = None,
    status: Annotated[
        str | None, typer.Option("--status", "-s", help="active | completed | failed | aborted")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 500,
    configs_dir: ConfigsDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List sessions, newest first."""
    from session_cli.db import connect
    from session_cli.registry.sessions import STATUSES, list_sessions
    from session_cli.registry.sync import require_registry

    if status is not None and status not in STATUSES:
        raise ConfigError(f"--status: {status!r} is not a status (choices: {', '.join(STATUSES)})")
    with connect() as conn:
        require_registry(conn)
        rows = list_sessions(conn, experiment=experiment, status=status, limit=limit)
    if json_out:
        print_json([jsonable(r) for r in rows])
        return
    table = Table(title=f"{len(rows)} session(s)", title_justify="left")
    for column in ("session", "experiment", "variant", "status", "outcome", "started", "ended", "label"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r["session_id"][:8],
            r["experiment"],
            r["variant"],
            r["status"],
            r["outcome"] or "-",
            when(r["started_at"]),
            when(r["ended_at"]),
            r["label"] or "",
        )
    out.print(table)


@app.command(context_settings={"allow_interspersed_args": False})
def run(
    experiment: Annotated[str, typer.Option("--experiment", "-e", help="Experiment name.")],
    variant: Annotated[
        list[str], typer.Option("--variant", "-v", help="Variant; repeat the option for several.")
    ],
    task_card: Annotated[str, typer.Option("--task-card", "-t", help="Task card name.")],
    command: Annotated[
        list[str], typer.Argument(help="The harness command, after `--`.", show_default=False)
    ],
    repeat: Annotated[int, typer.Option(min=1, help="Sessions per variant.")] = 1,
    interleave: Annotated[
        bool, typer.Option(help="Alternate variants (A B A B) instead of A A B B.")
    ] = False,
    label: Annotated[str | None, typer.Option(help="Label for every session of this run.")] = None,
    timeout: Annotated[
        float | None,
        typer.Option(help="Seconds per session before it is stopped (default: the task card's timebox)."),
    ] = None,
    repo: Annotated[
        Path | None, typer.Option(help="Working directory (default: task card repo_path, else cwd).")
    ] = None,
    configs_dir: ConfigsDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a harness command once per session: create, run it with the session env, finalize from its exit status.

    The command also sees BENCHMARK_SESSION_ID, BENCHMARK_PROMPT (the task card's starting prompt), BENCHMARK_VARIANT, BENCHMARK_EXPERIMENT and BENCHMARK_TASK_CARD. Exit 0 finalizes `completed`; a non-zero exit or the timebox, `failed`; Ctrl-C, `aborted`.

    Example: benchmark session run -e E -v A -v B -t T --repeat 5 --interleave -- bash -c 'opencode run --pure "$BENCHMARK_PROMPT"'
    """
    from session_cli.runner import run_sessions

    def progress(kind: str, data: dict) -> None:
        if kind == "start":
            err.print(
                f"[bold]session {data['index']}/{data['total']}[/bold] {data['variant']}: {data['session_id']}"
            )
        else:
            colour = "green" if data["status"] == "completed" else "red"
            err.print(
                f"  [{colour}]{data['status']}[/{colour}] exit {data['exit_code']}"
                f"{' (timebox)' if data['timed_out'] else ''} in {data['duration_s']:.1f} s"
            )

    outcomes = run_sessions(
        load(configs_dir),
        experiment=experiment,
        variants=variant,
        task_card=task_card,
        command=command,
        repeat=repeat,
        interleave=interleave,
        label=label,
        timeout_s=timeout,
        repo=repo,
        quiet_stdout=json_out,
        on_event=progress,
    )
    if json_out:
        print_json([o.__dict__ for o in outcomes])
    failed = sum(o.status != "completed" for o in outcomes)
    err.print(f"{len(outcomes)} session(s): {len(outcomes) - failed} completed, {failed} failed")


@app.command()
def finalize(
    session: SessionArg,
    status: Annotated[str, typer.Option("--status", "-s", help="completed | failed | aborted")],
    outcome: Annotated[
        str | None, typer.Option(help="valid | invalid (invalid sessions never count)")
    ] = None,
    notes: Annotated[str | None, typer.Option(help="Appended to the session's notes.")] = None,
    skip_revoke: Annotated[
        bool,
        typer.Option("--skip-revoke", help="Finalize even if the key cannot be revoked (it then expires)."),
    ] = False,
    configs_dir: ConfigsDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """End a session: revoke its key, record status/outcome, delete its private directory."""
    from session_cli.sessions import finalize_session

    row = finalize_session(session, status, outcome, notes, skip_revoke=skip_revoke)
    if json_out:
        print_json(jsonable(row))
        return
    revoked = "key revoked" if row["key_revoked_at"] else "key NOT revoked (--skip-revoke)"
    err.print(
        f"[green]finalized[/green] session {row['session_id']}: {row['status']}, {revoked}, private directory deleted"
    )
