"""Stratified comparisons (Mantel-Haenszel, Cochran-Mantel-Haenszel, Newcombe, van Elteren)
against hand computation, scipy and the published examples; the CAB verdict on a Simpson's-
paradox data set; the Change control page's verdict; the what-if's per-team lead times."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from streamlit.testing.v1 import AppTest

from analytics import insights, narrative, stats
from analytics.stratified import (
    mantel_haenszel,
    newcombe_interval,
    sorted_codes,
    van_elteren,
    wilson_bounds,
)

# --- Newcombe's hybrid score interval ------------------------------------------------------------

# Newcombe (1998), Stat Med 17:873-890, Table II, method 10, examples (a) to (h)
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE_TABLE_II)
def test_newcombe_interval_matches_the_published_table(counts, published):
    got = newcombe_interval(*counts)
    assert got.difference == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert (got.low, got.high) == (
        pytest.approx(published[0], abs=5e-5),
        pytest.approx(published[1], abs=5e-5),
    )


def test_wilson_bounds_match_scipy():
    ref = sps.binomtest(56, 70).proportion_ci(0.95, method="wilson")
    assert wilson_bounds(56 / 70, 70) == (pytest.approx(ref.low), pytest.approx(ref.high))


def test_newcombe_without_a_group():
    assert newcombe_interval(0, 0, 3, 10).difference is None


# --- Mantel-Haenszel and Cochran-Mantel-Haenszel ------------------------------------------------


def test_one_stratum_reduces_to_the_crude_table():
    table = [[56, 14], [48, 32]]
    got = mantel_haenszel([table])
    # odds ratio a d / (b c); the RBG variance of one table is Woolf's 1/a + 1/b + 1/c + 1/d
    assert got.odds_ratio == pytest.approx(56 * 32 / (14 * 48))
    half = 1.959964 * math.sqrt(1 / 56 + 1 / 14 + 1 / 48 + 1 / 32)
    assert got.low == pytest.approx(got.odds_ratio * math.exp(-half), rel=1e-6)
    assert got.high == pytest.approx(got.odds_ratio * math.exp(half), rel=1e-6)
    # the CMH statistic of one table is (n - 1) / n times Yates' continuity-corrected chi-square
    yates = sps.chi2_contingency(table, correction=True).statistic
    assert got.statistic == pytest.approx(149 / 150 * yates)
    assert got.p_value == pytest.approx(sps.chi2.sf(149 / 150 * yates, 1))
    # and the risk difference is Newcombe's 56/70 - 48/80 with its method-10 interval
    assert (got.risk_difference, got.rd_low, got.rd_high) == (
        pytest.approx(0.2),
        pytest.approx(0.0524, abs=5e-5),
        pytest.approx(0.3339, abs=5e-5),
    )


def test_two_strata_by_hand():
    # stratum 1: a=10 b=20 c=5 d=25 (n 60); stratum 2: a=3 b=7 c=6 d=24 (n 40)
    got = mantel_haenszel([[[10, 20], [5, 25]], [[3, 7], [6, 24]]])
    # R = 10*25/60 + 3*24/40 = 4.1667 + 1.8; S = 20*5/60 + 7*6/40 = 1.6667 + 1.05
    r1, r2, s1, s2 = 250 / 60, 72 / 40, 100 / 60, 42 / 40
    big_r, big_s = r1 + r2, s1 + s2
    assert got.odds_ratio == pytest.approx(big_r / big_s)  # 2.1963
    assert got.odds_ratio == pytest.approx(2.19632, abs=1e-5)
    # RBG: P = (a+d)/n = 35/60, 27/40; Q = (b+c)/n = 25/60, 13/40
    p1, p2, q1, q2 = 35 / 60, 27 / 40, 25 / 60, 13 / 40
    var = (
        (p1 * r1 + p2 * r2) / (2 * big_r**2)
        + (p1 * s1 + q1 * r1 + p2 * s2 + q2 * r2) / (2 * big_r * big_s)
        + (q1 * s1 + q2 * s2) / (2 * big_s**2)
    )
    assert got.low == pytest.approx(big_r / big_s * math.exp(-1.959964 * math.sqrt(var)))
    # CMH: E a = 30*15/60 = 7.5 and 10*9/40 = 2.25, so sum(a - E a) = 2.5 + 0.75 = 3.25;
    # Var a = 30*30*15*45 / (60^2 * 59) + 10*30*9*31 / (40^2 * 39) = 2.86017 + 1.34135
    variance = 30 * 30 * 15 * 45 / (3600 * 59) + 10 * 30 * 9 * 31 / (1600 * 39)
    assert got.statistic == pytest.approx((3.25 - 0.5) ** 2 / variance)  # 1.79994
    assert got.statistic == pytest.approx(1.79994, abs=1e-5)
    assert got.strata == 2


def test_uninformative_strata_contribute_nothing():
    base = [[[10, 20], [5, 25]], [[3, 7], [6, 24]]]
    # one group only, and no failures at all: neither changes the odds ratio nor the test
    padded = [*base, [[4, 6], [0, 0]], [[0, 9], [0, 11]]]
    a, b = mantel_haenszel(base), mantel_haenszel(padded)
    assert (b.odds_ratio, b.low, b.high, b.statistic) == (
        pytest.approx(a.odds_ratio), pytest.approx(a.low), pytest.approx(a.high),
        pytest.approx(a.statistic),
    )  # fmt: skip
    assert b.strata == 2
    # the risk difference keeps the stratum with both groups and no failures (difference 0)
    assert b.rd_strata == 3


def test_equal_odds_ratios_pool_to_that_odds_ratio():
    got = mantel_haenszel([[[2, 1], [1, 2]], [[4, 2], [2, 4]]])
    assert got.odds_ratio == pytest.approx(4.0)


def test_small_deviation_is_not_overcorrected():
    # sum(a - E a) = 0: the corrected statistic is 0 (p = 1), not (0 - 0.5)^2 / Var
    got = mantel_haenszel([[[3, 7], [3, 7]]])
    assert (got.statistic, got.p_value) == (0.0, 1.0)


def test_no_informative_stratum():
    got = mantel_haenszel([[[0, 5], [0, 5]]])
    assert got.odds_ratio is None and got.reason == "no stratum has both groups and both outcomes"
    assert got.risk_difference == 0.0  # both arms present, no failures


# --- van Elteren ----------------------------------------------------------------------------------


def test_van_elteren_with_one_stratum_is_the_normal_mann_whitney():
    a = [12.0, 30.5, 7.0, 18.0, 44.0, 25.0, 7.0]
    b = [3.0, 9.5, 11.0, 2.0, 7.0, 6.0]
    got = van_elteren(a + b, [True] * len(a) + [False] * len(b), ["x"] * (len(a) + len(b)))
    ref = sps.mannwhitneyu(a, b, method="asymptotic", use_continuity=False)
    assert got.p_value == pytest.approx(ref.pvalue)
    assert got.statistic > 0  # a tends larger
    assert (got.strata, got.a_n, got.b_n) == (1, 7, 6)


def test_van_elteren_two_strata_by_hand():
    values = [1, 3, 2, 5, 4, 6, 7, 9]
    in_a = [True, True, False, True, False, False, False, True]
    strata = ["s1", "s1", "s1", "s2", "s2", "s2", "s2", "s3"]  # s3 has group a only
    got = van_elteren(values, in_a, strata)
    # s1: n 3, a ranks 1 + 3 = 4 = E (2 * 4 / 2); Var = 2 * 1 / 12 * 4 = 2/3, weight 1/4
    # s2: n 4, a's 5 ranks 2, E = 1 * 5 / 2 = 2.5; Var = 1 * 3 / 12 * 5 = 1.25, weight 1/5
    centred = 0 / 4 + (2 - 2.5) / 5
    variance = (2 / 3) / 16 + 1.25 / 25
    assert got.statistic == pytest.approx(centred / math.sqrt(variance))  # -0.3303
    assert got.p_value == pytest.approx(2 * sps.norm.sf(0.5 / 5 / math.sqrt(variance)))
    assert (got.strata, got.a_n, got.b_n) == (2, 3, 4)
    # median differences a - b: s1 2 - 2 = 0, s2 5 - 6 = -1; weights 2/4 and 3/5
    assert got.median_difference == pytest.approx((0 * 0.5 - 1 * 0.6) / 1.1)


def test_van_elteren_edge_cases():
    assert van_elteren([1.0, 2.0], [True, True], ["s", "s"]).reason == "no stratum has both groups"
    tied = van_elteren([4.0, 4.0, 4.0], [True, False, False], ["s"] * 3)
    assert (tied.statistic, tied.p_value) == (0.0, 1.0)


# --- CAB versus delegated: Simpson's paradox ----------------------------------------------------


def _deployments(rows):
    """(team, risk, approval, failed count, total, lead time hours list or value) ->
    one row per deployment."""
    out = []
    for team, risk, approval, failed, total, lead in rows:
        leads = lead if isinstance(lead, list) else [lead] * total
        for i in range(total):
            out.append((team, risk, approval, leads[i], i < failed))
    return pd.DataFrame(out, columns=["team", "risk", "approval", "lead_time_hours", "failed"])


def test_simpson_crude_significant_stratified_not():
    # Team A sends most changes to the CAB and fails 30 % of the time on either path; team B
    # delegates most and fails 10 % on either path. Within each team the paths are equal.
    frame = _deployments(
        [
            ("A", "low", "cab", 60, 200, 50.0),
            ("A", "low", "product-owner", 6, 20, 50.0),
            ("B", "low", "cab", 2, 20, 50.0),
            ("B", "low", "pre-approved", 20, 200, 50.0),
        ]
    )
    got = stats.cab_vs_delegated(frame)
    # crude: 62/220 = 28 % vs 26/220 = 12 %: Fisher says "different"
    assert got.failure.fisher_p < 0.001
    assert got.failure.fisher_p == pytest.approx(sps.fisher_exact([[62, 158], [26, 194]]).pvalue)
    # within team: odds ratio exactly 1 in both strata, sum(a - E a) = 0 -> CMH p = 1
    assert got.stratified.odds_ratio == pytest.approx(1.0)
    assert got.stratified.p_value == pytest.approx(1.0)
    assert got.stratified.risk_difference == pytest.approx(0.0)
    assert stats.cab_failure_verdict(got) == "unclear"
    text = narrative.cab_sentence(got)
    assert text.startswith("This data cannot tell whether CAB-approved changes fail more or less")
    assert "(overall 28 % vs 12 % of deployments)" in text
    assert "failed more often" not in text and "failed less often" not in text
    json.dumps(got.to_dict(), allow_nan=False)


def test_incident_fixes_form_their_own_strata():
    # one team, low risk. Fixes fail 30 %, planned changes 10 %, on either route; the CAB gets
    # half the fixes of its changes, delegated only 1 in 21 (standard changes are never fixes).
    rows = [
        ("A", "low", "cab", 30, 300, 10.0, False),
        ("A", "low", "cab", 90, 300, 10.0, True),
        ("A", "low", "pre-approved", 120, 1200, 10.0, False),
        ("A", "low", "product-owner", 18, 60, 10.0, True),
    ]
    frame = pd.DataFrame(
        [(t, r, a, lead, i < f, rework) for t, r, a, f, n, lead, rework in rows for i in range(n)],
        columns=["team", "risk", "approval", "lead_time_hours", "failed", "rework"],
    )
    # within team x risk only: CAB 120/600 = 20 % vs delegated 138/1260 = 11 %, "more"
    mixed = stats.cab_vs_delegated(frame.drop(columns="rework"))
    assert mixed.stratified.p_value < 0.001 and stats.cab_failure_verdict(mixed) == "more"
    # within team x risk x kind: 10 % vs 10 % and 30 % vs 30 %, odds ratio 1, CMH p = 1
    got = stats.cab_vs_delegated(frame)
    assert got.stratified.strata == 2
    assert got.stratified.odds_ratio == pytest.approx(1.0)
    assert got.stratified.p_value == pytest.approx(1.0)
    assert got.stratified.risk_difference == pytest.approx(0.0)
    # equal within each kind, but the difference's interval (about -3.7 to +4.1 points) is wider
    # than the +-3 point margin: neither "more" nor "about as often"
    assert got.stratified.rd_low < -0.03 and got.stratified.rd_high > 0.03
    assert stats.cab_failure_verdict(got) == "unclear"


def test_sorted_codes_number_as_pandas_with_missing_values_last():
    values = ["b", None, "a", "b", math.nan, "c"]
    assert sorted_codes(np.array(values, dtype=object)).tolist() == [1, 3, 0, 1, 3, 2]
    present = ["b", "a", "b", "c"]
    assert sorted_codes(present).tolist() == pd.factorize(pd.Series(present), sort=True)[0].tolist()
    assert sorted_codes(np.array([3.0, np.nan, 1.0])).tolist() == [1, 2, 0]
    assert sorted_codes(np.array([True, False, True])).tolist() == [1, 0, 1]


def test_counted_cells_give_the_row_comparison():
    # the report's form (one row per team x risk x kind x approval x outcome with its count)
    # gives the failure comparison and strata of the per-deployment rows, missing team included
    rows = [
        ("A", "low", "cab", 3, 20, 5.0, False),
        ("A", "low", "pre-approved", 2, 40, 5.0, False),
        ("A", "high", "cab", 6, 15, 5.0, True),
        ("A", "high", "product-owner", 1, 9, 5.0, True),
        ("B", "low", "cab", 1, 12, 5.0, False),
        ("B", "low", "pre-approved", 5, 30, 5.0, False),
        (None, "low", "cab", 2, 7, 5.0, False),
        (None, "low", "pre-approved", 0, 6, 5.0, False),
        ("B", "low", "ecab", 4, 4, 5.0, False),  # emergency: neither group
    ]
    frame = pd.DataFrame(
        [(t, r, a, lead, i < f, rw) for t, r, a, f, n, lead, rw in rows for i in range(n)],
        columns=["team", "risk", "approval", "lead_time_hours", "failed", "rework"],
    )
    keys = ["team", "risk", "rework", "approval", "failed"]
    cells = frame.groupby(keys, dropna=False).size().rename("deployments").reset_index()
    cells = {c: cells[c].to_numpy() for c in cells.columns}
    got = stats.cab_vs_delegated_cells(cells)
    want = stats.cab_vs_delegated(frame, lead_times=False)
    assert got == want
    assert (got.failure.a_failed, got.failure.a_total) == (12, 54)
    assert (got.failure.b_failed, got.failure.b_total) == (8, 85)
    assert got.stratified.strata == 4  # (A, high, fix), (A, low), (B, low), (no team, low)


@pytest.mark.parametrize(
    ("cab_failed", "verdict", "phrase"),
    [
        (200, "more", "CAB-approved changes failed more often than delegated ones of the same"),
        (50, "less", "CAB-approved changes failed less often than delegated ones of the same"),
        (100, "same", "CAB-approved changes failed about as often as delegated ones of the same"),
    ],
)
def test_cab_verdicts(cab_failed, verdict, phrase):
    # 1,000 changes on each path, 100 delegated failures; at 100 CAB failures the difference's
    # Newcombe interval is about +-2.7 points, inside the +-3 point margin
    frame = _deployments(
        [("A", "low", "cab", cab_failed, 1000, 10.0), ("A", "low", "pre-approved", 100, 1000, 10.0)]
    )
    got = stats.cab_vs_delegated(frame)
    assert stats.cab_failure_verdict(got) == verdict
    assert narrative.cab_sentence(got).startswith(phrase)
    if verdict == "same":
        assert -0.03 < got.stratified.rd_low < 0 < got.stratified.rd_high < 0.03


def test_lead_time_compared_within_teams():
    # Team A is slow on both paths (100..119 h), team B fast (10..29 h); A sends most changes to
    # the CAB, B delegates most. Crude: CAB waits far longer; within teams: no difference.
    slow, fast = [100.0 + i for i in range(20)], [10.0 + i for i in range(20)]
    frame = _deployments(
        [
            ("A", "low", "cab", 0, 20, slow),
            ("A", "low", "product-owner", 0, 4, [102.5, 107.5, 111.5, 116.5]),
            ("B", "low", "cab", 0, 4, [12.5, 17.5, 21.5, 26.5]),
            ("B", "low", "pre-approved", 0, 20, fast),
        ]
    )
    got = stats.cab_vs_delegated(frame)
    assert got.lead_time_hours.p_value < 0.001
    assert got.lead_time_stratified.p_value > 0.5
    assert "their lead times do not differ significantly" in narrative.cab_sentence(got)


# --- what-if: lead times from the moved change's own team ---------------------------------------


def test_what_if_draws_from_the_own_team():
    # team A's delegated changes take 10 h, team B's 1,000 h; A's CAB changes 100 h. Moving all
    # of A's CAB changes gives them 10 h each (pooled draws would give half of them 1,000 h).
    frame = _deployments(
        [
            ("A", "low", "cab", 0, 5, 100.0),
            ("A", "low", "product-owner", 0, 5, 10.0),
            ("B", "low", "pre-approved", 0, 5, 1000.0),
        ]
    )
    got = stats.what_if_delegation(frame, 1.0, bootstraps=200)
    # before: 5 x 10, 5 x 100, 5 x 1000 -> 100; after: 10 x 10, 5 x 1000 -> 10 in every resample
    # where team A's values outnumber B's; the median of the bootstrap medians is 10
    assert got.baseline_lead_time_hours_median == 100.0
    assert got.projected_lead_time_hours_median == 10.0
    assert got.pooled_candidates == 0
    text = narrative.what_if_sentence(got)
    assert text.startswith("Delegating 100 % of low/medium-risk CAB approvals (5 of 5 changes)")
    assert (
        "projected under these assumptions: each moved change takes the lead time of a "
        "delegated change of its own team; a moved change keeps its own outcome" in text
    )


def test_what_if_falls_back_to_all_teams_where_a_team_has_no_delegated_change():
    frame = _deployments(
        [
            ("A", "low", "cab", 0, 4, 100.0),
            ("B", "low", "cab", 0, 3, 100.0),
            ("B", "low", "product-owner", 0, 4, 10.0),
        ]
    )
    got = stats.what_if_delegation(frame, 1.0, bootstraps=100)
    # team A has no delegated change: its 4 candidates draw from all teams' (B's 10 h)
    assert got.pooled_candidates == 4
    assert got.projected_lead_time_hours_median == 10.0
    assert "4 candidates of teams without any delegated change" in narrative.what_if_sentence(got)


# --- the Change control page and the report -----------------------------------------------------


@pytest.fixture(scope="module")
def app_db(demo_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("cc") / "cadence.duckdb"
    shutil.copy(demo_db, path)
    return path


def test_change_control_verdict_is_the_first_sentence(app_db, monkeypatch):
    from analytics.store import connect
    from ui.components import md_escape

    monkeypatch.setenv("CADENCE_DB", str(app_db))
    app = str(Path(__file__).resolve().parent.parent / "app.py")
    at = AppTest.from_file(app, default_timeout=60).run()
    at.switch_page("app_pages/change_control.py").run()
    assert not at.exception
    flt = at.session_state["filter"]
    con = connect(app_db)
    expected = narrative.cab_sentence(insights.cab_vs_delegated(con, flt))
    texts = [m.value for m in at.markdown]
    assert f"**{md_escape(expected)}**" in texts
    bold = [t for t in texts if t.startswith("**")]
    assert bold[0] == f"**{md_escape(expected)}**"  # the first, bold sentence of the reading
    # the JSON report says the same thing: its verdict is the page's
    report = insights.statistics_for_report(con, flt)["cab_vs_delegated"]
    verdict = stats.cab_failure_verdict(insights.cab_vs_delegated(con, flt))
    assert report["verdict"] == verdict
    words = {"more": "failed more often", "less": "failed less often",
             "same": "failed about as often", "unclear": "cannot tell"}  # fmt: skip
    assert words[verdict] in expected
    con.close()


def test_report_json_has_the_stratified_fields(demo_db):
    from analytics.filters import Filter
    from analytics.metrics import data_range
    from analytics.store import connect

    con = connect(demo_db)
    start, end = data_range(con)
    got = insights.statistics_for_report(con, Filter(start, end))["cab_vs_delegated"]
    result = insights.cab_vs_delegated(con, Filter(start, end))
    con.close()
    mh = result.stratified
    assert got["odds_ratio_mh"] == pytest.approx(mh.odds_ratio)
    assert (got["low"], got["high"], got["p_value"]) == (mh.low, mh.high, mh.p_value)
    assert got["strata"] == mh.strata > 1
    assert got["low"] < got["odds_ratio_mh"] < got["high"]
    assert got["fisher_p"] == result.failure.fisher_p
    assert np.isfinite(got["p_value"])
