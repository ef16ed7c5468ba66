"""Insights: the metrics (``analytics.metrics``) run through the statistics (``analytics.stats``).

Every function takes a DuckDB connection and a :class:`Filter` (plus an ``Attribution`` where
failures matter) and returns a small frozen dataclass, a list of dicts or a DataFrame, so the
pages can cache them. The sentences that go with them are in :mod:`analytics.narrative`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from analytics import stats
from analytics.did import DiffInDiff, team_did
from analytics.filters import Filter
from analytics.metrics import (
    EXPLICIT,
    Attribution,
    approval_cells_columns,
    by_approval,
    data_range,
    deployments_frame,
    per_team,
    per_team_sprints,
    sprints_frame,
)
from analytics.series import metric_series, metrics_series_columns, whole_weeks, whole_weeks_mask
from analytics.stats import week_start

if TYPE_CHECKING:  # the report's statistics run without pandas (#11); the pages' frames import it
    import pandas as pd

WEEK = dt.timedelta(days=7)


# --- weekly series ------------------------------------------------------------------------------


def weekly_series(
    con: duckdb.DuckDBPyConnection, flt: Filter, attribution: Attribution = EXPLICIT
) -> pd.DataFrame:
    """Per ISO week overlapping the window (zero-filled): ``week`` (Monday, date), ``days``
    (days of the week inside the window, 1..7), ``deployments``, ``incidents``,
    ``incidents_p1_p2`` (counts)."""
    import pandas as pd

    return pd.DataFrame(weekly_series_columns(con, flt, attribution))


def weekly_series_columns(
    con: duckdb.DuckDBPyConnection, flt: Filter, attribution: Attribution = EXPLICIT
) -> dict[str, np.ndarray]:
    """:func:`weekly_series` as numpy columns (``week`` an object array of dates), no pandas."""
    counts = ("deployments", "incidents", "incidents_p1_p2")
    weekly = metrics_series_columns(con, flt, counts, freq="week", attribution=attribution)
    names = {"bucket": "week", "bucket_days": "days"}
    return {names.get(k, k): v if k == "bucket" else v.astype(int) for k, v in weekly.items()}


def _full_weeks(weekly: pd.DataFrame, extent: tuple[dt.date, dt.date] | None) -> pd.DataFrame:
    """Only the weeks entirely inside the window and inside the data's ``extent`` (see
    :func:`analytics.series.whole_weeks`): partial edge weeks would look like dips."""
    return whole_weeks(weekly, extent, "week", "days")


def whole_weekly_series(
    con: duckdb.DuckDBPyConnection, flt: Filter, attribution: Attribution = EXPLICIT
) -> pd.DataFrame:
    """:func:`weekly_series` restricted to the weeks entirely inside both the window and the
    data (first to last day with a change or an incident): what every weekly statistic reads."""
    return _full_weeks(weekly_series(con, flt, attribution), data_range(con))


def whole_weekly_series_columns(
    con: duckdb.DuckDBPyConnection, flt: Filter, attribution: Attribution = EXPLICIT
) -> dict[str, np.ndarray]:
    """:func:`whole_weekly_series` as numpy columns (the report's form, without pandas)."""
    weekly = weekly_series_columns(con, flt, attribution)
    inside = whole_weeks_mask(weekly["week"], weekly["days"], data_range(con))
    return {k: v[inside] for k, v in weekly.items()}


# --- review windows ------------------------------------------------------------------------------


def quarter_filter(
    con: duckdb.DuckDBPyConnection,
    quarter: str | None = None,
    teams: tuple[str, ...] = (),
    services: tuple[str, ...] = (),
) -> Filter | None:
    """The filter for a calendar quarter (``"2026-Q2"``) or, by default, for the last quarter
    the data covers completely (the last one ending on or before the latest day with data).
    None for an empty database when no quarter is named."""
    if quarter is None:
        extent = data_range(con)
        if extent is None:
            return None
        last = extent[1]
        # the quarter of the day after the last day starts after the last full quarter ends
        day_after = last + dt.timedelta(days=1)
        quarter_start = dt.date(day_after.year, 3 * ((day_after.month - 1) // 3) + 1, 1)
        end = quarter_start - dt.timedelta(days=1)
    else:
        try:
            year, q = quarter.upper().split("-Q")
            end_month = 3 * int(q)
            if not 1 <= int(q) <= 4:
                raise ValueError
        except ValueError:
            raise ValueError(f"quarter must look like 2026-Q2, not {quarter!r}") from None
        next_start = dt.date(int(year) + end_month // 12, end_month % 12 + 1, 1)
        end = next_start - dt.timedelta(days=1)
    start = dt.date(end.year, end.month - 2, 1)
    return Filter(start, end, teams, services)


# --- cadence vs incidents -----------------------------------------------------------------------


def cadence_incident_correlation(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    max_lag: int = 8,
    attribution: Attribution = EXPLICIT,
) -> list[dict]:
    """Prewhitened Spearman correlation of weekly deployments with weekly incidents
    0..``max_lag`` weeks later over the whole weeks (see
    :func:`analytics.stats.lagged_spearman`): one dict per lag with ``lag_weeks``, ``n``
    (weeks paired), ``spearman_r``, ``p_value``, ``q_value`` (Benjamini–Hochberg across the
    lags), ``method`` and ``reason`` (why r is None)."""
    weekly = whole_weekly_series(con, flt, attribution)
    return stats.lagged_spearman(weekly["deployments"], weekly["incidents"], max_lag)


# --- failure rates and change control -----------------------------------------------------------


@dataclass(frozen=True)
class FailureRate(stats.Result):
    """Change failure rate (fraction) of the window's deployments with its Wilson 95 % interval."""

    deployments: int
    failed: int
    rate: float | None
    ci95: tuple[float, float] | None


def change_failure_rate_ci95(
    con: duckdb.DuckDBPyConnection, flt: Filter, attribution: Attribution = EXPLICIT
) -> FailureRate:
    """The change failure rate and its Wilson 95 % interval (None without deployments)."""
    paths = by_approval(con, flt, attribution)
    return _failure_rate(int(paths["failed_deployments"].sum()), int(paths["deployments"].sum()))


def _failure_rate(failed: int, total: int) -> FailureRate:
    """:class:`FailureRate` of ``failed`` of ``total`` deployments (rate and interval None
    without deployments)."""
    rate = failed / total if total else None
    return FailureRate(total, failed, rate, stats.wilson_interval(failed, total))


# What the approval-path statistics read of each deployment.
# the CAB comparison is made within team x risk x kind (rework: an incident fix), the what-if
# draws per team
_APPROVAL_COLUMNS = ("approval", "team", "risk", "rework", "lead_time_hours", "failed")


def cab_vs_delegated(
    con: duckdb.DuckDBPyConnection, flt: Filter, attribution: Attribution = EXPLICIT
) -> stats.CabVsDelegated:
    """CAB-approved versus delegated deployments: failure rates (crude: Fisher's exact test;
    within team x risk x kind: Mantel-Haenszel odds ratio, Cochran-Mantel-Haenszel test, MH risk
    difference with a Newcombe-style interval) and lead times in hours (crude: Mann-Whitney U;
    within team x risk x kind: van Elteren); see :func:`analytics.stats.cab_vs_delegated`."""
    return stats.cab_vs_delegated(deployments_frame(con, flt, attribution, _APPROVAL_COLUMNS))


def approval_failure_rates(
    con: duckdb.DuckDBPyConnection, flt: Filter, attribution: Attribution = EXPLICIT
) -> pd.DataFrame:
    """``by_approval`` plus ``ci_low``/``ci_high``: the Wilson 95 % interval of each path's
    change failure rate (fractions; NaN for a path without deployments)."""
    paths = by_approval(con, flt, attribution)
    bounds = [
        stats.wilson_interval(int(f), int(n)) or (float("nan"), float("nan"))
        for f, n in zip(paths["failed_deployments"], paths["deployments"], strict=True)
    ]
    paths["ci_low"] = [b[0] for b in bounds]
    paths["ci_high"] = [b[1] for b in bounds]
    return paths


def what_if_delegation(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    share: float,
    failure_assumption: str = "own",
    attribution: Attribution = EXPLICIT,
    bootstraps: int | None = None,
) -> stats.WhatIf:
    """Projected median lead time (hours) and change failure rate if ``share`` (0..1) of the
    CAB-approved low/medium-risk deployments were approved by the product owner instead, each
    moved change taking the lead time of a delegated change of its own team; see
    :func:`analytics.stats.what_if_delegation` for the assumptions (also in the result)."""
    return stats.what_if_delegation(
        deployments_frame(con, flt, attribution, _APPROVAL_COLUMNS),
        share,
        failure_assumption,
        bootstraps,
    )


# --- trend and change point ---------------------------------------------------------------------


def incident_trend(con: duckdb.DuckDBPyConnection, flt: Filter) -> stats.Trend:
    """Theil-Sen slope of weekly incidents (incidents per week, per week) with its 95 %
    interval and an autocorrelation-robust Mann–Kendall p-value (seasonally adjusted from two
    years), over the weeks entirely inside the window and the data; see
    :func:`analytics.stats.theil_sen`."""
    return _trend(whole_weekly_series(con, flt))


def incident_trend_turn(
    con: duckdb.DuckDBPyConnection, flt: Filter, since: dt.date | None = None
) -> stats.TrendTurn:
    """Whole-window versus recent trend of weekly incidents (whole weeks): the recent part
    starts at the week ``since`` (e.g. a significant change point), by default the last third
    of the weeks; see :func:`analytics.stats.trend_turn`."""
    return _trend_turn(whole_weekly_series(con, flt), since)


def incident_change_point(
    con: duckdb.DuckDBPyConnection, flt: Filter, permutations: int = 999
) -> stats.WeeklyChangePoint:
    """The most likely shift in mean weekly incidents (weeks entirely inside the window and the
    data), the means before/after (incidents per week) and a block-permutation p-value (fixed
    seed) that allows for autocorrelation."""
    return _change_point(whole_weekly_series(con, flt), permutations)


@dataclass(frozen=True)
class IncidentReadings:
    """The Cadence page's readings of weekly incidents from one weekly series: the trend, the
    change point and whether the trend turned since the shift (when significant, else over the
    last third)."""

    trend: stats.Trend
    shift: stats.WeeklyChangePoint
    turn: stats.TrendTurn


def incident_readings(con: duckdb.DuckDBPyConnection, flt: Filter) -> IncidentReadings:
    """:func:`incident_trend`, :func:`incident_change_point` and :func:`incident_trend_turn`
    (since a significant shift) over one run of the weekly query rather than three."""
    weekly = whole_weekly_series(con, flt)
    shift = _change_point(weekly)
    p = shift.change_point.p_value
    since = shift.week if p is not None and p < stats.ALPHA else None
    return IncidentReadings(_trend(weekly), shift, _trend_turn(weekly, since))


def _trend(weekly: pd.DataFrame) -> stats.Trend:
    return stats.theil_sen(weekly["incidents"], list(weekly["week"]))


def _trend_turn(weekly: pd.DataFrame, since: dt.date | None) -> stats.TrendTurn:
    weeks = list(weekly["week"])
    start = weeks.index(since) if since in weeks else None
    return stats.trend_turn(weekly["incidents"], weeks, start)


def _change_point(weekly: pd.DataFrame, permutations: int = 999) -> stats.WeeklyChangePoint:
    return stats.weekly_change_point(
        list(weekly["week"]), weekly["incidents"], permutations=permutations
    )


# --- sprint cadence -----------------------------------------------------------------------------


def sprint_length_changes(con: duckdb.DuckDBPyConnection, flt: Filter) -> pd.DataFrame:
    """Lasting changes of sprint length per team among the sprints ending in the window:
    ``[team, sprint_id, change_date, length_before_days, length_after_days]``; see
    :func:`analytics.stats.sprint_length_changes`."""
    return stats.sprint_length_changes(sprints_frame(con, flt))


@dataclass(frozen=True)
class CadenceBeforeAfter(stats.BeforeAfter):
    """:class:`analytics.stats.BeforeAfter` (equal windows, described) plus ``did``: the claimable
    reading, the team's weekly incidents after the change against a 26-week baseline and the other
    teams' weeks (:class:`analytics.did.DiffInDiff`); None when no comparison is possible."""

    did: DiffInDiff | None = None


CADENCE_BASELINE_WEEKS = 26  # the baseline of the incident comparison, in whole weeks
CADENCE_GAP_WEEKS = 4  # whole weeks left out between the baseline and the change


def cadence_before_after(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    team: str,
    weeks: int = 8,
    change_date: dt.date | None = None,
    attribution: Attribution = EXPLICIT,
    baseline_weeks: int = CADENCE_BASELINE_WEEKS,
    gap_weeks: int = CADENCE_GAP_WEEKS,
) -> CadenceBeforeAfter:
    """A team's weekly incidents and change failure rate around a change of its sprint length.

    Described (``incidents``, ``failure``): equal windows of up to ``weeks`` whole weeks before
    and after the change, Mann–Whitney and Fisher as before. Tested (``did``): the ``weeks`` whole
    weeks from the first Monday on or after the change against a baseline of ``baseline_weeks``
    whole weeks ending ``gap_weeks`` before the week of the change, difference-in-differences
    against the other teams' weekly incidents with an autocorrelation-aware t-test
    (:func:`analytics.did.team_did`); the page's sentence reads ``did``.

    The change is ``change_date`` or else the team's last sprint-length change in the window
    (the sprint lengths are filled in when ``change_date`` is one of the detected changes).
    The comparison windows reach outside the filter's dates when needed (they stop where the
    data stops, the equal windows both shrinking to the same length); the filter's services still
    apply, its teams do not (every other team is a comparison).
    """
    lengths = (None, None)
    changes = sprint_length_changes(con, replace(flt, teams=(team,)))
    if change_date is not None:
        changes = changes[changes["change_date"] == change_date]
    elif changes.empty:
        empty = stats.compare_samples([], [])
        return CadenceBeforeAfter(
            team, flt.end, None, None, 0, empty, stats.compare_rates(0, 0, 0, 0),
            "no lasting change of sprint length in the window",
        )  # fmt: skip
    if not changes.empty:
        last = changes.iloc[-1]
        change_date = last["change_date"]
        lengths = (float(last["length_before_days"]), float(last["length_after_days"]))
    pivot = week_start(change_date)
    extent = data_range(con)
    if extent is None:
        before_weeks = after_weeks = 0
    else:
        before_weeks = max((pivot - extent[0]).days // 7, 0)
        after_weeks = max(((extent[1] - pivot).days + 1) // 7, 0)
    span = min(weeks, before_weeks, after_weeks)
    if span < 2:
        empty = stats.compare_samples([], [])
        return CadenceBeforeAfter(
            team, change_date, *lengths, span, empty, stats.compare_rates(0, 0, 0, 0),
            "fewer than 2 whole weeks of data on one side of the change",
        )  # fmt: skip
    before = Filter(pivot - span * WEEK, pivot - dt.timedelta(days=1), (team,), flt.services)
    after = Filter(pivot, pivot + span * WEEK - dt.timedelta(days=1), (team,), flt.services)
    inc_before = weekly_series(con, before, attribution)["incidents"]
    inc_after = weekly_series(con, after, attribution)["incidents"]
    paths_before = by_approval(con, before, attribution)
    paths_after = by_approval(con, after, attribution)
    failure = stats.compare_rates(
        int(paths_before["failed_deployments"].sum()),
        int(paths_before["deployments"].sum()),
        int(paths_after["failed_deployments"].sum()),
        int(paths_after["deployments"].sum()),
    )
    incidents = stats.compare_samples(inc_before, inc_after)
    did = _cadence_did(con, flt, team, change_date, weeks, baseline_weeks, gap_weeks, extent)
    return CadenceBeforeAfter(team, change_date, *lengths, span, incidents, failure, did=did)


def _cadence_did(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    team: str,
    change_date: dt.date,
    weeks: int,
    baseline_weeks: int,
    gap_weeks: int,
    extent: tuple[dt.date, dt.date],
) -> DiffInDiff:
    """The team's weekly incidents after ``change_date`` against its baseline and every other
    team's weeks (the filter's services apply): :func:`analytics.did.team_did` over the whole
    weeks inside the data."""
    from analytics.improvements import _inside, windows

    win = windows(change_date, weeks, baseline_weeks, gap_weeks)
    every = Filter(win.baseline_from, win.after_to, services=flt.services)
    by_team = metric_series(con, every, "incidents", freq="week", by="team")
    weeks_ok = set(by_team["bucket"][_inside(by_team, extent)])
    return team_did(by_team, team, win, weeks_ok)


# --- teams: warranty and the trade-off frontier -------------------------------------------------


@dataclass(frozen=True)
class WithinTeam(stats.Result):
    """Within-team association of a sprint's warranty share with the team's P1/P2 incidents in
    the ``weeks`` weeks after the sprint: both centred on the team's own mean, pooled.

    ``slope``: the fixed-effects (within) slope, P1/P2 incidents per 10 percentage points of
    warranty share above the team's usual; ``spearman_r``: Spearman r of the centred values
    (descriptive); ``p_value``: two-sided permutation test of the slope, shares shuffled among
    each team's own sprints."""

    sprints: int
    teams: int
    weeks: int
    slope: float | None
    spearman_r: float | None
    p_value: float | None
    permutations: int
    reason: str | None = None


PERMUTATIONS = 2000  # permutation test resamples: p resolves to 1 / 2001


def _two_way_residuals(v: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``v`` less its group-``a`` and group-``b`` effects (integer codes): the two-way
    within transformation by alternating projections (Guimarães & Portugal 2010), same unit as
    ``v``; with one ``b`` group it is ``v`` centred on its ``a`` means."""
    if v.size == 0:
        return v
    r = v - np.bincount(a, v)[a] / np.bincount(a)[a]
    for _ in range(200):  # converges geometrically; unbalanced panels need a few dozen rounds
        step = np.bincount(b, r)[b] / np.bincount(b)[b]
        step = step + np.bincount(a, r - step)[a] / np.bincount(a)[a]
        r = r - step
        if np.max(np.abs(step)) < 1e-13:
            break
    return r


def within_team(
    team: pd.Series,
    x: pd.Series,
    y: pd.Series,
    weeks: int,
    permutations: int = PERMUTATIONS,
    period: pd.Series | None = None,
) -> WithinTeam:
    """The within-team slope of ``y`` on ``x`` (fixed-effects / within estimator: both centred
    on each team's mean; Wooldridge 2010, ch. 10) with a permutation p-value that shuffles ``x``
    only among the same team's rows (restricted permutations, Anderson & ter Braak 2003), so a
    team's level — its size, its systems — cannot make a link. Rows with a missing value drop;
    teams with a single row carry no within-team information and drop too. With at most
    ``permutations`` within-team orderings in all, every one is taken (an exact p-value).

    With ``period`` (e.g. each row's calendar quarter) both are also centred on the period's
    mean (two-way fixed effects, Wooldridge 2010, sec. 10.5): busy or seasonal stretches that hit
    every team at once — organisation-wide incident waves drifting from week to week — would
    otherwise line up by chance with a team's warranty drift (null audit: 15 % false claims
    under AR(1) weekly noise without it, 5 % with calendar quarters)."""
    import pandas as pd

    frame = pd.DataFrame({"team": team.to_numpy(), "x": x.to_numpy(float), "y": y.to_numpy(float)})
    frame["period"] = 0 if period is None else period.to_numpy()
    frame = frame.dropna()
    frame = frame[frame.groupby("team")["x"].transform("size") > 1]
    frame = frame.sort_values("team", kind="stable").reset_index(drop=True)
    n, k = len(frame), frame["team"].nunique()
    # rounded: float noise of the centring must not break ties (0.1 - 0.2 vs 0.5 - 0.6)
    codes = pd.factorize(frame["team"])[0]
    periods = pd.factorize(frame["period"])[0]
    cx = _two_way_residuals(frame["x"].to_numpy(float), codes, periods).round(12)
    cy = _two_way_residuals(frame["y"].to_numpy(float), codes, periods).round(12)
    sxx = float(cx @ cx)
    if n < stats.MIN_POINTS or sxx == 0 or not np.any(cy):
        reason = (
            "fewer than 3 sprints with a whole window after them"
            if n < stats.MIN_POINTS
            else "no sprint differs from its team's usual warranty share or incidents"
        )
        return WithinTeam(n, k, weeks, None, None, None, 0, reason)
    slope = float(cx @ cy) / sxx
    sizes = np.bincount(codes)
    if math.prod(math.factorial(int(k)) for k in sizes) <= permutations:
        # few enough within-team orderings to take them all: the exact null distribution
        blocks = np.cumsum(np.concatenate([[0], sizes[:-1]]))
        per_team = [
            [np.array(p) + b for p in itertools.permutations(range(k))]
            for k, b in zip(sizes, blocks, strict=True)
        ]
        order = np.array([np.concatenate(combo) for combo in itertools.product(*per_team)])
        exact = True
    else:
        rng = np.random.default_rng(stats.SEED)
        # argsort of (team code + uniform noise) keeps each team's block, shuffled inside it
        order = np.argsort(codes[None, :] + rng.random((permutations, n)), axis=1)
        exact = False
    null = (cx[order] @ cy) / sxx
    hits = int(np.sum(np.abs(null) >= abs(slope) - 1e-12))
    # exact: the observed ordering is one of the enumerated; sampled: add it (Phipson & Smyth)
    p = hits / len(order) if exact else (1 + hits) / (permutations + 1)
    r = stats.spearman(cx, cy).spearman_r
    return WithinTeam(n, k, weeks, slope * 0.1, r, float(p), len(order))


@dataclass(frozen=True)
class WarrantyVsIncidents:
    """Per team: ``warranty_share`` of sprint story points (fraction) and
    ``incidents_p1_p2_per_week``; ``correlation``: Spearman across the teams with both (a
    description of a handful of points, not a test). ``within_team``: the claimable reading,
    per sprint against the team's own usual (:class:`WithinTeam`); ``per_sprint``: its rows
    (team, sprint_id, end_date, warranty_share, incidents_p1_p2_after and both centred on the
    team's and the calendar quarter's means, as the test reads them: warranty_centred,
    incidents_centred)."""

    per_team: pd.DataFrame
    correlation: stats.Correlation
    within_team: WithinTeam | None = None
    per_sprint: pd.DataFrame | None = None


WARRANTY_WEEKS = 2  # incidents counted in this many weeks after each sprint's last day


def warranty_vs_incidents(
    con: duckdb.DuckDBPyConnection, flt: Filter, weeks: int = WARRANTY_WEEKS
) -> WarrantyVsIncidents:
    """Does time spent on warranty work (availability, capacity, security, continuity) go with
    fewer serious incidents? Within each team: each sprint's warranty share against the team's
    P1/P2 incidents in the ``weeks`` weeks after it ends, both against the team's own mean
    (:func:`within_team`). Across teams, descriptive: warranty share per team from the sprints
    ending in the window, P1/P2 incidents per week per team over the window, Spearman."""
    import pandas as pd

    from analytics.views import warranty_vs_following_incidents

    points = per_team_sprints(con, flt)
    serious = metric_series(con, flt, "incidents_p1_p2", freq="week", by="team")
    per_week = serious.groupby("team", as_index=False)["value"].sum()
    per_week["incidents_p1_p2_per_week"] = per_week["value"] / (flt.window_days / 7)
    teams = points[["team", "warranty_share"]].merge(
        per_week[["team", "incidents_p1_p2_per_week"]], on="team", how="outer"
    )
    # a team with sprints but no P1/P2 incident has a rate of 0, not an unknown one
    teams["incidents_p1_p2_per_week"] = teams["incidents_p1_p2_per_week"].fillna(0.0)
    teams = teams.sort_values("team").reset_index(drop=True)
    both = teams.dropna(subset=["warranty_share"])
    following = warranty_vs_following_incidents(con, flt, weeks)
    # only sprints whose weeks after lie inside the data: a cut window would count too few
    rows = following[following["window_complete"].fillna(False).astype(bool)].dropna(
        subset=["warranty_share"]
    )
    rows = rows[["team", "sprint_id", "end_date", "warranty_share", "incidents_p1_p2_after"]]
    rows = rows.dropna(subset=["incidents_p1_p2_after"])
    rows = rows[rows.groupby("team")["sprint_id"].transform("size") > 1].reset_index(drop=True)
    # calendar quarter: org-wide seasons and incident waves are not a team's warranty
    quarter = pd.to_datetime(rows["end_date"]).dt.to_period("Q").astype(str)
    # the chart shows what the test reads: both centred on the team's and the quarter's means
    team_codes, quarter_codes = pd.factorize(rows["team"])[0], pd.factorize(quarter)[0]
    for column, centred in (
        ("warranty_share", "warranty_centred"),
        ("incidents_p1_p2_after", "incidents_centred"),
    ):
        rows[centred] = _two_way_residuals(
            rows[column].to_numpy(float), team_codes, quarter_codes
        ).round(12)
    return WarrantyVsIncidents(
        teams,
        stats.spearman(both["warranty_share"], both["incidents_p1_p2_per_week"]),
        within_team(
            rows["team"],
            rows["warranty_share"],
            rows["incidents_p1_p2_after"],
            weeks,
            period=quarter,
        ),  # fmt: skip
        rows,
    )


def team_frontier(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    stability: str = "change_failure_rate",
    attribution: Attribution = EXPLICIT,
) -> pd.DataFrame:
    """``per_team`` plus ``on_frontier``: the teams no other team beats on both speed
    (deployments per week) and ``stability`` (lower is better: change_failure_rate,
    time_to_restore_hours_median or lead_time_hours_median)."""
    teams = per_team(con, flt, attribution=attribution)
    teams["on_frontier"] = stats.pareto_frontier(teams, "deployments_per_week", stability)
    return teams


# --- the report ---------------------------------------------------------------------------------


def statistics_for_report(
    con: duckdb.DuckDBPyConnection, flt: Filter, attribution: Attribution = EXPLICIT
) -> dict:
    """The statistical keys of ``report --format json`` (JSON-safe, None where undefined):
    ``change_failure_rate_ci95`` ([low, high] fractions), ``cadence_incident_correlation``
    (lags 0-8 over the whole weeks: lag_weeks, n, spearman_r, p_value, q_value, method),
    ``cab_vs_delegated`` (crude cab_cfr, delegated_cfr, fisher_p; within team x risk x kind:
    odds_ratio_mh with its 95 % interval low/high, the CMH p_value, the number of informative
    strata and the page's verdict more/less/same/unclear) and ``incident_trend``
    (theil_sen_slope_per_week, low, high, p_value, method)."""
    # the deployments counted per team x risk x kind x approval x outcome, once for the
    # failure rate and the CAB comparison (#11: speed; the report reads no lead-time test)
    cells = approval_cells_columns(con, flt, attribution)
    counts = cells["deployments"].astype(np.int64)
    total = int(counts.sum())
    failed = int(counts[cells["failed"].astype(bool)].sum())
    cfr = _failure_rate(failed, total)
    weekly = whole_weekly_series_columns(con, flt, attribution)  # once for lags and trend
    lag_keys = ("lag_weeks", "n", "spearman_r", "p_value", "q_value", "method")
    lags = stats.lagged_spearman(weekly["deployments"], weekly["incidents"], 8)
    cab_result = stats.cab_vs_delegated_cells(cells)
    cab, cab_mh = cab_result.failure, cab_result.stratified
    trend = stats.theil_sen(weekly["incidents"], list(weekly["week"]))
    return stats.json_safe(
        {
            "change_failure_rate_ci95": list(cfr.ci95) if cfr.ci95 else None,
            "cadence_incident_correlation": [{k: row[k] for k in lag_keys} for row in lags],
            "cab_vs_delegated": {
                "cab_cfr": cab.a_rate,
                "delegated_cfr": cab.b_rate,
                "fisher_p": cab.fisher_p,
                # within team x risk x kind, as the Change control page reads it
                "odds_ratio_mh": cab_mh.odds_ratio,
                "low": cab_mh.low,
                "high": cab_mh.high,
                "p_value": cab_mh.p_value,
                "strata": cab_mh.strata,
                "verdict": stats.cab_failure_verdict(cab_result),
            },
            "incident_trend": {
                "theil_sen_slope_per_week": trend.slope,
                "low": trend.low,
                "high": trend.high,
                "p_value": trend.p_value,
                "method": trend.method,
            },
        }
    )
