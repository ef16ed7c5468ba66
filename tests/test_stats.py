"""The pure statistics, checked against scipy or by hand on tiny series (arithmetic in comments)."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analytics import narrative, stats
from analytics import timeseries as ts


def _frame(rows):
    """Deployments frame from (approval, risk, lead_time_hours, failed) tuples."""
    return pd.DataFrame(rows, columns=["approval", "risk", "lead_time_hours", "failed"])


# --- weekly counts ------------------------------------------------------------------------------


def test_weekly_counts_zero_fills_every_overlapping_week_and_ignores_events_outside():
    # window Sun 2026-11-01 .. Wed 2026-11-18 overlaps the weeks of Oct 26, Nov 2, 9, 16
    ts = ["2026-10-31 23:00", "2026-11-02 10:00", "2026-11-03", "2026-11-18 23:59", "2026-11-19"]
    out = stats.weekly_counts(ts, dt.date(2026, 11, 1), dt.date(2026, 11, 18))
    assert out["week"].tolist() == [
        dt.date(2026, 10, 26),
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 9),
        dt.date(2026, 11, 16),
    ]
    # Oct 31 and Nov 19 are outside the window
    assert out["count"].tolist() == [0, 2, 0, 1]


def test_weekly_counts_without_events():
    out = stats.weekly_counts([], dt.date(2026, 11, 2), dt.date(2026, 11, 8))
    assert out["count"].tolist() == [0]


# --- Spearman -----------------------------------------------------------------------------------


def test_spearman_matches_scipy_beyond_the_exact_range():
    x = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]
    y = [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5]
    expected = sps.spearmanr(x, y)
    got = stats.spearman(x, y)
    assert got.n == 12
    assert got.spearman_r == pytest.approx(expected.statistic)
    assert got.p_value == pytest.approx(expected.pvalue)


def test_spearman_p_is_exact_for_few_points():
    # 3 points in reverse order: of the 3! = 6 pairings, 2 reach |r| = 1 -> p = 2/6
    got = stats.spearman([1, 2, 3], [30, 20, 10])
    assert got.spearman_r == pytest.approx(-1.0)
    assert got.p_value == pytest.approx(1 / 3)
    # 4 points in order: 2 of 4! = 24 pairings reach |r| = 1 -> p = 1/12
    assert stats.spearman([1, 2, 3, 4], [1, 2, 3, 4]).p_value == pytest.approx(1 / 12)


def test_spearman_exact_p_agrees_with_scipy_permutation_test():
    x = np.array([1.0, 2, 3, 4, 5, 6])
    y = np.array([2.0, 1, 4, 3, 6, 5])
    ref = sps.permutation_test(
        (y,),
        lambda v: sps.spearmanr(x, v).statistic,
        permutation_type="pairings",
        n_resamples=np.inf,
    )
    assert stats.spearman(x, y).p_value == pytest.approx(ref.pvalue)


def test_spearman_undefined_cases_give_none_with_a_reason():
    constant = stats.spearman([1, 2, 3, 4], [5, 5, 5, 5])
    assert (constant.spearman_r, constant.p_value) == (None, None)
    assert "constant" in constant.reason
    short = stats.spearman([1, 2], [2, 1])
    assert short.spearman_r is None and "fewer than 3" in short.reason
    assert stats.spearman([], []).n == 0


def test_lagged_spearman_pairs_week_t_with_week_t_plus_k():
    deploys = [5, 3, 8, 1, 9, 2, 7, 4, 6, 0, 3, 5]
    incidents = [1, 4, 2, 6, 3, 8, 1, 7, 2, 5, 9, 0]
    rows = stats.lagged_spearman(deploys, incidents, max_lag=3, prewhiten=False)
    assert [r["lag_weeks"] for r in rows] == [0, 1, 2, 3]
    for row in rows:
        k = row["lag_weeks"]
        ref = sps.spearmanr(deploys[: 12 - k], incidents[k:])
        assert row["n"] == 12 - k
        assert row["spearman_r"] == pytest.approx(ref.statistic)
        assert row["p_value"] == pytest.approx(ref.pvalue)
        assert row["reason"] is None
        assert row["method"] == "Spearman"
    # q-values: Benjamini-Hochberg across the four lags, as scipy computes them
    ref_q = sps.false_discovery_control([r["p_value"] for r in rows])
    assert [r["q_value"] for r in rows] == pytest.approx(list(ref_q))


def test_lagged_spearman_runs_out_of_weeks_without_errors():
    rows = stats.lagged_spearman([1, 2, 3, 4], [4, 3, 2, 1], max_lag=8)
    assert [r["n"] for r in rows] == [4, 3, 2, 1, 0, 0, 0, 0, 0]
    assert rows[1]["spearman_r"] == pytest.approx(-1.0)
    assert all(r["spearman_r"] is None and r["reason"] for r in rows[2:])
    json.dumps(rows, allow_nan=False)


def test_lagged_spearman_of_a_constant_series():
    rows = stats.lagged_spearman([2, 2, 2, 2, 2], [1, 3, 2, 5, 4], max_lag=1)
    assert all(r["spearman_r"] is None and "constant" in r["reason"] for r in rows)


# --- proportions --------------------------------------------------------------------------------


@pytest.mark.parametrize(("failed", "total"), [(0, 10), (3, 10), (10, 10), (1, 1), (12, 97)])
def test_wilson_interval_matches_scipy(failed, total):
    ref = sps.binomtest(failed, total).proportion_ci(0.95, method="wilson")
    low, high = stats.wilson_interval(failed, total)
    assert low == pytest.approx(ref.low, abs=1e-12)
    assert high == pytest.approx(ref.high, abs=1e-12)


def test_wilson_interval_by_hand_and_without_data():
    # 0 of 4, z = 1.96: centre = (z^2/8) / (1 + z^2/4) = 0.4802/1.9604 = 0.245, same half-width
    low, high = stats.wilson_interval(0, 4)
    assert low == pytest.approx(0.0, abs=1e-12)
    assert high == pytest.approx(2 * 0.480200 / 1.960400, rel=1e-3)
    assert stats.wilson_interval(0, 0) is None


def test_compare_rates_uses_fisher_exact():
    got = stats.compare_rates(4, 10, 1, 12)
    ref = sps.fisher_exact([[4, 6], [1, 11]])
    assert got.fisher_p == pytest.approx(ref.pvalue)
    assert got.odds_ratio == pytest.approx(ref.statistic)
    assert (got.a_rate, got.b_rate) == (pytest.approx(0.4), pytest.approx(1 / 12))


def test_compare_rates_with_an_empty_group():
    got = stats.compare_rates(1, 5, 0, 0)
    assert got.fisher_p is None and got.b_rate is None and got.b_ci95 is None
    assert got.reason == "one group has no deployments"


# --- two samples --------------------------------------------------------------------------------


def test_compare_samples_matches_mann_whitney():
    a = [12.0, 30.5, 7.0, 18.0, 44.0, 25.0]
    b = [3.0, 9.5, 11.0, 2.0, 6.0]
    ref = sps.mannwhitneyu(b, a, alternative="two-sided")
    got = stats.compare_samples(a, b)
    assert got.p_value == pytest.approx(ref.pvalue)
    assert got.u_statistic == pytest.approx(ref.statistic)
    # b beats a in 2 of 30 pairs (9.5 > 7, 11 > 7): U_b = 2, r = 2*2/30 - 1
    assert got.rank_biserial == pytest.approx(2 * 2 / 30 - 1)
    assert (got.a_median, got.b_median) == (21.5, 6.0)


def test_compare_samples_edge_cases():
    # fully separated: every b above every a -> U_b = 9, r = +1, exact p = 2 / C(6,3) = 0.1
    sep = stats.compare_samples([1, 2, 3], [4, 5, 6])
    assert sep.rank_biserial == 1.0
    assert sep.p_value == pytest.approx(0.1)
    same = stats.compare_samples([2, 2], [2, 2, 2])
    assert (same.p_value, same.rank_biserial) == (1.0, 0.0)
    empty = stats.compare_samples([], [1.0])
    assert empty.p_value is None and empty.reason == "a group is empty"
    assert empty.b_median == 1.0


def test_cab_vs_delegated_leaves_emergency_changes_out():
    frame = _frame(
        [
            ("cab", "low", 48.0, True),
            ("cab", "high", 72.0, False),
            ("pre-approved", "low", 1.0, False),
            ("product-owner", "low", 2.0, False),
            ("product-owner", "medium", 3.0, False),
            ("ecab", "high", 0.5, True),
        ]
    )
    got = stats.cab_vs_delegated(frame)
    # cab 1/2 failed, delegated 0/3: the one failure lands in cab with probability 2/5 = 0.4,
    # in delegated with 0.6; two-sided Fisher sums tables no likelier than observed -> p = 0.4
    assert (got.failure.a_total, got.failure.a_failed) == (2, 1)
    assert (got.failure.b_total, got.failure.b_failed) == (3, 0)
    assert got.failure.fisher_p == pytest.approx(0.4)
    # lead times: cab median (48 + 72) / 2 = 60, delegated 2; delegated never longer -> r = -1
    assert got.lead_time_hours.a_median == 60.0
    assert got.lead_time_hours.b_median == 2.0
    assert got.lead_time_hours.rank_biserial == -1.0
    # exact Mann-Whitney: 2 extreme arrangements of C(5,2) = 10 -> p = 0.2
    assert got.lead_time_hours.p_value == pytest.approx(0.2)


def test_cab_vs_delegated_without_cab_changes():
    got = stats.cab_vs_delegated(_frame([("pre-approved", "low", 1.0, False)]))
    assert got.failure.fisher_p is None and got.lead_time_hours.p_value is None
    assert narrative.cab_sentence(got) == (
        "No comparison of approval routes: there are no CAB-approved deployments."
    )
    json.dumps(got.to_dict(), allow_nan=False)


# --- trend and change point ---------------------------------------------------------------------


def test_theil_sen_matches_scipy():
    y = [4, 6, 5, 9, 8, 12, 11, 10, 15]
    ref = sps.theilslopes(y, np.arange(len(y)), alpha=0.95)
    got = stats.theil_sen(y)
    assert got.slope == pytest.approx(ref.slope)
    assert got.intercept == pytest.approx(ref.intercept)
    assert got.n == 9
    # the interval is Sen's, from the Mann-Kendall variance inflated by the Hamed-Rao factor:
    # rank bounds (N -/+ z sigma) / 2 of the 36 sorted slopes with sigma^2 = 92 * factor
    factor = ts.hamed_rao_factor(np.array(y) - ref.slope * np.arange(9))
    assert factor >= 1
    sigma = math.sqrt(92 * factor)  # 9 * 8 * 23 / 18 = 92, no ties
    slopes = np.sort([(y[j] - y[i]) / (j - i) for i in range(9) for j in range(i + 1, 9)])
    hi = min(round((36 + 1.959964 * sigma) / 2), 35)
    lo = max(round((36 - 1.959964 * sigma) / 2) - 1, 0)
    assert (got.low, got.high) == (pytest.approx(slopes[lo]), pytest.approx(slopes[hi]))
    # never narrower than the i.i.d. interval
    assert got.low <= ref.low_slope and got.high >= ref.high_slope
    # Mann-Kendall: S = 26 (31 rising pairs; falling: 6>5, 9>8, 12>11, 12>10, 11>10),
    # z = (S - 1) / sigma with the continuity correction
    assert ts.mann_kendall(y).s == 26
    assert got.p_value == pytest.approx(2 * sps.norm.sf(25 / sigma))
    assert "Hamed–Rao" in got.method


def test_theil_sen_by_hand_and_edge_cases():
    # 0, 2, 4: every pairwise slope is 2
    assert stats.theil_sen([0, 2, 4]).slope == 2.0
    assert stats.theil_sen([3, 3, 3, 3]).slope == 0.0
    short = stats.theil_sen([1, 2])
    assert short.slope is None and "fewer than 3" in short.reason


def test_change_point_finds_a_step():
    got = stats.change_point([1, 1, 1, 1, 5, 5, 5, 5])
    assert got.index == 4
    assert (got.mean_before, got.mean_after) == (1.0, 5.0)
    # blocks of 2 (8^(1/3), no autocorrelation left around the split): 4 blocks, all 4! = 24
    # orderings; the 8 that keep both 1-blocks on one side split as cleanly -> p = 8/24
    assert got.block_length == 2 and got.permutations == 24
    assert got.p_value == pytest.approx(1 / 3)
    # a longer step: 12 then 12 points, blocks of 3 -> 8 blocks, random orderings
    long = stats.change_point([1.0] * 12 + [5.0] * 12)
    assert long.index == 12 and long.block_length == 3
    # (1 + hits) / (1 + 999): the clean split recurs only when 4 low blocks lead or trail
    # (2 * 4! * 4! / 8! = 1/35 of orderings)
    assert long.p_value < 0.06
    assert long.p_value == stats.change_point([1.0] * 12 + [5.0] * 12).p_value  # fixed seed


def test_change_point_split_gain_by_hand():
    # y = 0, 0, 6: split after 2 -> 2*1/3 * (0 - 6)^2 = 24; split after 1 -> 1*2/3 * 9 = 6
    gains = stats._split_gain(np.array([[0.0, 0.0, 6.0]]), min_size=1)
    assert gains[0].tolist() == pytest.approx([6.0, 24.0])


def test_change_point_on_noise_is_not_significant():
    got = stats.change_point([2, 3, 2, 3, 2, 3, 2, 3, 2, 3])
    assert got.p_value > 0.5


def test_change_point_edge_cases():
    constant = stats.change_point([4, 4, 4, 4, 4])
    assert constant.index is None and "constant" in constant.reason
    short = stats.change_point([1, 9, 1])
    assert short.index is None and "fewer than 4" in short.reason
    json.dumps(short.to_dict(), allow_nan=False)


def test_block_orders_move_whole_blocks():
    rng = np.random.default_rng(0)
    orders = ts.block_orders(7, 3, 5, rng)
    # blocks [0 1 2] [3 4 5] [6]: 3! = 6 orderings > 5 asked -> 5 random ones
    for row in orders:
        assert sorted(row) == list(range(7))
        runs = [list(row[i : i + 3]) for i in range(7)]
        assert [0, 1, 2] in runs and [3, 4, 5] in runs
    every = ts.block_orders(7, 3, 6, rng)  # 6 allowed: all orderings, the original first
    assert every[0].tolist() == list(range(7)) and len({tuple(r) for r in every}) == 6


def test_weekly_change_point_names_the_first_shifted_week():
    weeks = [dt.date(2026, 1, 5) + dt.timedelta(weeks=i) for i in range(6)]
    got = stats.weekly_change_point(weeks, [0, 0, 0, 7, 7, 7])
    assert got.week == dt.date(2026, 1, 26)


# --- sprint cadence -----------------------------------------------------------------------------


def _sprints(team, lengths, start=dt.date(2026, 1, 5)):
    rows, day = [], start
    for i, length in enumerate(lengths):
        rows.append((team, f"{team}-{i}", day, float(length)))
        day += dt.timedelta(days=length)
    return pd.DataFrame(rows, columns=["team", "sprint_id", "start_date", "length_days"])


def test_sprint_length_changes_needs_a_lasting_change():
    sprints = pd.concat(
        [
            _sprints("alpha", [14, 14, 15, 7, 7, 7]),  # 15 is within a day: no change; 7 lasts
            _sprints("beta", [14, 14, 21, 14, 14]),  # a one-off long sprint is not a change
            _sprints("gamma", [14, 14, 7]),  # the new length never repeats
        ]
    )
    got = stats.sprint_length_changes(sprints)
    assert got.to_dict("records") == [
        {
            "team": "alpha",
            "sprint_id": "alpha-3",
            # 14 + 14 + 15 days after 2026-01-05
            "change_date": dt.date(2026, 2, 17),
            "length_before_days": 14.0,
            "length_after_days": 7.0,
        }
    ]


def test_sprint_length_changes_without_sprints():
    empty = _sprints("alpha", [])
    assert stats.sprint_length_changes(empty).empty


# --- frontier -----------------------------------------------------------------------------------


def test_pareto_frontier():
    teams = pd.DataFrame(
        {
            "team": ["a", "b", "c", "d", "e"],
            "deployments_per_week": [8.0, 5.0, 4.0, 2.0, np.nan],
            "change_failure_rate": [0.20, 0.05, 0.10, 0.05, 0.0],
        }
    )
    # a: fastest; b: as stable as d but faster; c: b is faster and more stable; d: b dominates
    mask = stats.pareto_frontier(teams, "deployments_per_week", "change_failure_rate")
    assert mask.tolist() == [True, True, False, False, False]
    rows = stats.frontier_rows(teams, "deployments_per_week", "change_failure_rate")
    assert rows["team"].tolist() == ["b", "a"]


def test_pareto_frontier_keeps_ties():
    teams = pd.DataFrame({"speed": [3.0, 3.0], "ttr": [2.0, 2.0]})
    assert stats.pareto_frontier(teams, "speed", "ttr").tolist() == [True, True]


# --- what-if ------------------------------------------------------------------------------------


def _what_if_frame():
    # 4 CAB low-risk changes waiting 100 h, all failed; 4 delegated waiting 10 h, none failed
    return _frame([("cab", "low", 100.0, True)] * 4 + [("product-owner", "low", 10.0, False)] * 4)


def test_what_if_moving_everything_takes_the_delegated_lead_time():
    got = stats.what_if_delegation(_what_if_frame(), 1.0, bootstraps=200)
    assert (got.candidates, got.moved, got.deployments) == (4, 4, 8)
    # baseline: median of four 100s and four 10s = 55; afterwards every lead time is 10
    assert got.baseline_lead_time_hours_median == 55.0
    assert got.projected_lead_time_hours_median == 10.0
    assert got.projected_lead_time_ci95 == (10.0, 10.0)
    # moved changes keep their own outcome: the failure rate stays at 4/8 on average
    assert got.baseline_change_failure_rate == 0.5
    assert got.projected_change_failure_rate == pytest.approx(0.5, abs=0.13)
    assert any("own outcome" in a for a in got.assumptions)


def test_what_if_with_the_delegated_failure_rate():
    got = stats.what_if_delegation(_what_if_frame(), 1.0, "delegated", bootstraps=200)
    # delegated changes never fail, so moved changes never fail: 0 of 8
    assert got.projected_change_failure_rate == 0.0
    assert got.projected_change_failure_rate_ci95 == (0.0, 0.0)
    assert got == stats.what_if_delegation(_what_if_frame(), 1.0, "delegated", bootstraps=200)


def test_what_if_edge_cases():
    none_moved = stats.what_if_delegation(_what_if_frame(), 0.0)
    assert none_moved.projected_lead_time_hours_median == 55.0 and none_moved.moved == 0
    no_cab = stats.what_if_delegation(_frame([("pre-approved", "low", 3.0, False)]), 0.5)
    assert no_cab.reason == "no CAB-approved low/medium-risk changes"
    assert no_cab.projected_change_failure_rate == 0.0
    empty = stats.what_if_delegation(_frame([]), 0.5)
    assert empty.reason == "no deployments" and empty.projected_lead_time_hours_median is None
    only_cab = stats.what_if_delegation(_frame([("cab", "low", 3.0, False)]), 1.0)
    assert only_cab.reason == "no delegated deployments to learn from"
    for result in (none_moved, no_cab, empty, only_cab):
        json.dumps(result.to_dict(), allow_nan=False)
        assert narrative.what_if_sentence(result).endswith(".")
    with pytest.raises(ValueError):
        stats.what_if_delegation(_what_if_frame(), 1.5)


def test_json_safe_turns_nan_into_none():
    out = stats.json_safe({"a": float("nan"), "b": np.float64(2.5), "c": [np.int64(3), math.inf]})
    assert out == {"a": None, "b": 2.5, "c": [3, None]}


# --- sentences ----------------------------------------------------------------------------------


def test_correlation_sentences():
    row = {"lag_weeks": 1, "n": 13, "spearman_r": 0.12, "p_value": 0.69, "reason": None}
    assert narrative.correlation_sentence(row) == (
        "No significant link between releases and incidents one week later "
        "(Spearman ρ = 0.12, p = 0.69, 13 weeks)."
    )
    small = {"lag_weeks": 0, "n": 6, "spearman_r": -0.9, "p_value": 0.01, "reason": None}
    assert narrative.correlation_sentence(small) == (
        "Weeks with more releases see fewer incidents in the same week "
        "(Spearman ρ = -0.90, p = 0.01, 6 weeks) — only 6 weeks of data, treat with caution."
    )


def test_lagged_correlation_sentence_corrects_for_the_lags_tested():
    rows = [
        {"lag_weeks": k, "n": 20 - k, "spearman_r": 0.1, "p_value": 0.5, "reason": None}
        for k in range(9)
    ]
    rows[2] = {"lag_weeks": 2, "n": 18, "spearman_r": 0.5, "p_value": 0.03, "reason": None}
    # 0.03 < 0.05, but its Benjamini-Hochberg q over 9 lags is 0.03 * 9 / 1 = 0.27
    assert narrative.lagged_correlation_sentence(rows) == (
        "Releases and incidents did not move together at any lag from 0 to 8 weeks beyond what "
        "chance and the weeks' own rhythm explain."
    )
    how = narrative.lagged_correlation_how(rows)
    assert "Spearman ρ = 0.50, p = 0.03, q = 0.27 (18 weeks)" in how[1]
    rows[2]["p_value"] = 0.001  # q = 0.009 < 0.05
    assert narrative.lagged_correlation_sentence(rows) == (
        "Weeks with more releases went with more incidents 2 weeks later."
    )
    constant = stats.lagged_spearman([1, 1, 1, 1], [1, 2, 3, 4], max_lag=2)
    assert narrative.lagged_correlation_sentence(constant) == (
        "No link between releases and incidents can be computed: one series is constant: "
        "correlation undefined."
    )


def test_cab_and_interval_sentences():
    failure = stats.compare_rates(12, 100, 11, 100)
    lead = stats.SampleComparison(100, 100, 120.0, 19.2, 130.0, 25.0, 1000.0, 0.001, -0.8)
    text = narrative.cab_sentence(stats.CabVsDelegated(failure, lead))
    # no strata: one stratum, the crude table; 12/100 - 11/100 = +1 point, but Newcombe's interval
    # (about -8 to +10 points) is far wider than +-3 points: neither "more" nor "about as often"
    assert text.startswith(
        "This data cannot tell whether CAB-approved changes fail more or less often than "
        "delegated ones (overall 12 % vs 11 % of deployments)"
    )
    assert "CAB-approved changes had longer lead times" in text  # crude Mann-Whitney p = 0.001
    assert narrative.cfr_interval_sentence(None, None, 0) == (
        "No deployments in this window, so no change failure rate."
    )
    assert narrative.cfr_interval_sentence(0.25, (0.1, 0.5), 8).endswith(
        "(95 % CI 10 % to 50 %, 8 deployments) — only 8 deployments, treat with caution."
    )


def test_trend_and_change_point_sentences():
    rising = stats.Trend(20, 0.5, 1.0, 0.2, 0.9, None, 0.01, "Theil–Sen")
    assert narrative.trend_sentence(rising) == "Weekly incidents are rising by 0.5 per week."
    assert narrative.trend_how(rising)[0] == (
        "Theil–Sen slope 0.5 per week (95 % CI 0.2 to 0.9), Mann–Kendall p = 0.01, 20 whole weeks."
    )
    # the interval excludes 0 but p = 0.06: no claim
    unsure = stats.Trend(20, 0.5, 1.0, 0.2, 0.9, None, 0.06, "Theil–Sen")
    assert narrative.trend_sentence(unsure) == "No clear trend in weekly incidents."
    flat = stats.Trend(20, 0.1, 1.0, -0.2, 0.4)
    assert narrative.trend_sentence(flat).startswith("No clear trend in weekly incidents")
    weeks = [dt.date(2026, 1, 5) + dt.timedelta(weeks=i) for i in range(8)]
    cp = stats.ChangePoint(8, 4, 1.0, 5.0, 0.01, 999, None, 2, "block permutation")
    assert narrative.change_point_sentence(cp, weeks) == (
        "Weekly incidents shifted from 1 to 5 a week from the week of 2026-02-02 — only 8 weeks "
        "of data, treat with caution."
    )
    assert "p = 0.01 by block permutation" in narrative.change_point_how(cp, weeks)[0]
    small = stats.change_point([1, 1, 1, 1, 5, 5, 5, 5])  # p = 1/3
    assert narrative.change_point_sentence(small, weeks).startswith(
        "No significant shift in weekly incidents"
    )


# --- properties ---------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_holds_the_observed_rate(case):
    failed, total = case
    low, high = stats.wilson_interval(failed, total)
    assert 0 <= low <= failed / total <= high <= 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=12))
def test_pareto_frontier_is_non_empty_and_undominated(points):
    df = pd.DataFrame(points, columns=["speed", "cfr"]).astype(float)
    mask = stats.pareto_frontier(df, "speed", "cfr")
    assert mask.any()
    for i in df.index[mask]:
        s, c = df.loc[i, "speed"], df.loc[i, "cfr"]
        beaten = (df["speed"] >= s) & (df["cfr"] <= c) & ((df["speed"] > s) | (df["cfr"] < c))
        assert not beaten.any()


def test_counts_read_as_english():
    # the caveats print counts of one in the singular: "only 1 team", not "only 1 teams"
    assert narrative.count(1, "whole weeks") == "1 whole week"
    assert narrative.count(1, "weeks of data") == "1 week of data"
    assert narrative.count(3, "teams") == "3 teams"
    assert narrative.count(1200, "deployments") == "1,200 deployments"
    assert narrative.caution(1, "teams", 5) == " — only 1 team, treat with caution"
    assert narrative.caution(5, "teams", 5) == ""


def test_fast_median_matches_numpy():
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 10, 11, 1000, 1001):
        values = rng.exponential(20.0, n)
        assert stats._fast_median(values) == pytest.approx(float(np.median(values)))
    assert np.isnan(stats._fast_median(np.array([])))


def test_bootstrap_runs_shrink_on_large_windows_but_not_below_200():
    # 10,000,000 resampled values per what-if: 1,000 runs up to 10,000 deployments
    assert stats.bootstrap_runs(0) == 1000
    assert stats.bootstrap_runs(10_000) == 1000
    assert stats.bootstrap_runs(20_000) == 500
    assert stats.bootstrap_runs(1_000_000) == 200
    # the demo-sized default: every run on a small frame uses the full 1,000
    assert stats.what_if_delegation(_what_if_frame(), 0.5).bootstraps == 1000
