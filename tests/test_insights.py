"""Insights on tiny hand-made databases (real DuckDB, rows inserted with bound parameters)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from builders import change, incident, sprint, work_item
from scipy import stats as sps

from analytics import insights, narrative
from analytics.filters import Filter

# Four whole ISO weeks: Monday 2026-11-02 .. Sunday 2026-11-29.
FOUR_WEEKS = Filter(dt.date(2026, 11, 2), dt.date(2026, 11, 29))
MONDAYS = [dt.date(2026, 11, 2) + dt.timedelta(weeks=i) for i in range(4)]


def _at(day: dt.date, hour: int = 10, offset: int = 0) -> str:
    return f"{day + dt.timedelta(days=offset)} {hour:02d}:00"


def _weekly(con, deploys, incidents, start=MONDAYS[0], team="alpha", prefix=""):
    """``deploys[i]`` changes and ``incidents[i]`` incidents in week i (Tuesdays/Wednesdays)."""
    for week, (n_dep, n_inc) in enumerate(zip(deploys, incidents, strict=True)):
        monday = start + dt.timedelta(weeks=week)
        for j in range(n_dep):
            change(con, f"{prefix}C{week}-{j}", _at(monday, 9 + j, 1), team=team)
        for j in range(n_inc):
            incident(con, f"{prefix}I{week}-{j}", _at(monday, 9 + j, 2), team=team)


def _span(con, first=dt.date(2026, 10, 26), last=dt.date(2026, 12, 6)):
    """Two changes outside FOUR_WEEKS (team omega) so the data's extent covers its weeks: a week
    counts for a statistic only when it lies inside both the window and the data."""
    change(con, "EDGE-first", _at(first), team="omega")
    change(con, "EDGE-last", _at(last), team="omega")


def test_weekly_series_is_zero_filled_and_knows_partial_weeks(con):
    _weekly(con, [2, 0, 1, 0], [0, 3, 0, 1])
    # Wednesday 2026-11-04 .. Monday 2026-11-30 overlaps 5 weeks: 5 days, 7, 7, 7, 1
    flt = Filter(dt.date(2026, 11, 4), dt.date(2026, 11, 30))
    got = insights.weekly_series(con, flt)
    assert got["week"].tolist() == [*MONDAYS, dt.date(2026, 11, 30)]
    assert got["days"].tolist() == [5, 7, 7, 7, 1]
    # week 0's changes were on Tuesday 11-03, before the window
    assert got["deployments"].tolist() == [0, 0, 1, 0, 0]
    assert got["incidents"].tolist() == [0, 3, 0, 1, 0]


def test_cadence_incident_correlation_lags(con):
    _weekly(con, [1, 2, 3, 4], [0, 1, 2, 3])
    _span(con)
    rows = insights.cadence_incident_correlation(con, FOUR_WEEKS, max_lag=3)
    # lag 0: 4 weeks (too few for an AR model), perfectly ordered -> r = 1, exact p = 2/4! = 1/12
    # lag 1: deployments 1,2,3 with incidents 1,2,3 -> r = 1, p = 2/3! = 1/3
    # q-values (Benjamini-Hochberg over the 2 lags with a p): 1/12 * 2 = 1/6 and 1/3
    assert rows[0] == {
        "lag_weeks": 0,
        "n": 4,
        "spearman_r": pytest.approx(1.0),
        "p_value": pytest.approx(1 / 12),
        "q_value": pytest.approx(1 / 6),
        "method": "Spearman, AR(0): neither series autocorrelated",
        "reason": None,
    }
    assert rows[1]["n"] == 3 and rows[1]["p_value"] == pytest.approx(1 / 3)
    assert rows[1]["q_value"] == pytest.approx(1 / 3)
    assert rows[2]["n"] == 2 and rows[2]["spearman_r"] is None and rows[2]["q_value"] is None
    assert rows[3]["n"] == 1


def test_weekly_statistics_count_only_weeks_inside_the_data(con):
    # three days of data in a one-year window: no whole week of data, so no trend and no lags
    incident(con, "I1", "2026-03-03 10:00")
    change(con, "C1", "2026-03-04 10:00")
    incident(con, "I2", "2026-03-05 10:00")
    year = Filter(dt.date(2026, 1, 5), dt.date(2027, 1, 3))  # 52 whole ISO weeks
    assert len(insights.weekly_series(con, year)) == 52
    assert insights.whole_weekly_series(con, year).empty
    trend = insights.incident_trend(con, year)
    assert trend.n == 0 and trend.slope is None and "fewer than 3" in trend.reason
    rows = insights.cadence_incident_correlation(con, year)
    assert all(r["n"] == 0 and r["spearman_r"] is None for r in rows)
    assert insights.incident_change_point(con, year).change_point.index is None


def test_cadence_incident_correlation_without_data(con):
    rows = insights.cadence_incident_correlation(con, FOUR_WEEKS)
    assert len(rows) == 9
    assert all(r["spearman_r"] is None for r in rows)
    assert "fewer than 3" in rows[0]["reason"]  # no data, so no whole week of data


def test_change_failure_rate_ci95(con):
    change(con, "C1", "2026-11-03 10:00", outcome="failed")
    change(con, "C2", "2026-11-04 10:00")
    change(con, "C3", "2026-11-05 10:00")
    change(con, "C4", "2026-11-06 10:00")
    incident(con, "I1", "2026-11-06 12:00", caused_by_change="C4")
    change(con, "C5", "2026-11-07 10:00", outcome="cancelled")
    got = insights.change_failure_rate_ci95(con, FOUR_WEEKS)
    # C1 failed, C4 caused an incident; C5 cancelled is no deployment -> 2 of 4
    assert (got.deployments, got.failed, got.rate) == (4, 2, 0.5)
    ref = sps.binomtest(2, 4).proportion_ci(0.95, method="wilson")
    assert got.ci95 == (pytest.approx(ref.low), pytest.approx(ref.high))


def test_change_failure_rate_ci95_without_deployments(con):
    got = insights.change_failure_rate_ci95(con, FOUR_WEEKS)
    assert (got.deployments, got.rate, got.ci95) == (0, None, None)


def test_cab_vs_delegated(con):
    # CAB: lead 48 h (failed) and 72 h; delegated: 1, 2, 3 h; emergency left out
    change(con, "K1", "2026-11-05 10:00", "2026-11-03 10:00", approval="cab", outcome="failed")
    change(con, "K2", "2026-11-06 10:00", "2026-11-03 10:00", approval="cab")
    change(con, "D1", "2026-11-05 11:00", "2026-11-05 10:00", approval="pre-approved")
    change(con, "D2", "2026-11-05 12:00", "2026-11-05 10:00", change_type="standard")
    change(con, "D3", "2026-11-05 13:00", "2026-11-05 10:00", approval="product-owner")
    change(con, "E1", "2026-11-05 13:00", change_type="emergency", outcome="failed")
    got = insights.cab_vs_delegated(con, FOUR_WEEKS)
    # D2 has no approval: a standard change defaults to pre-approved
    assert (got.failure.a_failed, got.failure.a_total) == (1, 2)
    assert (got.failure.b_failed, got.failure.b_total) == (0, 3)
    # one failure among 5: lands in CAB with probability 2/5 -> two-sided Fisher p = 0.4
    assert got.failure.fisher_p == pytest.approx(0.4)
    assert (got.lead_time_hours.a_median, got.lead_time_hours.b_median) == (60.0, 2.0)
    # fully separated 2 vs 3: exact Mann-Whitney p = 2 / C(5,2) = 0.2
    assert got.lead_time_hours.p_value == pytest.approx(0.2)
    # one stratum (team alpha, default risk), both outcomes: informative. No delegated failure:
    # b c / n = 0, so the MH odds ratio is infinite (None). CMH: a - E a = 1 - 2 * 1 / 5 = 0.6,
    # Var a = 2 * 3 * 1 * 4 / (5^2 * 4) = 0.24, statistic (0.6 - 0.5)^2 / 0.24 = 1 / 24
    mh = got.stratified
    assert (mh.strata, mh.odds_ratio) == (1, None)
    assert mh.statistic == pytest.approx(1 / 24)
    assert mh.p_value == pytest.approx(sps.chi2.sf(1 / 24, 1))
    # van Elteren, one stratum: CAB ranks 4 + 5 = 9, E = 2 * 6 / 2 = 6, Var = 2 * 3 / 12 * 6 = 3,
    # z = 3 / sqrt(3) = sqrt(3), p = 0.083
    ve = got.lead_time_stratified
    assert ve.statistic == pytest.approx(3**0.5)
    assert ve.p_value == pytest.approx(2 * sps.norm.sf(3**0.5))
    text = narrative.cab_sentence(got)
    # 50 % vs 0 % on 2 and 3 changes: the difference's interval is wide, CMH p = 0.84
    assert text.startswith(
        "This data cannot tell whether CAB-approved changes fail more or less often than "
        "delegated ones of the same team, risk and kind (overall 50 % vs 0 % of deployments)"
    )
    assert "their lead times do not differ significantly" in text


def test_approval_failure_rates_adds_wilson_bounds(con):
    change(con, "K1", "2026-11-05 10:00", approval="cab", outcome="failed")
    got = insights.approval_failure_rates(con, FOUR_WEEKS).set_index("approval")
    ref = sps.binomtest(1, 1).proportion_ci(0.95, method="wilson")
    assert got.loc["cab", "ci_low"] == pytest.approx(ref.low)
    assert got.loc["cab", "ci_high"] == pytest.approx(1.0)
    assert got["ci_low"].isna().sum() == 3  # the three paths without deployments


def test_incident_trend_and_change_point_use_whole_weeks(con):
    # weeks of Oct 26 (partial: the window starts Thursday Oct 29) .. Nov 23
    incident(con, "I-early", "2026-10-30 10:00")
    _weekly(con, [0, 0, 0, 0], [1, 1, 4, 4])
    change(con, "C-late", "2026-12-01 10:00")  # after the window: the data covers week 4 whole
    flt = Filter(dt.date(2026, 10, 29), dt.date(2026, 11, 29))
    trend = insights.incident_trend(con, flt)
    ref = sps.theilslopes([1, 1, 4, 4], [0, 1, 2, 3])
    assert trend.n == 4
    assert trend.slope == pytest.approx(ref.slope)
    assert trend.intercept == pytest.approx(ref.intercept)
    # S = 4 (4 rising pairs, 2 tied), var = (4*3*13 - 2*(2*1*9)) / 18 = 20/3; the ranks'
    # lag-1 autocorrelation is negative, so Hamed-Rao leaves it: z = (4 - 1) / sqrt(20/3)
    assert "variance x1.00" in trend.method
    assert trend.p_value == pytest.approx(2 * sps.norm.sf(3 / (20 / 3) ** 0.5))
    shift = insights.incident_change_point(con, flt, permutations=99)
    # best split of 1, 1 | 4, 4: means 1 and 4, starting the week of Nov 16
    assert shift.week == dt.date(2026, 11, 16)
    assert (shift.change_point.mean_before, shift.change_point.mean_after) == (1.0, 4.0)
    # the Cadence page's one-query form gives the same three readings
    readings = insights.incident_readings(con, flt)
    assert readings.trend == trend
    assert readings.shift == insights.incident_change_point(con, flt)
    p = readings.shift.change_point.p_value
    since = readings.shift.week if p < 0.05 else None
    assert readings.turn == insights.incident_trend_turn(con, flt, since)


def _cadence_team(con):
    """Team alpha: four 14-day sprints from Mon 2026-01-05, then four 7-day sprints from
    Mon 2026-03-02. Weekly incidents 0, 1, 2, 3 in the 4 weeks before, 4, 5, 6, 7 after.
    Deployments: 1 of 4 failed before, 3 of 4 after."""
    start = dt.date(2026, 1, 5)
    for i in range(4):
        first = start + dt.timedelta(days=14 * i)
        sprint(con, f"S{i}", first, first + dt.timedelta(days=13))
    pivot = dt.date(2026, 3, 2)
    for i in range(4):
        first = pivot + dt.timedelta(days=7 * i)
        sprint(con, f"T{i}", first, first + dt.timedelta(days=6))
    _weekly(con, [1, 1, 1, 1], [0, 1, 2, 3], start=pivot - dt.timedelta(weeks=4), prefix="b")
    _weekly(con, [1, 1, 1, 1], [4, 5, 6, 7], start=pivot, prefix="a")
    con.execute("UPDATE changes SET outcome = 'failed' WHERE change_id IN ('bC0-0', 'aC0-0')")
    con.execute("UPDATE changes SET outcome = 'failed' WHERE change_id IN ('aC1-0', 'aC2-0')")
    # another team's incidents must not count; they show the export runs Mon 01-05 .. Sun 03-29
    incident(con, "other-first", "2026-01-05 09:00", team="beta")
    incident(con, "other", "2026-02-10 10:00", team="beta")
    incident(con, "other-last", "2026-03-29 18:00", team="beta")


def test_sprint_length_changes_and_before_after(con):
    _cadence_team(con)
    flt = Filter(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    changes = insights.sprint_length_changes(con, flt)
    assert changes.to_dict("records") == [
        {
            "team": "alpha",
            "sprint_id": "T0",
            "change_date": dt.date(2026, 3, 2),
            "length_before_days": 14.0,
            "length_after_days": 7.0,
        }
    ]
    got = insights.cadence_before_after(con, flt, "alpha", weeks=8)
    # data runs 2026-01-05 .. 2026-03-29: 8 whole weeks before the change, 4 after -> 4 each
    assert got.weeks == 4
    assert (got.incidents.a_mean, got.incidents.b_mean) == (1.5, 5.5)
    # fully separated 4 vs 4: exact Mann-Whitney p = 2 / C(8,4) = 2/70
    assert got.incidents.p_value == pytest.approx(2 / 70)
    assert got.incidents.rank_biserial == 1.0
    assert (got.failure.a_failed, got.failure.a_total) == (1, 4)
    assert (got.failure.b_failed, got.failure.b_total) == (3, 4)
    assert got.failure.fisher_p == pytest.approx(sps.fisher_exact([[1, 3], [3, 1]]).pvalue)
    assert insights.cadence_before_after(con, flt, "alpha", 8, dt.date(2026, 3, 2)) == got
    # the tested reading: a 26-week baseline ending 4 weeks before the change (02-02), inside the
    # data only Jan 5..Feb 1, when alpha had no incident: nothing to scale the others' weeks to
    did = got.did
    assert (did.baseline_from, did.baseline_to) == (dt.date(2025, 8, 4), dt.date(2026, 2, 1))
    assert (did.weeks_before, did.weeks_after, did.other_teams) == (4, 4, 1)
    assert (did.team_before, did.team_after, did.others_before) == (0.0, 5.5, 0.25)
    assert did.p_value is None
    assert narrative.before_after_sentence(got) == (
        "No comparison is possible after team alpha moved from 14-day to 7-day sprints on "
        "2026-03-02: the team had no incidents in the baseline to compare with."
    )
    json.dumps(got.to_dict(), allow_nan=False)


def test_before_after_without_a_change(con):
    sprint(con, "S1", "2026-01-05", "2026-01-18")
    got = insights.cadence_before_after(con, FOUR_WEEKS, "alpha")
    assert got.reason == "no lasting change of sprint length in the window"
    assert got.incidents.p_value is None
    json.dumps(got.to_dict(), allow_nan=False)
    assert "no comparison is possible" in narrative.before_after_sentence(got)


def test_what_if_delegation_from_the_database(con):
    # three CAB low-risk changes waiting 100 h, three product-owner changes waiting 10 h
    for i in range(3):
        change(con, f"K{i}", "2026-11-09 14:00", "2026-11-05 10:00", approval="cab", risk="low")
        change(con, f"P{i}", "2026-11-05 20:00", "2026-11-05 10:00", approval="product-owner")
    change(con, "H1", "2026-11-09 14:00", "2026-11-05 10:00", approval="cab", risk="high")
    got = insights.what_if_delegation(con, FOUR_WEEKS, 1.0, bootstraps=100)
    assert (got.candidates, got.moved, got.deployments) == (3, 3, 7)
    # before: 100 x4, 10 x3 -> median 100; after moving all low-risk CAB: 10 x6, 100 x1 -> 10
    assert got.baseline_lead_time_hours_median == 100.0
    assert got.projected_lead_time_hours_median == 10.0


def test_warranty_vs_incidents(con):
    # warranty shares 10 %, 50 %, 90 %; P1/P2 incidents in the 4 weeks: 8, 4, 0
    for team, warranty in (("a", 1), ("b", 5), ("c", 9)):
        sprint(con, f"{team}-S", "2026-11-02", "2026-11-13", team=team)
        work_item(con, f"{team}-w", f"{team}-S", team=team, story_points=warranty,
                  requirement_type="warranty")  # fmt: skip
        work_item(con, f"{team}-u", f"{team}-S", team=team, story_points=10 - warranty)
    for team, count in (("a", 8), ("b", 4)):
        for j in range(count):
            incident(con, f"{team}-{j}", _at(MONDAYS[j % 4], 10 + j), team=team, priority=2)
    incident(con, "c-p3", "2026-11-03 10:00", team="c", priority=3)
    got = insights.warranty_vs_incidents(con, FOUR_WEEKS)
    rows = got.per_team.to_dict("records")
    assert [r["team"] for r in rows] == ["a", "b", "c"]
    assert [r["warranty_share"] for r in rows] == pytest.approx([0.1, 0.5, 0.9])
    # 8, 4, 0 incidents over 4 weeks
    assert [r["incidents_p1_p2_per_week"] for r in rows] == pytest.approx([2.0, 1.0, 0.0])
    # perfectly reversed ranks of 3 teams: r = -1, exact p = 2/3! = 1/3
    assert got.correlation.spearman_r == pytest.approx(-1.0)
    assert got.correlation.p_value == pytest.approx(1 / 3)
    # three points across teams: described, never tested
    assert narrative.warranty_sentence(got.correlation) == (
        "Across the 3 teams, teams that plan more warranty work had fewer P1/P2 incidents per "
        "week — a description, not a test."
    )


def test_team_frontier(con):
    # a: 2 deployments, 1 failed; b: 1 deployment, none failed; c: 1 deployment, failed
    change(con, "a1", "2026-11-03 10:00", team="a", outcome="failed")
    change(con, "a2", "2026-11-04 10:00", team="a")
    change(con, "b1", "2026-11-03 10:00", team="b")
    change(con, "c1", "2026-11-03 10:00", team="c", outcome="failed")
    got = insights.team_frontier(con, FOUR_WEEKS).set_index("team")
    # a is fastest, b most stable, c is beaten by b on both
    assert got["on_frontier"].to_dict() == {"a": True, "b": True, "c": False}


def test_statistics_for_report_on_an_empty_database_is_json_safe(con):
    got = insights.statistics_for_report(con, FOUR_WEEKS)
    json.dumps(got, allow_nan=False)
    assert got["change_failure_rate_ci95"] is None
    assert [r["lag_weeks"] for r in got["cadence_incident_correlation"]] == list(range(9))
    keys = {"lag_weeks", "n", "spearman_r", "p_value", "q_value", "method"}
    assert set(got["cadence_incident_correlation"][0]) == keys
    assert got["cab_vs_delegated"] == {
        "cab_cfr": None, "delegated_cfr": None, "fisher_p": None, "odds_ratio_mh": None,
        "low": None, "high": None, "p_value": None, "strata": 0, "verdict": None,
    }  # fmt: skip
    # no data, so no whole week of data: no trend
    assert got["incident_trend"] == {"theil_sen_slope_per_week": None, "low": None, "high": None,
                                     "p_value": None, "method": None}  # fmt: skip


def test_statistics_for_report_values(con):
    _weekly(con, [1, 2, 3, 4], [0, 1, 2, 3])
    _span(con)
    got = insights.statistics_for_report(con, FOUR_WEEKS)
    # 10 deployments, none failed: Wilson upper bound z^2/(n + z^2) = 3.8416/13.8416
    assert got["change_failure_rate_ci95"] == [0.0, pytest.approx(3.8416 / 13.8416, rel=1e-4)]
    assert got["cadence_incident_correlation"][0]["spearman_r"] == pytest.approx(1.0)
    assert got["incident_trend"]["theil_sen_slope_per_week"] == 1.0
    # 0, 1, 2, 3: S = 6 of var 4*3*13/18 = 8.67 (or more, after Hamed-Rao): p >= 0.10
    assert got["incident_trend"]["p_value"] >= 2 * sps.norm.sf(5 / (26 / 3) ** 0.5)
    assert "Hamed–Rao" in got["incident_trend"]["method"]
    assert got["cadence_incident_correlation"][0]["q_value"] == pytest.approx(1 / 6)


def test_quarter_filter(con):
    assert insights.quarter_filter(con) is None  # empty database
    change(con, "C1", "2026-06-30 10:00")
    # the data ends on 2026-06-30, the last day of Q2: Q2 is complete
    assert insights.quarter_filter(con, teams=("alpha",)) == Filter(
        dt.date(2026, 4, 1), dt.date(2026, 6, 30), ("alpha",)
    )
    incident(con, "I1", "2026-07-01 10:00")
    # one day into Q3: Q3 is not complete, Q2 still is the last full quarter
    assert insights.quarter_filter(con).end == dt.date(2026, 6, 30)
    assert insights.quarter_filter(con, "2025-q4") == Filter(
        dt.date(2025, 10, 1), dt.date(2025, 12, 31)
    )
    with pytest.raises(ValueError, match="2026-Q2"):
        insights.quarter_filter(con, "2025-Q5")


def test_report_json_carries_the_statistics(tmp_path, capsys):
    from analytics.cli import main
    from analytics.store import connect

    path = tmp_path / "tiny.duckdb"
    db = connect(path)
    _weekly(db, [1, 2, 3, 4], [0, 1, 2, 3])
    _span(db)
    db.close()
    status = main(
        ["report", "--db", str(path), "--from", "2026-11-02", "--to", "2026-11-29",
         "--format", "json"]
    )  # fmt: skip
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    # 10 deployments, none failed
    assert out["change_failure_rate_ci95"] == [0.0, pytest.approx(3.8416 / 13.8416, rel=1e-4)]
    assert out["cadence_incident_correlation"][0] == {
        "lag_weeks": 0, "n": 4, "spearman_r": pytest.approx(1.0), "p_value": pytest.approx(1 / 12),
        "q_value": pytest.approx(1 / 6),
        "method": "Spearman, AR(0): neither series autocorrelated",
    }  # fmt: skip
    assert out["cab_vs_delegated"]["cab_cfr"] == 0.0  # normal changes default to the CAB
    assert out["incident_trend"]["theil_sen_slope_per_week"] == 1.0
