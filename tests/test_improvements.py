"""The CSI register: add/edit/remove with bound parameters, and the before/after measurement on
tiny hand-made data whose answers are worked out in the comments."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from analytics import improvements as imp
from analytics.filters import Filter
from analytics.loader import load_paths
from analytics.schema import IMPROVEMENT_METRICS
from analytics.series import metric_series
from tests.builders import change, incident

D = dt.date


def _register(con, **values) -> str:
    record = {"title": "Automated regression tests", "started_on": "2026-03-02"}
    record.update(values)
    return imp.add_improvement(con, record)


@pytest.fixture
def weekly_db(con):
    """Team alpha deploys 1, 2, 3, 4 times in the weeks of 2, 9, 16, 23 February 2026 and
    5, 6, 7, 8 times in the weeks of 2, 9, 16, 23 March (Wednesdays at 10:00). Team beta deploys
    10 times in the week of 9 March (must never count for alpha). The data runs from the first
    request on Friday 30 January to an incident on Monday 30 March, the latest day."""
    n = 0
    for week, count in enumerate([1, 2, 3, 4, 5, 6, 7, 8]):
        day = dt.datetime(2026, 2, 4, 10) + dt.timedelta(weeks=week)
        for _ in range(count):
            n += 1
            change(con, f"A{n}", day, requested_at=dt.datetime(2026, 1, 30, 9))
    for i in range(10):
        change(con, f"B{i}", "2026-03-11 10:00", team="beta")
    incident(con, "INC-LAST", "2026-03-30 09:00", team="beta")
    return con


def test_every_improvement_metric_has_a_weekly_series(con):
    # each metric an improvement may target must chart as a weekly series on a tiny database
    flt = Filter(D(2026, 3, 2), D(2026, 3, 15))
    for metric in IMPROVEMENT_METRICS:
        frame = metric_series(con, flt, metric, freq="week")
        assert list(frame["bucket"]) == [D(2026, 3, 2), D(2026, 3, 9)], metric


def test_windows_are_whole_iso_weeks_around_the_start():
    # a Monday start, no gap: its own week is the first after-week, the baseline the 4 before
    assert imp.windows(D(2026, 3, 2), 4, 4, 0) == (
        D(2026, 2, 2), D(2026, 3, 1), D(2026, 3, 2), D(2026, 3, 2), D(2026, 3, 2), D(2026, 3, 29)
    )  # fmt: skip
    # a Wednesday start: the week of 2 March is split, so it belongs to no window
    assert imp.windows(D(2026, 3, 4), 4, 4, 0) == (
        D(2026, 2, 2), D(2026, 3, 1), D(2026, 3, 2), D(2026, 3, 2), D(2026, 3, 9), D(2026, 4, 5)
    )  # fmt: skip
    # the defaults: 26 baseline weeks ending 4 weeks before the week of the start
    win = imp.windows(D(2026, 3, 4), 8)
    assert (win.gap_from, win.baseline_to) == (D(2026, 2, 2), D(2026, 2, 1))
    assert win.baseline_from == D(2026, 2, 2) - dt.timedelta(weeks=26) == D(2025, 8, 4)
    assert win.after_to == D(2026, 5, 3)


def test_hodges_lehmann_shift_and_moses_interval_by_hand():
    # after - before over all 16 pairs of [1,2,3,4] and [5,6,7,8]: sorted
    # 1,2,2,3,3,3,4,4,4,4,5,5,5,6,6,7 -> median (4 + 4) / 2 = 4.
    # Exact U null for m = n = 4 has C(8,4) = 70 orderings: P(U <= 0) = 1/70 = 0.014 <= 0.025,
    # P(U <= 1) = 2/70 = 0.029 > 0.025, so k = 1: the interval is [smallest, largest] = [1, 7].
    assert imp.hodges_lehmann([1, 2, 3, 4], [5, 6, 7, 8]) == (4.0, 1.0, 7.0)
    # m = n = 2: P(U <= 0) = 1/6 > 0.025, no interval at the 95 % level
    assert imp.hodges_lehmann([1, 2], [3, 5]) == (2.5, None, None)
    assert imp.hodges_lehmann([], [1.0]) == (None, None, None)


def test_u_null_counts_match_the_binomial_total():
    counts = imp._u_null_counts(3, 5)
    # C(8, 3) = 56 orderings, symmetric around mn / 2, exactly one with U = 0
    assert counts.sum() == 56 and counts[0] == 1 and list(counts) == list(counts[::-1])


def test_measured_effect_when_the_metric_moved_the_expected_way(weekly_db):
    _register(weekly_db, team="alpha", target_metric="deployments", expected_direction="up")
    effect = imp.measure_improvement(
        weekly_db, imp.improvements_frame(weekly_db).iloc[0].to_dict(), 4, None, 4, 0
    )
    # before: 1,2,3,4 -> median 2.5; after: 5,6,7,8 -> median 6.5 (beta's 10 not counted)
    assert (effect.weeks_before, effect.weeks_after) == (4, 4)
    assert (effect.before, effect.after) == (2.5, 6.5)
    assert (effect.difference, effect.low, effect.high) == (4.0, 1.0, 7.0)
    # Mann-Whitney, no ties, m = n = 4, complete separation: exact p = 2 * 1/70
    assert effect.p_value == pytest.approx(2 / 70)
    # alone, the improvement is a family of one: q = p
    assert effect.q_value == effect.p_value
    assert effect.complete and effect.as_expected is True
    assert effect.verdict == imp.AS_EXPECTED
    sentence = imp.effect_sentence(effect)
    assert sentence.startswith(
        "IMP-01 Automated regression tests (alpha, from 2026-03-02): changed as expected after it "
        "started — the weekly deployments went from 2.5 per week in the 4-week baseline to "
        "6.5 per week in the 4 weeks after (+4.0 per week)"
    )
    assert "caused" not in sentence and "return to normal" not in sentence
    details = imp.effect_details(effect)
    assert "shift +4.0 per week, 95 % CI +1.0 per week to +7.0 per week" in details
    assert "Mann–Whitney p = 0.029" in details and "q = 0.029 over 1 improvement(s)" in details
    # beta is the only other team: it has no week of its own in alpha's baseline, so its
    # zero-filled deployments (0,0,0,0 before; 0,10,0,0 after) stand in for the others
    assert effect.other_teams == 1


def test_significant_move_against_the_expected_direction(weekly_db):
    _register(weekly_db, team="alpha", target_metric="deployments", expected_direction="down")
    (row,) = imp.measure_improvements(
        weekly_db, Filter(D(2026, 1, 1), D(2026, 12, 31)), 4, 4, 0
    ).to_dict("records")
    assert row["verdict"] == imp.OPPOSITE and row["as_expected"] is False
    assert "moved the wrong way after it started" in row["sentence"]


def test_no_clear_effect_when_nothing_moved(con):
    # one deployment on the Wednesday of each of the 8 weeks: before 1,1,1,1 and after 1,1,1,1
    for week in range(8):
        change(con, f"C{week}", dt.datetime(2026, 2, 4, 10) + dt.timedelta(weeks=week))
    incident(con, "INC-FIRST", "2026-02-02 08:00")
    incident(con, "INC-LAST", "2026-03-30 09:00")
    _register(con, team="alpha", target_metric="deployments", expected_direction="up")
    effect = imp.measure_improvement(
        con, imp.improvements_frame(con).iloc[0].to_dict(), 4, None, 4, 0
    )
    # every value equal: shift 0, p = 1 (no evidence), so not as expected
    assert (effect.before, effect.after, effect.difference, effect.p_value) == (1, 1, 0, 1.0)
    assert effect.verdict == imp.NO_CLEAR_EFFECT and effect.as_expected is False
    assert "within noise" in imp.effect_sentence(effect)


def test_too_early_to_tell_while_the_after_window_is_incomplete(weekly_db):
    _register(
        weekly_db, team="alpha", started_on="2026-03-16", target_metric="deployments",
        expected_direction="up",
    )  # fmt: skip
    effect = imp.measure_improvement(
        weekly_db, imp.improvements_frame(weekly_db).iloc[0].to_dict(), 4, None, 4, 0
    )
    # after window 16 Mar .. 12 Apr, latest day 30 Mar: only the weeks of 16 and 23 March are
    # whole (values 7, 8); the week of 30 March ends on 5 April, past the data.
    # before window: weeks of 16 Feb .. 9 Mar -> 3, 4, 5, 6, median 4.5
    assert not effect.complete
    assert (effect.weeks_before, effect.weeks_after) == (4, 2)
    assert (effect.before, effect.after) == (4.5, 7.5)
    assert effect.verdict == imp.TOO_EARLY and effect.as_expected is None
    assert "too early to tell, 2 of 4 weeks so far" in imp.effect_sentence(effect)


def test_weeks_outside_the_data_do_not_count(weekly_db):
    # started 9 Feb with 4 weeks: the before window 12 Jan .. 8 Feb has only the week of 2 Feb
    # inside the data (which starts 30 Jan), so there is nothing to compare.
    _register(weekly_db, team="alpha", started_on="2026-02-09", target_metric="deployments")
    effect = imp.measure_improvement(
        weekly_db, imp.improvements_frame(weekly_db).iloc[0].to_dict(), 4, None, 4, 0
    )
    assert effect.weeks_before == 1 and effect.before == 1.0 and effect.difference is None
    assert effect.verdict == imp.NOT_MEASURED
    assert effect.reason == "only 1 week(s) with a value in the baseline before it started"


def test_an_improvement_without_target_metric_is_not_measured(weekly_db):
    _register(weekly_db, team="alpha")
    effect = imp.measure_improvement(weekly_db, imp.improvements_frame(weekly_db).iloc[0].to_dict())
    assert effect.verdict == imp.NOT_MEASURED and effect.reason == "it names no target metric"


def test_report_entries_carry_the_agreed_keys(weekly_db):
    _register(weekly_db, team="alpha", target_metric="deployments", expected_direction="up")
    _register(weekly_db, title="Outside the window", started_on="2025-06-02", team="alpha")
    flt = Filter(D(2026, 1, 1), D(2026, 3, 31), teams=("alpha",))
    # only IMP-01 started in the window; 4 weeks as in the hand computation above
    (entry,) = imp.improvements_for_report(weekly_db, flt, 4, 4, 0)
    assert entry == {
        "improvement_id": "IMP-01",
        "target_metric": "deployments",
        "before": 2.5,
        "after": 6.5,
        "difference": 4.0,
        "low": 1.0,
        "high": 7.0,
        "p_value": pytest.approx(2 / 70),
        "as_expected": True,
        # one improvement measured: q = p
        "q_value": pytest.approx(2 / 70),
        "baseline_from": "2026-02-02",
        "baseline_to": "2026-03-01",
        # per week alpha - beta: 1,2,3,4 before and 5,-4,7,8 after (beta's 10 in the week of
        # 9 March); after-minus-before pairs -8,-7,-6,-5,1,2,3,4,3,4,5,6,4,5,6,7: median 3.5
        "did_difference": 3.5,
    }


# --- the register ----------------------------------------------------------------------------


def test_add_update_delete_round_trip(con):
    first = _register(con, title="  Weekly CAB twice a week ", source="CSI", team="alpha")
    second = _register(con, title="Runbooks", target_metric="time_to_restore_hours_median")
    assert (first, second) == ("IMP-01", "IMP-02")
    row = imp.improvements_frame(con).iloc[0]
    # trimmed, enumeration lower-cased, empty columns stored as NULL
    assert (row["title"], row["source"], row["started_on"]) == (
        "Weekly CAB twice a week",
        "csi",
        D(2026, 3, 2),
    )
    assert row["owner"] is None
    imp.update_improvement(con, "IMP-01", {"owner": "Change manager", "started_on": "2026-04-06"})
    row = imp.improvements_frame(con).set_index("improvement_id").loc["IMP-01"]
    assert (row["owner"], row["started_on"], row["title"]) == (
        "Change manager",
        D(2026, 4, 6),
        "Weekly CAB twice a week",
    )
    assert imp.delete_improvement(con, "IMP-02") is True
    assert imp.delete_improvement(con, "IMP-02") is False
    assert list(imp.improvements_frame(con)["improvement_id"]) == ["IMP-01"]
    # the next id continues after the highest number in use
    assert imp.next_improvement_id(con) == "IMP-02"


def test_values_are_bound_not_pasted(con):
    title = "x'); DROP TABLE improvements; --"
    _register(con, improvement_id="IMP-'1", title=title)
    assert imp.improvements_frame(con)[["improvement_id", "title"]].values.tolist() == [
        ["IMP-'1", title]
    ]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"title": " "}, "column title: required value is missing"),
        (
            {"started_on": "02/03/2026"},
            "column started_on: '02/03/2026' is not a date (YYYY-MM-DD)",
        ),
        (
            {"expected_direction": "sideways"},
            "column expected_direction: 'sideways' is not one of up, down",
        ),
        ({"colour": "red"}, "unknown column 'colour' for improvements"),
    ],
)
def test_invalid_entries_are_refused_with_one_line(con, record, message):
    with pytest.raises(imp.ImprovementError) as err:
        _register(con, **record)
    assert str(err.value) == message
    assert imp.improvements_frame(con).empty


def test_duplicate_id_and_unknown_id_are_refused(con):
    _register(con, improvement_id="IMP-07")
    with pytest.raises(imp.ImprovementError, match="'IMP-07' is already in the register"):
        _register(con, improvement_id="IMP-07")
    with pytest.raises(imp.ImprovementError, match="'IMP-99' is not in the register"):
        imp.update_improvement(con, "IMP-99", {"title": "x"})
    with pytest.raises(imp.ImprovementError, match="cannot be changed"):
        imp.update_improvement(con, "IMP-07", {"improvement_id": "IMP-08"})


def test_filter_keeps_improvements_started_in_the_window_for_the_chosen_teams(con):
    _register(con, improvement_id="IMP-1", started_on="2026-01-31", team="alpha")
    _register(con, improvement_id="IMP-2", started_on="2026-02-01", team="alpha")
    _register(con, improvement_id="IMP-3", started_on="2026-02-28", team="beta")
    _register(con, improvement_id="IMP-4", started_on="2026-03-01", team="alpha")
    _register(con, improvement_id="IMP-5", started_on="2026-02-10", service="web")
    feb = Filter(D(2026, 2, 1), D(2026, 2, 28))
    assert list(imp.improvements_frame(con, feb)["improvement_id"]) == ["IMP-2", "IMP-5", "IMP-3"]
    alpha = Filter(D(2026, 2, 1), D(2026, 2, 28), teams=("alpha",))
    assert list(imp.improvements_frame(con, alpha)["improvement_id"]) == ["IMP-2"]
    web = Filter(D(2026, 2, 1), D(2026, 2, 28), services=("web",))
    assert list(imp.improvements_frame(con, web)["improvement_id"]) == ["IMP-5"]


def test_register_loads_from_csv_with_row_level_rejections(con, tmp_path):
    path = tmp_path / "register.csv"
    path.write_text(
        "improvement_id,title,started_on,target_metric,expected_direction,source\n"
        "IMP-1,Canary releases,2026-02-02,change_failure_rate,DOWN,csi\n"
        "IMP-2,Bad metric,2026-02-02,happiness,up,csi\n"
        "IMP-3,No date,,incidents,down,problem\n"
    )
    (summary,) = load_paths(con, [path])
    assert (summary.kind, summary.inserted, summary.rejected) == ("improvements", 1, 2)
    assert summary.reasons[0].startswith("row 3, column target_metric: 'happiness' is not one of")
    assert summary.reasons[1] == "row 4, column started_on: required value is missing"
    assert imp.improvements_frame(con).iloc[0]["expected_direction"] == "down"


def test_a_database_without_the_register_reads_as_empty(tmp_path):
    import duckdb

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    assert not imp.has_register(con)
    assert list(imp.improvements_frame(con).columns) == imp.COLUMNS
    assert imp.improvements_frame(con).empty


# --- the report command -------------------------------------------------------------------------


def test_report_json_carries_the_improvements_in_the_filter(tmp_path, capsys):
    import json

    from analytics.cli import main
    from analytics.store import connect

    path = tmp_path / "cadence.duckdb"
    con = connect(path)
    for week, count in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8, 8]):
        for k in range(count):
            change(con, f"A{week}-{k}", dt.datetime(2026, 1, 7, 10) + dt.timedelta(weeks=week))
    incident(con, "INC-LAST", "2026-04-06 09:00")
    # data 7 Jan .. 6 Apr 2026; IMP-01 starts Monday 2 Mar: the 4-week gap is 2 Feb .. 1 Mar,
    # the 26-week baseline 4 Aug 2025 .. 1 Feb 2026, but the week of 5 Jan starts before the data
    # (7 Jan), so 3 whole weeks (values 2, 3, 4) count in the baseline; 8 weeks after would end
    # 26 Apr, past the data: too early to tell.
    _register(con, team="alpha", target_metric="deployments", expected_direction="up")
    _register(con, title="Other team", team="beta", target_metric="deployments")
    con.close()
    assert main(["report", "--db", str(path), "--format", "json", "--team", "alpha"]) == 0
    out = json.loads(capsys.readouterr().out)
    (entry,) = out["improvements"]
    assert entry["improvement_id"] == "IMP-01" and entry["as_expected"] is None
    assert entry["before"] == 3.0
    assert (entry["baseline_from"], entry["baseline_to"]) == ("2025-08-04", "2026-02-01")
    # too early: no claim, so no q-value
    assert entry["q_value"] is None
    assert set(entry) == set(imp.REPORT_KEYS)


def test_event_days_ignore_sprints_planned_ahead(weekly_db):
    from tests.builders import insert

    insert(weekly_db, "sprints", sprint_id="S9", team="alpha", start_date="2026-12-01",
           end_date="2027-01-15")  # fmt: skip
    assert imp.event_days(weekly_db) == (D(2026, 1, 30), D(2026, 3, 30))


def test_demo_register_shows_what_was_built_into_the_data(demo_db):
    from analytics.store import connect

    con = connect(demo_db, read_only=True)
    try:
        measured = imp.measure_improvements(con, Filter(D(2000, 1, 1), D(2100, 1, 1)))
    finally:
        con.close()
    verdicts = dict(zip(measured["improvement_id"], measured["verdict"], strict=True))
    # docs/demo-data.md: IMP-01..03 have an effect in the generator, IMP-04..06 have none,
    # IMP-07 started 20 days before the data ends
    assert [verdicts[f"IMP-0{i}"] for i in (1, 2, 3)] == [imp.AS_EXPECTED] * 3
    assert imp.AS_EXPECTED not in {verdicts[f"IMP-0{i}"] for i in (4, 5, 6)}
    assert verdicts["IMP-07"] == imp.TOO_EARLY


def test_register_download_is_formula_safe(con):
    from analytics.export import to_safe_csv

    _register(con, title='=HYPERLINK("http://x")', owner="@ops")
    text = to_safe_csv(imp.improvements_frame(con)).decode()
    assert "'=HYPERLINK" in text and ",'@ops," in text


# --- trustworthy readings: baseline, gap, q-values, DiD, restore within priority ------------------


def test_benjamini_hochberg_matches_scipy():
    from scipy.stats import false_discovery_control

    p = [0.01, 0.04, 0.03, 0.20, 0.005, 0.5]
    assert imp.bh_qvalues(p) == pytest.approx(false_discovery_control(p))
    # by hand: sorted 0.005, 0.01, 0.03, 0.04, 0.2, 0.5 times 6/rank = 0.03, 0.03, 0.06, 0.06,
    # 0.24, 0.5; running minimum from the top keeps them as they are
    assert imp.bh_qvalues(p) == pytest.approx([0.03, 0.06, 0.06, 0.24, 0.03, 0.5])
    # missing p-values stay missing and do not count in m
    q = imp.bh_qvalues([0.02, None, 0.04])
    assert q[0] == pytest.approx(0.04) and np.isnan(q[1]) and q[2] == pytest.approx(0.04)


def test_van_elteren_with_one_stratum_is_the_asymptotic_mann_whitney():
    from scipy.stats import mannwhitneyu

    a, b = np.array([3.0, 5, 8, 9, 12]), np.array([1.0, 2, 4, 4, 6, 7])
    ones_a, ones_b = np.ones(5), np.ones(6)
    _, p, used = imp.van_elteren(a, b, ones_a, ones_b)
    expected = mannwhitneyu(b, a, method="asymptotic", use_continuity=False).pvalue
    assert used == 1 and p == pytest.approx(expected)


def test_van_elteren_sees_no_change_when_only_the_priority_mix_moved():
    # P1: baseline 2, 4 h; after 1, 3, 5 h -> after ranks 1, 3, 5 sum 9 = 3 * 6 / 2, no shift
    # P3: baseline 20, 24 h; after 22 h -> after rank 2 = 1 * 4 / 2, no shift; so p = 1.
    # HL per stratum: P1 median of -1,-3,1,-1,3,1 = 0; P3 median of 2,-2 = 0 -> estimate 0,
    # while the pooled medians fall from 12 h to 4 h because the after side has more P1s.
    before, after = np.array([2.0, 4, 20, 24]), np.array([1.0, 3, 5, 22])
    shift, p, used = imp.van_elteren(before, after, np.array([1, 1, 3, 3]), np.array([1, 1, 1, 3]))
    assert (shift, p, used) == (0.0, 1.0, 2)


def test_restore_time_is_compared_within_priority(con):
    # baseline weeks of 2 and 9 Feb, after weeks of 16 and 23 Feb (start Monday 16 Feb, no gap):
    # the numbers of the van Elteren test above, opened at 08:00 on the weeks' Mondays
    opened = {
        "2026-02-02": [(1, 2), (3, 20)],
        "2026-02-09": [(1, 4), (3, 24)],
        "2026-02-16": [(1, 1), (1, 3), (3, 22)],
        "2026-02-23": [(1, 5)],
    }
    n = 0
    for day, tickets in opened.items():
        for priority, hours in tickets:
            n += 1
            at = dt.datetime.fromisoformat(f"{day} 08:00")
            incident(con, f"I{n}", at, priority=priority,
                     resolved_at=at + dt.timedelta(hours=hours))  # fmt: skip
    incident(con, "R-LAST", "2026-03-01 09:00", kind="request")  # the data's latest day
    _register(con, started_on="2026-02-16", team="alpha",
              target_metric="time_to_restore_hours_median", expected_direction="down")  # fmt: skip
    effect = imp.measure_improvement(con, imp.improvements_frame(con).iloc[0].to_dict(), 2, None,
                                     2, 0)  # fmt: skip
    assert effect.method == "van Elteren within priority"
    # pooled medians of the incidents: 2, 4, 20, 24 -> 12 h; 1, 3, 5, 22 -> 4 h
    assert (effect.before, effect.after) == (12.0, 4.0)
    assert (effect.difference, effect.p_value) == (0.0, 1.0)
    assert effect.verdict == imp.NO_CLEAR_EFFECT
    assert "(0.0 h within priority)" in imp.effect_sentence(effect)


@pytest.fixture
def three_teams(con):
    """Deployments per week (Wednesdays) in the weeks of 2, 9, 16, 23 February 2026:
    alpha 1, 3, 6, 8; beta 1, 1, 2, 4; gamma 3, 3, 4, 6. Data 2 Feb .. 1 Mar."""
    n = 0
    for team, counts in (("alpha", (1, 3, 6, 8)), ("beta", (1, 1, 2, 4)), ("gamma", (3, 3, 4, 6))):
        for week, k in enumerate(counts):
            for _ in range(k):
                n += 1
                day = dt.datetime(2026, 2, 4, 10) + dt.timedelta(weeks=week)
                change(con, f"C{n}", day, requested_at="2026-02-02 09:00", team=team)
    incident(con, "INC-LAST", "2026-03-01 09:00", team="beta")
    return con


def test_difference_in_differences_against_the_other_teams(three_teams):
    _register(three_teams, started_on="2026-02-16", team="alpha", target_metric="deployments",
              expected_direction="up")  # fmt: skip
    effect = imp.measure_improvement(
        three_teams, imp.improvements_frame(three_teams).iloc[0].to_dict(), 2, None, 2, 0
    )
    # before/after for alpha: (1, 3) against (6, 8): pairs 5, 7, 3, 5 -> median 5
    assert (effect.before, effect.after, effect.difference) == (2.0, 7.0, 5.0)
    # the others' mean per week: (1+3)/2, (1+3)/2, (2+4)/2, (4+6)/2 = 2, 2, 3, 5
    # alpha minus it: -1, 1 before; 3, 3 after -> pairs 4, 2, 4, 2 -> median 3
    assert effect.other_teams == 2
    assert effect.did_difference == 3.0
    # two weeks a side: no 95 % interval exists (P(U = 0) = 1/6 > 0.025)
    assert (effect.did_low, effect.did_high) == (None, None)
    from scipy.stats import mannwhitneyu

    assert effect.did_p_value == pytest.approx(mannwhitneyu([3, 3], [-1, 1]).pvalue)
    assert "difference-in-differences +3.0 per week" in imp.effect_details(effect)


def test_no_difference_in_differences_without_a_team(three_teams):
    _register(three_teams, started_on="2026-02-16", target_metric="deployments")
    effect = imp.measure_improvement(
        three_teams, imp.improvements_frame(three_teams).iloc[0].to_dict(), 2, None, 2, 0
    )
    assert effect.did_difference is None and effect.other_teams == 0
    assert "difference-in-differences" not in imp.effect_details(effect)


def test_a_bad_spell_before_the_start_is_named_and_kept_out_of_the_baseline(con):
    # alpha deploys 5 a week for 4 weeks (2 .. 23 Feb), then 1 a week for 2 weeks (the bad spell:
    # 2 and 9 Mar), then 5 a week again for 4 weeks from the start on Monday 16 March.
    counts = [5, 5, 5, 5, 1, 1, 5, 5, 5, 5]
    n = 0
    for week, k in enumerate(counts):
        for _ in range(k):
            n += 1
            day = dt.datetime(2026, 2, 4, 10) + dt.timedelta(weeks=week)
            change(con, f"C{n}", day, requested_at="2026-02-02 09:00")
    incident(con, "INC-LAST", "2026-04-12 09:00")
    _register(con, started_on="2026-03-16", team="alpha", target_metric="deployments",
              expected_direction="up")  # fmt: skip
    record = imp.improvements_frame(con).iloc[0].to_dict()
    # baseline 4 weeks ending 2 weeks before the start: 5, 5, 5, 5; gap 1, 1; after 5, 5, 5, 5
    effect = imp.measure_improvement(con, record, 4, None, 4, 2)
    assert (effect.before, effect.gap, effect.after, effect.difference) == (5.0, 1.0, 5.0, 0.0)
    assert effect.regression_to_mean and effect.verdict == imp.NO_CLEAR_EFFECT
    sentence = imp.effect_sentence(effect)
    assert (
        "the weeks just before the start were worse than usual, so part of the change may be "
        "a return to normal" in sentence
    )
    # the naive comparison, the bad spell as "before": a shift of +4 a week, as if it worked
    naive = imp.measure_improvement(con, record, 4, None, 2, 0)
    assert naive.difference == 4.0 and not naive.regression_to_mean


def test_q_values_adjust_across_the_register_and_decide_the_verdict(weekly_db):
    # IMP-01 alone: p = 2/70 = 0.029 -> as expected. With a second improvement whose p is 1,
    # BH gives IMP-01 q = min(2 * 0.029 / 1, 1.0) = 0.057 >= 0.05: within noise.
    _register(weekly_db, team="alpha", target_metric="deployments", expected_direction="up")
    alone = imp.measure_improvements(weekly_db, Filter(D(2026, 1, 1), D(2026, 12, 31)), 4, 4, 0)
    assert alone["verdict"].tolist() == [imp.AS_EXPECTED]
    _register(weekly_db, title="Nothing", team="alpha", target_metric="incidents",
              expected_direction="down")  # fmt: skip
    both = imp.measure_improvements(weekly_db, Filter(D(2026, 1, 1), D(2026, 12, 31)), 4, 4, 0)
    first = both.set_index("improvement_id").loc["IMP-01"]
    assert first["p_value"] == pytest.approx(2 / 70)
    assert first["q_value"] == pytest.approx(4 / 70)
    assert first["verdict"] == imp.NO_CLEAR_EFFECT and not first["as_expected"]
    assert "q = 0.057 over 2 improvement(s)" in first["details"]
    assert imp.register_verdict(both) == (
        "0 of 2 improvements changed as expected after they started; 2 improvements within noise."
    )


def test_format_value_speaks_the_metric_units():
    assert imp.format_value("change_failure_rate", 0.125) == "12.5 %"
    assert imp.format_value("change_failure_rate", -0.05, signed=True) == "-5.0 points"
    assert imp.format_value("lead_time_hours_median", 3.25) == "3.2 h"
    assert imp.format_value("support_hours", 10) == "10.0 h per week"
    assert imp.format_value("deployments", 2, signed=True) == "+2.0 per week"
    assert imp.format_value("incidents", None) == "n/a"
