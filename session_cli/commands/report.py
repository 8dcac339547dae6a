"""``benchmark report experiment NAME``: variants, sessions, medians with CIs and verdicts. Reads marts only.

Sources: ``marts.fct_sessions`` (session counts, exclusions, demo labels),
``marts.fct_variant_comparison`` (written by the statistics asset) and, when present,
``marts.dim_experiments`` (the baseline). Nothing here imports numpy, scipy or dagster.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from session_cli.commands.common import ConfigsDirOpt
from session_cli.console import out, print_json
from session_cli.errors import BenchmarkError, NotFoundError

if TYPE_CHECKING:
    import psycopg

app = typer.Typer(
    help="Read the marts: how each variant compares with its experiment's baseline.", no_args_is_help=True
)

DEMO_LABEL = "demo"  # `benchmark demo` labels its simulated sessions with this
PIPELINE_HINT = "build the marts with `benchmark pipeline run` (it ingests, runs dbt and the statistics)"
# display order; the same names as COMPARED_METRICS in benchmark_pipeline/defs/stats/comparison.py
METRIC_ORDER: tuple[str, ...] = (
    "ttft_p50_ms",
    "latency_p95_ms",
    "output_tokens_per_s_p50",
    "error_rate",
    "cost_usd",
    "total_tokens",
    "active_duration_s",
)
VERDICT_STYLE = {
    "better": "bold green",
    "worse": "bold red",
    "no detectable difference": "yellow",
    "insufficient data": "dim",
}


class MartsMissingError(BenchmarkError):
    """A mart the command reads does not exist or is empty."""


def table_exists(conn: psycopg.Connection, qualified: str) -> bool:
    row = conn.execute("select to_regclass(%s) is not null as present", (qualified,)).fetchone()
    return bool(row and row["present"])


def require_table(conn: psycopg.Connection, qualified: str) -> None:
    if not table_exists(conn, qualified):
        raise MartsMissingError(f"{qualified} does not exist in this database", hint=PIPELINE_HINT)


def _metric_rank(metric: str) -> int:
    return METRIC_ORDER.index(metric) if metric in METRIC_ORDER else len(METRIC_ORDER)


def load_report(conn: psycopg.Connection, experiment: str) -> dict[str, Any]:
    """Everything the report shows, as plain data (also the ``--json`` document)."""
    require_table(conn, "marts.fct_sessions")
    variants = conn.execute(
        """
        select variant,
               count(*) filter (where coalesce(is_included, false)) as n_sessions,
               count(*) filter (where not coalesce(is_included, false)) as n_excluded,
               count(*) filter (where exclusion_reason = 'active') as n_active,
               count(*) filter (where exclusion_reason = 'aborted') as n_aborted,
               count(*) filter (where exclusion_reason = 'invalid') as n_invalid,
               count(*) filter (where label = %(demo)s) as n_demo,
               min(started_at) as first_started_at,
               max(started_at) as last_started_at
        from marts.fct_sessions
        where experiment = %(experiment)s
        group by variant
        order by variant
        """,
        {"experiment": experiment, "demo": DEMO_LABEL},
    ).fetchall()
    if not variants:
        known = [
            r["experiment"]
            for r in conn.execute(
                "select distinct experiment from marts.fct_sessions where experiment is not null"
                " order by 1 limit 20"
            ).fetchall()
        ]
        if not known:
            raise MartsMissingError("marts.fct_sessions is empty: no sessions to report", hint=PIPELINE_HINT)
        raise NotFoundError(
            f"experiment {experiment!r} has no sessions in marts.fct_sessions",
            hint=f"experiments with sessions: {', '.join(known)}; or refresh with `benchmark pipeline run`",
        )

    comparisons: list[dict[str, Any]] = []
    if table_exists(conn, "marts.fct_variant_comparison"):
        comparisons = conn.execute(
            "select * from marts.fct_variant_comparison where experiment = %s order by variant, metric",
            (experiment,),
        ).fetchall()
        comparisons.sort(key=lambda r: (r["variant"], _metric_rank(r["metric"]), r["metric"]))

    baseline = None
    if table_exists(conn, "marts.dim_experiments"):
        row = conn.execute(
            "select baseline_variant from marts.dim_experiments where experiment = %s", (experiment,)
        ).fetchone()
        baseline = row["baseline_variant"] if row else None
    if baseline is None and comparisons:
        baseline = comparisons[0]["baseline_variant"]

    for v in variants:
        v["is_baseline"] = v["variant"] == baseline
    variants.sort(key=lambda v: (not v["is_baseline"], v["variant"]))
    total = sum(v["n_sessions"] + v["n_excluded"] for v in variants)
    demo = sum(v["n_demo"] for v in variants)
    computed = [r["computed_at"] for r in comparisons if r.get("computed_at")]
    return {
        "experiment": experiment,
        "baseline_variant": baseline,
        "sessions_total": total,
        "demo_sessions": demo,
        "is_demo": total > 0 and demo == total,
        "computed_at": max(computed) if computed else None,
        "variants": variants,
        "comparisons": comparisons,
    }


def demo_notice(report: dict[str, Any]) -> str | None:
    demo, total = report["demo_sessions"], report["sessions_total"]
    if demo == 0:
        return None
    if demo == total:
        return (
            f"SIMULATED DEMO DATA: all {total} sessions of this experiment are labelled {DEMO_LABEL!r} "
            "(made by `benchmark demo`); these numbers describe no real harness or provider."
        )
    return (
        f"MIXED DATA: {demo} of {total} sessions of this experiment are simulated demo sessions "
        f"(label {DEMO_LABEL!r}); the comparison below includes them."
    )


def fmt_value(metric: str, value: float | None, *, signed: bool = False, scale: float | None = None) -> str:
    """A metric value in its unit: error rate as %, cost in USD, others as plain numbers whose decimals
    follow ``scale`` (the row's magnitude, so a CI bound prints like the medians beside it)."""
    if value is None:
        return "-"
    sign = "+" if signed else ""
    if metric == "error_rate":
        return f"{value * 100:{sign}.1f}%"
    if metric == "cost_usd":
        return f"{'-' if value < 0 else sign}${abs(value):.4f}"
    ref = abs(value) if scale is None else scale
    decimals = 0 if ref >= 100 else 1 if ref >= 10 else 2 if ref >= 1 else 3
    return f"{value:{sign},.{decimals}f}"


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _variants_table(report: dict[str, Any]) -> Table:
    table = Table(title="Sessions per variant", title_justify="left")
    for col in ("variant", "role", "sessions", "excluded", "active / aborted / invalid", "demo"):
        table.add_column(col, justify="left" if col in ("variant", "role") else "right")
    for v in report["variants"]:
        table.add_row(
            v["variant"],
            "baseline" if v["is_baseline"] else "",
            str(v["n_sessions"]),
            str(v["n_excluded"]),
            f"{v['n_active']} / {v['n_aborted']} / {v['n_invalid']}",
            str(v["n_demo"]),
        )
    return table


METRIC_LABELS = {
    "ttft_p50_ms": "TTFT p50 (ms)",
    "latency_p95_ms": "latency p95 (ms)",
    "output_tokens_per_s_p50": "output tok/s p50",
    "error_rate": "error rate",
    "cost_usd": "cost per session",
    "total_tokens": "tokens per session",
    "active_duration_s": "active time (s)",
}


def _comparison_table(variant: str, baseline: str, rows: Sequence[dict[str, Any]]) -> Table:
    """One line per metric, never wrapped (ratio and Cliff's delta are in --json and the exports)."""
    table = Table(
        title=f"{variant} vs baseline {baseline}  (↓ lower is better, ↑ higher is better)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
    )
    for col, justify in (
        ("metric", "left"),
        ("n v/b", "right"),
        ("baseline", "right"),
        ("variant", "right"),
        ("diff", "right"),
        ("95% CI of diff", "right"),
        ("p Holm", "right"),
        ("verdict", "left"),
        ("need/side", "right"),
    ):
        table.add_column(col, justify=justify, no_wrap=True, overflow="ellipsis")
    for r in rows:
        m = r["metric"]
        known = [abs(x) for x in (r["median_variant"], r["median_baseline"]) if x is not None]
        scale = max(known) if known else None

        def f(value: float | None, signed: bool = False, m: str = m, scale: float | None = scale) -> str:
            return fmt_value(m, value, signed=signed, scale=scale)

        ci = f"[{f(r['ci_low'], True)}, {f(r['ci_high'], True)}]" if r["ci_low"] is not None else "-"
        table.add_row(
            f"{METRIC_LABELS.get(m, m)} {'↓' if r['better_when'] == 'lower' else '↑'}",
            f"{r['n_variant']}/{r['n_baseline']}",
            f(r["median_baseline"]),
            f(r["median_variant"]),
            f(r["diff_median"], True),
            ci,
            _fmt_p(r["p_value_holm"]),
            Text(r["verdict"], style=VERDICT_STYLE.get(r["verdict"], "")),
            "-" if r["sessions_needed_per_side"] is None else str(r["sessions_needed_per_side"]),
        )
    return table


def render(report: dict[str, Any]) -> None:
    baseline = report["baseline_variant"] or "(unknown)"
    out.print(f"[bold]Experiment {report['experiment']}[/bold]  baseline: [bold]{baseline}[/bold]")
    notice = demo_notice(report)
    if notice:
        out.print(f"[bold yellow]{notice}[/bold yellow]")
    out.print(_variants_table(report))
    comparisons = report["comparisons"]
    if not comparisons:
        out.print(
            "No comparison rows for this experiment in marts.fct_variant_comparison: "
            + ("it needs a second variant with sessions. " if len(report["variants"]) < 2 else "")
            + PIPELINE_HINT
            + "."
        )
        return
    by_variant: dict[str, list[dict[str, Any]]] = {}
    for r in comparisons:
        by_variant.setdefault(r["variant"], []).append(r)
    for variant, rows in by_variant.items():
        out.print(_comparison_table(variant, rows[0]["baseline_variant"], rows))
    first = comparisons[0]
    computed = report["computed_at"]
    out.print(
        f"[dim]Medians of session-level values; diff = variant - baseline with a session bootstrap 95% CI "
        f"({first['bootstrap_resamples']:,} resamples, seed {first['seed']}); p = two-sided Mann-Whitney U, "
        "Holm-adjusted across the metrics of each variant; a verdict needs >= 3 sessions per side, "
        "p < 0.05 and a CI excluding 0; needed/side = sessions per side to detect a 10% change of the "
        "baseline median (alpha 0.05, power 0.8). Computed "
        f"{computed.isoformat(timespec='seconds') if isinstance(computed, datetime) else '-'}.[/dim]"
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@app.command("experiment")
def experiment(
    name: Annotated[str, typer.Argument(help="The experiment name (as in configs/experiments).")],
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """Variants, session counts, medians with bootstrap CIs and verdicts against the baseline."""
    import psycopg

    from session_cli.db import connect

    with connect() as conn:
        try:
            report = load_report(conn, name)
        except psycopg.errors.UndefinedColumn as exc:
            raise MartsMissingError(
                f"the marts lack a column this report reads: {str(exc).splitlines()[0]}",
                hint="the marts are older than this command; " + PIPELINE_HINT,
            ) from exc
    if json_output:
        print_json(_jsonable({**report, "demo_notice": demo_notice(report)}))
    else:
        render(report)
