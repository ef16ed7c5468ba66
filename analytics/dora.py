"""DORA performance tiers for the four key metrics.

Source: DORA, *Accelerate State of DevOps Report 2023* (Google Cloud), performance clusters
elite / high / medium / low. Where the report gives ranges in words, the boundaries used here are:

================================  ==============  ==============  ================  ========
metric (unit)                     elite           high            medium            low
================================  ==============  ==============  ================  ========
deployment frequency (per week)   >= 7            >= 1            >= 7/30           < 7/30
  (on demand, at least daily; daily to weekly; weekly to monthly; less than monthly)
lead time for changes (hours)     < 24            < 168           < 720             >= 720
  (less than a day; less than a week; less than a month of 30 days; longer)
change failure rate (fraction)    <= 0.05         <= 0.10         <= 0.15           > 0.15
failed deployment recovery (h)    < 1             < 24            < 168             >= 168
  (less than an hour; less than a day; less than a week; longer)
================================  ==============  ==============  ================  ========

A metric that is undefined (None/NaN) has no tier (None).
"""

from __future__ import annotations

import math
import operator

TIERS = ("elite", "high", "medium", "low")

# metric -> (comparison, bounds for elite, high, medium); failing all three is "low".
DORA_2023: dict[str, tuple] = {
    "deployment_frequency": (operator.ge, (7.0, 1.0, 7.0 / 30.0)),  # deployments per week
    "lead_time": (operator.lt, (24.0, 7 * 24.0, 30 * 24.0)),  # hours
    "change_failure_rate": (operator.le, (0.05, 0.10, 0.15)),  # fraction of deployments
    "failed_deployment_recovery": (operator.lt, (1.0, 24.0, 7 * 24.0)),  # hours
}


def tier(metric: str, value: float | None) -> str | None:
    """The DORA 2023 tier ('elite', 'high', 'medium', 'low') of one metric value, or None when
    the value is undefined. ``metric`` is a key of ``DORA_2023``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    compare, bounds = DORA_2023[metric]
    for name, bound in zip(TIERS, bounds, strict=False):
        if compare(value, bound):
            return name
    return "low"


def dora_tiers(
    deployments_per_week: float | None,
    lead_time_hours: float | None,
    change_failure_rate: float | None,
    recovery_hours: float | None,
) -> dict[str, str | None]:
    """The four tiers keyed deployment_frequency, lead_time, change_failure_rate,
    failed_deployment_recovery."""
    return {
        "deployment_frequency": tier("deployment_frequency", deployments_per_week),
        "lead_time": tier("lead_time", lead_time_hours),
        "change_failure_rate": tier("change_failure_rate", change_failure_rate),
        "failed_deployment_recovery": tier("failed_deployment_recovery", recovery_hours),
    }


# What each tier is computed from: the record kinds that must be loaded (schema kind names).
NEEDS = {
    "deployment_frequency": ("changes",),
    "lead_time": ("changes",),
    "change_failure_rate": ("changes",),
    "failed_deployment_recovery": ("changes", "incidents"),
}


def missing_inputs(row_counts: dict[str, int]) -> dict[str, str | None]:
    """Per DORA metric, why it cannot be rated from the loaded data ("no deployments loaded",
    "no incidents loaded"), or None when its record kinds are loaded. ``row_counts`` maps a
    record kind to its row count in the database (``analytics.store.row_counts``).

    A tier for data that was never loaded would be a claim about nothing: zero deployments
    because no change file was imported is not "DORA low"."""
    nouns = {"changes": "deployments", "incidents": "incidents"}
    return {
        metric: next(
            (f"no {nouns[kind]} loaded" for kind in kinds if not row_counts.get(kind)), None
        )
        for metric, kinds in NEEDS.items()
    }
