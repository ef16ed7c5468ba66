"""The metrics core on tiny hand-made data sets; every expected number is worked out by hand.

The main data set (``org``) spans the window Mon 2026-01-05 .. Sun 2026-01-18 (14 days):

changes (lead time = implemented - requested)
  C1 alpha/web   standard, no approval -> pre-approved  impl 01-05 20:00  lead 12 h  successful
  C2 alpha/web   normal, no approval -> cab             impl 01-08 00:00  lead 48 h  failed
  C3 beta/api    normal, cab                            impl 01-10 00:00  lead 24 h  successful,
                 but caused incidents I1, I2, I3 (one failed deployment, not three)
  C4 beta/api    emergency -> ecab                      impl 01-12 12:00  lead 36 h  rolled_back
  C5 alpha/web   cancelled, never implemented                                        (not counted)
  C6 alpha/web   cancelled                              impl 01-07                   (not counted)
  C7 alpha/web   successful                             impl 01-20 (after the window; I4 names it)
  C8 -/web       no team; resolves I2 (rework)          impl 01-15 10:00  lead 4 h   successful
  C9 alpha/-     no service, product-owner              impl 01-16 00:00  lead 48 h  successful,
                 named as cause by I9, which opened in March (outside the window)

incidents and requests (restore = resolved - opened; effort default P1 8, P2 4, P3 2, P4 1, req 0.5)
  I1 beta/api    P1  01-10 02:00 -> 05:00       3 h   caused C3   effort -   -> 8
  I2 beta/api    P2  01-10 03:00 -> 01-11 03:00 24 h  caused C3   effort 5     resolved by C8
  I3 beta/api    P3  01-11 00:00, unresolved          caused C3   effort -   -> 2
  I4 alpha/web   P4  01-12 00:00 -> 01:00       1 h   caused C7   effort -   -> 1
  I5 alpha/web   P3  01-05 21:00 -> 23:00       2 h   no cause    effort 1.5  (1 h after C1)
  I6 beta/api    P3  01-13 00:00 -> 06:00       6 h   no cause    effort 0.5  (12 h after C4)
  I7 alpha/db    P2  01-08 01:00 -> 05:00       4 h   no cause    effort -   -> 4 (no db deploys)
  R1 alpha/web   request 01-07 10:00 -> 11:00               effort -   -> 0.5
  R2 -/-         request 01-14 10:00                         effort 2
  I8 alpha/web   P3  01-19 00:00 (after the window)
  I9 alpha/web   P3  2026-03-01 00:00, caused C9

sprints (length = end - start + 1)
  S1 alpha 01-05..01-16 (12 d) committed 20 completed 18; items W1 5 pts warranty, W2 8 pts,
     W3 3 pts warranty (operations)
  S2 beta  01-08..01-17 (10 d) committed 10, no completed; items W4 5 pts resolved 01-17 23:00,
     W5 3 pts resolved 01-18 00:00 (too late), W6 2 pts unresolved, W7 warranty without points
  S3 alpha 01-19..01-30 (ends after the window)
  S4 beta  01-01..01-07 (7 d) completed 12, no committed, no items
"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from builders import change, incident, request, sprint, work_item
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.cost import CostModel
from analytics.dora import dora_tiers, tier
from analytics.filters import Filter
from analytics.metrics import (
    Attribution,
    by_approval,
    data_range,
    deployments_frame,
    per_team,
    per_team_quarter,
    report,
    sprints_frame,
    tickets_frame,
)
from analytics.series import metric_series, metrics_series
from analytics.store import connect

D = dt.date
WINDOW = Filter(D(2026, 1, 5), D(2026, 1, 18))


def build_org(con) -> None:
    change(con, "C1", "2026-01-05 20:00", "2026-01-05 08:00", change_type="standard")
    change(con, "C2", "2026-01-08 00:00", "2026-01-06 00:00", outcome="failed")
    change(
        con,
        "C3",
        "2026-01-10 00:00",
        "2026-01-09 00:00",
        team="beta",
        service="api",
        approval="cab",
    )
    change(
        con,
        "C4",
        "2026-01-12 12:00",
        "2026-01-11 00:00",
        team="beta",
        service="api",
        change_type="emergency",
        outcome="rolled_back",
    )
    change(con, "C5", None, "2026-01-06 00:00", outcome="cancelled")
    change(con, "C6", "2026-01-07 00:00", "2026-01-06 00:00", outcome="cancelled")
    change(con, "C7", "2026-01-20 00:00", "2026-01-19 00:00")
    change(con, "C8", "2026-01-15 10:00", "2026-01-15 06:00", team=None)
    change(
        con, "C9", "2026-01-16 00:00", "2026-01-14 00:00", service=None, approval="product-owner"
    )

    beta_api = {"team": "beta", "service": "api"}
    incident(
        con,
        "I1",
        "2026-01-10 02:00",
        resolved_at="2026-01-10 05:00",
        priority=1,
        caused_by_change="C3",
        **beta_api,
    )
    incident(
        con,
        "I2",
        "2026-01-10 03:00",
        resolved_at="2026-01-11 03:00",
        priority=2,
        caused_by_change="C3",
        resolved_by_change="C8",
        effort_hours=5.0,
        **beta_api,
    )
    incident(con, "I3", "2026-01-11 00:00", priority=3, caused_by_change="C3", **beta_api)
    incident(
        con,
        "I4",
        "2026-01-12 00:00",
        resolved_at="2026-01-12 01:00",
        priority=4,
        caused_by_change="C7",
    )
    incident(con, "I5", "2026-01-05 21:00", resolved_at="2026-01-05 23:00", effort_hours=1.5)
    incident(
        con, "I6", "2026-01-13 00:00", resolved_at="2026-01-13 06:00", effort_hours=0.5, **beta_api
    )
    incident(
        con, "I7", "2026-01-08 01:00", resolved_at="2026-01-08 05:00", priority=2, service="db"
    )
    request(con, "R1", "2026-01-07 10:00", resolved_at="2026-01-07 11:00")
    request(con, "R2", "2026-01-14 10:00", team=None, service=None, effort_hours=2.0)
    incident(con, "I8", "2026-01-19 00:00")
    incident(con, "I9", "2026-03-01 00:00", caused_by_change="C9")

    sprint(con, "S1", "2026-01-05", "2026-01-16", committed_points=20, completed_points=18)
    work_item(
        con, "W1", "S1", story_points=5, requirement_type="warranty", resolved_at="2026-01-09 12:00"
    )
    work_item(con, "W2", "S1", story_points=8, requirement_type="utility")
    work_item(con, "W3", "S1", story_points=3, requirement_type="warranty", origin="operations")
    sprint(con, "S2", "2026-01-08", "2026-01-17", team="beta", committed_points=10)
    work_item(con, "W4", "S2", team="beta", story_points=5, resolved_at="2026-01-17 23:00")
    work_item(con, "W5", "S2", team="beta", story_points=3, resolved_at="2026-01-18 00:00")
    work_item(con, "W6", "S2", team="beta", story_points=2)
    work_item(
        con, "W7", "S2", team="beta", requirement_type="warranty", resolved_at="2026-01-10 00:00"
    )
    sprint(con, "S3", "2026-01-19", "2026-01-30", committed_points=20)
    work_item(con, "W8", "S3", story_points=13)
    sprint(con, "S4", "2026-01-01", "2026-01-07", team="beta", completed_points=12)


@pytest.fixture
def org(con):
    build_org(con)
    return con


# --- the report -------------------------------------------------------------------------------


def test_deployment_metrics(org):
    r = report(org, WINDOW)
    assert r["window_days"] == 14
    # C1 C2 C3 C4 C8 C9; C5/C6 cancelled, C7 after the window
    assert r["deployments"] == 6
    assert r["deployments_per_week"] == pytest.approx(3.0)  # 6 / (14 / 7)
    # lead times 4 12 24 36 48 48 -> (24 + 36) / 2
    assert r["lead_time_hours_median"] == pytest.approx(30.0)
    # C2 failed, C3 caused I1-I3 (counted once), C4 rolled back, C9 caused I9 (March)
    assert r["failed_deployments"] == 4
    assert r["change_failure_rate"] == pytest.approx(4 / 6)
    assert r["rework_rate"] == pytest.approx(1 / 6)  # C8 resolved I2


def test_incident_and_support_metrics(org):
    r = report(org, WINDOW)
    assert r["incidents"] == 7  # I1-I7; I8 and I9 open outside the window
    assert r["requests"] == 2
    # resolved incidents: I1 3, I2 24, I4 1, I5 2, I6 6, I7 4 -> 1 2 3 4 6 24 -> (3 + 4) / 2
    assert r["time_to_restore_hours_median"] == pytest.approx(3.5)
    # with a cause: I1 3, I2 24, I4 1 (I3 unresolved) -> 3
    assert r["failed_deployment_recovery_hours_median"] == pytest.approx(3.0)
    # 8 + 5 + 2 + 1 + 1.5 + 0.5 + 4 + 0.5 + 2
    assert r["support_hours"] == pytest.approx(24.5)
    assert r["support_cost"] == pytest.approx(24.5 * 75)
    assert r["hourly_rate"] == 75.0
    assert report(org, WINDOW, CostModel(hourly_rate=100))["support_cost"] == pytest.approx(2450)
    assert r["attribution"] == {
        "mode": "explicit",
        "window_hours": None,
        "incidents_linked_explicitly": 4,  # I1 I2 I3 I4
        "incidents_linked_by_window": 0,
        "incidents_unattributed": 3,  # I5 I6 I7
        # the placebo check only runs with window attribution
        "placebo_links": None,
        "excess_links": None,
        "placebo_after_links": None,
        "p_value": None,
    }


def test_sprint_metrics(org):
    r = report(org, WINDOW)
    assert r["sprints"] == 3  # S1 S2 S4; S3 ends after the window
    assert r["sprint_length_days_median"] == 10  # 7 10 12
    # velocities: S1 18, S2 5 (W4 only: W5 too late, W6 open), S4 12 -> 12
    assert r["velocity_points_median"] == 12
    assert r["say_do_ratio"] == pytest.approx(18 / 20)  # only S1 has both
    # warranty W1 5 + W3 3 (W7 has no points) over S1 16 + S2 10 + S4 0
    assert r["warranty_share"] == pytest.approx(8 / 26)


def test_by_approval_always_has_the_four_paths(org):
    r = report(org, WINDOW)
    assert r["by_approval"] == {
        "pre-approved": {  # C1 (standard default)
            "deployments": 1,
            "failed_deployments": 0,
            "change_failure_rate": 0.0,
            "lead_time_hours_median": 12.0,
        },
        "product-owner": {  # C9
            "deployments": 1,
            "failed_deployments": 1,
            "change_failure_rate": 1.0,
            "lead_time_hours_median": 48.0,
        },
        "cab": {  # C2 (normal default), C3, C8: leads 48 24 4, failed C2 C3
            "deployments": 3,
            "failed_deployments": 2,
            "change_failure_rate": pytest.approx(2 / 3),
            "lead_time_hours_median": 24.0,
        },
        "ecab": {  # C4
            "deployments": 1,
            "failed_deployments": 1,
            "change_failure_rate": 1.0,
            "lead_time_hours_median": 36.0,
        },
    }
    df = by_approval(org, Filter(D(2026, 1, 5), D(2026, 1, 6)))  # only C1
    assert list(df["approval"]) == ["pre-approved", "product-owner", "cab", "ecab"]
    assert list(df["deployments"]) == [1, 0, 0, 0]
    assert math.isnan(df["change_failure_rate"][1])


def test_dora_tiers_in_report(org):
    # 3 per week -> high; 30 h -> high; 4/6 -> low; 3 h -> high
    assert report(org, WINDOW)["dora"] == {
        "deployment_frequency": "high",
        "lead_time": "high",
        "change_failure_rate": "low",
        "failed_deployment_recovery": "high",
    }


def test_team_filter_excludes_records_without_a_team(org):
    r = report(org, Filter(WINDOW.start, WINDOW.end, teams=("alpha",)))
    assert r["deployments"] == 3  # C1 C2 C9 (C8 has no team)
    assert r["failed_deployments"] == 2  # C2 C9
    assert r["lead_time_hours_median"] == 48.0  # 12 48 48
    assert r["incidents"] == 3  # I4 I5 I7
    assert r["requests"] == 1  # R1 (R2 has no team)
    assert r["support_hours"] == pytest.approx(7.0)  # 1 + 1.5 + 4 + 0.5
    assert r["teams"] == ["alpha"]
    # S1 only: 12 days, 18 points, 18/20, (5 + 3) / 16
    assert (r["sprints"], r["sprint_length_days_median"], r["velocity_points_median"]) == (
        1,
        12,
        18,
    )
    assert r["say_do_ratio"] == pytest.approx(0.9)
    assert r["warranty_share"] == pytest.approx(0.5)


def test_service_filter_excludes_records_without_a_service(org):
    r = report(org, Filter(WINDOW.start, WINDOW.end, services=("web",)))
    assert r["deployments"] == 3  # C1 C2 C8 (C9 has no service)
    assert r["failed_deployments"] == 1  # C2
    assert r["rework_rate"] == pytest.approx(1 / 3)  # C8
    assert r["incidents"] == 2  # I4 I5 (I7 is on db)
    assert r["requests"] == 1  # R1 (R2 has no service)
    assert r["sprints"] == 3  # sprints are filtered by team only


def test_empty_window_gives_zeros_and_nulls(org):
    r = report(org, Filter(D(2025, 6, 1), D(2025, 6, 30)))
    assert r["deployments"] == 0
    assert r["deployments_per_week"] == 0.0
    assert r["failed_deployments"] == 0
    assert r["incidents"] == 0 and r["requests"] == 0 and r["sprints"] == 0
    assert r["support_hours"] == 0.0 and r["support_cost"] == 0.0
    for key in (
        "lead_time_hours_median",
        "change_failure_rate",
        "rework_rate",
        "time_to_restore_hours_median",
        "failed_deployment_recovery_hours_median",
        "sprint_length_days_median",
        "velocity_points_median",
        "say_do_ratio",
        "warranty_share",
    ):
        assert r[key] is None, key
    assert r["dora"] == {
        "deployment_frequency": "low",  # 0 per week
        "lead_time": None,
        "change_failure_rate": None,
        "failed_deployment_recovery": None,
    }


def test_empty_database_gives_zeros_and_empty_frames(con):
    assert data_range(con) is None
    r = report(con, WINDOW)
    assert r["deployments"] == 0 and r["change_failure_rate"] is None
    assert r["attribution"]["incidents_unattributed"] == 0
    # series: both weeks of the window, zero; per-team views: no rows, but the columns
    assert metric_series(con, WINDOW, "deployments")["value"].tolist() == [0, 0]
    assert metric_series(con, WINDOW, "lead_time_hours_median")["value"].isna().all()
    assert list(metric_series(con, WINDOW, "incidents", by="team").columns) == [
        "bucket",
        "team",
        "value",
    ]
    assert metric_series(con, WINDOW, "incidents", by="team").empty
    assert per_team(con, WINDOW).empty and "support_cost" in per_team(con, WINDOW).columns
    assert per_team_quarter(con, WINDOW).empty
    assert deployments_frame(con, WINDOW).empty and tickets_frame(con, WINDOW).empty
    assert sprints_frame(con, WINDOW).empty
    assert by_approval(con, WINDOW)["deployments"].tolist() == [0, 0, 0, 0]


def test_unknown_team_gives_zeros(org):
    r = report(org, Filter(WINDOW.start, WINDOW.end, teams=("nobody",)))
    assert (r["deployments"], r["incidents"], r["sprints"]) == (0, 0, 0)


def test_failure_rate_stays_at_most_one_when_one_change_causes_many_incidents(con):
    change(con, "X1", "2026-01-06 10:00")
    for n in range(5):
        incident(con, f"N{n}", f"2026-01-06 1{n}:00", caused_by_change="X1")
    r = report(con, WINDOW)
    assert (r["deployments"], r["failed_deployments"], r["change_failure_rate"]) == (1, 1, 1.0)
    assert deployments_frame(con, WINDOW)["failed"].tolist() == [True]


def test_requests_neither_fail_nor_rework_a_change(con):
    change(con, "X1", "2026-01-06 10:00")
    request(con, "Q1", "2026-01-06 11:00", caused_by_change="X1", resolved_by_change="X1")
    r = report(con, WINDOW)
    assert (r["failed_deployments"], r["rework_rate"]) == (0, 0.0)


# --- window attribution -----------------------------------------------------------------------


def test_window_attribution_links_the_latest_deployment_within_bound(org):
    r = report(org, WINDOW, attribution=Attribution("window", 2))
    # I5 opened 1 h after C1 on web -> C1 fails too; I6 is 12 h after C4 (> 2 h);
    # I7 is on db, where nothing was deployed (C2 on web 1 h before does not count)
    assert r["failed_deployments"] == 5
    assert r["change_failure_rate"] == pytest.approx(5 / 6)
    # recovery over I1 3, I2 24, I4 1, I5 2 -> (2 + 3) / 2
    assert r["failed_deployment_recovery_hours_median"] == pytest.approx(2.5)
    assert r["attribution"] == {
        "mode": "window",
        "window_hours": 2,
        "incidents_linked_explicitly": 4,
        "incidents_linked_by_window": 1,
        "incidents_unattributed": 2,
        # placebo windows a week either side need a record from 5 Jan 20:00 (C1) to 20 Jan
        # (C7): only I6 (13 Jan 00:00, api) qualifies, with no api deployment 2 h before it, a
        # week earlier, a week later or straight after: nothing to compare, no p-value
        "placebo_links": 0.0,
        "excess_links": 0.0,
        "placebo_after_links": 0,
        "p_value": None,
    }
    assert r["dora"]["change_failure_rate"] == "low"


def test_window_bound_is_inclusive(org):
    r = report(org, WINDOW, attribution=Attribution("window", 12))
    # I6 opened exactly 12 h after C4 -> linked (C4 had already failed: still 5 failed)
    assert r["failed_deployments"] == 5
    assert r["attribution"]["incidents_linked_by_window"] == 2
    assert r["attribution"]["incidents_unattributed"] == 1  # I7


def test_window_attribution_takes_only_the_latest_deployment(con):
    change(con, "D1", "2026-01-06 10:00")
    change(con, "D2", "2026-01-06 11:00")
    change(con, "D3", "2026-01-06 11:10", service="api")  # another service
    change(con, "D4", "2026-01-06 11:20", outcome="cancelled")  # not a deployment
    incident(con, "N1", "2026-01-06 11:30")
    frame = deployments_frame(con, WINDOW, Attribution("window", 4))
    assert dict(zip(frame["change_id"], frame["failed"], strict=True)) == {
        "D1": False,
        "D2": True,
        "D3": False,
    }
    assert not deployments_frame(con, WINDOW)["failed"].any()  # explicit mode


def test_window_links_cross_the_window_edges(con):
    change(con, "D0", "2026-01-04 23:30")  # the day before the window
    incident(con, "N0", "2026-01-05 00:30")  # in the window, 1 h after D0
    change(con, "D1", "2026-01-18 23:00")  # the window's last hour
    incident(con, "N1", "2026-01-19 00:30")  # after the window, 1.5 h after D1
    change(con, "D2", "2026-01-10 00:00", service="api")
    incident(con, "N2", "2026-01-10 03:00", service="api")  # 3 h after D2: too late
    r = report(con, WINDOW, attribution=Attribution("window", 2))
    # deployments D1 D2; D1 failed through N1 although N1 opened after the window
    assert (r["deployments"], r["failed_deployments"], r["change_failure_rate"]) == (2, 1, 0.5)
    # incidents in the window: N0 (linked to D0, before the window), N2 (not linked)
    assert r["attribution"]["incidents_linked_by_window"] == 1
    assert r["attribution"]["incidents_unattributed"] == 1
    web = report(
        con,
        Filter(WINDOW.start, WINDOW.end, services=("web",)),
        attribution=Attribution("window", 2),
    )
    assert (web["deployments"], web["failed_deployments"], web["incidents"]) == (1, 1, 1)
    assert web["attribution"]["incidents_linked_by_window"] == 1  # N0
    series = metric_series(con, WINDOW, "failed_deployments", attribution=Attribution("window", 2))
    assert series["value"].tolist() == [0, 1]  # D2 | D1


def test_explicit_mode_ignores_window_hours(org):
    r = report(org, WINDOW, attribution=Attribution("explicit", 48))
    assert r["failed_deployments"] == 4  # as without a window
    assert r["attribution"]["window_hours"] is None


def test_attribution_rejects_bad_settings():
    with pytest.raises(ValueError):
        Attribution("window")
    with pytest.raises(ValueError):
        Attribution("guess", 3)


# --- DORA tiers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        ("deployment_frequency", 7.0, "elite"),  # daily
        ("deployment_frequency", 6.99, "high"),
        ("deployment_frequency", 1.0, "high"),  # weekly
        ("deployment_frequency", 0.99, "medium"),
        ("deployment_frequency", 7 / 30, "medium"),  # monthly
        ("deployment_frequency", 0.23, "low"),
        ("deployment_frequency", 0.0, "low"),
        ("lead_time", 23.99, "elite"),
        ("lead_time", 24.0, "high"),
        ("lead_time", 167.9, "high"),
        ("lead_time", 168.0, "medium"),
        ("lead_time", 719.9, "medium"),
        ("lead_time", 720.0, "low"),
        ("change_failure_rate", 0.0, "elite"),
        ("change_failure_rate", 0.05, "elite"),
        ("change_failure_rate", 0.0501, "high"),
        ("change_failure_rate", 0.10, "high"),
        ("change_failure_rate", 0.15, "medium"),
        ("change_failure_rate", 0.1501, "low"),
        ("failed_deployment_recovery", 0.99, "elite"),
        ("failed_deployment_recovery", 1.0, "high"),
        ("failed_deployment_recovery", 24.0, "medium"),
        ("failed_deployment_recovery", 167.9, "medium"),
        ("failed_deployment_recovery", 168.0, "low"),
        ("lead_time", None, None),
        ("change_failure_rate", float("nan"), None),
    ],
)
def test_dora_tier_boundaries(metric, value, expected):
    assert tier(metric, value) == expected


def test_dora_tiers_keys():
    assert dora_tiers(10, 2, 0.2, None) == {
        "deployment_frequency": "elite",
        "lead_time": "elite",
        "change_failure_rate": "low",
        "failed_deployment_recovery": None,
    }


# --- time series ------------------------------------------------------------------------------


def test_weekly_series_buckets_start_on_monday(org):
    s = metric_series(org, WINDOW, "deployments")
    assert list(s.columns) == ["bucket", "value"]
    # week of 01-05: C1 C2 C3; week of 01-12: C4 C8 C9
    assert s["bucket"].tolist() == [D(2026, 1, 5), D(2026, 1, 12)]
    assert s["value"].tolist() == [3, 3]
    incidents = metric_series(org, WINDOW, "incidents")
    assert incidents["value"].tolist() == [5, 2]  # I1 I2 I3 I5 I7 | I4 I6
    p1_p2 = metric_series(org, WINDOW, "incidents_p1_p2")
    assert p1_p2["value"].tolist() == [3, 0]  # I1 I2 I7 | -


def test_series_window_starting_mid_week(org):
    flt = Filter(D(2026, 1, 7), D(2026, 1, 20))  # Wednesday .. Tuesday
    s = metric_series(org, flt, "deployments")
    assert s["bucket"].tolist() == [D(2026, 1, 5), D(2026, 1, 12), D(2026, 1, 19)]
    assert s["value"].tolist() == [2, 3, 1]  # C2 C3 | C4 C8 C9 | C7
    per_week = metric_series(org, flt, "deployments_per_week")
    # 2 in 5 days (01-07..01-11), 3 in 7, 1 in 2 (01-19..01-20)
    assert per_week["value"].tolist() == pytest.approx([2 / (5 / 7), 3.0, 1 / (2 / 7)])
    lead = metric_series(org, flt, "lead_time_hours_median")
    assert lead["value"].tolist() == pytest.approx([36.0, 36.0, 24.0])  # 48 24 | 36 4 48 | 24


def test_series_zero_fills_counts_and_leaves_medians_null(org):
    flt = Filter(D(2026, 1, 5), D(2026, 2, 1))
    s = metric_series(org, flt, "deployments")
    assert s["value"].tolist() == [3, 3, 1, 0]
    hours = metric_series(org, flt, "support_hours")
    # 8 + 5 + 2 + 1.5 + 4 + 0.5 | 1 + 0.5 + 2 | I8 default 2 | nothing
    assert hours["value"].tolist() == pytest.approx([21.0, 3.5, 2.0, 0.0])
    cost = metric_series(org, flt, "support_cost", cost=CostModel(hourly_rate=10))
    assert cost["value"].tolist() == pytest.approx([210.0, 35.0, 20.0, 0.0])
    cfr = metric_series(org, flt, "change_failure_rate")
    # C2 C3 of C1 C2 C3 | C4 C9 of C4 C8 C9 | C7 (caused I4) of C7 | no deployments
    assert cfr["value"].tolist()[:3] == pytest.approx([2 / 3, 2 / 3, 1.0])
    assert math.isnan(cfr["value"].tolist()[3])
    ttr = metric_series(org, flt, "time_to_restore_hours_median")
    # I1 3, I2 24, I5 2, I7 4 -> 3.5 | I4 1, I6 6 -> 3.5 | I8 open -> null | null
    assert ttr["value"].tolist()[:2] == pytest.approx([3.5, 3.5])
    assert ttr["value"].isna().tolist() == [False, False, True, True]


def test_monthly_series(org):
    flt = Filter(D(2026, 1, 5), D(2026, 3, 1))
    s = metric_series(org, flt, "incidents", freq="month")
    assert s["bucket"].tolist() == [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)]
    assert s["value"].tolist() == [8, 0, 1]  # I1-I8 | - | I9
    assert metric_series(org, flt, "requests", freq="month")["value"].tolist() == [2, 0, 0]
    # a month cut by the window: January has 27 days inside (01-05..01-31), February 10
    cut = Filter(D(2026, 1, 5), D(2026, 2, 10))
    per_week = metric_series(org, cut, "deployments_per_week", freq="month")
    assert per_week["bucket"].tolist() == [D(2026, 1, 1), D(2026, 2, 1)]
    # C1 C2 C3 C4 C7 C8 C9 in January, nothing in February
    assert per_week["value"].tolist() == pytest.approx([7 / (27 / 7), 0.0])


def test_series_by_team(org):
    s = metric_series(org, WINDOW, "deployments", by="team")
    assert list(s.columns) == ["bucket", "team", "value"]
    rows = list(zip(s["bucket"], s["team"], s["value"], strict=True))
    # alpha: C1 C2 | C9; beta: C3 | C4; C8 has no team
    assert rows == [
        (D(2026, 1, 5), "alpha", 2),
        (D(2026, 1, 5), "beta", 1),
        (D(2026, 1, 12), "alpha", 1),
        (D(2026, 1, 12), "beta", 1),
    ]
    by_service = metric_series(org, WINDOW, "incidents", by="service")
    totals = by_service.groupby("service")["value"].sum().to_dict()
    assert totals == {"api": 4, "db": 1, "web": 2}  # I1 I2 I3 I6 | I7 | I4 I5


def test_rework_series(org):
    s = metric_series(org, WINDOW, "rework_rate")
    assert s["value"].tolist() == pytest.approx([0.0, 1 / 3])  # C8 among C4 C8 C9
    failed = metric_series(org, WINDOW, "failed_deployments")
    assert failed["value"].tolist() == [2, 2]  # C2 C3 | C4 C9


def test_series_rejects_unknown_arguments(org):
    with pytest.raises(ValueError, match="unknown metric"):
        metric_series(org, WINDOW, "happiness")
    with pytest.raises(ValueError):
        metric_series(org, WINDOW, "deployments", freq="day")
    with pytest.raises(ValueError):
        metric_series(org, WINDOW, "deployments", by="risk")


# --- breakdowns and frames --------------------------------------------------------------------


def test_per_team(org):
    df = per_team(org, WINDOW).set_index("team")
    assert list(df.index) == ["alpha", "beta"]  # C8 and R2 have no team
    alpha, beta = df.loc["alpha"], df.loc["beta"]
    assert alpha["deployments"] == 3  # C1 C2 C9
    assert alpha["deployments_per_week"] == pytest.approx(1.5)  # 3 / 2 weeks
    assert alpha["lead_time_hours_median"] == pytest.approx(48.0)  # 12 48 48
    assert alpha["failed_deployments"] == 2
    assert alpha["change_failure_rate"] == pytest.approx(2 / 3)
    assert alpha["incidents"] == 3  # I4 I5 I7
    assert alpha["time_to_restore_hours_median"] == pytest.approx(2.0)  # 1 2 4
    assert alpha["support_hours"] == pytest.approx(7.0)  # 1 + 1.5 + 4 + 0.5
    assert alpha["support_cost"] == pytest.approx(525.0)
    assert beta["deployments"] == 2  # C3 C4
    assert beta["lead_time_hours_median"] == pytest.approx(30.0)  # 24 36
    assert beta["change_failure_rate"] == pytest.approx(1.0)
    assert beta["rework_rate"] == pytest.approx(0.0)
    assert beta["incidents"] == 4  # I1 I2 I3 I6
    assert beta["time_to_restore_hours_median"] == pytest.approx(6.0)  # 3 6 24
    assert beta["support_hours"] == pytest.approx(15.5)  # 8 + 5 + 2 + 0.5


def test_per_team_quarter(org):
    flt = Filter(D(2025, 12, 29), D(2026, 1, 18))
    df = per_team_quarter(org, flt)
    assert list(df.columns[:3]) == ["quarter", "quarter_start", "team"]
    rows = list(zip(df["quarter"], df["quarter_start"], df["team"], df["deployments"], strict=True))
    assert rows == [
        ("2025-Q4", D(2025, 10, 1), "alpha", 0),
        ("2025-Q4", D(2025, 10, 1), "beta", 0),
        ("2026-Q1", D(2026, 1, 1), "alpha", 3),
        ("2026-Q1", D(2026, 1, 1), "beta", 2),
    ]
    # alpha's 3 deployments over the 18 days of Q1 inside the window
    assert df["deployments_per_week"][2] == pytest.approx(3 / (18 / 7))


def test_deployments_frame(org):
    df = deployments_frame(org, WINDOW)
    assert df["change_id"].tolist() == ["C1", "C2", "C3", "C4", "C8", "C9"]
    assert df["approval"].tolist() == ["pre-approved", "cab", "cab", "ecab", "cab", "product-owner"]
    assert df["lead_time_hours"].tolist() == pytest.approx([12, 48, 24, 36, 4, 48])
    assert df["failed"].tolist() == [False, True, True, True, False, True]
    assert df["rework"].tolist() == [False, False, False, False, True, False]
    narrow = deployments_frame(org, WINDOW, columns=("approval", "failed"))
    assert list(narrow.columns) == ["approval", "failed"]
    assert narrow["failed"].tolist() == df["failed"].tolist()  # same rows, same order
    with pytest.raises(ValueError, match="unknown deployment columns"):
        deployments_frame(org, WINDOW, columns=("approval", "1; DROP TABLE changes"))


def test_tickets_frame(org):
    df = tickets_frame(org, WINDOW).set_index("incident_id")
    assert sorted(df.index) == ["I1", "I2", "I3", "I4", "I5", "I6", "I7", "R1", "R2"]
    assert df.loc["I1", "effort_hours"] == 8.0 and df.loc["I1", "cost"] == 600.0
    assert df.loc["R1", "effort_hours"] == 0.5 and df.loc["R1", "kind"] == "request"
    assert df.loc["I2", "restore_hours"] == 24.0
    assert math.isnan(df.loc["I3", "restore_hours"])


def test_sprints_frame(org):
    df = sprints_frame(org, WINDOW)
    assert df["sprint_id"].tolist() == ["S4", "S1", "S2"]
    assert df["end_date"].tolist() == [D(2026, 1, 7), D(2026, 1, 16), D(2026, 1, 17)]
    assert df["length_days"].tolist() == [7, 12, 10]
    assert df["velocity_points"].tolist() == [12, 18, 5]
    assert df["warranty_points"].tolist() == [0, 8, 0]
    assert df["total_points"].tolist() == [0, 16, 10]
    assert df["operations_items"].tolist() == [0, 1, 0]
    assert df["items"].tolist() == [0, 3, 4]
    assert math.isnan(df["warranty_share"][0])
    assert df["warranty_share"].tolist()[1:] == [0.5, 0.0]


def test_sprint_without_items_or_points_has_no_velocity(con):
    sprint(con, "E1", "2026-01-05", "2026-01-09")
    sprint(con, "E2", "2026-01-12", "2026-01-16")
    work_item(con, "V1", "E2", story_points=3)  # never resolved -> velocity 0
    df = sprints_frame(con, WINDOW)
    assert df["velocity_points"].isna().tolist() == [True, False]
    assert df["velocity_points"][1] == 0
    assert report(con, WINDOW)["velocity_points_median"] == 0  # only E2 has one


def test_data_range(org):
    # events only: C1 goes live 2026-01-05 20:00 (I5 opens 21:00 that day), I9 opens 2026-03-01;
    # S4 starting 2026-01-01 and its backlog items do not widen the window
    assert data_range(org) == (D(2026, 1, 5), D(2026, 3, 1))


def test_data_range_falls_back_to_sprints_without_events(con):
    sprint(con, "E1", "2026-01-05", "2026-01-16")
    sprint(con, "E2", "2026-01-19", "2026-01-30")
    assert data_range(con) == (D(2026, 1, 5), D(2026, 1, 30))


# --- properties against a plain-Python reading of the definitions ------------------------------

START = dt.datetime(2026, 1, 1)
minutes = st.integers(min_value=0, max_value=31 * 24 * 60)


@st.composite
def small_orgs(draw):
    """Random changes and incidents in January 2026 (distinct minutes, so no as-of ties)."""
    times = draw(st.lists(minutes, min_size=1, max_size=24, unique=True))
    n_changes = draw(st.integers(min_value=0, max_value=len(times)))
    changes = []
    for n, t in enumerate(times[:n_changes]):
        changes.append(
            {
                "change_id": f"C{n}",
                "implemented_at": START + dt.timedelta(minutes=t),
                "requested_at": START + dt.timedelta(minutes=t - draw(st.integers(0, 5000))),
                "service": draw(st.sampled_from(["web", "api", None])),
                "team": draw(st.sampled_from(["alpha", "beta", None])),
                "outcome": draw(st.sampled_from(["successful", "failed", "cancelled"])),
            }
        )
    ids = [c["change_id"] for c in changes] + [None, None]
    incidents = []
    for n, t in enumerate(times[n_changes:]):
        incidents.append(
            {
                "incident_id": f"I{n}",
                "opened_at": START + dt.timedelta(minutes=t),
                "service": draw(st.sampled_from(["web", "api", None])),
                "team": draw(st.sampled_from(["alpha", "beta", None])),
                "kind": draw(st.sampled_from(["incident", "request"])),
                "priority": draw(st.integers(1, 4)),
                "caused_by_change": draw(st.sampled_from(ids)),
                "effort_hours": draw(st.sampled_from([None, 0.5, 3.0])),
            }
        )
    first = draw(st.integers(0, 30))
    last = draw(st.integers(first, 30))
    window = Filter(D(2026, 1, 1) + dt.timedelta(first), D(2026, 1, 1) + dt.timedelta(last))
    hours = draw(st.sampled_from([None, 1.0, 24.0]))
    return changes, incidents, window, hours


def expected_failed(changes, incidents, window, hours) -> tuple[int, int]:
    """Deployments and failed deployments in the window, read straight off the definitions."""
    deployed = [c for c in changes if c["outcome"] != "cancelled"]
    caused = {i["caused_by_change"] for i in incidents if i["kind"] == "incident"}
    if hours is not None:
        for i in incidents:
            if i["kind"] != "incident" or i["caused_by_change"] or i["service"] is None:
                continue
            before = [
                c
                for c in deployed
                if c["service"] == i["service"] and c["implemented_at"] <= i["opened_at"]
            ]
            if before:
                latest = max(before, key=lambda c: c["implemented_at"])
                if i["opened_at"] - latest["implemented_at"] <= dt.timedelta(hours=hours):
                    caused.add(latest["change_id"])
    in_window = [c for c in deployed if window.start_ts <= c["implemented_at"] < window.end_ts]
    failed = [c for c in in_window if c["outcome"] == "failed" or c["change_id"] in caused]
    return len(in_window), len(failed)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_orgs())
def test_metrics_agree_with_the_definitions_and_with_each_other(org_data):
    changes, incidents, window, hours = org_data
    attribution = Attribution("window", hours) if hours is not None else Attribution()
    con = connect(":memory:")
    try:
        for c in changes:
            change(con, **c)
        for i in incidents:
            incident(con, **i)
        r = report(con, window, attribution=attribution)
        deployments, failed = expected_failed(changes, incidents, window, hours)
        assert (r["deployments"], r["failed_deployments"]) == (deployments, failed)
        if deployments:
            assert 0 <= r["change_failure_rate"] <= 1
        # the series, breakdowns and frames add up to the report
        for metric in ("deployments", "failed_deployments", "incidents", "requests"):
            series = metric_series(con, window, metric, attribution=attribution)
            assert series["value"].sum() == r[metric], metric
        hours_series = metric_series(con, window, "support_hours")
        assert hours_series["value"].sum() == pytest.approx(r["support_hours"])
        frame = deployments_frame(con, window, attribution)
        assert (len(frame), int(frame["failed"].sum())) == (deployments, failed)
        tickets = tickets_frame(con, window)
        assert tickets["effort_hours"].sum() == pytest.approx(r["support_hours"])
        assert len(tickets) == r["incidents"] + r["requests"]
        approvals = by_approval(con, window, attribution)
        assert approvals["deployments"].sum() == deployments
        assert approvals["failed_deployments"].sum() == failed
        teams = per_team(con, window, attribution=attribution)
        assert teams["deployments"].sum() == len(frame[frame["team"].notna()])
        att = r["attribution"]
        assert (
            att["incidents_linked_explicitly"]
            + att["incidents_linked_by_window"]
            + att["incidents_unattributed"]
            == r["incidents"]
        )
    finally:
        con.close()


def test_metrics_series_is_metric_series_side_by_side(org):
    both = metrics_series(org, WINDOW, ("deployments", "incidents"), freq="week", by="team")
    for metric in ("deployments", "incidents"):
        one = metric_series(org, WINDOW, metric, freq="week", by="team")
        merged = both.merge(one, on=["bucket", "team"], how="inner")
        assert (merged[metric] == merged["value"]).all(), metric
    # 2026-01-05 .. 01-18 is two whole ISO weeks
    assert set(both["bucket_days"]) == {7}
    with pytest.raises(ValueError, match="unknown metric 'velocity'"):
        metrics_series(org, WINDOW, ("deployments", "velocity"))
