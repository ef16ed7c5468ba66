"""Is a KPI's change against the previous period beyond noise?

A headline number always moves a little from one period to the next; calling every move an
"improvement" or a "deterioration" reads noise as news. Each KPI's change is tested with the test
that fits how the number is made, at ``ALPHA`` (5 %), and labelled only when it is significant:

* a share of deployments (change failure rate, rework rate): Fisher's exact test on the 2 x 2
  table (Fisher 1935);
* a count per week (deployments): the exact conditional test of two Poisson rates, a binomial
  test of ``k_now`` out of ``k_now + k_before`` with ``p`` = the current period's share of the
  exposure (Przyborowski & Wilenski 1940);
* a median (lead time, time to restore): Mann-Whitney U on the two periods' values (Mann &
  Whitney 1947);
* a total of per-ticket amounts (support cost): the same conditional test for a marked Poisson
  process: given the pooled tickets, each falls in the current period with the exposure share,
  and the current total is compared with its distribution (Monte Carlo with a fixed seed, or its
  normal approximation for many tickets).

Pure functions on numbers and arrays, plus :func:`period_deltas`, which reads both periods.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from analytics import distributions as dist
from analytics.cost import DEFAULT_COST_MODEL, CostModel
from analytics.filters import Filter
from analytics.metrics import EXPLICIT, Attribution, deployments_frame, tickets_frame
from analytics.stats import ALPHA, SEED, Result

IMPROVEMENT = "improvement"
DETERIORATION = "deterioration"
NOISE = "within noise"
MONTE_CARLO_RUNS = 999  # random reassignments of the pooled tickets for the support-cost test
MONTE_CARLO_MAX = 1000  # beyond this many tickets the total is normal enough (CLT)


@dataclass(frozen=True)
class DeltaVerdict(Result):
    """How a KPI's change against the previous period reads: ``verdict`` is ``"improvement"``,
    ``"deterioration"``, ``"within noise"`` or None (nothing to compare); ``p_value`` of
    ``method`` (two-sided), ``reason`` when None."""

    verdict: str | None
    p_value: float | None
    method: str
    reason: str | None = None


def _read(p: float | None, change: float, lower_is_better: bool, method: str) -> DeltaVerdict:
    """The verdict for a two-sided ``p`` and the sign of the shown change (now - before)."""
    if p is None or not np.isfinite(p):
        return DeltaVerdict(None, None, method, "test undefined")
    if p >= ALPHA or change == 0:
        return DeltaVerdict(NOISE, float(p), method)
    better = (change < 0) == lower_is_better
    return DeltaVerdict(IMPROVEMENT if better else DETERIORATION, float(p), method)


def proportion_delta(
    x_now: int, n_now: int, x_before: int, n_before: int, lower_is_better: bool = True
) -> DeltaVerdict:
    """Change of a share ``x / n`` (e.g. failed deployments / deployments): Fisher's exact
    two-sided test on ``[[x_now, n_now - x_now], [x_before, n_before - x_before]]``."""
    method = "Fisher's exact test"
    if not n_now or not n_before:
        return DeltaVerdict(None, None, method, "no events in one period")
    table = [[x_now, n_now - x_now], [x_before, n_before - x_before]]
    p = dist.fisher_exact(table).pvalue
    return _read(p, x_now / n_now - x_before / n_before, lower_is_better, method)


def rate_delta(
    k_now: int,
    exposure_now: float,
    k_before: int,
    exposure_before: float,
    lower_is_better: bool = False,
) -> DeltaVerdict:
    """Change of a count per unit of exposure (e.g. deployments per week over days): exact
    conditional Poisson test, ``binomtest(k_now, k_now + k_before, share of exposure)``."""
    method = "exact conditional Poisson rate test"
    if exposure_now <= 0 or exposure_before <= 0:
        return DeltaVerdict(None, None, method, "a period has no length")
    if k_now + k_before == 0:
        return DeltaVerdict(NOISE, 1.0, method)
    share = exposure_now / (exposure_now + exposure_before)
    p = dist.binomtest_p(int(k_now), int(k_now + k_before), share)
    change = k_now / exposure_now - k_before / exposure_before
    return _read(p, change, lower_is_better, method)


def median_delta(now, before, lower_is_better: bool = True) -> DeltaVerdict:
    """Change of a median (e.g. lead time in hours): two-sided Mann-Whitney U on the two
    periods' values (missing values dropped); the sign read is that of the medians' change."""
    method = "Mann–Whitney U test"
    a = np.asarray(now, dtype=float)
    b = np.asarray(before, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if not len(a) or not len(b):
        return DeltaVerdict(None, None, method, "no values in one period")
    if np.all(np.concatenate([a, b]) == a[0]):
        return DeltaVerdict(NOISE, 1.0, method)
    p = dist.mannwhitneyu(a, b).pvalue  # two-sided
    return _read(p, float(np.median(a) - np.median(b)), lower_is_better, method)


def total_delta(
    now,
    exposure_now: float,
    before,
    exposure_before: float,
    lower_is_better: bool = True,
    runs: int = MONTE_CARLO_RUNS,
    seed: int = SEED,
) -> DeltaVerdict:
    """Change of a total per unit of exposure (e.g. support cost: the sum of per-ticket costs).

    Conditional test for a marked Poisson process: under no change, given the pooled amounts,
    each lands in the current period with probability ``w`` = its share of the exposure. The
    current total ``T`` is compared with that distribution: Monte Carlo (``runs`` draws, fixed
    seed, two-sided ``p = min(1, 2 min(P(T* >= T), P(T* <= T)))`` with the +1 correction) up to
    ``MONTE_CARLO_MAX`` amounts, else the normal approximation ``E = w S``,
    ``Var = w (1 - w) sum(c^2)``.
    """
    a = np.asarray(now, dtype=float)
    b = np.asarray(before, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    method = "conditional test of two totals (marked Poisson)"
    if exposure_now <= 0 or exposure_before <= 0:
        return DeltaVerdict(None, None, method, "a period has no length")
    pooled = np.concatenate([a, b])
    if not len(pooled) or np.all(pooled == 0):
        return DeltaVerdict(NOISE, 1.0, method)
    w = exposure_now / (exposure_now + exposure_before)
    total = float(a.sum())
    if len(pooled) <= MONTE_CARLO_MAX:
        rng = np.random.default_rng(seed)
        # in chunks of 200 draws: memory stays at a few MB whatever the number of tickets
        totals = np.concatenate(
            [
                (rng.random((min(200, runs - i), len(pooled))) < w) @ pooled
                for i in range(0, runs, 200)
            ]
        )
        tol = 1e-9 * max(abs(total), 1.0)  # ties with the observed total count as extreme
        upper = (1 + np.sum(totals >= total - tol)) / (runs + 1)
        lower = (1 + np.sum(totals <= total + tol)) / (runs + 1)
        p = min(1.0, 2 * min(upper, lower))
    else:
        sd = np.sqrt(w * (1 - w) * np.sum(pooled**2))
        p = 2 * dist.norm_sf(abs(total - w * pooled.sum()) / sd)
    change = total / exposure_now - b.sum() / exposure_before
    return _read(p, change, lower_is_better, method)


def period_deltas(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    cost: CostModel = DEFAULT_COST_MODEL,
    attribution: Attribution = EXPLICIT,
) -> dict[str, DeltaVerdict]:
    """The Overview KPIs' changes from ``flt.previous_period()`` to ``flt``, keyed by the report
    key: deployments_per_week, lead_time_hours_median, change_failure_rate,
    time_to_restore_hours_median, rework_rate, support_cost."""
    columns = ("lead_time_hours", "failed", "rework")
    before_flt = flt.previous_period()
    d_now = deployments_frame(con, flt, attribution, columns)
    d_before = deployments_frame(con, before_flt, attribution, columns)
    t_now = tickets_frame(con, flt, cost)
    t_before = tickets_frame(con, before_flt, cost)

    def restore(tickets):
        return tickets.loc[tickets["kind"] == "incident", "restore_hours"].to_numpy(dtype=float)

    def count(frame, column):
        return int(frame[column].astype(bool).sum())

    days_now, days_before = flt.window_days, before_flt.window_days
    return {
        "deployments_per_week": rate_delta(
            len(d_now), days_now, len(d_before), days_before, lower_is_better=False
        ),
        "lead_time_hours_median": median_delta(
            d_now["lead_time_hours"], d_before["lead_time_hours"]
        ),
        "change_failure_rate": proportion_delta(
            count(d_now, "failed"), len(d_now), count(d_before, "failed"), len(d_before)
        ),
        "time_to_restore_hours_median": median_delta(restore(t_now), restore(t_before)),
        "rework_rate": proportion_delta(
            count(d_now, "rework"), len(d_now), count(d_before, "rework"), len(d_before)
        ),
        "support_cost": total_delta(t_now["cost"], days_now, t_before["cost"], days_before),
    }
