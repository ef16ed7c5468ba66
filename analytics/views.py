"""Small read-only queries the dashboard needs around the metrics: filter choices, the dataset's
provenance and the load history. Metrics themselves live in :mod:`analytics.metrics`."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from analytics.db import query_df
from analytics.filters import Filter, service_clause, team_clause
from analytics.store import row_counts

_BUCKET_DAYS = {"week": 7, "month": 30, "quarter": 91}


def partial_buckets(
    series: pd.DataFrame, flt: Filter, freq: str = "month", column: str = "bucket"
) -> pd.Series:
    """Per row of a per-period series (``column``: the period's first day), True when its period
    has fewer than half its days inside the window (4 of a week, 15 of a month, 46 of a
    quarter; or half the window's days when that is fewer). An edge period cut to a day or two
    gives a rate of a handful of events (a 100 % emergency share from one change) or a sum that
    looks like a collapse."""
    first = pd.to_datetime(pd.Series(series[column], dtype="datetime64[ns]"))
    if freq == "week":
        last = first + pd.Timedelta(days=6)
    elif freq == "quarter":
        last = first + pd.offsets.QuarterEnd(0)
    else:
        last = first + pd.offsets.MonthEnd(0)
    inside = last.clip(upper=pd.Timestamp(flt.end)) - first.clip(lower=pd.Timestamp(flt.start))
    threshold = min(-(-_BUCKET_DAYS[freq] // 2), max(1, flt.window_days // 2))
    return pd.Series((inside.dt.days + 1 < threshold).to_numpy(), index=series.index)


def buckets_mostly_inside(
    series: pd.DataFrame, flt: Filter, freq: str = "month", column: str = "bucket"
) -> pd.DataFrame:
    """The rows of a per-period series whose period is not partial (:func:`partial_buckets`)."""
    return series[~partial_buckets(series, flt, freq, column)].reset_index(drop=True)


def _with_partial(frame: pd.DataFrame, flt: Filter, freq: str) -> pd.DataFrame:
    return frame.assign(partial=partial_buckets(frame, flt, freq))


def months_mostly_inside(series: pd.DataFrame, flt: Filter) -> pd.DataFrame:
    """The rows of a monthly series (column ``bucket``: the 1st of the month) whose month has at
    least 15 days inside the window, or half the window's days when that is fewer: a month cut
    to a day or two gives a rate or median of a handful of events (:func:`partial_buckets`)."""
    return buckets_mostly_inside(series, flt, "month")


def filter_choices(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every team and service that occurs in any table: ``{"teams": [...], "services": [...]}``."""
    teams = query_df(
        con,
        """
        SELECT DISTINCT team AS value FROM (
            SELECT team FROM sprints UNION ALL SELECT team FROM work_items
            UNION ALL SELECT team FROM changes UNION ALL SELECT team FROM incidents
        ) WHERE team IS NOT NULL AND team <> '' ORDER BY value
        """,
    )
    services = query_df(
        con,
        """
        SELECT DISTINCT service AS value FROM (
            SELECT service FROM changes UNION ALL SELECT service FROM incidents
        ) WHERE service IS NOT NULL AND service <> '' ORDER BY value
        """,
    )
    return {"teams": teams["value"].tolist(), "services": services["value"].tolist()}


def dataset_info(con: duckdb.DuckDBPyConnection) -> dict:
    """Rows per record kind, number of loaded files and the last load time (naive UTC or None)."""
    files, last = con.execute("SELECT count(*), max(loaded_at) FROM load_log").fetchone()
    return {"row_counts": row_counts(con), "files": files, "last_loaded_at": last}


def load_history(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    """The latest ``limit`` imports, newest first (one row per file, counts of rows)."""
    return query_df(
        con,
        """
        SELECT load_id, loaded_at, file_name, kind, rows_inserted, rows_updated,
               rows_rejected, rows_superseded, replaced
        FROM load_log ORDER BY loaded_at DESC, load_id DESC LIMIT $limit
        """,
        {"limit": limit},
    )


def rejected_rows(con: duckdb.DuckDBPyConnection, load_ids: tuple[int, ...]) -> pd.DataFrame:
    """Refused rows of the given loads: file, line, column, reason and the raw row text."""
    return query_df(
        con,
        """
        SELECT file_name, line_number, column_name, reason, raw_row
        FROM rejected_rows WHERE list_contains($load_ids, load_id)
        ORDER BY load_id, line_number
        """,
        {"load_ids": list(load_ids)},
    )


_FREQS = {"week": "week", "month": "month", "quarter": "quarter"}


def _over_deployments(
    con: duckdb.DuckDBPyConnection, flt, attribution, sql: str, params: dict
) -> pd.DataFrame:
    """Run ``sql`` (no WITH of its own) over the window's deployments: the ``deployments`` CTE
    of :mod:`analytics.metrics`, so the definition of a deployment stays in one place."""
    from analytics.metrics import _with, constant_params

    # In SQL, not via deployments_frame: a DataFrame round trip costs more than the query.
    return query_df(
        con,
        f"{_with(attribution, tickets=False)}\n{sql}",
        flt.params(),
        attribution.params(),
        constant_params(),
        params,
    )


def approval_mix(con: duckdb.DuckDBPyConnection, flt, attribution, freq: str = "month"):
    """Deployments per period and approval path: ``[bucket (date), approval, deployments,
    share, partial]`` with ``share`` the path's fraction of the period's deployments and
    ``partial`` True for an edge period with less than half its days inside the window
    (:func:`partial_buckets`: charts leave those out, totals keep them)."""
    unit = _FREQS[freq]  # our own constant, never user text
    sql = f"""
        SELECT bucket, approval, deployments,
               deployments / sum(deployments) OVER (PARTITION BY bucket) AS share
        FROM (
            SELECT CAST(date_trunc('{unit}', implemented_at) AS DATE) AS bucket, approval,
                   count(*) AS deployments
            FROM deployments GROUP BY ALL
        ) AS counts
        ORDER BY bucket, approval
    """
    return _with_partial(_over_deployments(con, flt, attribution, sql, {}), flt, freq)


def emergency_ratio(con: duckdb.DuckDBPyConnection, flt, attribution, freq: str = "month"):
    """Share of deployments that were emergency changes, per period: ``[bucket (date),
    deployments, emergency, emergency_ratio (fraction), partial]``; ``partial`` marks an edge
    period with less than half its days inside the window (one change in a 1-day month is a
    100 % share): charts leave it out, totals keep it."""
    unit = _FREQS[freq]
    sql = f"""
        SELECT CAST(date_trunc('{unit}', implemented_at) AS DATE) AS bucket,
               count(*) AS deployments,
               count(*) FILTER (change_type = 'emergency') AS emergency,
               count(*) FILTER (change_type = 'emergency') / count(*) AS emergency_ratio
        FROM deployments GROUP BY ALL ORDER BY bucket
    """
    return _with_partial(_over_deployments(con, flt, attribution, sql, {}), flt, freq)


def _over_tickets(con: duckdb.DuckDBPyConnection, flt, cost, sql: str) -> pd.DataFrame:
    """Run ``sql`` (no WITH of its own) over the window's incidents and requests with their
    cost: the ``tickets`` CTE of :mod:`analytics.metrics`, where effort and cost are defined."""
    from analytics.metrics import EXPLICIT, _with

    # In SQL, not via tickets_frame: a DataFrame round trip costs more than the query.
    return query_df(
        con, f"{_with(EXPLICIT, deployments=False)}\n{sql}", flt.params(), cost.params()
    )


# Requests are their own category; incidents are grouped by priority.
_IS_REQUEST = "coalesce(kind, 'incident') = 'request'"  # an empty kind is an incident
_TICKET_CATEGORY = f"CASE WHEN {_IS_REQUEST} THEN 'Request' ELSE 'P' || priority END"


def cost_by_month(con: duckdb.DuckDBPyConnection, flt, cost) -> pd.DataFrame:
    """Support cost per calendar month and category (P1..P4 incidents, Request):
    ``[bucket (month start), category, tickets, hours, cost]`` in currency units."""
    sql = f"""
        SELECT CAST(date_trunc('month', opened_at) AS DATE) AS bucket,
               {_TICKET_CATEGORY} AS category,
               count(*) AS tickets, sum(effort_hours) AS hours, sum(cost) AS cost
        FROM tickets GROUP BY ALL ORDER BY bucket, category
    """
    return _over_tickets(con, flt, cost, sql)


def cost_breakdown(con: duckdb.DuckDBPyConnection, flt, cost) -> dict:
    """Totals over the window: ``cost``, ``incident_cost``, ``request_cost`` and
    ``change_caused_cost`` (incidents with a ``caused_by_change``), in currency units, plus
    ``change_caused_incidents`` (count)."""
    sql = f"""
        SELECT coalesce(sum(cost), 0) AS cost,
               coalesce(sum(cost) FILTER (NOT {_IS_REQUEST}), 0) AS incident_cost,
               coalesce(sum(cost) FILTER ({_IS_REQUEST}), 0) AS request_cost,
               coalesce(sum(cost) FILTER (NOT {_IS_REQUEST} AND caused_by_change IS NOT NULL),
                        0) AS change_caused_cost,
               count(*) FILTER (NOT {_IS_REQUEST} AND caused_by_change IS NOT NULL)
                   AS change_caused_incidents
        FROM tickets
    """
    row = _over_tickets(con, flt, cost, sql).iloc[0]
    return {k: (int(v) if k == "change_caused_incidents" else float(v)) for k, v in row.items()}


def warranty_aspects(con: duckdb.DuckDBPyConnection, flt) -> pd.DataFrame:
    """Story points of warranty work per team and aspect (availability, capacity, security,
    continuity; 'unspecified' when missing) in the sprints ending in the window:
    ``[team, aspect, items, points]``."""
    return query_df(
        con,
        f"""
        SELECT s.team, coalesce(w.warranty_aspect, 'unspecified') AS aspect,
               count(*) AS items, coalesce(sum(w.story_points), 0) AS points
        FROM work_items AS w JOIN sprints AS s ON s.sprint_id = w.sprint_id
        WHERE w.requirement_type = 'warranty'
          AND s.end_date BETWEEN $start_date AND $end_date
          AND {team_clause("s.team")}
        GROUP BY ALL ORDER BY s.team, aspect
        """,
        flt.params(),
    )


def warranty_vs_following_incidents(
    con: duckdb.DuckDBPyConnection, flt, weeks: int = 4
) -> pd.DataFrame:
    """Per sprint ending in the window: its ``warranty_share`` (fraction of story points) and
    the team's incidents opened in the ``weeks`` weeks after the sprint's last day
    (``incidents_after``, ``incidents_p1_p2_after``): ``[team, sprint_id, end_date,
    warranty_share, incidents_after, incidents_p1_p2_after, window_complete]``;
    ``window_complete`` is false when the weeks after the sprint reach past the last incident
    on record (their counts would be too low). Incidents follow the metrics' rule: an empty
    kind is an incident. The filter's services apply to the incidents."""
    from analytics.metrics import sprints_frame

    con.register("sprint_rows", sprints_frame(con, flt))
    try:
        return query_df(
            con,
            f"""
            SELECT s.team, s.sprint_id, s.end_date, s.warranty_share,
                   count(i.incident_id) AS incidents_after,
                   count(i.incident_id) FILTER (i.priority <= 2) AS incidents_p1_p2_after,
                   s.end_date + 7 * $weeks
                       <= (SELECT CAST(max(opened_at) AS DATE) FROM incidents) AS window_complete
            FROM sprint_rows AS s
            LEFT JOIN incidents AS i
              ON i.team = s.team
             AND coalesce(i.kind, 'incident') = 'incident'
             AND i.opened_at >= CAST(s.end_date AS TIMESTAMP) + INTERVAL 1 DAY
             AND i.opened_at < CAST(s.end_date AS TIMESTAMP) + INTERVAL 1 DAY
                               + to_days(CAST(7 * $weeks AS INTEGER))
             AND {service_clause("i.service")}
            GROUP BY ALL ORDER BY s.end_date, s.team, s.sprint_id
            """,
            flt.params(),
            {"weeks": weeks},
        )
    finally:
        con.unregister("sprint_rows")


ABOUT = "about the median"
_MEDIAN_TOLERANCE = 0.10  # lead time / restore: no interval from per-team medians


def compare_to_median(
    points: pd.DataFrame, speed: str, stability: str, confidence: float = 0.95
) -> pd.DataFrame:
    """Each point's speed and stability against the median point, with the noise taken into
    account so that hairline differences do not rank teams. Returns ``points`` plus
    ``speed_vs_median`` ("faster", "slower" or "about the median") and
    ``stability_vs_median`` ("more stable", "less stable" or "about the median").

    Speed (deployments per week): the exact Poisson interval of the deployment count (Garwood
    1936), scaled to the point's weeks; a point is faster or slower only when the median lies
    outside it. Change failure rate: the Wilson score interval (Wilson 1927) of failed /
    deployments. Median lead time or time to restore: within 10 % of the median point is
    "about the median" (per-team medians carry no interval here). ``points`` needs
    ``deployments`` and the two columns named."""
    from scipy import stats as sps

    out = points.copy()
    alpha = 1 - confidence
    n = out["deployments"].to_numpy(dtype=float)
    rate = out[speed].to_numpy(dtype=float)
    weeks = np.divide(n, rate, out=np.full_like(n, np.nan), where=rate > 0)
    low = np.where(n > 0, sps.chi2.ppf(alpha / 2, 2 * n) / 2, 0.0) / weeks
    high = sps.chi2.ppf(1 - alpha / 2, 2 * n + 2) / 2 / weeks
    x_median = np.nanmedian(rate) if len(rate) else np.nan
    out["speed_vs_median"] = np.select(
        [low > x_median, high < x_median], ["faster", "slower"], ABOUT
    )
    y = out[stability].to_numpy(dtype=float)
    y_median = np.nanmedian(y) if len(y) and not np.isnan(y).all() else np.nan
    if stability == "change_failure_rate":
        from analytics.stratified import wilson_bounds

        z = float(sps.norm.ppf(1 - alpha / 2))
        # the reported rate (failed, rolled back or causing an incident) / deployments; no
        # interval without deployments (about the median)
        bounds = [
            wilson_bounds(p, k, z) if k > 0 and p == p else (np.nan, np.nan)
            for p, k in zip(y, n, strict=True)
        ]
        y_low, y_high = np.array(bounds, dtype=float).reshape(-1, 2).T
    else:
        y_low, y_high = y * (1 - _MEDIAN_TOLERANCE), y * (1 + _MEDIAN_TOLERANCE)
    # lower is more stable for every stability measure
    out["stability_vs_median"] = np.select(
        [y_high < y_median, y_low > y_median], ["more stable", "less stable"], ABOUT
    )
    return out
