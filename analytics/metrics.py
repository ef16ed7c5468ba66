"""The metrics core: every delivery, stability, support and sprint metric, defined once in SQL.

Each metric's definition lives in exactly one SQL fragment below (``_deployments_ctes``,
``_tickets_ctes``, ``_window_links_cte``, ``_SPRINTS_CTES``) and one aggregate expression
(``_DEPLOYMENT_AGGREGATES``, ``_TICKET_AGGREGATES``, ``_OUTER``, ``_sprint_summary_cte``).
The report, the time series, the per-team and per-quarter breakdowns and the row-level frames
all read these, so their numbers cannot drift apart.

Conventions:
- A *deployment* is a change implemented in the window whose outcome is not ``cancelled``.
- An *incident* is a row of the ``incidents`` table whose ``kind`` is ``incident`` (an empty kind
  counts as an incident); a *request* is one whose kind is ``request``. Only incidents mark a change
  as failed (``caused_by_change``) or as rework (``resolved_by_change``): a request fulfilled by a
  change is not rework.
- Hours are real hours (microsecond precision), medians are interpolated (``median`` = the 0.5
  continuous quantile), and an undefined value (median of nothing, ratio over zero) is null/NaN.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from analytics.cost import DEFAULT_COST_MODEL, CostModel, effort_sql
from analytics.db import bind, query_columns, query_df
from analytics.filters import Filter, service_clause, team_clause
from analytics.schema import APPROVALS, DEFAULT_APPROVAL, FAILED_OUTCOMES

if TYPE_CHECKING:  # the report runs without pandas (#11: its import is 0.5 s); frames import it
    import pandas as pd


@dataclass(frozen=True)
class Attribution:
    """How incidents are tied to the deployments that caused them.

    ``explicit``: only an incident's ``caused_by_change`` counts. ``window``: in addition, an
    incident without one is attributed to the latest deployment on the same service implemented
    at or before the incident opened and at most ``window_hours`` hours before it.
    Frozen (hashable) because Streamlit caches on it.
    """

    mode: str = "explicit"
    window_hours: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("explicit", "window"):
            raise ValueError(f"attribution mode must be 'explicit' or 'window', not {self.mode!r}")
        if self.mode == "window" and (self.window_hours is None or self.window_hours < 0):
            raise ValueError("window attribution needs window_hours >= 0")

    @property
    def by_window(self) -> bool:
        """True when incidents without a cause are attributed by the time window."""
        return self.mode == "window"

    def params(self) -> dict:
        """Named SQL parameters: ``window_hours`` (only read in window mode)."""
        return {"window_hours": self.window_hours}


EXPLICIT = Attribution()


def hours_between(start: str, end: str) -> str:
    """SQL expression: hours from timestamp ``start`` to timestamp ``end`` (microsecond exact)."""
    return f"((epoch_us({end}) - epoch_us({start})) / 3600e6)"


_IS_INCIDENT = "coalesce({p}kind, 'incident') = 'incident'"


def _is_incident(alias: str = "") -> str:
    return _IS_INCIDENT.format(p=f"{alias}." if alias else "")


def constant_params() -> dict:
    """Named parameters for the schema's constants the definitions use."""
    return {
        "failed_outcomes": list(FAILED_OUTCOMES),
        "default_approval_types": list(DEFAULT_APPROVAL),
        "default_approvals": list(DEFAULT_APPROVAL.values()),
        "approvals": list(APPROVALS),
    }


# The attribution window as an INTERVAL.
_WINDOW = "to_microseconds(CAST(round($window_hours * 3600e6) AS BIGINT))"


def _window_links_cte() -> str:
    """CTE ``window_links(incident_id, change_id)``: window attribution of the incidents in the
    database that name no cause.

    ASOF join: each goes to the latest deployment (not cancelled) on its service implemented at
    or before it opened, if that was at most ``$window_hours`` hours before. Materialized because
    the deployments and the tickets both read it (one pass over the incidents, not two).

    Only links the filter can see are computed, and exactly: a deployment in the window can only
    be linked by an incident opened before ``end + H``, and an incident opened in the window only
    to a deployment from ``start - H`` on; both ends of a link share one service, so the service
    filter applies to both sides. (The team filter does not: team may differ across a link.)
    """
    return f"""window_links AS MATERIALIZED (
    SELECT i.incident_id, d.change_id
    FROM (
        SELECT incident_id, service, opened_at FROM incidents
        WHERE caused_by_change IS NULL AND service IS NOT NULL AND {_is_incident()}
            AND opened_at >= $start_ts AND opened_at < $end_ts + {_WINDOW}
            AND {service_clause()}
    ) AS i
    ASOF JOIN (
        SELECT change_id, service, implemented_at FROM changes
        WHERE outcome <> 'cancelled' AND implemented_at >= $start_ts - {_WINDOW}
            AND {service_clause()}
    ) AS d
        ON i.service = d.service AND i.opened_at >= d.implemented_at
    WHERE {hours_between("d.implemented_at", "i.opened_at")} <= $window_hours
)"""


