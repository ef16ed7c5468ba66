"""Difference-in-differences of one team's weekly counts against the other teams', with a test
that allows for autocorrelation: did the team's weekly incidents move after a date beyond what
the organisation's weeks would have brought anyway?

Weekly incident counts share the organisation's seasons and busy spells and are autocorrelated,
so comparing a team's weeks before and after a date as independent samples claims changes that
are not there (null audit, #11). Here:

- the *baseline* is the long window of :func:`analytics.improvements.windows` (26 whole weeks
  ending 4 weeks before the week of the date, so a bad spell that prompted the change is not its
  "before"), the *after* window the ``weeks`` whole weeks from the first Monday on or after it;
- the other teams' mean count per week, scaled to the team's level in the baseline, is where the
  team would have been had it moved as they did (difference-in-differences with a multiplicative
  common trend: seasons and busy spells scale every team's counts, so an unscaled difference would
  keep a share of them when the team is busier or quieter than the others);
- each week's count over that expectation (a ratio: the noise of counts grows with their level,
  so differences would be noisier in a busy season than in the baseline) is compared after
  against the baseline by a t-test whose variance is inflated by the long-run variance ratio of
  an AR fit (:func:`long_run_t`), so weeks that follow each other closely count for less.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analytics import distributions as dist
from analytics import timeseries as ts
from analytics.stats import ALPHA, Result, _num

if TYPE_CHECKING:  # the report path runs without pandas (#11): team_did imports it
    import pandas as pd

MIN_SIDE = 2  # fewer whole weeks than this on a side and nothing is compared
# what a comparison fills in: None when none is possible
_TEST_FIELDS = (
    "expected_after", "difference", "relative", "low", "high", "p_value", "long_run_ratio", "method"
)  # fmt: skip


@dataclass(frozen=True)
class DiffInDiff(Result):
    """A team's weekly counts in a baseline and after a date, against the other teams' (counts
    per week; the others' as the mean of one team).

    ``expected_after``: the team's baseline mean times the other teams' after/baseline ratio, where
    the team would have been had it moved as they did; ``difference``: ``team_after`` minus
    ``expected_after`` (per week). The test reads each week's count over its expectation (the
    other teams' count that week scaled to the team's baseline level): ``relative`` is the mean
    of those ratios after minus in the baseline (a fraction: 0.5 = half as many again), with its
    95 % interval ``low``..``high`` and two-sided ``p_value`` (:func:`long_run_t`);
    ``long_run_ratio``: how much the weekly ratios' autocorrelation inflated the variance
    (1 = none). Without other teams the team's own weeks are compared with its baseline mean
    (``other_teams`` 0, ``expected_after`` = ``team_before``)."""

    baseline_from: dt.date
    baseline_to: dt.date
    after_from: dt.date
    after_to: dt.date
    weeks_before: int
    weeks_after: int
    other_teams: int
    team_before: float | None
    team_after: float | None
    others_before: float | None
    others_after: float | None
    expected_after: float | None
    difference: float | None
    relative: float | None
    low: float | None
    high: float | None
    p_value: float | None
    long_run_ratio: float | None
    method: str | None
    reason: str | None = None


def long_run_t(
    before, after, alpha: float = ALPHA
) -> tuple[float | None, float | None, float | None, float | None, float | None]:
    """Difference of means ``after - before`` with a two-sample t-test that allows for
    autocorrelation: (difference, low, high, two-sided p, long-run ratio).

    The pooled variance of the residuals (each side less its own mean, ``n - 2`` degrees of
    freedom) is multiplied by their long-run variance ratio under an AR fit
    (:func:`analytics.timeseries.long_run_ratio`: ``(1 + phi) / (1 - phi)`` for AR(1), never
    below 1), the variance of a mean of autocorrelated values (Box, Jenkins & Reinsel 2008,
    sec. 2.1.5; the correction of Zwiers & von Storch 1995, with the ratio from an AR model fitted
    to the residuals); p and the 95 % interval from Student's t with ``n - 2`` degrees of freedom.
    None where a side has fewer than ``MIN_SIDE`` values."""
    a = np.asarray(before, dtype=float)
    b = np.asarray(after, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < MIN_SIDE or len(b) < MIN_SIDE:
        return None, None, None, None, None
    diff = float(b.mean() - a.mean())
    resid = np.concatenate([a - a.mean(), b - b.mean()])
    df = len(resid) - 2
    ratio = ts.long_run_ratio(resid)
    se = math.sqrt(float(resid @ resid) / df * ratio * (1 / len(a) + 1 / len(b)))
    if se == 0:  # every week equal to its side's mean: no noise to judge by
        return diff, diff, diff, (1.0 if diff == 0 else 0.0), ratio
    t = diff / se
    half = dist.t_ppf(1 - alpha / 2, df) * se
    return diff, diff - half, diff + half, min(1.0, 2 * dist.t_sf(abs(t), df)), ratio


def team_did(by_team: pd.DataFrame, team: str, win, weeks_ok: set) -> DiffInDiff:
    """:class:`DiffInDiff` of ``team`` in the windows ``win``
    (:class:`analytics.improvements.Windows`; the gap weeks between baseline and start are left
    out) from a weekly count of every team, ``by_team`` (``bucket`` Monday, ``team``, ``value``;
    a team's quiet week is a row with 0). Only weeks in ``weeks_ok`` (whole weeks inside the data)
    count."""
    import pandas as pd

    from analytics.improvements import _sides

    # the after window ends at win.after_to even when by_team runs on
    frame = by_team[by_team["bucket"].isin(weeks_ok) & (by_team["bucket"] <= win.after_to)]
    wide = frame.pivot_table(index="bucket", columns="team", values="value", aggfunc="sum")
    wide = wide.sort_index()
    own = wide[team] if team in wide.columns else pd.Series(0.0, index=wide.index)
    others = wide.drop(columns=[team], errors="ignore")
    n_others = others.shape[1]
    other_mean = others.mean(axis=1).fillna(0.0) if n_others else pd.Series(0.0, index=wide.index)

    def sides(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        base, _gap, after = _sides(pd.DataFrame({"bucket": values.index, "value": values}), win)
        return base, after

    own_b, own_a = sides(own.fillna(0.0))
    oth_b, oth_a = sides(other_mean)
    head = dict(
        baseline_from=win.baseline_from, baseline_to=win.baseline_to, after_from=win.after_from,
        after_to=win.after_to, weeks_before=len(own_b), weeks_after=len(own_a),
        other_teams=n_others,
    )  # fmt: skip
    means = dict(
        team_before=_num(own_b.mean()) if len(own_b) else None,
        team_after=_num(own_a.mean()) if len(own_a) else None,
        others_before=_num(oth_b.mean()) if n_others and len(oth_b) else None,
        others_after=_num(oth_a.mean()) if n_others and len(oth_a) else None,
    )

    def untested(reason: str) -> DiffInDiff:
        """The windows and means with no comparison, and why."""
        return DiffInDiff(**head, **means, **dict.fromkeys(_TEST_FIELDS), reason=reason)

    if len(own_b) < MIN_SIDE or len(own_a) < MIN_SIDE:
        side = "in the baseline" if len(own_b) < MIN_SIDE else "after the change"
        return untested(f"fewer than {MIN_SIDE} whole weeks of data {side}")
    if own_b.mean() <= 0:
        return untested("the team had no incidents in the baseline to compare with")
    if n_others and oth_b.mean() > 0:
        # the others' weeks scaled to the team's baseline level: a common *relative* change
        scale = float(own_b.mean() / oth_b.mean())
        exp_b, exp_a = scale * oth_b, scale * oth_a
        method = (
            f"difference-in-differences against {n_others} other team"
            f"{'s' if n_others != 1 else ''} (scaled to the team's baseline level)"
        )
    else:  # nobody to compare with: the team's own baseline level
        exp_b = np.full(len(own_b), own_b.mean())
        exp_a = np.full(len(own_a), own_b.mean())
        method = "the team's own weeks (no other team with incidents in the baseline)"
    # each week's count over its expectation: busy weeks scale the noise too, so a ratio keeps
    # the weeks comparable where a difference would be noisier when the season is high
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_b = np.where(exp_b > 0, own_b / exp_b, np.nan)
        ratio_a = np.where(exp_a > 0, own_a / exp_a, np.nan)
    relative, low, high, p, lrr = long_run_t(ratio_b, ratio_a)
    if relative is None:
        return untested(f"fewer than {MIN_SIDE} weeks with other teams' incidents on a side")
    # where the team would be had it moved as the others did
    expected = float(exp_a.mean())
    method += f"; t-test of the weekly ratios with the long-run variance of an AR fit (×{lrr:.2f})"
    return DiffInDiff(
        **head, **means, expected_after=_num(expected),
        difference=_num(float(own_a.mean()) - expected), relative=relative, low=low, high=high,
        p_value=p, long_run_ratio=lrr, method=method,
    )  # fmt: skip
