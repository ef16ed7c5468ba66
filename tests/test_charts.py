"""The figure builders on tiny frames: traces, their data, colours and shapes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics import charts


def test_color_map_is_stable_and_sorted():
    assert charts.color_map(["b", "a", "b", None]) == {
        "a": charts.PALETTE[0],
        "b": charts.PALETTE[1],
    }
    # the same team gets the same colour whatever order the data comes in
    assert charts.color_map(["z", "a"])["z"] == charts.color_map(["a", "z", "z"])["z"]


TEAMS = pd.DataFrame(
    {
        "team": ["A", "B", "C"],
        "deployments_per_week": [1.0, 4.0, 2.0],
        "change_failure_rate": [0.30, 0.10, 0.05],
        "deployments": [10, 40, 20],
    }
)


def test_quadrant_scatter_points_and_median_lines():
    fig = charts.quadrant_scatter(
        TEAMS, x="deployments_per_week", y="change_failure_rate", size="deployments",
        label="team", title="t", x_title="Deployments per week",
        y_title="Change failure rate", percent_y=True,
    )  # fmt: skip
    points = {t.name: (list(t.x), list(t.y)) for t in fig.data}
    assert points == {"A": ([1.0], [0.30]), "B": ([4.0], [0.10]), "C": ([2.0], [0.05])}
    # medians: x of 1, 2, 4 is 2; y of 0.05, 0.10, 0.30 is 0.10
    lines = [(s.type, s.x0, s.y0) for s in fig.layout.shapes]
    assert ("line", 2.0, 0) in lines  # vertical line at x = 2 from the bottom of the plot
    assert ("line", 0, 0.10) in lines  # horizontal line at y = 0.10 from the left
    assert fig.layout.yaxis.tickformat == ".0%"
    # bubble size grows with deployments: B (40) is biggest, A (10) smallest
    sizes = {t.name: t.marker.size for t in fig.data}
    assert sizes["A"] < sizes["C"] < sizes["B"]


def test_quadrant_scatter_frontier_and_paths():
    frontier = TEAMS.iloc[[2, 1]]  # C (2, 5 %) and B (4, 10 %) are not dominated
    paths = pd.DataFrame(
        {
            "team": ["A", "A", "B"],
            "quarter": ["2025-Q2", "2025-Q1", "2025-Q1"],
            "deployments_per_week": [1.5, 0.5, 4.0],
            "change_failure_rate": [0.2, 0.4, 0.1],
        }
    )
    fig = charts.quadrant_scatter(
        TEAMS, x="deployments_per_week", y="change_failure_rate", size="deployments",
        label="team", title="t", x_title="x", y_title="y", frontier=frontier, paths=paths,
    )  # fmt: skip
    front = next(t for t in fig.data if t.name == "Pareto frontier")
    assert list(front.x) == [2.0, 4.0] and list(front.y) == [0.05, 0.10]
    trail_a = next(t for t in fig.data if t.name == "A over time")
    assert list(trail_a.x) == [0.5, 1.5]  # sorted by quarter: Q1 then Q2
    assert trail_a.line.color == charts.color_map(TEAMS["team"])["A"]


def test_quadrant_scatter_without_points_has_no_lines():
    fig = charts.quadrant_scatter(
        TEAMS.iloc[0:0], x="deployments_per_week", y="change_failure_rate",
        size="deployments", label="team", title="t", x_title="x", y_title="y",
    )  # fmt: skip
    assert len(fig.data) == 0 and len(fig.layout.shapes) == 0


def test_cadence_timeline_series_and_every_other_sprint_shaded():
    weeks = [dt.date(2025, 1, 6), dt.date(2025, 1, 13), dt.date(2025, 1, 20)]
    weekly = pd.DataFrame(
        {"bucket": weeks, "deployments": [3, 5, 0], "incidents": [1, 0, 2],
         "incidents_p1_p2": [0, 0, 1]}
    )  # fmt: skip
    sprints = pd.DataFrame(
        {
            "start_date": [dt.date(2025, 1, 6), dt.date(2025, 1, 13), dt.date(2025, 1, 20)],
            "end_date": [dt.date(2025, 1, 12), dt.date(2025, 1, 19), dt.date(2025, 1, 26)],
        }
    )
    fig = charts.cadence_timeline(weekly, sprints, shift_week=weeks[1], shift_label="shift")
    bars, incidents, serious = fig.data
    assert bars.type == "bar" and list(bars.y) == [3, 5, 0]
    assert list(incidents.y) == [1, 0, 2] and list(serious.y) == [0, 0, 1]
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    # sprints 1 and 3 shaded, each to midnight after its last day
    assert [(pd.Timestamp(r.x0), pd.Timestamp(r.x1)) for r in rects] == [
        (pd.Timestamp("2025-01-06"), pd.Timestamp("2025-01-13")),
        (pd.Timestamp("2025-01-20"), pd.Timestamp("2025-01-27")),
    ]
    shift_lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert [pd.Timestamp(s.x0) for s in shift_lines] == [pd.Timestamp("2025-01-13")]


def test_lag_correlation_colours_follow_sign_and_significance():
    lags = pd.DataFrame(
        {"lag": [0, 1, 2], "rho": [0.5, -0.6, 0.1], "p_value": [0.01, 0.02, 0.6],
         "significant": [True, True, False]}
    )  # fmt: skip
    (bars,) = [t for t in charts.lag_correlation_chart(lags).data if t.type == "bar"]
    assert list(bars.x) == [0, 1, 2] and list(bars.y) == [0.5, -0.6, 0.1]
    assert list(bars.marker.color) == [
        charts.SERIES_COLORS["negative"],  # significant, more incidents
        charts.SERIES_COLORS["positive"],  # significant, fewer incidents
        charts.SERIES_COLORS["neutral"],  # not significant
    ]


def test_stacked_bars_follow_the_given_order_and_colours():
    df = pd.DataFrame(
        {"month": ["Jan", "Jan", "Feb"], "approval": ["cab", "pre-approved", "cab"],
         "n": [2, 3, 4]}
    )  # fmt: skip
    fig = charts.stacked_bar_chart(
        df, x="month", y="n", color="approval", title="t", y_title="Deployments",
        colors=charts.APPROVAL_COLORS, labels=charts.APPROVAL_LABELS, order=charts.APPROVALS,
    )  # fmt: skip
    assert fig.layout.barmode == "stack"
    assert [t.name for t in fig.data] == ["Pre-approved", "CAB"]  # absent paths are skipped
    cab = fig.data[1]
    assert list(cab.y) == [4, 2]  # sorted by x: "Feb" < "Jan"
    assert cab.marker.color == charts.APPROVAL_COLORS["cab"]


def test_rate_interval_error_bars_are_distances_to_the_bounds():
    df = pd.DataFrame(
        {"approval": ["cab", "pre-approved"], "rate": [0.2, 0.1], "low": [0.1, 0.05],
         "high": [0.35, 0.2], "n": [20, 40]}
    )  # fmt: skip
    fig = charts.rate_interval_chart(
        df, category="approval", rate="rate", low="low", high="high", n="n", title="t",
        y_title="Change failure rate", labels=charts.APPROVAL_LABELS, order=charts.APPROVALS,
    )  # fmt: skip
    (bar,) = fig.data
    assert list(bar.x) == ["Pre-approved", "CAB"]  # in the approval order
    assert list(bar.error_y.array) == pytest.approx([0.1, 0.15])  # 0.2-0.1, 0.35-0.2
    assert list(bar.error_y.arrayminus) == pytest.approx([0.05, 0.1])  # 0.1-0.05, 0.2-0.1


def test_box_per_category_in_order_without_missing_values():
    df = pd.DataFrame({"approval": ["ecab", "cab", "cab", "cab"], "lead": [1.0, 10.0, None, 30.0]})
    fig = charts.box_by_category(
        df, category="approval", value="lead", title="t", y_title="Lead time (hours)",
        order=charts.APPROVALS, log_y=True,
    )  # fmt: skip
    # named by the one label map: "Emergency CAB", not "ecab"
    assert [t.name for t in fig.data] == ["CAB", "Emergency CAB"]
    assert list(fig.data[0].y) == [10.0, 30.0]
    assert fig.layout.yaxis.type == "log"


def test_trend_chart_one_line_per_group_with_percent_axis():
    df = pd.DataFrame(
        {"bucket": [dt.date(2025, 2, 1), dt.date(2025, 1, 1), dt.date(2025, 1, 1)],
         "team": ["A", "A", "B"], "value": [0.2, 0.1, 0.3]}
    )  # fmt: skip
    fig = charts.trend_chart(df, color="team", title="t", y_title="CFR", percent=True)
    assert [t.name for t in fig.data] == ["A", "B"]
    assert list(fig.data[0].y) == [0.1, 0.2]  # sorted by month
    assert fig.layout.yaxis.tickformat == ".0%"
    assert "%{y:.1%}" in fig.data[0].hovertemplate


def test_scatter_labels_points_and_drops_the_legend():
    df = pd.DataFrame({"team": ["A", "B"], "speed": [1.0, 3.0], "cost": [10.0, 5.0]})
    fig = charts.scatter_chart(
        df, x="speed", y="cost", color="team", label="team", title="t",
        x_title="Deployments per week", y_title="Cost",
    )  # fmt: skip
    assert [(t.name, list(t.text), list(t.x), list(t.y)) for t in fig.data] == [
        ("A", ["A"], [1.0], [10.0]),
        ("B", ["B"], [3.0], [5.0]),
    ]
    assert fig.layout.showlegend is False
    # x from 1 to 3 (span 2): 8 % room on the left, 20 % on the right for the labels
    assert list(fig.layout.xaxis.range) == pytest.approx([0.84, 3.4])


def test_labels_of_neighbouring_points_move_apart():
    # spans 0..1 on both axes; (0.30, 0.10) and (0.35, 0.05) are 0.05 apart in x and y, so the
    # left one's "middle right" label would run into the right point: it goes above the point
    # (its neighbour is lower). (0.0, 1.0) and (1.0, 0.0) have no neighbour on their right.
    positions = charts.label_positions([0.0, 0.30, 0.35, 1.0], [1.0, 0.10, 0.05, 0.0])
    assert positions == ["middle right", "top center", "middle right", "middle right"]
    # the lower point of a pair, with its neighbour above it, puts its label below
    assert charts.label_positions([0.0, 0.1, 1.0], [0.0, 0.05, 1.0])[0] == "bottom center"


def test_scatter_and_quadrant_labels_use_the_positions():
    df = pd.DataFrame({"team": ["A", "B", "C"], "x": [0.0, 0.05, 1.0], "y": [0.5, 0.48, 1.0]})
    fig = charts.scatter_chart(
        df, x="x", y="y", color="team", title="t", x_title="x", y_title="y", label="team"
    )
    # A's neighbour B is lower (0.48 < 0.5 → normalised dy = -0.04): A's label goes above it
    assert [t.textposition for t in fig.data] == [("top center",), ("middle right",)] + [
        ("middle right",)
    ]
    quad = charts.quadrant_scatter(
        df.assign(n=1), x="x", y="y", size="n", label="team", title="t", x_title="x", y_title="y"
    )
    places = {t.name: t.textposition for t in quad.data if t.mode == "markers+text"}
    # C, the right-most point, writes its label inward (to its left) so it stays in the plot
    assert places == {"A": "top center", "B": "middle right", "C": "middle left"}


def test_inward_labels_point_into_the_plot_and_move_apart_on_the_left():
    # x 0..1: points right of the middle (0.6, 0.95, 1.0) label to their left; 0.95 has 1.0
    # on its right but its label goes left now, while 1.0 has 0.95 just to its left at about
    # the same height (dy = 0.05 of the span) and its label moves below (the neighbour is higher)
    positions = charts.label_positions([0.0, 0.6, 0.95, 1.0], [0.0, 1.0, 0.55, 0.5], inward=True)
    assert positions == ["middle right", "middle left", "middle left", "bottom center"]


def test_quadrant_labels_of_the_right_most_team_point_inward():
    # the Flexibility page's demo: "Checkout" is the fastest team, at the right edge
    teams = pd.DataFrame(
        {"team": ["Billing", "Search", "Checkout"], "x": [1.0, 2.0, 5.0],
         "y": [0.2, 0.1, 0.15], "n": [10, 20, 40]}
    )  # fmt: skip
    fig = charts.quadrant_scatter(
        teams, x="x", y="y", size="n", label="team", title="t", x_title="x", y_title="y"
    )
    spec = fig.to_plotly_json()
    places = {t["name"]: t["textposition"] for t in spec["data"] if t["mode"] == "markers+text"}
    assert places == {
        "Billing": "middle right",
        "Search": "middle right",
        "Checkout": "middle left",
    }
    # x from 1 to 5 (span 4): 10 % room on each side for the outer bubbles
    assert list(spec["layout"]["xaxis"]["range"]) == pytest.approx([0.6, 5.4])


def test_schedule_weekly_summaries_sit_mid_week_and_say_so():
    week = pd.Timestamp("2026-03-09")  # a Monday
    changes = pd.DataFrame(
        {"service": ["web"], "day": [week], "approval": ["cab"], "changes": [3], "failed": [1]}
    )
    incidents = pd.DataFrame({"service": ["web"], "day": [week], "priority": [2], "incidents": [4]})
    sprints = pd.DataFrame(
        {"team": ["web"] * 3, "name": ["S1", "S2", "S3"], "changes": [0, 3, 0],
         "start_date": [dt.date(2026, 3, d) for d in (2, 9, 16)],
         "end_date": [dt.date(2026, 3, d) for d in (6, 13, 20)], "change_ids": ["", "", ""]}
    )  # fmt: skip
    fig = charts.schedule_timeline(
        sprints, changes, incidents, changes_per_day=True, incidents_per_day=True, unit="week",
    )  # fmt: skip
    bars, cab, p2 = fig.data
    assert list(bars.marker.opacity) == [1.0, 0.6, 1.0]  # every other sprint lighter
    # Monday + 3.5 days: Thursday noon, the middle of the week
    assert pd.Timestamp(cab.x[0]) == pd.Timestamp("2026-03-12 12:00")
    assert list(cab.customdata[0]) == ["09 Mar 2026", 3, 1]
    assert cab.hovertemplate.startswith("Week of %{customdata[0]}: %{customdata[1]} changes")
    assert list(p2.customdata[0]) == ["09 Mar 2026", 4]
    assert fig.layout.xaxis.rangeslider.visible is None  # no range slider (drew all twice)


def test_trend_chart_with_one_bucket_labels_its_day():
    one = pd.DataFrame({"bucket": [dt.date(2026, 10, 1)], "value": [3.0]})
    fig = charts.trend_chart(one, title="t", y_title="y")
    # 20 days either side of 1 Oct 2026; one tick naming the bucket, y from zero
    assert [pd.Timestamp(v) for v in fig.layout.xaxis.range] == [
        pd.Timestamp("2026-09-11"),
        pd.Timestamp("2026-10-21"),
    ]
    assert list(fig.layout.xaxis.ticktext) == ["01 Oct 2026"]
    assert fig.layout.yaxis.rangemode == "tozero"
    two = pd.concat([one, one.assign(bucket=dt.date(2026, 11, 1))])
    assert charts.trend_chart(two, title="t", y_title="y").layout.xaxis.range is None

    # the same for a stacked bar chart of one month; not for categories (teams)
    bars = charts.stacked_bar_chart(
        one.assign(path="cab"), x="bucket", y="value", color="path", title="t", y_title="y"
    )
    assert list(bars.layout.xaxis.ticktext) == ["01 Oct 2026"]
    assert bars.data[0].width == 24 * 86_400_000  # 24 days in ms: the bar stays visible
    teams = pd.DataFrame({"team": ["A"], "value": [1.0], "path": ["cab"]})
    by_team = charts.stacked_bar_chart(
        teams, x="team", y="value", color="path", title="t", y_title="y"
    )
    assert by_team.layout.xaxis.ticktext is None
