"""The change schedule beside the sprint calendar: timeline data and a change manager's flags.

Definitions (the flags' docstrings repeat them):

- A change's *planned window* is ``[planned_start, planned_end]``; it was implemented *outside*
  its window when ``implemented_at`` is before ``planned_start`` or after ``planned_end``.
- A team *works in sprints* on a day when one of its sprints runs that day (``start_date`` to
  ``end_date``, both included).
- A sprint's *review week* is its last ``REVIEW_DAYS`` (5) calendar days, ``end_date`` included:
  the sprint review and the release crunch before it; at most half the sprint (rounded up), so
  in a one-week sprint (Monday to Friday, 5 days) it is the last 3 days, not the whole sprint.
- A *cluster* is ``min_changes`` (3) or more changes implemented on one service on one UTC day.

Every function takes the shared :class:`~analytics.filters.Filter`: changes and incidents by the
day they were implemented/opened, sprints when they overlap the window; team and service as
everywhere. Cancelled changes are never flagged (they were not implemented).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from analytics.db import query_df, query_one
from analytics.filters import Filter, service_clause, team_clause
from analytics.metrics import DEPLOYED_CHANGES_CTES, constant_params, hours_between

REVIEW_DAYS = 5  # the last five days of a sprint count as its review week
MIN_CLUSTER = 3  # changes on one service on one day that make a cluster
MAX_POINTS = 2_000  # more changes or incidents than this and the timeline aggregates per day
HOVER_IDS = 10  # ids listed in a hover before "and N more"


# The changes implemented in the window: the metrics' deployed changes, under the name the
# flags' queries use.
_IMPLEMENTED = f"""{DEPLOYED_CHANGES_CTES},
implemented AS (SELECT * FROM deployed_changes)"""


# Half a sprint's days, rounded up: the review week never covers a whole short sprint.
_HALF_SPRINT = "CAST(ceil((date_diff('day', s.start_date, s.end_date) + 1) / 2) AS INTEGER)"


def _id_list(column: str) -> str:
    """SQL aggregate: up to HOVER_IDS ids in order, then "and N more"."""
    return f"""CASE WHEN count({column}) > {HOVER_IDS}
        THEN array_to_string(list_slice(list({column} ORDER BY {column}), 1, {HOVER_IDS}), ', ')
             || ' and ' || (count({column}) - {HOVER_IDS}) || ' more'
        ELSE array_to_string(list({column} ORDER BY {column}), ', ') END"""


# --- the change manager's flags -----------------------------------------------------------------


def implemented_outside_window(con: duckdb.DuckDBPyConnection, flt: Filter) -> pd.DataFrame:
    """Changes implemented in the window before ``planned_start`` or after ``planned_end``.

    Columns: change_id, team, service, approval, planned_start, planned_end, implemented_at,
    hours_off (hours before the window's start, negative, or past its end, positive). Changes
    without a complete planned window are not judged. Ordered by implemented_at.
    """
    sql = f"""
WITH {_IMPLEMENTED}
SELECT change_id, team, service, approval, planned_start, planned_end, implemented_at,
       CASE WHEN implemented_at < planned_start
            THEN -{hours_between("implemented_at", "planned_start")}
            ELSE {hours_between("planned_end", "implemented_at")} END AS hours_off
FROM implemented
WHERE planned_start IS NOT NULL AND planned_end IS NOT NULL
    AND (implemented_at < planned_start OR implemented_at > planned_end)
ORDER BY implemented_at, change_id
"""
    return query_df(con, sql, flt.params(), constant_params())


def changes_without_sprint(con: duckdb.DuckDBPyConnection, flt: Filter) -> pd.DataFrame:
    """Standard and normal changes without a ``sprint_id`` implemented on a day when their team
    was running a sprint (emergency changes are unplanned by nature and not flagged).

    Columns: change_id, team, service, change_type, approval, implemented_at, running_sprint
    (the team's sprint that ran that day; the latest starting one if sprints overlap).
    Ordered by implemented_at.
    """
    sql = f"""
WITH {_IMPLEMENTED}
SELECT i.change_id, i.team, i.service, i.change_type, i.approval, i.implemented_at,
       s.sprint_id AS running_sprint
FROM implemented AS i
JOIN sprints AS s
    ON s.team = i.team
    AND CAST(i.implemented_at AS DATE) BETWEEN s.start_date AND s.end_date
WHERE i.sprint_id IS NULL AND i.change_type <> 'emergency'
QUALIFY row_number() OVER (PARTITION BY i.change_id ORDER BY s.start_date DESC, s.sprint_id) = 1
ORDER BY i.implemented_at, i.change_id
"""
    return query_df(con, sql, flt.params(), constant_params())


def emergency_changes_in_review_week(
    con: duckdb.DuckDBPyConnection, flt: Filter, review_days: int = REVIEW_DAYS
) -> pd.DataFrame:
    """Emergency changes implemented in the review week of one of their team's sprints: the
    sprint's last ``review_days`` days (``end_date - review_days + 1`` to ``end_date``), at most
    half the sprint's days rounded up.

    Columns: change_id, team, service, approval, implemented_at, sprint_id (that sprint; the
    one ending first if two qualify), sprint_end, days_before_review (0 = on the review day).
    Ordered by implemented_at.
    """
    if review_days < 1:
        raise ValueError(f"review_days must be at least 1, not {review_days}")
    sql = f"""
WITH {_IMPLEMENTED}
SELECT i.change_id, i.team, i.service, i.approval, i.implemented_at, s.sprint_id,
       s.end_date AS sprint_end,
       date_diff('day', CAST(i.implemented_at AS DATE), s.end_date) AS days_before_review
FROM implemented AS i
JOIN sprints AS s
    ON s.team = i.team
    AND CAST(i.implemented_at AS DATE)
        BETWEEN s.end_date - (least($review_days, {_HALF_SPRINT}) - 1) AND s.end_date
WHERE i.change_type = 'emergency'
QUALIFY row_number() OVER (PARTITION BY i.change_id ORDER BY s.end_date, s.sprint_id) = 1
ORDER BY i.implemented_at, i.change_id
"""
    return query_df(con, sql, flt.params(), constant_params(), {"review_days": review_days})


def change_clusters(
    con: duckdb.DuckDBPyConnection, flt: Filter, min_changes: int = MIN_CLUSTER
) -> pd.DataFrame:
    """Services with ``min_changes`` or more changes implemented on one UTC day.

    Columns: service, day (date), changes (count), failed (outcome failed or rolled back),
    teams (comma-separated), change_ids (first ids, then "and N more"). Most changes first.
    """
    if min_changes < 2:
        raise ValueError(f"a cluster needs at least 2 changes, not {min_changes}")
    sql = f"""
WITH {_IMPLEMENTED}
SELECT service, CAST(implemented_at AS DATE) AS day, count(*) AS changes,
       count(*) FILTER (WHERE outcome IN ('failed', 'rolled_back')) AS failed,
       array_to_string(list(DISTINCT team ORDER BY team), ', ') AS teams,
       {_id_list("change_id")} AS change_ids
FROM implemented
WHERE service IS NOT NULL
GROUP BY service, day
HAVING count(*) >= $min_changes
ORDER BY changes DESC, day, service
"""
    df = query_df(con, sql, flt.params(), constant_params(), {"min_changes": min_changes})
    df["day"] = pd.Series([d.date() for d in pd.to_datetime(df["day"])], dtype=object)
    return df


def planned_window_counts(con: duckdb.DuckDBPyConnection, flt: Filter) -> dict[str, int]:
    """Changes implemented in the window (not cancelled): ``implemented``, ``with_window`` (both
    planned_start and planned_end set) and ``outside_window`` (implemented outside it)."""
    sql = f"""
WITH {_IMPLEMENTED}
SELECT count(*),
       count(*) FILTER (WHERE planned_start IS NOT NULL AND planned_end IS NOT NULL),
       count(*) FILTER (WHERE implemented_at < planned_start OR implemented_at > planned_end)
FROM implemented
"""
    row = query_one(con, sql, flt.params(), constant_params())
    return dict(zip(("implemented", "with_window", "outside_window"), row, strict=True))


FLAGS = {
    "Implemented outside the planned window": implemented_outside_window,
    "Planned change without a sprint while the team was in one": changes_without_sprint,
    "Emergency change in a sprint's review week": emergency_changes_in_review_week,
    "Cluster of changes on one service on one day": change_clusters,
}


# --- the timeline -------------------------------------------------------------------------------


def sprint_rows(con: duckdb.DuckDBPyConnection, flt: Filter) -> pd.DataFrame:
    """Sprints overlapping the window (team filter applies): sprint_id, team, name, start_date,
    end_date (the review day), changes (count released from it: changes naming it as
    ``sprint_id``, cancelled ones excluded), change_ids (first ids, "and N more"). By team, start.
    """
    sql = f"""
SELECT s.sprint_id, s.team, s.name, s.start_date, s.end_date,
       count(c.change_id) AS changes,
       coalesce({_id_list("c.change_id")}, '') AS change_ids
FROM sprints AS s
LEFT JOIN changes AS c ON c.sprint_id = s.sprint_id AND c.outcome <> 'cancelled'
WHERE s.start_date <= $end_date AND s.end_date >= $start_date AND {team_clause("s.team")}
GROUP BY ALL
ORDER BY s.team, s.start_date, s.sprint_id
"""
    return query_df(con, sql, flt.params())


def change_rows(con: duckdb.DuckDBPyConnection, flt: Filter) -> pd.DataFrame:
    """Changes implemented in the window (not cancelled), for the timeline: change_id, team,
    service, change_type, approval, outcome, sprint_id, planned_start, planned_end,
    implemented_at, lead_time_hours, incidents (ids of incidents naming it as cause, "" if none),
    outside_window (bool; False without a planned window). Ordered by implemented_at."""
    sql = f"""
WITH {_IMPLEMENTED},
caused AS (
    SELECT caused_by_change AS change_id, {_id_list("incident_id")} AS incidents
    FROM incidents WHERE caused_by_change IS NOT NULL
    GROUP BY caused_by_change
)
SELECT i.change_id, i.team, i.service, i.change_type, i.approval, i.outcome, i.sprint_id,
       i.planned_start, i.planned_end, i.implemented_at,
       {hours_between("i.requested_at", "i.implemented_at")} AS lead_time_hours,
       coalesce(caused.incidents, '') AS incidents,
       coalesce(i.implemented_at < i.planned_start OR i.implemented_at > i.planned_end, FALSE)
           AS outside_window
FROM implemented AS i
LEFT JOIN caused ON caused.change_id = i.change_id
ORDER BY i.implemented_at, i.change_id
"""
    return query_df(con, sql, flt.params(), constant_params())


UNITS = ("day", "week")  # the timeline's summary buckets (a week starts on Monday)


def _unit(unit: str) -> dict:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, not {unit!r}")
    return {"unit": unit}


def change_days(con: duckdb.DuckDBPyConnection, flt: Filter, unit: str = "day") -> pd.DataFrame:
    """Changes per service, UTC day (or week) and approval path (the timeline's summary when
    there are too many to draw one by one): service, day (timestamp at midnight of the day or of
    the week's Monday), approval, changes, failed."""
    sql = f"""
WITH {_IMPLEMENTED}
SELECT service, date_trunc($unit, implemented_at) AS day, approval,
       count(*) AS changes,
       count(*) FILTER (WHERE outcome IN ('failed', 'rolled_back')) AS failed
FROM implemented
GROUP BY ALL
ORDER BY day, service, approval
"""
    return query_df(con, sql, flt.params(), constant_params(), _unit(unit))


_INCIDENTS_WHERE = f"""
    opened_at >= $start_ts AND opened_at < $end_ts AND coalesce(kind, 'incident') = 'incident'
    AND {team_clause("team")} AND {service_clause("service")}"""


def incident_rows(con: duckdb.DuckDBPyConnection, flt: Filter) -> pd.DataFrame:
    """Incidents (not requests) opened in the window: incident_id, service, team, priority,
    opened_at, resolved_at, caused_by_change. Ordered by opened_at."""
    sql = f"""
SELECT incident_id, service, team, priority, opened_at, resolved_at, caused_by_change
FROM incidents WHERE {_INCIDENTS_WHERE}
ORDER BY opened_at, incident_id
"""
    return query_df(con, sql, flt.params())


def incident_days(con: duckdb.DuckDBPyConnection, flt: Filter, unit: str = "day") -> pd.DataFrame:
    """Incidents per service, UTC day (or week, from Monday) and priority: service, day
    (timestamp at midnight of the day or of the week's Monday), priority, incidents (count)."""
    sql = f"""
SELECT service, date_trunc($unit, opened_at) AS day, priority,
       count(*) AS incidents
FROM incidents WHERE {_INCIDENTS_WHERE}
GROUP BY ALL
ORDER BY day, service, priority
"""
    return query_df(con, sql, flt.params(), _unit(unit))


@dataclass(frozen=True)
class Timeline:
    """What the schedule chart draws. ``changes``/``incidents`` are row-level frames
    (:func:`change_rows`, :func:`incident_rows`) or, when ``*_per_day`` is True, the per-day
    summaries (:func:`change_days`, :func:`incident_days`)."""

    sprints: pd.DataFrame
    changes: pd.DataFrame
    incidents: pd.DataFrame
    changes_per_day: bool
    incidents_per_day: bool
    n_changes: int
    n_incidents: int
    unit: str = "day"  # of the summaries: "day" or "week"


def timeline(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    max_points: int = MAX_POINTS,
    weekly_after_days: int | None = None,
) -> Timeline:
    """Sprints, changes and incidents of the window for the schedule chart; changes or
    incidents are summarised per service and day when there are more than ``max_points``, per
    week instead when the window is longer than ``weekly_after_days`` days."""
    unit = "week" if weekly_after_days and flt.window_days > weekly_after_days else "day"
    params = flt.params()
    n_changes = query_one(con, f"WITH {_IMPLEMENTED} SELECT count(*) FROM implemented", params,
                          constant_params())[0]  # fmt: skip
    n_incidents = query_one(
        con, f"SELECT count(*) FROM incidents WHERE {_INCIDENTS_WHERE}", params
    )[0]
    changes_per_day = n_changes > max_points
    incidents_per_day = n_incidents > max_points
    return Timeline(
        sprints=sprint_rows(con, flt),
        changes=change_days(con, flt, unit) if changes_per_day else change_rows(con, flt),
        incidents=incident_days(con, flt, unit) if incidents_per_day else incident_rows(con, flt),
        changes_per_day=changes_per_day,
        incidents_per_day=incidents_per_day,
        n_changes=n_changes,
        n_incidents=n_incidents,
        unit=unit,
    )
