"""Partition definitions shared by every raw asset, so hourly partitions line up across domains.

Both ``raw_litellm_spend_logs`` and ``raw_prometheus_series`` use :data:`hourly_partitions`: the same
object, so Dagster maps one to the other identity-wise and a backfill over a range selects the same
keys (``YYYY-MM-DD-HH:00``, UTC) in both.
"""

from __future__ import annotations

import dagster as dg

PARTITION_START = "2025-01-01-00:00"

# end_offset=1: the current, still-open hour is a partition too, so the spend-log live path can land
# a request minutes after it ends instead of after the hour closes
hourly_partitions = dg.HourlyPartitionsDefinition(start_date=PARTITION_START, timezone="UTC", end_offset=1)
