"""The CSI register: add/edit/remove with bound parameters, and the before/after measurement on
tiny hand-made data whose answers are worked out in the comments."""

from __future__ import annotations

import datetime as dt

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
    # a Monday start: its own week is the first after-week
    assert imp.windows(D(2026, 3, 2), 4) == (D(2026, 2, 2), D(2026, 3, 2), D(2026, 3, 29))
    # a Wednesday start: the week of 2 March is split, so it belongs to neither side
    assert imp.windows(D(2026, 3, 4), 4) == (D(2026, 2, 2), D(2026, 3, 9), D(2026, 4, 5))


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
        weekly_db, imp.improvements_frame(weekly_db).iloc[0].to_dict(), weeks=4
    )
    # before: 1,2,3,4 -> median 2.5; after: 5,6,7,8 -> median 6.5 (beta's 10 not counted)
    assert (effect.weeks_before, effect.weeks_after) == (4, 4)
    assert (effect.before, effect.after) == (2.5, 6.5)
    assert (effect.difference, effect.low, effect.high) == (4.0, 1.0, 7.0)
    # Mann-Whitney, no ties, m = n = 4, complete separation: exact p = 2 * 1/70
    assert effect.p_value == pytest.approx(2 / 70)
    assert effect.complete and effect.as_expected is True
    assert effect.verdict == imp.AS_EXPECTED
    sentence = imp.effect_sentence(effect)
    assert sentence.startswith("IMP-01 Automated regression tests (alpha, from 2026-03-02): worked")
    assert "from a median of 2.5 (4 weeks before) to 6.5 (4 weeks after)" in sentence
    assert "shift +4.0, 95 % CI +1.0 to +7.0, Mann–Whitney p = 0.029" in sentence


def test_significant_move_against_the_expected_direction(weekly_db):
    _register(weekly_db, team="alpha", target_metric="deployments", expected_direction="down")
    (row,) = imp.measure_improvements(weekly_db, Filter(D(2026, 1, 1), D(2026, 12, 31)), 4).to_dict(
        "records"
    )
    assert row["verdict"] == imp.OPPOSITE and row["as_expected"] is False
    assert "went the wrong way" in row["sentence"]


def test_no_clear_effect_when_nothing_moved(con):
    # one deployment on the Wednesday of each of the 8 weeks: before 1,1,1,1 and after 1,1,1,1
    for week in range(8):
        change(con, f"C{week}", dt.datetime(2026, 2, 4, 10) + dt.timedelta(weeks=week))
    incident(con, "INC-FIRST", "2026-02-02 08:00")
    incident(con, "INC-LAST", "2026-03-30 09:00")
    _register(con, team="alpha", target_metric="deployments", expected_direction="up")
    effect = imp.measure_improvement(con, imp.improvements_frame(con).iloc[0].to_dict(), 4)
    # every value equal: shift 0, p = 1 (no evidence), so not as expected
    assert (effect.before, effect.after, effect.difference, effect.p_value) == (1, 1, 0, 1.0)
    assert effect.verdict == imp.NO_CLEAR_EFFECT and effect.as_expected is False


def test_too_early_to_tell_while_the_after_window_is_incomplete(weekly_db):
    _register(
        weekly_db, team="alpha", started_on="2026-03-16", target_metric="deployments",
        expected_direction="up",
    )  # fmt: skip
    effect = imp.measure_improvement(
        weekly_db, imp.improvements_frame(weekly_db).iloc[0].to_dict(), weeks=4
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
        weekly_db, imp.improvements_frame(weekly_db).iloc[0].to_dict(), weeks=4
    )
    assert effect.weeks_before == 1 and effect.before == 1.0 and effect.difference is None
    assert effect.verdict == imp.NOT_MEASURED
    assert effect.reason == "only 1 week(s) with a value before it started"


def test_an_improvement_without_target_metric_is_not_measured(weekly_db):
    _register(weekly_db, team="alpha")
    effect = imp.measure_improvement(weekly_db, imp.improvements_frame(weekly_db).iloc[0].to_dict())
    assert effect.verdict == imp.NOT_MEASURED and effect.reason == "it names no target metric"


def test_report_entries_carry_the_agreed_keys(weekly_db):
    _register(weekly_db, team="alpha", target_metric="deployments", expected_direction="up")
    _register(weekly_db, title="Outside the window", started_on="2025-06-02", team="alpha")
    flt = Filter(D(2026, 1, 1), D(2026, 3, 31), teams=("alpha",))
    # only IMP-01 started in the window; 4 weeks as in the hand computation above
    assert imp.improvements_for_report(weekly_db, flt, weeks=4) == [
        {
            "improvement_id": "IMP-01",
            "target_metric": "deployments",
            "before": 2.5,
            "after": 6.5,
            "difference": 4.0,
            "low": 1.0,
            "high": 7.0,
            "p_value": pytest.approx(2 / 70),
            "as_expected": True,
        }
    ]


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
    # data 7 Jan .. 6 Apr 2026; IMP-01 starts Monday 2 Mar: 8 weeks before are 5 Jan .. 1 Mar,
    # but the week of 5 Jan starts before the data (7 Jan), so 7 whole weeks (values 2..8) count
    # before, and 8 weeks after would end 26 Apr, past the data: too early to tell.
    _register(con, team="alpha", target_metric="deployments", expected_direction="up")
    _register(con, title="Other team", team="beta", target_metric="deployments")
    con.close()
    assert main(["report", "--db", str(path), "--format", "json", "--team", "alpha"]) == 0
    out = json.loads(capsys.readouterr().out)
    (entry,) = out["improvements"]
    assert entry["improvement_id"] == "IMP-01" and entry["as_expected"] is None
    # before: weeks of 12 Jan .. 23 Feb -> 2,3,4,5,6,7,8, median 5
    assert entry["before"] == 5.0
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
