"""Warranty work and serious incidents: the within-team reading (each sprint against its own
team's usual, a permutation test that shuffles only within a team) on a hand-made data set, and
the between-team view that stays a description."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from analytics import insights, narrative
from analytics.filters import Filter
from tests.builders import incident, sprint, work_item

# Three two-week sprints per team ending on Fridays; the 2 weeks after each (Saturday to the
# second Friday) do not overlap.
ENDS = ("2026-01-09", "2026-01-23", "2026-02-06")
SHARES = {"a": (1, 2, 3), "b": (5, 7, 6)}  # warranty points out of 10
SERIOUS_AFTER = {"a": (5, 3, 1), "b": (2, 0, 1)}  # P1/P2 incidents in the 2 weeks after


@pytest.fixture
def sprints_db(con):
    for team in ("a", "b"):
        for k, end in enumerate(ENDS):
            start = dt.date.fromisoformat(end) - dt.timedelta(days=13)
            sid = f"{team}-{k}"
            sprint(con, sid, start, end, team=team)
            w = SHARES[team][k]
            work_item(con, f"{sid}-w", sid, team=team, story_points=w, requirement_type="warranty")
            work_item(con, f"{sid}-u", sid, team=team, story_points=10 - w)
            after = dt.datetime.fromisoformat(end) + dt.timedelta(days=2, hours=10)  # Sunday
            for j in range(SERIOUS_AFTER[team][k]):
                incident(con, f"{sid}-i{j}", after + dt.timedelta(hours=j), team=team, priority=2)
    # a P4 of another team on Saturday 21 February: the data reach past the last window
    incident(con, "c-late", "2026-02-21 10:00", team="c", priority=4)
    return con


WINDOW = Filter(dt.date(2025, 12, 29), dt.date(2026, 2, 21))


def test_within_team_slope_and_permutation_p_by_hand(sprints_db):
    got = insights.warranty_vs_incidents(sprints_db, WINDOW, weeks=2)
    rows = got.per_sprint.sort_values("sprint_id")
    assert rows["incidents_p1_p2_after"].tolist() == [5, 3, 1, 2, 0, 1]
    # centred on the team's mean: a shares .1 .2 .3 (mean .2), incidents 5 3 1 (mean 3);
    # b shares .5 .7 .6 (mean .6), incidents 2 0 1 (mean 1)
    assert rows["warranty_centred"].tolist() == pytest.approx([-0.1, 0, 0.1, -0.1, 0.1, 0])
    assert rows["incidents_centred"].tolist() == pytest.approx([2, 0, -2, 1, -1, 0])
    w = got.within_team
    assert (w.sprints, w.teams, w.weeks) == (6, 2, 2)
    # slope = sum(cx * cy) / sum(cx^2) = -0.6 / 0.04 = -15 per unit share: -1.5 per 10 points
    assert w.slope == pytest.approx(-1.5)
    assert w.spearman_r == pytest.approx(
        spearmanr([-0.1, 0, 0.1, -0.1, 0.1, 0], [2, 0, -2, 1, -1, 0]).statistic
    )
    # exact within-team null: 3! x 3! = 36 equally likely shuffles; team a's sum(cx * cy) is
    # -.4, .4, -.2, .2, -.2, .2 and team b's -.2, .2, -.1, .1, .1, -.1; only (-.4, -.2) and
    # (.4, .2) reach |-.6|: p = 2/36, exact (36 orderings are fewer than 2,000 shuffles).
    assert w.p_value == pytest.approx(2 / 36) and w.permutations == 36
    assert narrative.warranty_sentence(got) == (
        "Within each team, a sprint's warranty share and the team's P1/P2 incidents in the "
        "2 weeks after it did not move together beyond chance."
    )
    how = narrative.warranty_how(got)
    assert how[0].startswith("Within teams: fixed-effects slope -1.50 P1/P2 incidents per 10 ")
    assert "6 sprints of 2 teams" in how[0]


def test_a_team_level_difference_alone_makes_no_within_team_link():
    # team x plans more warranty and has fewer incidents than team y, but inside each team the
    # incidents do not follow the sprint's share: the between-team picture is perfect, the
    # within-team slope exactly 0 and nothing is claimed.
    team = pd.Series(["x"] * 4 + ["y"] * 4)
    share = pd.Series([0.5, 0.6, 0.5, 0.6, 0.1, 0.2, 0.1, 0.2])
    serious = pd.Series([1, 1, 2, 2, 5, 5, 6, 6])
    w = insights.within_team(team, share, serious, weeks=2)
    assert w.slope == pytest.approx(0.0) and w.p_value == pytest.approx(1.0)
    assert spearmanr(share, serious).statistic <= -0.8


def test_an_organisation_wide_wave_makes_no_link_once_quarters_are_centred():
    # both teams plan more warranty in the 2nd quarter, when an organisation-wide wave adds 3
    # P1/P2 incidents to every team: team-centred only, the slope is (2 x 0.6) / (2 x 0.05) = 12
    # per unit of share, 1.2 per 10 points; centred on team and quarter, nothing is left.
    team = pd.Series(["x"] * 4 + ["y"] * 4)
    share = pd.Series([0.1, 0.2, 0.3, 0.4, 0.3, 0.4, 0.5, 0.6])
    serious = pd.Series([1, 1, 4, 4, 2, 2, 5, 5])
    quarter = pd.Series(["Q1", "Q1", "Q2", "Q2"] * 2)
    assert insights.within_team(team, share, serious, weeks=2).slope == pytest.approx(1.2)
    w = insights.within_team(team, share, serious, weeks=2, period=quarter)
    assert w.slope is None and w.p_value is None


def test_two_way_centring_of_a_balanced_table_by_hand():
    # balanced: v - team mean - quarter mean + grand mean (Wooldridge 2010, sec. 10.5)
    v = np.array([1.0, 4.0, 2.0, 9.0])  # (x, Q1), (x, Q2), (y, Q1), (y, Q2); grand mean 4
    got = insights._two_way_residuals(v, np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    # team means 2.5, 5.5; quarter means 1.5, 6.5
    assert got == pytest.approx([1 - 2.5 - 1.5 + 4, 4 - 2.5 - 6.5 + 4, 2 - 5.5 - 1.5 + 4,
                                 9 - 5.5 - 6.5 + 4])  # fmt: skip


def test_two_way_centring_of_an_unbalanced_table_is_the_least_squares_residual():
    # unbalanced (no closed form): the residual of v on team and quarter dummies
    rng = np.random.default_rng(3)
    a = np.array([0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    b = np.array([0, 1, 2, 2, 3, 0, 3, 1, 1, 2, 3])
    v = rng.normal(size=len(a))
    design = np.column_stack([a == k for k in range(3)] + [b == k for k in range(1, 4)])
    coef, *_ = np.linalg.lstsq(design.astype(float), v, rcond=None)
    got = insights._two_way_residuals(v, a, b)
    assert got == pytest.approx(v - design @ coef, abs=1e-10)
    one = insights._two_way_residuals(v, a, np.zeros(len(a), dtype=int))
    assert one == pytest.approx(v - np.bincount(a, v)[a] / np.bincount(a)[a])


def test_within_team_needs_sprints_that_differ_from_their_team():
    w = insights.within_team(pd.Series(["x", "x", "y"]), pd.Series([0.1, 0.1, 0.3]),
                             pd.Series([1, 2, 3]), weeks=2)  # fmt: skip
    assert w.slope is None and w.p_value is None
    assert "Within teams, no link between warranty work and P1/P2 incidents can be computed" in (
        narrative.warranty_sentence(w)
    )


def test_between_teams_is_described_never_tested():
    from analytics.stats import Correlation

    text = narrative.warranty_between_sentence(Correlation(6, -0.94, 0.017))
    assert text == (
        "Across the 6 teams, teams that plan more warranty work had fewer P1/P2 incidents per "
        "week — a description, not a test."
    )
    assert "significant" not in text
    # the old entry point with a Correlation gives the same description
    assert narrative.warranty_sentence(Correlation(6, -0.94, 0.017)) == text


def test_sprints_whose_window_runs_past_the_data_are_left_out(sprints_db):
    # counting 3 weeks after: the last sprints' windows (7 .. 27 February) reach past the
    # latest incident (21 February), so only the first two sprints of each team count
    got = insights.warranty_vs_incidents(sprints_db, WINDOW, weeks=3)
    assert sorted(got.per_sprint["sprint_id"]) == ["a-0", "a-1", "b-0", "b-1"]


def test_the_within_team_chart_shows_what_the_test_reads(demo_db):
    from analytics.insights import warranty_vs_incidents
    from analytics.store import connect

    con = connect(demo_db, read_only=True)
    try:
        flt = Filter(dt.date(2024, 12, 1), dt.date(2026, 11, 30))
        result = warranty_vs_incidents(con, flt)
    finally:
        con.close()
    rows, w = result.per_sprint, result.within_team
    assert len(rows) == w.sprints
    x, y = rows["warranty_centred"].to_numpy(), rows["incidents_centred"].to_numpy()
    # the chart's points give the test's slope (per 10 points of warranty share)
    assert float(x @ y) / float(x @ x) * 0.1 == pytest.approx(w.slope, rel=1e-9)
    # centred on each team's and each quarter's mean: both sums vanish
    quarter = pd.to_datetime(rows["end_date"]).dt.to_period("Q")
    assert rows.groupby("team")["warranty_centred"].sum().abs().max() < 1e-9
    assert rows.groupby(quarter)["incidents_centred"].sum().abs().max() < 1e-9
