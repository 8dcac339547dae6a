"""statistics domain: the ``fct_variant_comparison`` asset downstream of the dbt marts."""

import dagster as dg

from benchmark_pipeline.defs.stats.assets import fct_variant_comparison

defs = dg.Definitions(assets=[fct_variant_comparison])
