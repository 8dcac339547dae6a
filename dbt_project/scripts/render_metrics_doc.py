"""Render docs/metrics.md from the marts' dbt yml (the single source of every column's definition).

    uv run python dbt_project/scripts/render_metrics_doc.py          # rewrite docs/metrics.md
    uv run python dbt_project/scripts/render_metrics_doc.py --check  # exit 1 if it is out of date

tests/dbt/test_metrics_doc.py fails when the file and the yml disagree, or when a built mart has a
column the yml does not describe.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
MARTS_YML = PROJECT_DIR / "models" / "marts" / "_marts__models.yml"
SEEDS_YML = PROJECT_DIR / "seeds" / "_seeds.yml"
# marts written by Python assets downstream of dbt, declared as dbt sources for their column docs
STATISTICS_YML = PROJECT_DIR / "models" / "marts" / "_statistics__sources.yml"
DOC = PROJECT_DIR.parent / "docs" / "metrics.md"

HEADER = """# Metrics: what every mart column means

<!-- Generated from dbt_project/models/marts/_marts__models.yml by
     dbt_project/scripts/render_metrics_doc.py: edit the yml, then re-run the script.
     tests/dbt/test_metrics_doc.py fails when this file and the yml disagree. -->

All marts live in schema `marts` of the benchmark database and are built by the dbt project in
`dbt_project/` (Dagster assets of the same names). Conventions:

- Units are in column names: `_ms` milliseconds, `_s` seconds, `_usd` US dollars, `_per_s` per second.
- A value that cannot be known is NULL, never 0; a count of zero is 0, never NULL.
- Percentiles are `percentile_cont` (linear interpolation between order statistics at rank
  p x (n - 1)), rounded to 3 decimals.
- Only *included* sessions count in variant figures: finalized (status `completed` or `failed`)
  and not marked `invalid`. Excluded sessions are counted, never dropped silently.
- Costs are recomputed from `dbt_project/seeds/model_prices.csv` (see the last section); LiteLLM's
  own figure is kept beside them as `litellm_cost_usd`.
- `fct_variant_comparison` is written by the statistics asset (benchmark_pipeline/defs/stats, whose
  README gives the formulas and assumptions) from `fct_sessions` and `dim_experiments`.
"""


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _table(columns: list[dict]) -> list[str]:
    lines = ["| column | definition |", "|---|---|"]
    lines += [f"| `{c['name']}` | {_cell(c.get('description'))} |" for c in columns]
    return lines


def statistics_tables() -> list[dict]:
    return [t for source in yaml.safe_load(STATISTICS_YML.read_text())["sources"] for t in source["tables"]]


def render() -> str:
    marts = yaml.safe_load(MARTS_YML.read_text())["models"] + statistics_tables()
    seeds = yaml.safe_load(SEEDS_YML.read_text())["seeds"]
    out = [HEADER.rstrip(), ""]
    out += ["## Contents", ""]
    out += [f"- [`{m['name']}`](#{m['name']})" for m in marts]
    out += [f"- [`{s['name']}` (seed)](#{s['name']})" for s in seeds]
    for model in marts:
        out += ["", f"## {model['name']}", "", _cell(model.get("description")), ""]
        out += _table(model.get("columns") or [])
    for seed in seeds:
        out += ["", f"## {seed['name']}", "", _cell(seed.get("description")), ""]
        out += _table(seed.get("columns") or [])
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text() != text:
            print(
                f"{DOC} is out of date: run python {Path(__file__).relative_to(Path.cwd())}", file=sys.stderr
            )
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
