"""From session-level rows to the rows of ``marts.fct_variant_comparison`` (pure, no I/O)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from benchmark_pipeline.defs.stats.comparison import (
    COMPARED_METRICS,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Metric,
    compare_variant,
)

# column order of marts.fct_variant_comparison (sql/fct_variant_comparison.sql)
COLUMNS: tuple[str, ...] = (
    "experiment",
    "variant",
    "baseline_variant",
    "metric",
    "better_when",
    "n_variant",
    "n_baseline",
    "n_excluded_variant",
    "n_excluded_baseline",
    "median_variant",
    "median_baseline",
    "diff_median",
    "ratio_median",
    "ci_low",
    "ci_high",
    "p_value",
    "p_value_holm",
    "cliffs_delta",
    "verdict",
    "sessions_needed_per_side",
    "bootstrap_resamples",
    "seed",
    "computed_at",
)


@dataclass(frozen=True)
class SessionValues:
    """One ``marts.fct_sessions`` row reduced to what the comparison needs."""

    experiment: str
    variant: str
    is_included: bool
    values: Mapping[str, float | None]  # metric -> session-level value (None = unknowable)


@dataclass
class VariantSample:
    """The included sessions' values per metric and the excluded count of one experiment x variant."""

    values: dict[str, list[float | None]] = field(default_factory=lambda: defaultdict(list))
    n_excluded: int = 0


@dataclass(frozen=True)
class BuildResult:
    rows: list[dict[str, Any]]
    experiments: list[str]  # experiments compared
    skipped: dict[str, str]  # experiment -> why it was not compared


def group_sessions(sessions: Iterable[SessionValues]) -> dict[str, dict[str, VariantSample]]:
    """experiment -> variant -> sample (only ``is_included`` sessions contribute values)."""
    grouped: dict[str, dict[str, VariantSample]] = defaultdict(lambda: defaultdict(VariantSample))
    for s in sessions:
        sample = grouped[s.experiment][s.variant]
        if not s.is_included:
            sample.n_excluded += 1
            continue
        for metric, value in s.values.items():
            sample.values[metric].append(value)
    return grouped


def build_rows(
    sessions: Iterable[SessionValues],
    baselines: Mapping[str, str],
    *,
    computed_at: datetime,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    metrics: Sequence[Metric] = COMPARED_METRICS,
) -> BuildResult:
    """Every non-baseline variant with sessions in an experiment, against that experiment's baseline.

    A baseline without sessions still yields rows (n_baseline 0, 'insufficient data'); an
    experiment with no known baseline is skipped and reported.
    """
    grouped = group_sessions(sessions)
    rows: list[dict[str, Any]] = []
    compared: list[str] = []
    skipped: dict[str, str] = {}
    for experiment in sorted(grouped):
        variants = grouped[experiment]
        baseline = baselines.get(experiment)
        if baseline is None:
            skipped[experiment] = "no baseline variant (experiment missing from dim_experiments)"
            continue
        others = sorted(v for v in variants if v != baseline)
        if not others:
            skipped[experiment] = f"no sessions of any variant other than the baseline {baseline!r}"
            continue
        compared.append(experiment)
        base = variants.get(baseline, VariantSample())
        for variant in others:
            sample = variants[variant]
            values = {m.name: (sample.values.get(m.name, []), base.values.get(m.name, [])) for m in metrics}
            for result in compare_variant(values, metrics=metrics, seed=seed, resamples=resamples):
                row = {
                    "experiment": experiment,
                    "variant": variant,
                    "baseline_variant": baseline,
                    **asdict(result),
                    "n_excluded_variant": sample.n_excluded,
                    "n_excluded_baseline": base.n_excluded,
                    "bootstrap_resamples": resamples,
                    "seed": seed,
                    "computed_at": computed_at,
                }
                rows.append({c: row[c] for c in COLUMNS})
    return BuildResult(rows=rows, experiments=compared, skipped=skipped)
