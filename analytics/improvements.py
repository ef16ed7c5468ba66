"""The CSI register: improvements, their upkeep from the dashboard, and their measured effect.

Each improvement names a target metric (a weekly series of :mod:`analytics.series`) and the way
it should move. Cadence compares the metric's weekly values for the improvement's team and
service in equal windows of whole ISO weeks before and after ``started_on``:

- the *before* window is the ``weeks`` whole weeks that end before the week of ``started_on``;
  the *after* window is the ``weeks`` whole weeks from the first Monday on or after it (a week
  split by the start belongs to neither side);
- only weeks lying entirely inside the data count: from the first day a change was requested or
  an incident opened to the latest day a change was implemented or an incident opened or
  resolved (sprints are left out: they are often planned ahead, past today);
- ``before`` and ``after`` are the medians of the weekly values, ``difference`` is the
  Hodges–Lehmann estimate of the shift (median of every after-minus-before pair of weeks) with
  its distribution-free 95 % interval (Moses; from the exact null distribution of Mann–Whitney's
  U without ties), ``p_value`` is the two-sided Mann–Whitney U test;
- an improvement worked *as expected* when p < 0.05 and the shift goes the expected way; while
  the after window reaches past the latest day of data, it is *too early to tell*.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pandas as pd

from analytics.db import query_df, query_one
from analytics.filters import Filter, service_clause, team_clause
from analytics.schema import KINDS
from analytics.stats import ALPHA, Result, compare_samples, json_safe

KIND = KINDS["improvements"]
COLUMNS = KIND.column_names
DEFAULT_WEEKS = 8
MIN_WEEKS, MAX_WEEKS = 2, 26  # window length the dashboard offers, in weeks on each side
MIN_SIDE = 2  # fewer whole weeks than this on a side and nothing is compared

# Verdicts, in the words the register shows.
AS_EXPECTED = "as expected"
OPPOSITE = "opposite of expected"
NO_CLEAR_EFFECT = "no clear effect"
TOO_EARLY = "too early to tell"
CHANGED = "changed, no direction expected"
NOT_MEASURED = "not measured"

RATE_METRICS = ("change_failure_rate", "rework_rate")
HOUR_METRICS = ("lead_time_hours_median", "time_to_restore_hours_median", "support_hours")
METRIC_LABELS = {
    "deployments": "deployments",
    "deployments_per_week": "deployment rate",
    "lead_time_hours_median": "median lead time",
    "failed_deployments": "failed deployments",
    "change_failure_rate": "change failure rate",
    "rework_rate": "rework rate",
    "incidents": "incidents",
    "incidents_p1_p2": "P1–P2 incidents",
    "requests": "requests",
    "time_to_restore_hours_median": "median time to restore",
    "support_hours": "support hours",
    "support_cost": "support cost",
}


class ImprovementError(ValueError):
    """A register entry the form or a caller got wrong; ``str()`` is a one-line message."""


# --- the register -------------------------------------------------------------------------------


def has_register(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the database has the improvements table (a v1 database opened read-only has not)."""
    row = query_one(
        con,
        "SELECT count(*) FROM information_schema.tables WHERE table_name = $name",
        {"name": KIND.name},
    )
    return row[0] > 0


