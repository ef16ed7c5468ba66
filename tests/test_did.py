"""analytics.did: the scaled difference-in-differences of a team's weekly counts and its
autocorrelation-aware t-test, against hand computation and scipy."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analytics import did as did_mod
from analytics import narrative
from analytics import timeseries as ts
from analytics.improvements import windows
from analytics.stats import BeforeAfter, compare_rates, compare_samples


def test_long_run_t_without_autocorrelation_is_the_pooled_t_test():
    # 7 points: too few for an AR fit (order 0), so the ratio is 1 and p is Student's pooled t
    a, b = [-1, 1, -1, 1], [2, 1, 3]
    diff, low, high, p, ratio = did_mod.long_run_t(a, b)
    assert ratio == 1.0
    assert diff == 2.0
    assert p == pytest.approx(sps.ttest_ind(b, a).pvalue)
    # residual SS 6 on 5 df; SE = sqrt(1.2 * (1/4 + 1/3)) = sqrt(0.7)
    half = sps.t.ppf(0.975, 5) * math.sqrt(0.7)
    assert (low, high) == (pytest.approx(2 - half), pytest.approx(2 + half))


def test_long_run_t_inflates_the_variance_of_autocorrelated_weeks():
    # a slow wave: the residuals are strongly autocorrelated, so the same difference is less sure
    rng = np.random.default_rng(3)
    x = np.sin(np.arange(40) / 3) + 0.2 * rng.standard_normal(40)
    a, b = x[:30], x[30:] + 0.5
    diff, _low, _high, p, ratio = did_mod.long_run_t(a, b)
    resid = np.concatenate([a - a.mean(), b - b.mean()])
    assert ratio == pytest.approx(ts.long_run_ratio(resid)) and ratio > 2
    t = diff / math.sqrt(resid @ resid / 38 * ratio * (1 / 30 + 1 / 10))
    assert p == pytest.approx(2 * sps.t.sf(abs(t), 38))
    assert p > sps.ttest_ind(b, a).pvalue


def test_long_run_t_needs_two_values_a_side():
    assert did_mod.long_run_t([1.0], [2.0, 3.0]) == (None, None, None, None, None)
    # a missing week drops before the count
    assert did_mod.long_run_t([1.0, np.nan], [2.0, 3.0]) == (None, None, None, None, None)


def test_long_run_t_drops_missing_weeks_and_reads_noiseless_sides():
    got = did_mod.long_run_t([1.0, np.nan, 2.0], [2.0, 3.0])
    assert got == did_mod.long_run_t([1.0, 2.0], [2.0, 3.0])
    assert got[3] == pytest.approx(sps.ttest_ind([2, 3], [1, 2]).pvalue)
    # every week equal to its side's mean: no noise, so any difference is certain and none is 1
    assert did_mod.long_run_t([1, 1, 1], [2, 2]) == (1.0, 1.0, 1.0, 0.0, 1.0)
    assert did_mod.long_run_t([1, 1], [1, 1]) == (0.0, 0.0, 0.0, 1.0, 1.0)


def _frame(weeks: list[dt.date], **teams: list[float]) -> pd.DataFrame:
    rows = [(w, t, v) for t, values in teams.items() for w, v in zip(weeks, values, strict=True)]
    return pd.DataFrame(rows, columns=["bucket", "team", "value"])


# change on Monday 2026-03-02: 3 weeks after, a 1-week gap (02-23), 4 baseline weeks from 01-26
WIN = windows(dt.date(2026, 3, 2), 3, baseline_weeks=4, gap_weeks=1)
WEEKS = [dt.date(2026, 1, 26) + dt.timedelta(weeks=i) for i in range(8)]


def test_team_did_scales_the_other_teams_to_the_team_level():
    # baseline: A 3 a week, the others 5 -> scale 0.6. After, the others double (10): A is
    # expected at 3 + 0.6 * 5 = 6 and has 8, so +2 beyond them. Week 02-23 (the gap) is left out.
    by_team = _frame(
        WEEKS,
        A=[2, 4, 2, 4, 99, 8, 7, 9],
        B=[4, 6, 4, 6, 99, 9, 11, 10],
        C=[6, 4, 6, 4, 99, 11, 9, 10],
    )
    got = did_mod.team_did(by_team, "A", WIN, set(WEEKS))
    assert (got.weeks_before, got.weeks_after, got.other_teams) == (4, 3, 2)
    assert (got.team_before, got.team_after) == (3.0, 8.0)
    assert (got.others_before, got.others_after) == (5.0, 10.0)
    assert got.expected_after == pytest.approx(6.0)
    assert got.difference == pytest.approx(2.0)
    # weekly ratios A / (0.6 * mean(B, C)): baseline 2/3, 4/3, 2/3, 4/3; after 8/6, 7/6, 9/6, so
    # the relative change is 8/6 - 1; 7 weeks: no AR fit, the pooled t-test of the ratios
    # (residual SS 4/9 + 1/18 = 1/2 on 5 df)
    assert got.relative == pytest.approx(1 / 3)
    after, base = np.array([8, 7, 9]) / 6, np.array([2, 4, 2, 4]) / 3
    assert got.p_value == pytest.approx(sps.ttest_ind(after, base).pvalue)
    half = sps.t.ppf(0.975, 5) * math.sqrt(0.1 * (1 / 4 + 1 / 3))
    assert (got.low, got.high) == (pytest.approx(1 / 3 - half), pytest.approx(1 / 3 + half))
    assert got.long_run_ratio == 1.0
    assert got.method.startswith("difference-in-differences against 2 other teams")


def test_team_did_counts_only_whole_weeks_inside_the_data_and_compares_alone():
    by_team = _frame(WEEKS, A=[1, 2, 3, 4, 0, 6, 7, 8])
    got = did_mod.team_did(by_team, "A", WIN, set(WEEKS[1:]))  # the first week is cut
    assert (got.weeks_before, got.other_teams) == (3, 0)
    assert got.expected_after == got.team_before == 3.0
    assert got.p_value == pytest.approx(sps.ttest_ind([6, 7, 8], [2, 3, 4]).pvalue)
    assert got.method.startswith("the team's own weeks")
    short = did_mod.team_did(by_team, "A", WIN, set(WEEKS[:6]))
    assert short.weeks_after == 1 and short.p_value is None
    assert short.reason == "fewer than 2 whole weeks of data after the change"
    later = [*WEEKS, dt.date(2026, 3, 23)]  # a week past the after window does not count
    longer = did_mod.team_did(_frame(later, A=[1, 2, 3, 4, 0, 6, 7, 8, 50]), "A", WIN, set(later))
    assert (longer.weeks_before, longer.weeks_after, longer.team_after) == (4, 3, 7.0)
    quiet = did_mod.team_did(_frame(WEEKS, A=[0, 0, 0, 0, 0, 6, 7, 8]), "A", WIN, set(WEEKS))
    assert quiet.p_value is None
    assert quiet.reason == "the team had no incidents in the baseline to compare with"


def test_team_did_when_the_other_teams_weeks_cannot_serve():
    # the other team had no incidents in the baseline: nothing to scale, the team's own level
    quiet_others = _frame(WEEKS, A=[2, 4, 2, 4, 0, 5, 6, 7], B=[0, 0, 0, 0, 0, 3, 3, 3])
    got = did_mod.team_did(quiet_others, "A", WIN, set(WEEKS))
    assert (got.other_teams, got.others_before, got.expected_after) == (1, 0.0, 3.0)
    assert got.relative == pytest.approx(1.0)  # ratios to 3: after 5/3, 2, 7/3
    after, base = np.array([5, 6, 7]) / 3, np.array([2, 4, 2, 4]) / 3
    assert got.p_value == pytest.approx(sps.ttest_ind(after, base).pvalue)
    assert got.method.startswith("the team's own weeks (no other team with incidents")
    # the other team had incidents in one week after only: one ratio on that side, no test
    gone = _frame(WEEKS, A=[2, 4, 2, 4, 0, 5, 6, 7], B=[5, 5, 5, 5, 0, 0, 0, 5])
    got = did_mod.team_did(gone, "A", WIN, set(WEEKS))
    assert got.reason == "fewer than 2 weeks with other teams' incidents on a side"
    assert (got.team_before, got.team_after, got.others_before) == (3.0, 6.0, 5.0)
    assert got.others_after == pytest.approx(5 / 3)
    assert got.p_value is got.relative is got.expected_after is got.method is None


def _ba(did) -> BeforeAfter:
    from analytics.insights import CadenceBeforeAfter

    return CadenceBeforeAfter(
        "Search", dt.date(2026, 3, 2), 28.0, 14.0, 8, compare_samples([1, 2], [3, 4]),
        compare_rates(1, 10, 2, 10), did=did,
    )  # fmt: skip


def test_sentence_says_the_verdict_first_in_association_words():
    by_team = _frame(
        WEEKS,
        A=[2, 4, 2, 4, 99, 10, 9, 11],
        B=[4, 6, 4, 6, 99, 9, 11, 10],
        C=[6, 4, 6, 4, 99, 11, 9, 10],
    )
    got = did_mod.team_did(by_team, "A", WIN, set(WEEKS))
    p = sps.ttest_ind(np.array([10, 9, 11]) / 6, np.array([2, 4, 2, 4]) / 3).pvalue
    assert p < 0.05
    low, high = got.low, got.high
    sentence = narrative.before_after_sentence(_ba(got))
    assert sentence == (
        "Weekly incidents rose after team Search moved from 28-day to 14-day sprints on "
        "2026-03-02: 10 a week in the 3 weeks after, against 6 expected from the other teams' "
        f"weeks (+4.0 a week; relative change +67 %, 95 % interval {100 * low:+.0f} % to "
        f"{100 * high:+.0f} %, p = {p:.2g}) — only 3 weeks after the change, treat with caution."
    )
    assert "caus" not in sentence
    flat = _frame(WEEKS, A=[2, 4, 2, 4, 0, 3, 4, 2], B=[5, 5, 5, 5, 0, 5, 5, 5])
    calm = did_mod.team_did(flat, "A", WIN, set(WEEKS))
    assert narrative.before_after_sentence(_ba(calm)).startswith(
        "No clear change in weekly incidents after team Search moved from 28-day to 14-day "
        "sprints on 2026-03-02: 3 a week in the 3 weeks after, against 3 expected"
    )
    how = narrative.before_after_how(_ba(got))
    assert how[0].startswith("Incidents around Search's sprint-length change: a baseline of 4")
    assert "difference-in-differences (Card & Krueger 1994)" in how[1]


def test_sentence_without_a_comparison():
    by_team = _frame(WEEKS, A=[1, 2, 3, 4, 0, 6, 7, 8])
    short = did_mod.team_did(by_team, "A", WIN, set(WEEKS[:6]))
    assert narrative.before_after_sentence(_ba(short)) == (
        "No comparison is possible after team Search moved from 28-day to 14-day sprints on "
        "2026-03-02: fewer than 2 whole weeks of data after the change."
    )
    assert narrative.before_after_how(_ba(short)) == []