def attribution_placebo(
    con: duckdb.DuckDBPyConnection, flt: Filter, attribution: Attribution
) -> dict:
    """How many window links chance alone would make, from placebo windows that cannot hold the
    cause: the same H hours one week earlier and one week later (shifted by whole weeks longer
    than H), a bidirectional case-crossover design (Maclure 1991; Navidi 1998). Whole weeks
    keep the hour and the weekday, so a weekly release rhythm does not masquerade as a link; the
    window straight after the incident would not do: emergency fixes follow incidents.

    Over the incidents the report counts for window attribution (opened in the window, in the
    filter's teams and services, without ``caused_by_change``, with a service) whose placebo
    windows lie inside the deployment record, returns ``window_links`` (incidents with a
    deployment on their service up to H hours before them), ``placebo_links`` (the mean of the
    incidents with one in the week-earlier and in the week-later window), ``excess_links``
    (window minus placebo), ``placebo_after_links`` (incidents with a deployment in the H hours
    straight after them, their own fix left out: shown, not used) and ``p_value``: one-sided
    test that the window finds more than the placebo windows — each incident's window minus
    the mean of its placebo windows has mean 0 when deployments do not cause incidents; summed
    per service and ISO week, whose squares give a cluster-robust variance (incidents close in
    time share deployments; Liang & Zeger 1986), against the normal distribution; None when
    every cluster's score is 0. Every value None in explicit mode."""
    keys = ("window_links", "placebo_links", "excess_links", "placebo_after_links", "p_value")
    if not attribution.by_window:
        return dict.fromkeys(keys)
    # the placebo shift: whole weeks, longer than the window so the windows never overlap
    shift = 168.0 * (int(attribution.window_hours // 168) + 1)
    placebo_week = "to_microseconds(CAST(round($shift_hours * 3600e6) AS BIGINT))"
    sql = f"""
WITH record AS (
    SELECT min(implemented_at) AS lo, max(implemented_at) AS hi FROM changes
    WHERE outcome <> 'cancelled'
),
inc AS (
    SELECT incident_id, service, opened_at, resolved_by_change FROM incidents, record
    WHERE caused_by_change IS NULL AND service IS NOT NULL AND {_is_incident()}
        AND opened_at >= $start_ts AND opened_at < $end_ts
        AND {team_clause()} AND {service_clause()}
        -- both placebo windows inside the deployment record: an empty edge is no evidence
        AND opened_at - {placebo_week} - {_WINDOW} >= record.lo
        AND opened_at + {placebo_week} <= record.hi
),
dep AS (
    SELECT change_id, service, implemented_at FROM changes
    WHERE outcome <> 'cancelled'
        AND implemented_at >= $start_ts - {placebo_week} - {_WINDOW}
        AND implemented_at <= $end_ts + {placebo_week} AND {service_clause()}
),
flags AS (
    SELECT i.incident_id, i.service, CAST(date_trunc('week', i.opened_at) AS DATE) AS week,
        coalesce(bool_or(d.implemented_at BETWEEN i.opened_at - {_WINDOW} AND i.opened_at),
                 FALSE)::INT AS hazard,
        coalesce(bool_or(d.implemented_at BETWEEN i.opened_at - {placebo_week} - {_WINDOW}
                                             AND i.opened_at - {placebo_week}), FALSE)::INT
            AS week_before,
        coalesce(bool_or(d.implemented_at BETWEEN i.opened_at + {placebo_week} - {_WINDOW}
                                             AND i.opened_at + {placebo_week}), FALSE)::INT
            AS week_after,
        coalesce(bool_or(d.implemented_at > i.opened_at
                         AND d.implemented_at <= i.opened_at + {_WINDOW}
                         AND d.change_id IS DISTINCT FROM i.resolved_by_change), FALSE)::INT
            AS straight_after
    FROM inc AS i
    LEFT JOIN dep AS d ON d.service = i.service
        AND d.implemented_at >= i.opened_at - {placebo_week} - {_WINDOW}
        AND d.implemented_at <= i.opened_at + {placebo_week}
    GROUP BY i.incident_id, i.service, week
)
-- one row per service and ISO week: incidents close in time share their deployments
SELECT sum(hazard) AS hazard, sum(week_before + week_after) AS placebos,
       sum(straight_after) AS straight_after
FROM flags GROUP BY service, week
"""
    params = bind(sql, flt.params(), attribution.params(), {"shift_hours": shift})
    clusters = con.execute(sql, params).fetchall()
    window = int(sum(hazard for hazard, _, _ in clusters))
    placebo = sum(placebos for _, placebos, _ in clusters) / 2
    after = int(sum(straight for _, _, straight in clusters))
    # each cluster's window-minus-placebo score has mean 0 without an effect; its empirical
    # square is a cluster-robust variance (incidents of one service and week are not independent)
    variance = float(sum((hazard - placebos / 2) ** 2 for hazard, placebos, _ in clusters))
    p_value = None
    if variance > 0:
        from analytics.distributions import norm_sf

        p_value = norm_sf((window - placebo) / math.sqrt(variance))
    return dict(zip(keys, (window, placebo, window - placebo, after, p_value), strict=True))


# --- deployments ------------------------------------------------------------------------------

# What a deployment is, written once (the metrics and the change schedule read it): a change
# implemented in the window, not cancelled, in the filter's teams and services, every column of
# the change with its approval defaulted from its type. Params: constant_params(), Filter.params().
DEPLOYED_CHANGES_CTES = f"""approval_defaults AS (
    SELECT unnest($default_approval_types) AS change_type, unnest($default_approvals) AS approval
),
deployed_changes AS (
    SELECT c.* REPLACE (coalesce(c.approval, ad.approval) AS approval)
    FROM changes AS c
    LEFT JOIN approval_defaults AS ad ON ad.change_type = c.change_type
    WHERE c.implemented_at >= $start_ts AND c.implemented_at < $end_ts
        AND c.outcome <> 'cancelled'
        AND {team_clause("c.team")} AND {service_clause("c.service")}
)"""


def _deployments_ctes(attribution: Attribution, failed: bool = True, rework: bool = True) -> str:
    """CTEs ending in ``deployments``: one row per deployment in the filter's window.

    ``failed``: outcome failed/rolled_back, or named as cause by any incident in the database
    (whenever it opened, whatever the filter), or — with window attribution — the latest
    deployment on the service of an incident opened at most ``$window_hours`` after it.
    Semi-joins (IN) keep each deployment once however many incidents name it, so the failure
    rate never exceeds 1.
    ``rework``: named in ``resolved_by_change`` of any incident.

    ``failed=False`` / ``rework=False``: that column is NULL and its semi-join left out, for
    queries that read neither (each scans every incident: half the time of a weekly count).
    """
    window_union = ""
    if attribution.by_window:
        window_union = "UNION ALL SELECT change_id FROM window_links"
    caused = f"""
caused_changes AS (
    SELECT caused_by_change AS change_id FROM incidents
    WHERE caused_by_change IS NOT NULL AND {_is_incident()}
    {window_union}
),"""
    reworked = f"""
reworked_changes AS (
    SELECT resolved_by_change AS change_id FROM incidents
    WHERE resolved_by_change IS NOT NULL AND {_is_incident()}
),"""
    failed_sql = """(list_contains($failed_outcomes, c.outcome)
            OR c.change_id IN (SELECT change_id FROM caused_changes))"""
    rework_sql = "c.change_id IN (SELECT change_id FROM reworked_changes)"
    return f"""{caused if failed else ""}{reworked if rework else ""}
{DEPLOYED_CHANGES_CTES},
deployments AS (
    SELECT
        c.change_id, c.team, c.service, c.change_type, c.approval,
        c.risk, c.sprint_id, c.requested_at, c.implemented_at,
        {hours_between("c.requested_at", "c.implemented_at")} AS lead_time_hours,
        {failed_sql if failed else "CAST(NULL AS BOOLEAN)"} AS failed,
        {rework_sql if rework else "CAST(NULL AS BOOLEAN)"} AS rework
    FROM deployed_changes AS c
)"""


# --- incidents and requests -------------------------------------------------------------------


def _tickets_ctes(attribution: Attribution) -> str:
    """CTEs ending in ``tickets``: one row per incident or request opened in the window.

    ``restore_hours`` is null while unresolved; ``effort_hours`` falls back on the cost model's
    default; ``linked_by_window`` is true only with window attribution.
    """
    join = ""
    by_window = "FALSE"
    if attribution.by_window:
        join = "LEFT JOIN window_links AS wl ON wl.incident_id = i.incident_id"
        by_window = "wl.change_id IS NOT NULL"
    return f"""
tickets AS (
    SELECT
        i.incident_id, i.team, i.service, coalesce(i.kind, 'incident') AS kind, i.priority,
        i.opened_at, i.resolved_at,
        {hours_between("i.opened_at", "i.resolved_at")} AS restore_hours,
        i.caused_by_change,
        {effort_sql("i")} AS effort_hours,
        {effort_sql("i")} * $hourly_rate AS cost,
        {_is_incident("i")} AS is_incident,
        i.caused_by_change IS NOT NULL AS linked_explicitly,
        {by_window} AS linked_by_window
    FROM incidents AS i
    {join}
    WHERE i.opened_at >= $start_ts AND i.opened_at < $end_ts
        AND {team_clause("i.team")} AND {service_clause("i.service")}
)"""


def _with(
    attribution: Attribution,
    deployments: bool = True,
    tickets: bool = True,
    failed: bool = True,
    rework: bool = True,
) -> str:
    """``WITH`` and the CTEs for ``deployments`` and/or ``tickets`` (plus ``window_links``, which
    both read in window mode, computed once); ``failed``/``rework``: see
    :func:`_deployments_ctes`."""
    ctes = []
    if attribution.by_window:
        ctes.append(_window_links_cte())
    if deployments:
        ctes.append(_deployments_ctes(attribution, failed, rework))
    if tickets:
        ctes.append(_tickets_ctes(attribution))
    return "WITH " + ",\n".join(ctes)


# --- sprints ----------------------------------------------------------------------------------

_SPRINTS_CTES = f"""
window_sprints AS (
    SELECT * FROM sprints
    WHERE end_date >= $start_date AND end_date <= $end_date AND {team_clause("team")}
),
sprint_items AS (
    SELECT
        w.sprint_id,
        -- resolved by the end of the sprint's last day
        sum(w.story_points) FILTER (WHERE w.resolved_at < s.end_date + INTERVAL 1 DAY)
            AS resolved_points,
        sum(w.story_points) FILTER (WHERE w.requirement_type = 'warranty') AS warranty_points,
        sum(w.story_points) AS total_points,
        count(*) FILTER (WHERE w.origin = 'operations') AS operations_items,
        count(*) AS items
    FROM work_items AS w
    JOIN window_sprints AS s ON s.sprint_id = w.sprint_id
    GROUP BY w.sprint_id
),
sprint_rows AS (
    SELECT
        s.sprint_id, s.team, s.name, s.start_date, s.end_date,
        date_diff('day', s.start_date, s.end_date) + 1 AS length_days,
        s.committed_points, s.completed_points,
        -- no completed_points: the points of its items resolved in time (null without any items)
        CASE WHEN s.completed_points IS NOT NULL THEN s.completed_points
             WHEN si.items > 0 THEN coalesce(si.resolved_points, 0) END AS velocity_points,
        coalesce(si.warranty_points, 0) AS warranty_points,
        coalesce(si.total_points, 0) AS total_points,
        coalesce(si.warranty_points, 0) / nullif(si.total_points, 0) AS warranty_share,
        coalesce(si.operations_items, 0) AS operations_items,
        coalesce(si.items, 0) AS items
    FROM window_sprints AS s
    LEFT JOIN sprint_items AS si ON si.sprint_id = s.sprint_id
)"""


# --- the aggregation engine -------------------------------------------------------------------

# Aggregates over ``deployments`` and ``tickets`` per (bucket, group); ``_OUTER`` turns them into
# the published metrics (zero-filled counts, null ratios/medians where there is no data).
_DEPLOYMENT_AGGREGATES = """
    count(*) AS n_deployments,
    count(*) FILTER (WHERE failed) AS n_failed,
    count(*) FILTER (WHERE rework) AS n_rework,
    median(lead_time_hours) AS lead_time_median"""

_TICKET_AGGREGATES = """
    count(*) FILTER (WHERE is_incident) AS n_incidents,
    count(*) FILTER (WHERE is_incident AND priority <= 2) AS n_incidents_p1_p2,
    count(*) FILTER (WHERE kind = 'request') AS n_requests,
    median(restore_hours) FILTER (WHERE is_incident) AS restore_median,
    -- failed deployment recovery: incidents with a cause (in window mode, also a window link)
    median(restore_hours) FILTER (WHERE is_incident AND (linked_explicitly OR linked_by_window))
        AS recovery_median,
    sum(effort_hours) AS effort,
    sum(cost) AS cost,
    count(*) FILTER (WHERE is_incident AND linked_explicitly) AS n_linked_explicitly,
    count(*) FILTER (WHERE is_incident AND NOT linked_explicitly AND linked_by_window)
        AS n_linked_by_window"""

_OUTER = {
    "deployments": "coalesce(d.n_deployments, 0)",
    "deployments_per_week": "coalesce(d.n_deployments, 0) / (g.bucket_days / 7.0)",
    "lead_time_hours_median": "d.lead_time_median",
    "failed_deployments": "coalesce(d.n_failed, 0)",
    "change_failure_rate": "d.n_failed / nullif(d.n_deployments, 0)",
    "rework_rate": "d.n_rework / nullif(d.n_deployments, 0)",
    "incidents": "coalesce(t.n_incidents, 0)",
    "incidents_p1_p2": "coalesce(t.n_incidents_p1_p2, 0)",
    "requests": "coalesce(t.n_requests, 0)",
    "time_to_restore_hours_median": "t.restore_median",
    "failed_deployment_recovery_hours_median": "t.recovery_median",
    "support_hours": "coalesce(t.effort, 0.0)",
    "support_cost": "coalesce(t.cost, 0.0)",
    "incidents_linked_explicitly": "coalesce(t.n_linked_explicitly, 0)",
    "incidents_linked_by_window": "coalesce(t.n_linked_by_window, 0)",
}

_APPROVAL_COLUMNS = (
    "approval",
    "deployments",
    "failed_deployments",
    "change_failure_rate",
    "lead_time_hours_median",
)

# ``approval_rows``: the deployment metrics per approval path, all paths in schema order.
_BY_APPROVAL_CTES = f"""
approval_paths AS (
    SELECT unnest($approvals) AS approval, generate_subscripts($approvals, 1) AS position
),
approval_aggregates AS (
    SELECT approval, {_DEPLOYMENT_AGGREGATES}
    FROM deployments GROUP BY approval
),
approval_rows AS (
    SELECT p.approval, p.position,
        {", ".join(f"{_OUTER[c]} AS {c}" for c in _APPROVAL_COLUMNS[1:])}
    FROM approval_paths AS p LEFT JOIN approval_aggregates AS d ON d.approval = p.approval
)"""

# Bucket start per frequency (date_trunc unit) and bucket length (an interval, not a value).
_FREQ = {"week": ("week", "INTERVAL 1 WEEK"), "month": ("month", "INTERVAL 1 MONTH")}
_FREQ_ALL = {**_FREQ, "quarter": ("quarter", "INTERVAL 3 MONTH")}
_GROUPS = ("team", "service")


def _parts(metrics) -> tuple[bool, bool]:
    """Whether the metrics need the deployments (``d``) and/or the tickets (``t``)."""
    return (
        any("d." in _OUTER[m] for m in metrics),
        any("t." in _OUTER[m] for m in metrics),
    )


def _aggregate_sql(
    freq: str | None,
    by: str | None,
    attribution: Attribution,
    metrics: tuple[str, ...] = tuple(_OUTER),
    extra_ctes: str = "",
) -> tuple[str, str]:
    """The WITH clause and the final SELECT of :func:`_aggregate` (apart so that the report can
    add CTEs that read ``deployments`` and ``tickets``, and columns). Only the parts the
    ``metrics`` need are computed."""
    need_d, need_t = _parts(metrics)
    if freq is None:
        buckets = """buckets AS (
    SELECT $start_date AS bucket, date_diff('day', $start_date, $end_date) + 1 AS bucket_days
)"""
        d_bucket = t_bucket = "$start_date"
    else:
        unit, step = _FREQ_ALL[freq]
        buckets = f"""bucket_starts AS (
    SELECT CAST(b AS DATE) AS bucket
    FROM generate_series(
        CAST(date_trunc('{unit}', $start_date) AS TIMESTAMP), CAST($end_date AS TIMESTAMP), {step}
    ) AS t(b)
),
buckets AS (
    -- days of each bucket inside the window: the first/last bucket may be cut by the window
    SELECT bucket, date_diff('day', greatest(bucket, $start_date),
                             least(CAST(bucket + {step} AS DATE), $end_date + 1)) AS bucket_days
    FROM bucket_starts
)"""
        d_bucket = f"CAST(date_trunc('{unit}', implemented_at) AS DATE)"
        t_bucket = f"CAST(date_trunc('{unit}', opened_at) AS DATE)"
    grp = "''" if by is None else by
    ctes = [buckets]
    joins = []
    sources = []
    if need_d:
        ctes.append(f"""d AS (
    SELECT {d_bucket} AS bucket, {grp} AS grp, {_DEPLOYMENT_AGGREGATES}
    FROM deployments GROUP BY ALL
)""")
        joins.append("LEFT JOIN d ON d.bucket = g.bucket AND d.grp = g.grp")
        sources.append(f"SELECT DISTINCT {by} AS grp FROM deployments WHERE {by} IS NOT NULL")
    if need_t:
        ctes.append(f"""t AS (
    SELECT {t_bucket} AS bucket, {grp} AS grp, {_TICKET_AGGREGATES}
    FROM tickets GROUP BY ALL
)""")
        joins.append("LEFT JOIN t ON t.bucket = g.bucket AND t.grp = g.grp")
        sources.append(f"SELECT DISTINCT {by} AS grp FROM tickets WHERE {by} IS NOT NULL")
    # the groups: every team/service with data in the window (one empty group without ``by``)
    ctes.append(
        "groups AS (SELECT '' AS grp)"
        if by is None
        else "groups AS (\n    " + "\n    UNION ".join(sources) + "\n)"
    )
    if extra_ctes:
        ctes.append(extra_ctes)
    # the deployments' failed and rework flags only when a metric (or the report's CTEs) reads them
    read = " ".join(_OUTER[m] for m in metrics)
    flags = {f: bool(extra_ctes) or f"d.n_{f}" in read for f in ("failed", "rework")}
    with_clause = _with(attribution, need_d, need_t, **flags) + ",\n" + ",\n".join(ctes)
    outer = ",\n    ".join(f"{_OUTER[m]} AS {m}" for m in metrics)
    select = f"""
SELECT g.bucket, g.bucket_days, g.grp,
    {outer}"""
    rest = f"""
FROM (SELECT * FROM buckets CROSS JOIN groups) AS g
{chr(10).join(joins)}
ORDER BY g.bucket, g.grp
"""
    return with_clause, select + "{extra_columns}" + rest.replace("{", "{{").replace("}", "}}")


def _aggregate(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    freq: str | None = None,
    by: str | None = None,
    cost: CostModel = DEFAULT_COST_MODEL,
    attribution: Attribution = EXPLICIT,
    metrics: tuple[str, ...] = tuple(_OUTER),
) -> pd.DataFrame:
    """The ``metrics`` (keys of ``_OUTER``; default all) per bucket (and group).

    Returns columns ``bucket`` (first day of the bucket; the window's start when ``freq`` is None),
    ``bucket_days`` (days of the bucket inside the window), ``grp`` (the team/service when ``by``
    is set) and one column per metric. Every bucket overlapping the window appears,
    crossed with every group that has data in the window.
    """
    return query_df(con, *_aggregate_query(flt, freq, by, cost, attribution, metrics))


def _aggregate_columns(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    freq: str | None = None,
    by: str | None = None,
    cost: CostModel = DEFAULT_COST_MODEL,
    attribution: Attribution = EXPLICIT,
    metrics: tuple[str, ...] = tuple(_OUTER),
) -> dict[str, np.ndarray]:
    """:func:`_aggregate` as numpy columns (:func:`analytics.db.query_columns`), no pandas."""
    return query_columns(con, *_aggregate_query(flt, freq, by, cost, attribution, metrics))


def _aggregate_query(flt, freq, by, cost, attribution, metrics) -> tuple:
    """The SQL of :func:`_aggregate` and its parameter dicts (one query for both forms)."""
    with_clause, select = _aggregate_sql(freq, by, attribution, metrics)
    sql = with_clause + select.format(extra_columns="")
    return sql, flt.params(), cost.params(), attribution.params(), constant_params()


def _to_dates(series: pd.Series) -> pd.Series:
    """DuckDB DATE columns arrive as datetime64; the API promises ``datetime.date`` values."""
    import pandas as pd

    return pd.Series(pd.to_datetime(series).dt.date.to_numpy(), index=series.index, dtype=object)


def _dates(values: np.ndarray) -> np.ndarray:
    """A DATE column of :func:`analytics.db.query_columns` (datetime64) as an object array of
    ``datetime.date`` (None for null): the numpy form of :func:`_to_dates`."""
    return np.asarray(values).astype("datetime64[D]").astype(object)


# --- the report -------------------------------------------------------------------------------


_SPRINT_SUMMARY_COLUMNS = (
    "sprints",
    "sprint_length_days_median",
    "velocity_points_median",
    "say_do_ratio",
    "warranty_share",
)


def _sprint_summary_cte(by_team: bool = False) -> str:
    """CTE ``sprint_summary``: the sprint metrics over ``sprint_rows`` (see ``_SPRINTS_CTES``),
    one row, or one row per team with a ``team`` column."""
    team, group = ("team, ", "GROUP BY team") if by_team else ("", "")
    return f"""
sprint_summary AS (
    SELECT {team}
        count(*) AS sprints,
        median(length_days) AS sprint_length_days_median,
        median(velocity_points) AS velocity_points_median,
        -- say/do only over sprints that have both numbers
        sum(completed_points) FILTER (WHERE has_both) / nullif(sum(committed_points)
            FILTER (WHERE has_both), 0) AS say_do_ratio,
        sum(warranty_points) / nullif(sum(total_points), 0) AS warranty_share
    FROM (
        SELECT *, completed_points IS NOT NULL AND committed_points IS NOT NULL AS has_both
        FROM sprint_rows
    )
    {group}
)"""


def _plain(value):
    """A JSON-ready Python value: NaN/NaT -> None, numpy scalars -> int/float, dates -> ISO."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()  # a numpy NaT becomes None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def report(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    cost: CostModel = DEFAULT_COST_MODEL,
    attribution: Attribution = EXPLICIT,
) -> dict:
    """Every metric for the filter as a JSON-ready dict (None where undefined, numbers unrounded).

    Keys: from, to, teams, services, hourly_rate, window_days, deployments, deployments_per_week,
    lead_time_hours_median, failed_deployments, change_failure_rate, rework_rate, incidents,
    requests, time_to_restore_hours_median, failed_deployment_recovery_hours_median,
    support_hours, support_cost, sprints, sprint_length_days_median, velocity_points_median,
    say_do_ratio, warranty_share, by_approval, dora, attribution.
    """
    from analytics.dora import dora_tiers

    # One statement: the window attribution and the deployments are computed once.
    with_clause, select = _aggregate_sql(
        None,
        None,
        attribution,
        extra_ctes=f"{_BY_APPROVAL_CTES},\n{_SPRINTS_CTES},\n{_sprint_summary_cte()}",
    )
    approval_struct = ", ".join(f"'{c}': {c}" for c in _APPROVAL_COLUMNS)
    extra = f""",
    (SELECT list({{{approval_struct}}} ORDER BY position) FROM approval_rows) AS by_approval,
    """ + ",\n    ".join(
        f"(SELECT {c} FROM sprint_summary) AS {c}" for c in _SPRINT_SUMMARY_COLUMNS
    )
    sql = with_clause + select.format(extra_columns=extra)
    params = bind(sql, flt.params(), cost.params(), attribution.params(), constant_params())
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    row = dict(zip(names, cursor.fetchone(), strict=True))
    out: dict = {
        "from": flt.start.isoformat(),
        "to": flt.end.isoformat(),
        "teams": list(flt.teams),
        "services": list(flt.services),
        "hourly_rate": cost.hourly_rate,
        "window_days": flt.window_days,
    }
    for key in (
        "deployments",
        "deployments_per_week",
        "lead_time_hours_median",
        "failed_deployments",
        "change_failure_rate",
        "rework_rate",
        "incidents",
        "requests",
        "time_to_restore_hours_median",
        "failed_deployment_recovery_hours_median",
        "support_hours",
        "support_cost",
        *_SPRINT_SUMMARY_COLUMNS,
    ):
        out[key] = _plain(row[key])
    out["by_approval"] = {
        path["approval"]: {c: _plain(path[c]) for c in _APPROVAL_COLUMNS[1:]}
        for path in row["by_approval"]
    }
    out["dora"] = dora_tiers(
        deployments_per_week=out["deployments_per_week"],
        lead_time_hours=out["lead_time_hours_median"],
        change_failure_rate=out["change_failure_rate"],
        recovery_hours=out["failed_deployment_recovery_hours_median"],
    )
    explicit = _plain(row["incidents_linked_explicitly"])
    by_window = _plain(row["incidents_linked_by_window"])
    out["attribution"] = {
        "mode": attribution.mode,
        "window_hours": attribution.window_hours if attribution.by_window else None,
        "incidents_linked_explicitly": explicit,
        "incidents_linked_by_window": by_window,
        "incidents_unattributed": out["incidents"] - explicit - by_window,
    }
    # chance links: the same window a week earlier and later (None in explicit mode)
    placebo = attribution_placebo(con, flt, attribution)
    out["attribution"].update(
        placebo_links=placebo["placebo_links"],
        excess_links=placebo["excess_links"],
        placebo_after_links=placebo["placebo_after_links"],
        p_value=placebo["p_value"],
    )
    return out


# --- breakdowns -------------------------------------------------------------------------------

PER_TEAM_COLUMNS = [
    "team",
    "deployments",
    "deployments_per_week",
    "lead_time_hours_median",
    "failed_deployments",
    "change_failure_rate",
    "rework_rate",
    "incidents",
    "time_to_restore_hours_median",
    "support_hours",
    "support_cost",
]


def per_team(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    cost: CostModel = DEFAULT_COST_MODEL,
    attribution: Attribution = EXPLICIT,
) -> pd.DataFrame:
    """One row per team with deployments or tickets in the window (records without a team are
    left out): the columns of ``PER_TEAM_COLUMNS``, hours in hours, rates as fractions."""
    df = _aggregate(con, flt, by="team", cost=cost, attribution=attribution)
    return df.rename(columns={"grp": "team"})[PER_TEAM_COLUMNS].reset_index(drop=True)


def per_team_quarter(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    cost: CostModel = DEFAULT_COST_MODEL,
    attribution: Attribution = EXPLICIT,
) -> pd.DataFrame:
    """``per_team`` for every calendar quarter overlapping the window, plus ``quarter``
    ('2025-Q3') and ``quarter_start`` (date). ``deployments_per_week`` uses the quarter's days
    inside the window. Every team with data in the window gets a row for every quarter."""
    df = _aggregate(con, flt, freq="quarter", by="team", cost=cost, attribution=attribution)
    df = df.rename(columns={"grp": "team"})
    starts = _to_dates(df["bucket"])
    df["quarter_start"] = starts
    df["quarter"] = [f"{d.year}-Q{(d.month - 1) // 3 + 1}" for d in starts]
    return df[["quarter", "quarter_start", *PER_TEAM_COLUMNS]].reset_index(drop=True)


def by_approval(
    con: duckdb.DuckDBPyConnection, flt: Filter, attribution: Attribution = EXPLICIT
) -> pd.DataFrame:
    """One row per approval path, always all four (pre-approved, product-owner, cab, ecab, in
    that order; paths without deployments have 0 and nulls): approval, deployments,
    failed_deployments, change_failure_rate (fraction), lead_time_hours_median (hours).
    A change without an approval takes its type's default route (schema.DEFAULT_APPROVAL)."""
    sql = f"""
{_with(attribution, tickets=False)},
{_BY_APPROVAL_CTES}
SELECT {", ".join(_APPROVAL_COLUMNS)} FROM approval_rows ORDER BY position
"""
    return query_df(con, sql, flt.params(), attribution.params(), constant_params())


# --- row-level frames -------------------------------------------------------------------------


DEPLOYMENT_COLUMNS = (
    "change_id", "team", "service", "change_type", "approval", "risk", "sprint_id",
    "requested_at", "implemented_at", "lead_time_hours", "failed", "rework",
)  # fmt: skip


def deployments_frame(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    attribution: Attribution = EXPLICIT,
    columns: tuple[str, ...] = DEPLOYMENT_COLUMNS,
) -> pd.DataFrame:
    """One row per deployment in the window, ordered by implemented_at: change_id, team,
    service, change_type, approval (with the type's default), risk, sprint_id, requested_at,
    implemented_at, lead_time_hours, failed (bool), rework (bool) — or only ``columns`` of
    them (statistics that need four columns skip converting the text ones to pandas)."""
    unknown = set(columns) - set(DEPLOYMENT_COLUMNS)
    if unknown:
        raise ValueError(f"unknown deployment columns: {sorted(unknown)}")
    sql = f"""
{_with(attribution, tickets=False)}
SELECT {", ".join(columns)}
FROM deployments
ORDER BY implemented_at, change_id
"""
    return query_df(con, sql, flt.params(), attribution.params(), constant_params())


def approval_cells(
    con: duckdb.DuckDBPyConnection, flt: Filter, attribution: Attribution = EXPLICIT
) -> pd.DataFrame:
    """The deployments in the window counted per cell: columns team, risk, rework, approval
    (with the type's default), failed (bool) and deployments (a count) — the few hundred cells
    behind the CAB comparison's tables instead of one row per deployment (#11: speed)."""
    return query_df(con, *_approval_cells_query(flt, attribution))


def approval_cells_columns(
    con: duckdb.DuckDBPyConnection, flt: Filter, attribution: Attribution = EXPLICIT
) -> dict[str, np.ndarray]:
    """:func:`approval_cells` as numpy columns (the report's form, without pandas)."""
    return query_columns(con, *_approval_cells_query(flt, attribution))


def _approval_cells_query(flt: Filter, attribution: Attribution) -> tuple:
    sql = f"""
{_with(attribution, tickets=False)}
SELECT team, risk, rework, approval, failed, count(*) AS deployments
FROM deployments
GROUP BY ALL
ORDER BY ALL
"""
    return sql, flt.params(), attribution.params(), constant_params()


def tickets_frame(
    con: duckdb.DuckDBPyConnection, flt: Filter, cost: CostModel = DEFAULT_COST_MODEL
) -> pd.DataFrame:
    """One row per incident or request opened in the window, ordered by opened_at: incident_id,
    team, service, kind, priority, opened_at, resolved_at, restore_hours (null while
    unresolved), caused_by_change, effort_hours (own or the cost model's default), cost."""
    return query_df(con, *_tickets_query(flt, cost))


def tickets_columns(
    con: duckdb.DuckDBPyConnection, flt: Filter, cost: CostModel = DEFAULT_COST_MODEL
) -> dict[str, np.ndarray]:
    """:func:`tickets_frame` as numpy columns (timestamps ``datetime64[us]``; a null priority or
    restore time NaN), without pandas."""
    return query_columns(con, *_tickets_query(flt, cost))


def _tickets_query(flt: Filter, cost: CostModel) -> tuple:
    sql = f"""
{_with(EXPLICIT, deployments=False)}
SELECT incident_id, team, service, kind, priority, opened_at, resolved_at, restore_hours,
       caused_by_change, effort_hours, cost
FROM tickets
ORDER BY opened_at, incident_id
"""
    return sql, flt.params(), cost.params()


def sprints_frame(con: duckdb.DuckDBPyConnection, flt: Filter) -> pd.DataFrame:
    """One row per sprint whose end_date is in the window, ordered by end_date: sprint_id, team,
    name, start_date, end_date (dates), length_days, committed_points, completed_points,
    velocity_points, warranty_points, total_points, warranty_share, operations_items, items."""
    sql = f"""
WITH {_SPRINTS_CTES}
SELECT * FROM sprint_rows ORDER BY end_date, team, sprint_id
"""
    df = query_df(con, sql, flt.params())
    for column in ("start_date", "end_date"):
        df[column] = _to_dates(df[column])
    return df


def per_team_sprints(con: duckdb.DuckDBPyConnection, flt: Filter) -> pd.DataFrame:
    """Per team with sprints ending in the window, by team: team, sprints,
    sprint_length_days_median (days), velocity_points_median (points), say_do_ratio and
    warranty_share (fractions) — the report's sprint metrics, one row per team."""
    sql = f"""
WITH {_SPRINTS_CTES},
{_sprint_summary_cte(by_team=True)}
SELECT * FROM sprint_summary ORDER BY team
"""
    return query_df(con, sql, flt.params())


# --- the data's extent ------------------------------------------------------------------------

# The window the metrics count in: the days changes went live and tickets were opened. Sprints
# and backlog items only stand in when there are no events: planned sprints reach into the
# future and old backlog items would open the window with empty weeks.
_RANGE_SQL = """
WITH events AS (
    SELECT CAST(min(implemented_at) AS DATE) AS lo, CAST(max(implemented_at) AS DATE) AS hi
    FROM changes
    UNION ALL SELECT CAST(min(opened_at) AS DATE), CAST(max(opened_at) AS DATE) FROM incidents
),
context AS (
    SELECT min(start_date) AS lo, max(end_date) AS hi FROM sprints
    UNION ALL SELECT CAST(min(created_at) AS DATE),
                     CAST(greatest(max(created_at), max(resolved_at)) AS DATE) FROM work_items
)
SELECT coalesce((SELECT min(lo) FROM events), (SELECT min(lo) FROM context)),
       coalesce((SELECT max(hi) FROM events), (SELECT max(hi) FROM context))
"""


def data_range(con: duckdb.DuckDBPyConnection) -> tuple[dt.date, dt.date] | None:
    """The first and last day (UTC dates) on which a change was implemented or a ticket opened;
    without any, the span of sprints and work items; None when the database holds no records."""
    lo, hi = con.execute(_RANGE_SQL).fetchone()
    if lo is None:
        return None
    return lo, hi


def __getattr__(name: str):
    # ``metric_series`` lives in analytics.series (which imports this module); offered here too.
    if name == "metric_series":
        from analytics.series import metric_series

        return metric_series
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