def improvements_frame(con: duckdb.DuckDBPyConnection, flt: Filter | None = None) -> pd.DataFrame:
    """The register, ordered by started_on then id: one row per improvement, every column of the
    contract (``started_on`` as ``datetime.date``).

    With a filter: the improvements whose ``started_on`` falls in the window and whose team and
    service pass the team/service filter (an improvement without a team drops out once teams are
    chosen, like every other record).
    """
    if not has_register(con):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    where = "TRUE"
    params: dict = {}
    if flt is not None:
        where = (
            f"started_on >= $start_date AND started_on <= $end_date "
            f"AND {team_clause('team')} AND {service_clause('service')}"
        )
        params = flt.params()
    sql = f"""
SELECT {", ".join(COLUMNS)} FROM improvements
WHERE {where}
ORDER BY started_on, improvement_id
"""
    df = query_df(con, sql, params)
    df["started_on"] = pd.Series(
        [d.date() if hasattr(d, "date") else d for d in pd.to_datetime(df["started_on"])],
        index=df.index,
        dtype=object,
    )
    return df


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def clean_improvement(record: dict) -> dict:
    """A register entry checked against the contract: text trimmed (empty = None), enumerations
    lower-cased, ``started_on`` a ``datetime.date``. Raises :class:`ImprovementError` naming the
    column for a missing required value, an unknown column or a value outside its enumeration.
    """
    unknown = sorted(set(record) - set(COLUMNS))
    if unknown:
        raise ImprovementError(f"unknown column {unknown[0]!r} for improvements")
    out: dict = {}
    for column in KIND.columns:
        value = record.get(column.name)
        if column.sql_type == "DATE":
            if isinstance(value, dt.datetime):
                value = value.date()
            elif not isinstance(value, dt.date):
                text = _text(value)
                try:
                    value = dt.date.fromisoformat(text) if text else None
                except ValueError:
                    raise ImprovementError(
                        f"column {column.name}: {text!r} is not a date (YYYY-MM-DD)"
                    ) from None
        else:
            value = _text(value)
        if column.enum is not None and value is not None:
            value = value.lower()
            if value not in column.enum:
                raise ImprovementError(
                    f"column {column.name}: {value!r} is not one of {', '.join(column.enum)}"
                )
        if column.required and value is None:
            raise ImprovementError(f"column {column.name}: required value is missing")
        out[column.name] = value
    return out


def next_improvement_id(con: duckdb.DuckDBPyConnection) -> str:
    """A free id of the form ``IMP-NN``: one past the highest ``IMP-`` number in use."""
    row = query_one(
        con,
        """
SELECT max(try_cast(regexp_extract(improvement_id, '^IMP-(\\d+)$', 1) AS INTEGER))
FROM improvements
""",
    )
    return f"IMP-{(row[0] or 0) + 1:02d}"


def add_improvement(con: duckdb.DuckDBPyConnection, record: dict) -> str:
    """Insert one improvement (an empty id gets :func:`next_improvement_id`); returns its id.

    Raises :class:`ImprovementError` for an invalid entry or an id already in the register.
    """
    record = dict(record)
    if not _text(record.get("improvement_id")):
        record["improvement_id"] = next_improvement_id(con)
    row = clean_improvement(record)
    taken = query_one(
        con,
        "SELECT count(*) FROM improvements WHERE improvement_id = $improvement_id",
        row,
    )[0]
    if taken:
        raise ImprovementError(
            f"column improvement_id: {row['improvement_id']!r} is already in the register"
        )
    names = ", ".join(COLUMNS)
    values = ", ".join(f"${c}" for c in COLUMNS)
    con.execute(f"INSERT INTO improvements ({names}) VALUES ({values})", row)
    return row["improvement_id"]


def update_improvement(con: duckdb.DuckDBPyConnection, improvement_id: str, changes: dict) -> None:
    """Change fields of one improvement (its id stays). Raises :class:`ImprovementError` when it
    does not exist or the changed entry breaks the contract."""
    current = query_df(
        con,
        f"SELECT {', '.join(COLUMNS)} FROM improvements WHERE improvement_id = $improvement_id",
        {"improvement_id": improvement_id},
    )
    if current.empty:
        raise ImprovementError(f"improvement {improvement_id!r} is not in the register")
    if "improvement_id" in changes and changes["improvement_id"] != improvement_id:
        raise ImprovementError("column improvement_id: an improvement's id cannot be changed")
    record = {c: current.iloc[0][c] for c in COLUMNS}
    record["started_on"] = pd.Timestamp(record["started_on"]).date()
    record.update(changes)
    row = clean_improvement(record)
    sets = ", ".join(f"{c} = ${c}" for c in COLUMNS if c != "improvement_id")
    con.execute(f"UPDATE improvements SET {sets} WHERE improvement_id = $improvement_id", row)


