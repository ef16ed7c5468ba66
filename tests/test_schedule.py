"""The change schedule: each change-manager flag with a hand-made case that triggers it and one
that does not, and the timeline's data (hover lists, aggregation past the point limit)."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics import schedule
from analytics.filters import Filter
from tests.builders import change, incident, insert

D = dt.date
ALL_2026 = Filter(D(2026, 1, 1), D(2026, 12, 31))


def sprint(con, sprint_id: str, start: str, end: str, team: str = "alpha") -> None:
    insert(con, "sprints", sprint_id=sprint_id, team=team, start_date=start, end_date=end)


# --- implemented outside the planned window -----------------------------------------------------


def test_outside_window_flags_early_and_late_changes_only(con):
    window = {"planned_start": "2026-03-10 10:00", "planned_end": "2026-03-10 12:00"}
    change(con, "INSIDE", "2026-03-10 12:00", **window)  # on the end: inside
    change(con, "LATE", "2026-03-10 13:30", **window)  # 1.5 h past the end
    change(con, "EARLY", "2026-03-10 09:15", **window)  # 0.75 h before the start
    change(con, "NO-WINDOW", "2026-03-10 23:00")
    change(con, "HALF-WINDOW", "2026-03-10 23:00", planned_start="2026-03-10 10:00")
    change(con, "CANCELLED", "2026-03-10 23:00", outcome="cancelled", **window)
    flagged = schedule.implemented_outside_window(con, ALL_2026)
    assert flagged[["change_id", "hours_off"]].values.tolist() == [["EARLY", -0.75], ["LATE", 1.5]]


def test_outside_window_respects_the_filter(con):
    window = {"planned_start": "2026-03-10 10:00", "planned_end": "2026-03-10 12:00"}
    change(con, "LATE-ALPHA", "2026-03-11 10:00", **window)
    change(con, "LATE-BETA", "2026-03-11 10:00", team="beta", **window)
    alpha = Filter(D(2026, 3, 1), D(2026, 3, 31), teams=("alpha",))
    assert list(schedule.implemented_outside_window(con, alpha)["change_id"]) == ["LATE-ALPHA"]
    april = Filter(D(2026, 4, 1), D(2026, 4, 30))
    assert schedule.implemented_outside_window(con, april).empty


# --- planned changes without a sprint -----------------------------------------------------------


def test_change_without_sprint_while_the_team_runs_one(con):
    sprint(con, "S1", "2026-03-02", "2026-03-13")
    change(con, "NO-SPRINT", "2026-03-13 17:00")  # last day of S1, no sprint_id: flagged
    change(con, "IN-SPRINT", "2026-03-05 10:00", sprint_id="S1")
    change(con, "BETWEEN", "2026-03-14 10:00")  # the day after S1: alpha runs no sprint
    change(con, "EMERGENCY", "2026-03-05 03:00", change_type="emergency")  # unplanned: fine
    change(con, "OTHER-TEAM", "2026-03-05 10:00", team="beta")  # beta has no sprints
    flagged = schedule.changes_without_sprint(con, ALL_2026)
    assert flagged[["change_id", "running_sprint"]].values.tolist() == [["NO-SPRINT", "S1"]]


def test_change_without_sprint_names_the_latest_of_overlapping_sprints(con):
    sprint(con, "S1", "2026-03-02", "2026-03-13")
    sprint(con, "S2", "2026-03-09", "2026-03-20")
    change(con, "NO-SPRINT", "2026-03-10 10:00")
    flagged = schedule.changes_without_sprint(con, ALL_2026)
    assert flagged[["change_id", "running_sprint"]].values.tolist() == [["NO-SPRINT", "S2"]]


# --- emergency changes in a review week ---------------------------------------------------------


def test_emergency_changes_in_the_last_five_days_of_a_sprint(con):
    # a two-week sprint, 2 to 13 March (12 days): the review week is 9 to 13 March
    sprint(con, "S1", "2026-03-02", "2026-03-13")
    emergency = {"change_type": "emergency"}
    change(con, "E-REVIEW-START", "2026-03-09 00:30", **emergency)  # 4 days before the review
    change(con, "E-REVIEW-DAY", "2026-03-13 23:00", **emergency)
    change(con, "E-EARLY", "2026-03-08 23:59", **emergency)  # day 7 of the sprint: not flagged
    change(con, "E-AFTER", "2026-03-14 01:00", **emergency)  # after the sprint
    change(con, "NORMAL-REVIEW", "2026-03-12 10:00")  # not an emergency
    change(con, "E-OTHER-TEAM", "2026-03-12 10:00", team="beta", **emergency)
    flagged = schedule.emergency_changes_in_review_week(con, ALL_2026)
    assert flagged[["change_id", "sprint_id", "days_before_review"]].values.tolist() == [
        ["E-REVIEW-START", "S1", 4],
        ["E-REVIEW-DAY", "S1", 0],
    ]


def test_review_week_of_a_one_week_sprint_is_its_last_three_days(con):
    # Monday 2 to Friday 6 March: 5 days, half rounded up = 3 -> 4 to 6 March
    sprint(con, "S1", "2026-03-02", "2026-03-06")
    change(con, "E-TUESDAY", "2026-03-03 10:00", change_type="emergency")
    change(con, "E-WEDNESDAY", "2026-03-04 10:00", change_type="emergency")
    flagged = schedule.emergency_changes_in_review_week(con, ALL_2026)
    assert list(flagged["change_id"]) == ["E-WEDNESDAY"]
    # with a one-day review window only the Friday counts
    assert schedule.emergency_changes_in_review_week(con, ALL_2026, review_days=1).empty
    with pytest.raises(ValueError, match="at least 1"):
        schedule.emergency_changes_in_review_week(con, ALL_2026, review_days=0)


# --- clusters -----------------------------------------------------------------------------------


def test_three_changes_on_one_service_on_one_day_are_a_cluster(con):
    for i, hour in enumerate((0, 9, 23)):
        change(
            con, f"W{i}", f"2026-03-10 {hour:02d}:30", outcome="failed" if i == 1 else "successful"
        )
    change(con, "W-NEXT-DAY", "2026-03-11 00:10")  # next UTC day
    change(con, "API-1", "2026-03-10 10:00", service="api")
    change(con, "API-2", "2026-03-10 11:00", service="api")  # two on api: below 3
    change(con, "W-CANCELLED", "2026-03-10 12:00", outcome="cancelled")
    clusters = schedule.change_clusters(con, ALL_2026)
    assert clusters.to_dict("records") == [
        {
            "service": "web",
            "day": D(2026, 3, 10),
            "changes": 3,
            "failed": 1,
            "teams": "alpha",
            "change_ids": "W0, W1, W2",
        }
    ]
    # a threshold of 2 also finds api's pair
    assert list(schedule.change_clusters(con, ALL_2026, min_changes=2)["service"]) == [
        "web",
        "api",
    ]


def test_cluster_id_list_is_capped(con):
    for i in range(12):
        change(con, f"C{i:02d}", "2026-03-10 10:00")
    (row,) = schedule.change_clusters(con, ALL_2026).to_dict("records")
    assert row["changes"] == 12
    assert row["change_ids"] == "C00, C01, C02, C03, C04, C05, C06, C07, C08, C09 and 2 more"


# --- the timeline -------------------------------------------------------------------------------


def test_sprint_rows_list_the_changes_released_from_each_sprint(con):
    sprint(con, "S1", "2026-03-02", "2026-03-13")
    sprint(con, "S0", "2026-02-16", "2026-02-27")  # outside the window below
    change(con, "C1", "2026-03-05 10:00", sprint_id="S1")
    change(con, "C2", "2026-03-20 10:00", sprint_id="S1")  # released after the sprint: still S1's
    change(con, "C3", "2026-03-06 10:00", sprint_id="S1", outcome="cancelled")
    rows = schedule.sprint_rows(con, Filter(D(2026, 3, 1), D(2026, 3, 31)))
    assert rows[["sprint_id", "changes", "change_ids"]].values.tolist() == [["S1", 2, "C1, C2"]]


def test_change_rows_carry_lead_time_and_linked_incidents(con):
    change(
        con, "C1", "2026-03-10 13:30", requested_at="2026-03-09 13:30",
        planned_start="2026-03-10 10:00", planned_end="2026-03-10 12:00", change_type="emergency",
    )  # fmt: skip
    incident(con, "INC-2", "2026-03-10 14:00", caused_by_change="C1")
    incident(con, "INC-1", "2026-03-10 15:00", caused_by_change="C1")
    (row,) = schedule.change_rows(con, ALL_2026).to_dict("records")
    # requested a day before: 24 h lead time; approval from the type's default route (ecab)
    assert (row["lead_time_hours"], row["approval"], row["incidents"]) == (
        24.0,
        "ecab",
        "INC-1, INC-2",
    )
    assert row["outside_window"]


def test_timeline_aggregates_per_day_beyond_the_point_limit(con):
    for i in range(3):
        change(con, f"C{i}", f"2026-03-1{i} 10:00")
        incident(con, f"I{i}", "2026-03-10 10:00", priority=2)
    incident(con, "REQ", "2026-03-10 10:00", kind="request")
    rows = schedule.timeline(con, ALL_2026, max_points=3)
    assert (rows.changes_per_day, rows.incidents_per_day) == (False, False)
    assert (rows.n_changes, rows.n_incidents) == (3, 3)  # the request is not an incident
    assert list(rows.changes["change_id"]) == ["C0", "C1", "C2"]
    summary = schedule.timeline(con, ALL_2026, max_points=2)
    assert summary.changes_per_day and summary.incidents_per_day
    # three changes on three days, three P2 incidents on one day
    assert summary.changes["changes"].tolist() == [1, 1, 1]
    assert summary.incidents[["priority", "incidents"]].values.tolist() == [[2, 3]]


def test_timeline_summarises_per_week_in_a_long_window(con):
    # 2026-03-10 (Tue), 03-11 (Wed), 03-12 (Thu) are in the week of Monday 9 March;
    # 2026-03-16 is the next Monday
    for i, day in enumerate(["2026-03-10", "2026-03-11", "2026-03-12", "2026-03-16"]):
        change(con, f"C{i}", f"{day} 10:00", outcome="failed" if i == 1 else "successful")
        incident(con, f"I{i}", f"{day} 11:00", priority=2)
    weekly = schedule.timeline(con, ALL_2026, max_points=2, weekly_after_days=120)
    assert weekly.unit == "week"  # 365 days > 120
    assert weekly.changes[["day", "changes", "failed"]].values.tolist() == [
        [dt.datetime(2026, 3, 9), 3, 1],
        [dt.datetime(2026, 3, 16), 1, 0],
    ]
    assert weekly.incidents["incidents"].tolist() == [3, 1]
    # a 31-day window stays per day: four days, one change each
    march = Filter(D(2026, 3, 1), D(2026, 3, 31))
    daily = schedule.timeline(con, march, max_points=2, weekly_after_days=120)
    assert daily.unit == "day" and daily.changes["changes"].tolist() == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="unit"):
        schedule.change_days(con, march, "month")


def test_servicenow_planned_dates_become_the_planned_window(con):
    from analytics.importers import import_paths

    import_paths(con, ["tests/data/imports/servicenow_change_request.csv"])
    # CHG0030001: start_date 2026-01-12 22:00, end_date 2026-01-13 00:00, work_end 23:30 (inside)
    row = con.execute(
        "SELECT planned_start, planned_end, implemented_at FROM changes "
        "WHERE change_id = 'CHG0030001'"
    ).fetchone()
    assert row == (
        dt.datetime(2026, 1, 12, 22),
        dt.datetime(2026, 1, 13, 0),
        dt.datetime(2026, 1, 12, 23, 30),
    )
    assert "CHG0030001" not in set(schedule.implemented_outside_window(con, ALL_2026)["change_id"])


def test_planned_window_counts(con):
    window = {"planned_start": "2026-03-10 10:00", "planned_end": "2026-03-10 12:00"}
    change(con, "INSIDE", "2026-03-10 11:00", **window)
    change(con, "LATE", "2026-03-10 13:00", **window)
    change(con, "NONE", "2026-03-10 13:00")
    change(con, "CANCELLED", "2026-03-10 13:00", outcome="cancelled", **window)
    # 3 implemented (cancelled excluded), 2 with a window, 1 of them outside it
    assert schedule.planned_window_counts(con, ALL_2026) == {
        "implemented": 3,
        "with_window": 2,
        "outside_window": 1,
    }
