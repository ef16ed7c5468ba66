"""The dashboard's breakdown queries on a tiny hand-made data set (window: Jan–Feb 2025)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics import views
from analytics.cost import CostModel
from analytics.filters import Filter
from analytics.metrics import EXPLICIT, per_team_sprints, report

WINDOW = Filter(dt.date(2025, 1, 1), dt.date(2025, 2, 28))


def insert(con, table: str, **values) -> None:
    columns = ", ".join(values)
    marks = ", ".join(f"${c}" for c in values)
    con.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def tiny(con):
    def change(change_id, team, change_type, approval, implemented, outcome="successful"):
        insert(
            con, "changes", change_id=change_id, team=team, service="web",
            change_type=change_type, approval=approval, risk="low",
            requested_at=ts(implemented) - dt.timedelta(hours=24),
            implemented_at=ts(implemented), outcome=outcome,
        )  # fmt: skip

    change("c1", "A", "normal", "cab", "2025-01-03 10:00")
    change("c2", "A", "standard", None, "2025-01-10 10:00")  # default route: pre-approved
    change("c3", "B", "emergency", "ecab", "2025-01-20 10:00", "failed")
    change("c4", "B", "normal", "product-owner", "2025-02-05 10:00")
    change("c5", "B", "emergency", "ecab", "2025-02-06 10:00", "cancelled")  # no deployment
    change("c6", "A", "normal", "cab", "2025-03-01 10:00")  # after the window

    def ticket(incident_id, kind, priority, opened, effort=None, caused_by=None):
        insert(
            con, "incidents", incident_id=incident_id, team="A", service="api", kind=kind,
            priority=priority, opened_at=ts(opened), effort_hours=effort,
            caused_by_change=caused_by,
        )  # fmt: skip

    ticket("i1", "incident", 1, "2025-01-05 09:00", caused_by="c3")  # 8 h default -> 600
    ticket("i2", "incident", 3, "2025-01-06 09:00", effort=1.5)  # 1.5 h -> 112.5
    ticket("r1", "request", 4, "2025-02-01 09:00")  # 0.5 h default -> 37.5
    ticket("i3", None, 2, "2025-02-10 09:00")  # no kind = incident; 4 h default -> 300
    ticket("i4", "incident", 1, "2025-03-05 09:00")  # after the window

    insert(con, "sprints", sprint_id="S1", team="A", start_date=dt.date(2025, 1, 6),
           end_date=dt.date(2025, 1, 19), committed_points=10.0, completed_points=8.0)  # fmt: skip
    insert(con, "sprints", sprint_id="S2", team="B", start_date=dt.date(2025, 2, 24),
           end_date=dt.date(2025, 3, 9), committed_points=5.0, completed_points=5.0)  # fmt: skip

    def item(item_id, sprint_id, requirement, aspect, points):
        insert(
            con, "work_items", item_id=item_id, team="A", sprint_id=sprint_id,
            requirement_type=requirement, warranty_aspect=aspect, story_points=points,
            created_at=ts("2025-01-02 09:00"),
        )  # fmt: skip

    item("w1", "S1", "warranty", "availability", 3.0)
    item("w2", "S1", "warranty", "security", 5.0)
    item("w3", "S1", "warranty", None, 2.0)
    item("w4", "S1", "utility", None, 8.0)
    item("w5", "S2", "warranty", "availability", 13.0)  # sprint ends after the window
    return con


def test_approval_mix_per_month(tiny):
    mix = views.approval_mix(tiny, WINDOW, EXPLICIT)
    rows = [(r.bucket.month, r.approval, r.deployments, r.share) for r in mix.itertuples()]
    # January: c1 (cab), c2 (pre-approved by default), c3 (ecab) -> a third each;
    # February: c4 only (c5 was cancelled, c6 is in March)
    assert rows == [
        (1, "cab", 1, pytest.approx(1 / 3)),
        (1, "ecab", 1, pytest.approx(1 / 3)),
        (1, "pre-approved", 1, pytest.approx(1 / 3)),
        (2, "product-owner", 1, 1.0),
    ]


def test_emergency_ratio_per_month(tiny):
    ratio = views.emergency_ratio(tiny, WINDOW, EXPLICIT)
    rows = [
        (r.bucket.month, r.deployments, r.emergency, r.emergency_ratio) for r in ratio.itertuples()
    ]
    assert rows == [(1, 3, 1, pytest.approx(1 / 3)), (2, 1, 0, 0.0)]  # cancelled c5 excluded


def test_cost_by_month_and_category(tiny):
    cost = views.cost_by_month(tiny, WINDOW, CostModel(hourly_rate=75.0))
    rows = [(r.bucket.month, r.category, r.tickets, r.hours, r.cost) for r in cost.itertuples()]
    assert rows == [
        (1, "P1", 1, 8.0, 600.0),  # default P1 effort 8 h x 75
        (1, "P3", 1, 1.5, 112.5),  # own effort 1.5 h x 75
        (2, "P2", 1, 4.0, 300.0),  # empty kind counts as an incident
        (2, "Request", 1, 0.5, 37.5),
    ]


def test_cost_breakdown_totals(tiny):
    totals = views.cost_breakdown(tiny, WINDOW, CostModel(hourly_rate=75.0))
    assert totals == {
        "cost": 1050.0,  # 600 + 112.5 + 300 + 37.5
        "incident_cost": 1012.5,  # 600 + 112.5 + 300
        "request_cost": 37.5,
        "change_caused_cost": 600.0,  # i1, caused by c3
        "change_caused_incidents": 1,
    }
    # the same total as the report's support cost
    assert report(tiny, WINDOW, CostModel(hourly_rate=75.0))["support_cost"] == 1050.0


def test_warranty_aspects_of_sprints_ending_in_the_window(tiny):
    aspects = views.warranty_aspects(tiny, WINDOW)
    assert [tuple(r) for r in aspects.itertuples(index=False)] == [
        ("A", "availability", 1, 3.0),
        ("A", "security", 1, 5.0),
        ("A", "unspecified", 1, 2.0),
    ]  # w4 is utility work; w5 belongs to S2, which ends in March


def test_per_team_sprints_matches_the_report(tiny):
    teams = per_team_sprints(tiny, WINDOW)
    assert list(teams["team"]) == ["A"]  # S2 (team B) ends after the window
    a = teams.iloc[0]
    assert a["say_do_ratio"] == pytest.approx(0.8)  # 8 completed of 10 committed
    assert a["warranty_share"] == pytest.approx(10 / 18)  # (3 + 5 + 2) of 18 points
    one_team = report(tiny, Filter(WINDOW.start, WINDOW.end, ("A",)))
    for key in ("sprints", "sprint_length_days_median", "velocity_points_median",
                "say_do_ratio", "warranty_share"):  # fmt: skip
        assert a[key] == pytest.approx(one_team[key]), key
    assert a["sprint_length_days_median"] == 14  # 6 to 19 January, both days included


def test_filter_choices_and_dataset_info(tiny):
    assert views.filter_choices(tiny) == {"teams": ["A", "B"], "services": ["api", "web"]}
    info = views.dataset_info(tiny)
    counts = info["row_counts"]
    assert (counts["sprints"], counts["work_items"], counts["changes"], counts["incidents"]) == (
        2, 5, 6, 5,
    )  # fmt: skip
    assert info["files"] == 0 and info["last_loaded_at"] is None


def test_warranty_share_against_incidents_in_the_weeks_after_each_sprint(tiny):
    rows = views.warranty_vs_following_incidents(tiny, WINDOW, weeks=4)
    assert len(rows) == 1  # only S1 ends in the window
    s1 = rows.iloc[0]
    assert s1["warranty_share"] == pytest.approx(10 / 18)
    # 4 weeks after 19 January = 20 January to 16 February: i3 (no kind, P2) on 10 February;
    # i1/i2 are before the sprint ended, r1 is a request, i4 (5 March) is too late
    assert (s1["incidents_after"], s1["incidents_p1_p2_after"]) == (1, 1)
    assert bool(s1["window_complete"])  # incidents are on record until 5 March
    late = views.warranty_vs_following_incidents(tiny, WINDOW, weeks=8)
    assert not bool(late.iloc[0]["window_complete"])  # 8 weeks reach 16 March


def test_months_mostly_inside_drops_months_cut_to_a_few_days():
    months = pd.DataFrame(
        {"bucket": [dt.date(2025, 11, 1), dt.date(2025, 12, 1), dt.date(2026, 1, 1)],
         "value": [1.0, 2.0, 3.0]}
    )  # fmt: skip
    # 30 Nov 2025 – 10 Jan 2026 (42 days): November 1 day inside, December 31, January 10;
    # threshold min(15, 42 // 2) = 15 keeps December only
    window = Filter(dt.date(2025, 11, 30), dt.date(2026, 1, 10))
    assert views.months_mostly_inside(months, window)["value"].tolist() == [2.0]
    # a one-week window over a month end (28 Jan – 3 Feb: 4 + 3 days) keeps both months:
    # threshold min(15, 7 // 2) = 3
    week = pd.DataFrame({"bucket": [dt.date(2026, 1, 1), dt.date(2026, 2, 1)], "value": [1, 2]})
    narrow = Filter(dt.date(2026, 1, 28), dt.date(2026, 2, 3))
    assert views.months_mostly_inside(week, narrow)["value"].tolist() == [1, 2]