def delete_improvement(con: duckdb.DuckDBPyConnection, improvement_id: str) -> bool:
    """Remove one improvement; returns False when there was none with that id."""
    deleted = con.execute(
        "DELETE FROM improvements WHERE improvement_id = $improvement_id RETURNING improvement_id",
        {"improvement_id": improvement_id},
    ).fetchall()
    return bool(deleted)


# --- measuring the effect -----------------------------------------------------------------------


def _u_null_counts(m: int, n: int) -> np.ndarray:
    """Ways of ordering two samples of sizes m and n (no ties) giving U = 0 .. m*n."""
    # f(i, j)(u) = f(i-1, j)(u - j) + f(i, j-1)(u): the largest value is in the first sample
    # (it beats all j of the second) or in the second.
    prev = [np.ones(1) for _ in range(n + 1)]
    for i in range(1, m + 1):
        cur = [np.ones(1)]
        for j in range(1, n + 1):
            counts = np.zeros(i * j + 1)
            counts[j : j + len(prev[j])] += prev[j]
            counts[: len(cur[j - 1])] += cur[j - 1]
            cur.append(counts)
        prev = cur
    return prev[n]


def hodges_lehmann(
    before, after, alpha: float = ALPHA
) -> tuple[float | None, float | None, float | None]:
    """Shift of ``after`` against ``before``: (estimate, low, high).

    The estimate is the median of all after-minus-before differences; the interval runs from the
    k-th smallest to the k-th largest difference, where k - 1 is the largest U with
    P(U <= k - 1) <= alpha / 2 under the exact null distribution (Moses). None where a sample is
    empty or too small for any interval at this level.
    """
    a = np.asarray(before, dtype=float)
    b = np.asarray(after, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if not len(a) or not len(b):
        return None, None, None
    diffs = np.sort((b[:, None] - a[None, :]).ravel())
    estimate = float(np.median(diffs))
    counts = _u_null_counts(len(a), len(b))
    cdf = np.cumsum(counts) / counts.sum()
    below = np.flatnonzero(cdf <= alpha / 2 + 1e-12)
    if not len(below):
        return estimate, None, None
    k = int(below[-1]) + 1
    return estimate, float(diffs[k - 1]), float(diffs[len(diffs) - k])


def windows(started_on: dt.date, weeks: int) -> tuple[dt.date, dt.date, dt.date]:
    """(first Monday of the before window, first Monday of the after window, last day of the
    after window) for an improvement starting on ``started_on``."""
    after_start = started_on + dt.timedelta(days=(7 - started_on.weekday()) % 7)
    week_of_start = started_on - dt.timedelta(days=started_on.weekday())
    before_start = week_of_start - dt.timedelta(weeks=weeks)
    return before_start, after_start, after_start + dt.timedelta(weeks=weeks, days=-1)


def event_days(con: duckdb.DuckDBPyConnection) -> tuple[dt.date, dt.date] | None:
    """(first, latest) day of the changes and incidents: the first request or incident, the
    latest implementation or incident opened or resolved; None without any."""
    row = query_one(
        con,
        """
SELECT CAST(min(lo) AS DATE), CAST(max(hi) AS DATE) FROM (
    SELECT least(min(requested_at), min(implemented_at)) AS lo, max(implemented_at) AS hi
    FROM changes
    UNION ALL
    SELECT min(opened_at), greatest(max(opened_at), max(resolved_at)) FROM incidents
)
""",
    )
    return None if row[0] is None else (row[0], row[1])


@dataclass(frozen=True)
class ImprovementEffect(Result):
    """The measured effect of one improvement (values in the target metric's unit: a fraction
    for rates, hours for durations, a weekly count otherwise)."""

    improvement_id: str
    title: str
    team: str | None
    service: str | None
    target_metric: str | None
    expected_direction: str | None
    started_on: dt.date
    weeks: int  # asked window length on each side
    before_from: dt.date
    after_from: dt.date
    after_to: dt.date
    weeks_before: int  # whole weeks with a value on each side
    weeks_after: int
    before: float | None  # median weekly value
    after: float | None
    difference: float | None  # Hodges–Lehmann shift after - before
    low: float | None  # its 95 % interval
    high: float | None
    p_value: float | None  # two-sided Mann–Whitney U
    complete: bool  # the after window lies inside the data
    as_expected: bool | None  # None while too early, unmeasured or without direction
    verdict: str
    reason: str | None = None


def measure_improvement(
    con: duckdb.DuckDBPyConnection,
    improvement: dict,
    weeks: int = DEFAULT_WEEKS,
    data_days: tuple[dt.date, dt.date] | None = None,
) -> ImprovementEffect:
    """The before/after comparison of one register entry (a dict of its columns).

    ``data_days`` is (first, latest) day of the data (:func:`event_days`); looked up when not
    given.
    """
    from analytics.series import metric_series

    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be between {MIN_WEEKS} and {MAX_WEEKS}, not {weeks}")
    started_on = pd.Timestamp(improvement["started_on"]).date()
    team, service = _text(improvement.get("team")), _text(improvement.get("service"))
    metric = _text(improvement.get("target_metric"))
    direction = _text(improvement.get("expected_direction"))
    before_from, after_from, after_to = windows(started_on, weeks)
    base = {
        "improvement_id": improvement["improvement_id"],
        "title": improvement["title"],
        "team": team,
        "service": service,
        "target_metric": metric,
        "expected_direction": direction,
        "started_on": started_on,
        "weeks": weeks,
        "before_from": before_from,
        "after_from": after_from,
        "after_to": after_to,
    }
    if data_days is None:
        data_days = event_days(con)
    complete = data_days is not None and after_to <= data_days[1]

    def unmeasured(reason: str, before=None, weeks_before=0, weeks_after=0) -> ImprovementEffect:
        return ImprovementEffect(
            **base, weeks_before=weeks_before, weeks_after=weeks_after, before=before,
            after=None, difference=None, low=None, high=None, p_value=None, complete=complete,
            as_expected=None, verdict=NOT_MEASURED if complete else TOO_EARLY, reason=reason,
        )  # fmt: skip

    if metric is None:
        return replace(unmeasured("it names no target metric"), verdict=NOT_MEASURED)
    if data_days is None or after_from > data_days[1]:
        return unmeasured("no data after it started yet")
    flt = Filter(
        before_from,
        after_to,
        teams=(team,) if team else (),
        services=(service,) if service else (),
    )
    series = metric_series(con, flt, metric, freq="week")
    first, latest = data_days
    # only weeks entirely inside the data: a cut edge week would look like a dip
    inside = (
        series["bucket"]
        .map(lambda w: w >= first and w + dt.timedelta(days=6) <= latest)
        .astype(bool)
    )
    values = series[inside & series["value"].notna()]
    before = values.loc[values["bucket"] < before_from + dt.timedelta(weeks=weeks), "value"]
    after = values.loc[values["bucket"] >= after_from, "value"]
    a = before.to_numpy(dtype=float)
    b = after.to_numpy(dtype=float)
    before_median = float(np.median(a)) if len(a) else None
    if len(a) < MIN_SIDE or len(b) < MIN_SIDE:
        side = "before" if len(a) < MIN_SIDE else "after"
        n = len(a) if side == "before" else len(b)
        return unmeasured(
            f"only {n} week(s) with a value {side} it started", before_median, len(a), len(b)
        )
    difference, low, high = hodges_lehmann(a, b)
    p_value = compare_samples(a, b).p_value
    significant = p_value is not None and p_value < ALPHA
    if not complete:
        verdict, as_expected = TOO_EARLY, None
    elif not significant:
        verdict, as_expected = NO_CLEAR_EFFECT, (False if direction else None)
    elif direction is None or difference == 0:
        verdict, as_expected = NO_CLEAR_EFFECT if difference == 0 else CHANGED, None
    else:
        went_up = difference > 0
        as_expected = went_up == (direction == "up")
        verdict = AS_EXPECTED if as_expected else OPPOSITE
    return ImprovementEffect(
        **base, weeks_before=len(a), weeks_after=len(b), before=before_median,
        after=float(np.median(b)), difference=difference, low=low, high=high, p_value=p_value,
        complete=complete, as_expected=as_expected, verdict=verdict,
        reason=None if complete else f"the after window runs to {after_to}, past the data",
    )  # fmt: skip


def measure_improvements(
    con: duckdb.DuckDBPyConnection, flt: Filter, weeks: int = DEFAULT_WEEKS
) -> pd.DataFrame:
    """One row per improvement in the filter (see :func:`improvements_frame`): every field of
    :class:`ImprovementEffect` plus ``sentence``, the plain-language reading."""
    register = improvements_frame(con, flt)
    data_days = event_days(con)
    rows = []
    for record in register.to_dict("records"):  # one query per improvement, a handful of them
        effect = measure_improvement(con, record, weeks, data_days)
        rows.append({**effect.__dict__, "sentence": effect_sentence(effect)})
    columns = [*ImprovementEffect.__dataclass_fields__, "sentence"]
    return pd.DataFrame(rows, columns=columns)


REPORT_KEYS = (
    "improvement_id",
    "target_metric",
    "before",
    "after",
    "difference",
    "low",
    "high",
    "p_value",
    "as_expected",
)


def improvements_for_report(
    con: duckdb.DuckDBPyConnection, flt: Filter, weeks: int = DEFAULT_WEEKS
) -> list[dict]:
    """The report's ``improvements`` key: for each improvement in the filter, JSON-ready
    ``{improvement_id, target_metric, before, after, difference, low, high, p_value,
    as_expected}`` (``as_expected`` is None while too early to tell)."""
    measured = measure_improvements(con, flt, weeks)
    return [json_safe({k: row[k] for k in REPORT_KEYS}) for row in measured.to_dict("records")]


# --- the sentence -------------------------------------------------------------------------------


def format_value(metric: str | None, value: float | None, signed: bool = False) -> str:
    """A value of ``metric`` in its unit: percent for rates, hours for durations, else a number;
    ``signed`` adds a + for positive differences (rates then read as percentage points)."""
    if value is None:
        return "n/a"
    sign = "+" if signed and value > 0 else ""
    if metric in RATE_METRICS:
        return f"{sign}{value * 100:.1f} {'points' if signed else '%'}"
    if metric in HOUR_METRICS:
        return f"{sign}{value:,.1f} h"
    if metric == "support_cost":
        return f"{sign}{value:,.0f}"
    return f"{sign}{value:,.1f}"


def effect_sentence(e: ImprovementEffect) -> str:
    """One plain sentence: what moved, by how much, how sure, and whether it went as expected."""
    from analytics.narrative import fmt_p

    scope = ", ".join(x for x in (e.team, e.service) if x) or "all teams"
    head = f"{e.improvement_id} {e.title} ({scope}, from {e.started_on})"
    if e.difference is None:
        return f"{head}: {e.verdict} — {e.reason}."
    m = e.target_metric
    label = METRIC_LABELS.get(m or "", m or "")
    numbers = (
        f"the weekly {label} went from a median of {format_value(m, e.before)} "
        f"({e.weeks_before} weeks before) to {format_value(m, e.after)} ({e.weeks_after} weeks "
        f"after); shift {format_value(m, e.difference, signed=True)}, 95 % CI "
        f"{format_value(m, e.low, signed=True)} to {format_value(m, e.high, signed=True)}, "
        f"Mann–Whitney {fmt_p(e.p_value)}"
    )
    wanted = {"down": "fall", "up": "rise"}.get(e.expected_direction or "", "move")
    if e.verdict == TOO_EARLY:
        return f"{head}: too early to tell, {e.weeks_after} of {e.weeks} weeks so far — {numbers}."
    if e.verdict == AS_EXPECTED:
        return f"{head}: worked — {numbers}; the expected {wanted}."
    if e.verdict == CHANGED:
        return f"{head}: changed — {numbers}; no direction was expected."
    if e.verdict == OPPOSITE:
        return f"{head}: went the wrong way — {numbers}; it was expected to {wanted}."
    return f"{head}: no clear effect — {numbers}; it was expected to {wanted}."
