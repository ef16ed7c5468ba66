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


def test_partial_buckets_mark_edge_periods_with_less_than_half_their_days():
    # 31 Jan – 2 Apr 2025: January 1 day inside, February 28, March 31, April 2
    window = Filter(dt.date(2025, 1, 31), dt.date(2025, 4, 2))
    months = pd.DataFrame({"bucket": [dt.date(2025, m, 1) for m in (1, 2, 3, 4)]})
    assert views.partial_buckets(months, window, "month").tolist() == [True, False, False, True]
    # weeks (Mondays) of Sat 4 Jan – Sun 19 Jan: the first has 2 days inside (< 4)
    weeks = pd.DataFrame({"bucket": [dt.date(2024, 12, 30), dt.date(2025, 1, 6)]})
    narrow = Filter(dt.date(2025, 1, 4), dt.date(2025, 1, 19))
    assert views.partial_buckets(weeks, narrow, "week").tolist() == [True, False]
    # from Wednesday 1 January the first week has 5 days inside: whole enough
    wed = Filter(dt.date(2025, 1, 1), dt.date(2025, 1, 19))
    assert views.partial_buckets(weeks, wed, "week").tolist() == [False, False]
    assert len(views.buckets_mostly_inside(months, window, "month")) == 2


def test_emergency_ratio_marks_a_short_edge_month(tiny):
    # 1 January – 5 February: February (c4 on the 5th) has 5 days inside, fewer than 15
    window = Filter(dt.date(2025, 1, 1), dt.date(2025, 2, 5))
    ratio = views.emergency_ratio(tiny, window, EXPLICIT)
    rows = [(r.bucket.month, r.deployments, r.partial) for r in ratio.itertuples()]
    assert rows == [(1, 3, False), (2, 1, True)]
    mix = views.approval_mix(tiny, window, EXPLICIT)
    assert mix.loc[mix["bucket"].map(lambda d: d.month) == 2, "partial"].tolist() == [True]


def test_compare_to_median_ranks_only_beyond_noise():
    from analytics.stats import wilson_interval

    points = pd.DataFrame(
        {
            "label": ["A", "B", "C"],
            "deployments": [100, 101, 20],
            "deployments_per_week": [10.0, 10.1, 2.0],  # 10 weeks each
            "change_failure_rate": [0.10, 0.11, 0.40],
        }
    )
    placed = views.compare_to_median(points, "deployments_per_week", "change_failure_rate")
    # medians: 10 deployments a week, 11 %. A and B differ by a hair: about the median.
    # C: 20 deployments in 10 weeks, exact Poisson upper bound chi2(0.975, 42) / 2 = 30.89
    # -> 3.09 a week < 10: slower; 8 of 20 failed, Wilson (0.219, 0.613) > 0.11: less stable
    assert placed["speed_vs_median"].tolist() == [views.ABOUT, views.ABOUT, "slower"]
    assert placed["stability_vs_median"].tolist() == [views.ABOUT, views.ABOUT, "less stable"]
    low, high = wilson_interval(10, 100)  # A's interval holds the median 0.11
    assert low < 0.11 < high


def test_compare_to_median_needs_the_whole_interval_beyond_the_median():
    points = pd.DataFrame(
        {
            "label": ["A", "B", "C", "D"],
            "deployments": [200, 50, 52, 10],
            "deployments_per_week": [20.0, 5.0, 5.2, 1.0],
            "change_failure_rate": [0.0, 0.2, 0.2, 0.2],
        }
    )
    placed = views.compare_to_median(points, "deployments_per_week", "change_failure_rate")
    # speed median 5.1: A (200 in 10 weeks, lower bound chi2(0.025, 400) / 2 / 10 = 17.3)
    # is faster; D (10 in 10 weeks, upper bound 1.84) slower; B and C about the median.
    # CFR median 0.2: A with 0 of 200 failed has the Wilson interval (0, 0.0188): more stable
    assert placed["speed_vs_median"].tolist() == ["faster", views.ABOUT, views.ABOUT, "slower"]
    assert placed["stability_vs_median"].tolist() == ["more stable"] + [views.ABOUT] * 3


def test_dora_tiers_are_not_claimed_for_kinds_not_loaded():
    from analytics.dora import missing_inputs

    only_incidents = {"changes": 0, "incidents": 12, "sprints": 0, "work_items": 0}
    assert missing_inputs(only_incidents) == {
        "deployment_frequency": "no deployments loaded",
        "lead_time": "no deployments loaded",
        "change_failure_rate": "no deployments loaded",
        "failed_deployment_recovery": "no deployments loaded",
    }
    only_changes = {"changes": 5, "incidents": 0}
    assert missing_inputs(only_changes)["failed_deployment_recovery"] == "no incidents loaded"
    assert missing_inputs(only_changes)["lead_time"] is None


def test_compare_to_median_of_medians_uses_the_ten_percent_band_and_skips_empty_points():
    points = pd.DataFrame(
        {
            "label": ["A", "B", "C", "D", "E"],
            "deployments": [10, 10, 10, 10, 0],  # E deployed nothing: no rate, no interval
            "deployments_per_week": [1.0, 1.0, 1.0, 1.0, 0.0],
            "lead_time_hours_median": [20.0, 21.0, 30.0, 15.0, float("nan")],
            "change_failure_rate": [0.1, 0.1, 0.1, 0.1, float("nan")],
        }
    )
    placed = views.compare_to_median(points, "deployments_per_week", "lead_time_hours_median")
    # speed median 1 a week; 10 in 10 weeks has the exact interval (0.48, 1.84): about, and E
    # (no deployments) has none. Lead time median of A-D 20.5 h: A 20 (18-22) and B 21
    # (18.9-23.1) about it, C 30 (27-33) above: less stable, D 15 (13.5-16.5) more stable
    assert placed["speed_vs_median"].tolist() == [views.ABOUT] * 5
    assert placed["stability_vs_median"].tolist() == [
        views.ABOUT, views.ABOUT, "less stable", "more stable", views.ABOUT
    ]  # fmt: skip
    # the failure rate of a point without deployments has no Wilson interval: about the median
    rated = views.compare_to_median(points, "deployments_per_week", "change_failure_rate")
    assert rated["stability_vs_median"].tolist() == [views.ABOUT] * 5
