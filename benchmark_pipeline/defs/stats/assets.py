"""The ``fct_variant_comparison`` asset: session marts in, comparison table out."""
# no "from __future__ import annotations": Dagster reads the config and resource annotations at runtime

from collections import Counter
from datetime import UTC, datetime

import dagster as dg

from benchmark_pipeline.defs.stats.build import build_rows
from benchmark_pipeline.defs.stats.comparison import COMPARED_METRICS, DEFAULT_RESAMPLES, DEFAULT_SEED
from benchmark_pipeline.defs.stats.warehouse import TABLE, load_baselines, load_sessions, replace_comparison
from benchmark_pipeline.resources import WarehouseResource

COLUMN_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("experiment", "text", description="experiment name"),
        dg.TableColumn("variant", "text", description="the compared (non-baseline) variant"),
        dg.TableColumn("baseline_variant", "text", description="the experiment's baseline variant"),
        dg.TableColumn("metric", "text", description="the marts.fct_sessions column compared"),
        dg.TableColumn("better_when", "text", description="'lower' or 'higher'"),
        dg.TableColumn("n_variant", "integer", description="included variant sessions with a known value"),
        dg.TableColumn("n_baseline", "integer", description="included baseline sessions with a known value"),
        dg.TableColumn("n_excluded_variant", "integer", description="variant sessions not is_included"),
        dg.TableColumn("n_excluded_baseline", "integer", description="baseline sessions not is_included"),
        dg.TableColumn("median_variant", "double precision", description="median of session values"),
        dg.TableColumn("median_baseline", "double precision", description="median of session values"),
        dg.TableColumn("diff_median", "double precision", description="median_variant - median_baseline"),
        dg.TableColumn("ratio_median", "double precision", description="variant / baseline; NULL if 0"),
        dg.TableColumn("ci_low", "double precision", description="bootstrap 95% CI of diff_median, low"),
        dg.TableColumn("ci_high", "double precision", description="bootstrap 95% CI of diff_median, high"),
        dg.TableColumn("p_value", "double precision", description="two-sided Mann-Whitney U"),
        dg.TableColumn("p_value_holm", "double precision", description="Holm across the variant's metrics"),
        dg.TableColumn("cliffs_delta", "double precision", description="P(v > b) - P(v < b)"),
        dg.TableColumn("verdict", "text", description="better | worse | no detectable ... | insufficient"),
        dg.TableColumn("sessions_needed_per_side", "integer", description="to detect 10% of baseline"),
        dg.TableColumn("bootstrap_resamples", "integer", description="bootstrap resamples used"),
        dg.TableColumn("seed", "bigint", description="bootstrap seed"),
        dg.TableColumn("computed_at", "timestamptz", description="when this materialization ran"),
    ]
)


class ComparisonConfig(dg.Config):
    """Run config; the defaults are what the marts are built with."""

    seed: int = DEFAULT_SEED
    bootstrap_resamples: int = DEFAULT_RESAMPLES


@dg.asset(
    key="fct_variant_comparison",
    group_name="statistics",
    deps=[dg.AssetKey("fct_sessions"), dg.AssetKey("dim_experiments")],
    kinds={"python", "postgres"},
    # eager() alone never fires below a partitioned parent (docs: dagster-dbt.md); this form does
    automation_condition=dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing()),
    description=(
        "One row per experiment x non-baseline variant x session-level metric: medians, their "
        "difference and ratio, a seeded session-level bootstrap 95% CI of the difference, Mann-Whitney U "
        "p-value with Holm correction across the variant's metrics, Cliff's delta, the verdict and the "
        "sessions per side needed to detect a 10% difference. Replaced as a whole in one transaction."
    ),
    metadata={"dagster/table_name": TABLE, "dagster/column_schema": COLUMN_SCHEMA},
)
def fct_variant_comparison(
    context: dg.AssetExecutionContext, config: ComparisonConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    computed_at = datetime.now(UTC)
    with warehouse.connect() as conn:
        sessions = load_sessions(conn)
        baselines = load_baselines(conn)
        result = build_rows(
            sessions,
            baselines,
            computed_at=computed_at,
            seed=config.seed,
            resamples=config.bootstrap_resamples,
        )
        replace_comparison(conn, result.rows)
    for experiment, reason in result.skipped.items():
        context.log.warning(f"experiment {experiment!r} not compared: {reason}")
    verdicts = Counter(r["verdict"] for r in result.rows)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(result.rows),
            "sessions_read": len(sessions),
            "experiments_compared": len(result.experiments),
            "experiments_skipped": dg.MetadataValue.json(result.skipped),
            "metrics": [m.name for m in COMPARED_METRICS],
            "verdicts": dg.MetadataValue.json(dict(sorted(verdicts.items()))),
            "seed": config.seed,
            "bootstrap_resamples": config.bootstrap_resamples,
        }
    )
