"""Reconciliation: every source row of a window is either landed or rejected, per hourly partition."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from benchmark_pipeline.defs.litellm.landing import WarehouseCounts, partition_key


@dataclass(frozen=True)
class HourMismatch:
    partition: str
    source: int
    landed: int
    rejected: int

    @property
    def missing(self) -> int:
        """Source rows not accounted for (negative: the warehouse holds more than the source)."""
        return self.source - self.landed - self.rejected


@dataclass
class Reconciliation:
    hours: int = 0
    source_rows: int = 0
    landed_rows: int = 0
    rejected_rows: int = 0
    missing: list[HourMismatch] = field(default_factory=list)  # source > landed + rejected
    surplus: list[HourMismatch] = field(default_factory=list)  # source < landed + rejected

    @property
    def passed(self) -> bool:
        return not self.missing

    def describe(self) -> str:
        head = (
            f"{self.hours} hourly partitions: {self.source_rows} source rows, "
            f"{self.landed_rows} landed + {self.rejected_rows} rejected"
        )
        if self.missing:
            worst = ", ".join(f"{m.partition} ({m.missing} missing)" for m in self.missing[:5])
            return f"{head}; rows missing in {len(self.missing)} partitions: {worst}"
        if self.surplus:
            some = ", ".join(f"{m.partition} (+{-m.missing})" for m in self.surplus[:5])
            return (
                f"{head}; the warehouse holds more rows than LiteLLM in {len(self.surplus)} partitions "
                f"({some}): LiteLLM deleted spend logs (retention) or rows landed after this run read"
            )
        return f"{head}: every source row is landed or rejected"


def reconcile(source: dict[datetime, int], warehouse: dict[datetime, WarehouseCounts]) -> Reconciliation:
    """Compare per-hour source counts with landed + rejected counts (hours as naive UTC)."""
    result = Reconciliation()
    for hour in sorted(set(source) | set(warehouse)):
        s = source.get(hour, 0)
        w = warehouse.get(hour, WarehouseCounts(0, 0))
        result.hours += 1
        result.source_rows += s
        result.landed_rows += w.landed
        result.rejected_rows += w.rejected
        diff = HourMismatch(partition_key(hour), s, w.landed, w.rejected)
        if diff.missing > 0:
            result.missing.append(diff)
        elif diff.missing < 0:
            result.surplus.append(diff)
    return result
