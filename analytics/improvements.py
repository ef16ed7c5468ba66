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
from typing import TYPE_CHECKING, NamedTuple

import duckdb
import numpy as np

from analytics import distributions as dist
from analytics.db import query_columns, query_df, query_one
from analytics.filters import Filter, service_clause, team_clause
from analytics.schema import KINDS
from analytics.stats import ALPHA, Result, compare_samples, json_safe
from analytics.timeseries import bh_qvalues

if TYPE_CHECKING:  # the report measures the register without pandas (#11); the pages' frames
    import pandas as pd  # import it

KIND = KINDS["improvements"]
COLUMNS = KIND.column_names
DEFAULT_WEEKS = 8  # the after window, in whole weeks
MIN_WEEKS, MAX_WEEKS = 2, 26  # after-window lengths the dashboard offers
# The baseline: a longer window that ends some weeks before the start, so that the bad spell
# that usually prompts an improvement does not serve as its "before" (regression to the mean).
DEFAULT_BASELINE_WEEKS, MIN_BASELINE_WEEKS, MAX_BASELINE_WEEKS = 26, 2, 52
DEFAULT_GAP_WEEKS, MAX_GAP_WEEKS = 4, 26
MIN_SIDE = 2  # fewer whole weeks than this on a side and nothing is compared

# Verdicts, in the words the register shows.
AS_EXPECTED = "as expected"
OPPOSITE = "opposite of expected"
NO_CLEAR_EFFECT = "no clear effect"
TOO_EARLY = "too early to tell"
CHANGED = "changed, no direction expected"
NOT_MEASURED = "not measured"
# The verdicts as the register page labels them (a claim reads "changed as expected").
VERDICT_LABELS = {
    AS_EXPECTED: "changed as expected",
    OPPOSITE: "opposite of expected",
    NO_CLEAR_EFFECT: "within noise",
    TOO_EARLY: "too early to tell",
    CHANGED: "changed, no direction expected",
    NOT_MEASURED: "cannot tell",
}

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
    import pandas as pd

    if not has_register(con):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    df = query_df(con, *_register_query(flt))
    df["started_on"] = pd.Series(
        [d.date() if hasattr(d, "date") else d for d in pd.to_datetime(df["started_on"])],
        index=df.index,
        dtype=object,
    )
    return df


def improvement_records(con: duckdb.DuckDBPyConnection, flt: Filter | None = None) -> list[dict]:
    """The rows of :func:`improvements_frame` as dicts (``started_on`` a ``datetime.date``,
    None where empty), read without pandas: what the measurements read."""
    from analytics.metrics import _dates

    if not has_register(con):
        return []
    cols = query_columns(con, *_register_query(flt))
    cols["started_on"] = _dates(cols["started_on"])
    return [dict(zip(cols, row, strict=True)) for row in zip(*cols.values(), strict=True)]


def _register_query(flt: Filter | None) -> tuple:
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
    return sql, params


def _day(value) -> dt.date:
    """A register's ``started_on`` (date, datetime, Timestamp, datetime64 or ISO text) as a
    date; pandas only for the rare forms that need it."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    import pandas as pd

    return pd.Timestamp(value).date()


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
    record["started_on"] = _day(record["started_on"])
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
    """Ways of ordering two samples of sizes m and n (no ties) giving U = 0 .. m*n, as floats:
    the Gaussian binomial coefficients of :func:`analytics.distributions.mann_whitney_counts`
    (O(m * m n) array steps; the two-sample recursion took m n Python steps of that size)."""
    return dist.mann_whitney_counts(min(m, n), max(m, n)).astype(float)


def hodges_lehmann(
    before, after, alpha: float = ALPHA
) -> tuple[float | None, float | None, float | None]:
    """Shift of ``after`` against ``before``: (estimate, low, high).

    The estimate is the median of all after-minus-before differences (Hodges & Lehmann 1963);
    the interval runs from the k-th smallest to the k-th largest difference, where k - 1 is the
    largest U with P(U <= k - 1) <= alpha / 2 under the exact null distribution (Moses 1965).
    None where a sample is empty or too small for any interval at this level.
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


def van_elteren(
    before: np.ndarray, after: np.ndarray, before_strata: np.ndarray, after_strata: np.ndarray
) -> tuple[float | None, float | None, int]:
    """Shift of ``after`` against ``before`` compared within strata (e.g. incident priority):
    (estimate, two-sided p, strata used).

    p: van Elteren's stratified Wilcoxon rank-sum test (van Elteren 1960): per stratum with both
    sides, the after-side rank sum minus its mean, weighted 1 / (N_s + 1), summed, against the
    normal distribution (tie-corrected variance, no continuity correction). Estimate: the
    per-stratum Hodges–Lehmann shifts averaged with weights m_s n_s / N_s (the strata's share of
    the information). With one stratum p equals scipy's asymptotic Mann–Whitney p.
    """
    total = variance = est_num = est_den = 0.0
    used = 0
    for stratum in np.unique(np.concatenate([before_strata, after_strata])):
        a = before[before_strata == stratum]
        b = after[after_strata == stratum]
        m, n = len(a), len(b)
        if not m or not n:
            continue
        size = m + n
        ranks = dist.rankdata(np.concatenate([a, b]))
        _, ties = np.unique(np.concatenate([a, b]), return_counts=True)
        tie_term = float(np.sum(ties**3 - ties)) / (size * (size - 1)) if size > 1 else 0.0
        var = m * n / 12 * ((size + 1) - tie_term)
        weight = 1 / (size + 1)
        total += weight * (ranks[m:].sum() - n * (size + 1) / 2)
        variance += weight**2 * var
        info = m * n / size
        est_num += info * float(np.median((b[:, None] - a[None, :]).ravel()))
        est_den += info
        used += 1
    if not used:
        return None, None, 0
    estimate = est_num / est_den
    if variance <= 0:
        return estimate, 1.0, used  # every value tied within each stratum: no evidence
    return estimate, 2 * dist.norm_sf(abs(total) / math.sqrt(variance)), used


class Windows(NamedTuple):
    """The whole ISO weeks around one improvement (Mondays; ``after_to`` is a Sunday)."""

    baseline_from: dt.date  # first day of the baseline
    baseline_to: dt.date  # its last day (a Sunday)
    gap_from: dt.date  # first day of the gap: the weeks just before the start, left out
    start_week: dt.date  # Monday of the week of the start (the gap ends the day before)
    after_from: dt.date  # first Monday on or after the start
    after_to: dt.date  # last day of the after window


def windows(
    started_on: dt.date,
    weeks: int,
    baseline_weeks: int = DEFAULT_BASELINE_WEEKS,
    gap_weeks: int = DEFAULT_GAP_WEEKS,
) -> Windows:
    """The windows of an improvement starting on ``started_on``: ``weeks`` whole weeks after it
    from the first Monday on or after it; ``gap_weeks`` whole weeks before the week of the start
    (the spell that usually prompts an improvement); ``baseline_weeks`` whole weeks before
    those. The week split by a mid-week start belongs to no window."""
    after_start = started_on + dt.timedelta(days=(7 - started_on.weekday()) % 7)
    week_of_start = started_on - dt.timedelta(days=started_on.weekday())
    gap_from = week_of_start - dt.timedelta(weeks=gap_weeks)
    return Windows(
        gap_from - dt.timedelta(weeks=baseline_weeks),
        gap_from - dt.timedelta(days=1),
        gap_from,
        week_of_start,
        after_start,
        after_start + dt.timedelta(weeks=weeks, days=-1),
    )


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
    weeks: int  # asked length of the after window, in whole weeks
    baseline_weeks_asked: int  # asked length of the baseline, in whole weeks
    gap_weeks: int  # whole weeks between the baseline and the week of the start
    before_from: dt.date  # first day of the baseline
    baseline_to: dt.date  # last day of the baseline
    after_from: dt.date
    after_to: dt.date
    weeks_before: int  # whole weeks with a value in the baseline, in the gap, after the start
    weeks_gap: int
    weeks_after: int
    before: float | None  # median weekly value in the baseline (restore: of the incidents)
    gap: float | None  # median weekly value in the gap weeks
    after: float | None  # median weekly value after the start (restore: of the incidents)
    difference: float | None  # shift after - baseline (Hodges–Lehmann; restore: within priority)
    low: float | None  # its 95 % interval (None for the stratified restore comparison)
    high: float | None
    p_value: float | None  # two-sided: Mann–Whitney U, or van Elteren within priority
    q_value: float | None  # Benjamini–Hochberg across the improvements measured together
    method: str | None  # the test behind p_value
    regression_to_mean: bool  # the gap weeks were worse than the baseline
    did_difference: float | None  # difference-in-differences against the other teams
    did_low: float | None
    did_high: float | None
    did_p_value: float | None
    other_teams: int  # teams the difference-in-differences compares with
    complete: bool  # the after window lies inside the data
    as_expected: bool | None  # None while too early, unmeasured or without direction
    verdict: str
    reason: str | None = None


def _inside(series, data_days: tuple[dt.date, dt.date]) -> np.ndarray:
    """Weeks lying entirely inside the data: a cut edge week would look like a dip. ``series``:
    a frame or dict of columns with ``bucket`` (Mondays); a boolean array over its rows
    (:func:`analytics.series.whole_weeks_mask`, every week whole in the query's window)."""
    from analytics.series import whole_weeks_mask

    return whole_weeks_mask(series["bucket"], 7, data_days)


def _sides(series, win: Windows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The weekly values of (baseline, gap, after) from a frame or a dict of columns
    ``bucket`` (dates), ``value``."""
    # numpy masks over the dates: three pandas selections per call cost more than the tests
    b = np.asarray(series["bucket"])
    value = np.asarray(series["value"], dtype=float)
    base = value[(b >= win.baseline_from) & (b <= win.baseline_to)]
    gap = value[(b >= win.gap_from) & (b < win.start_week)]
    after = value[b >= win.after_from]
    return base, gap, after


def _restore_within_priority(
    con: duckdb.DuckDBPyConnection, win: Windows, team, service, weeks_ok: set
) -> tuple[float | None, float | None, float | None, float | None, int]:
    """Restore hours of the resolved incidents opened in the baseline and after weeks that
    count (``weeks_ok``): (baseline median, after median, shift within priority, van Elteren
    p, strata used)."""
    from analytics.metrics import tickets_columns

    flt = Filter(
        win.baseline_from,
        win.after_to,
        teams=(team,) if team else (),
        services=(service,) if service else (),
    )
    t = tickets_columns(con, flt)
    hours = np.asarray(t["restore_hours"], dtype=float)
    chosen = (t["kind"] == "incident") & ~np.isnan(hours)
    hours = hours[chosen]
    # the Monday of each incident's ISO week (day 0 of datetime64, 1970-01-01, is a Thursday)
    day = t["opened_at"][chosen].astype("datetime64[D]")
    week = (day - (day.astype(np.int64) + 3) % 7).astype(object)
    counted = np.array([w in weeks_ok for w in week], dtype=bool)
    priority = np.asarray(t["priority"], dtype=float)[chosen]
    priority[np.isnan(priority)] = 0  # no priority: a stratum of its own
    base = counted & np.array([w <= win.baseline_to for w in week], dtype=bool)
    after = counted & np.array([w >= win.after_from for w in week], dtype=bool)
    if not base.any() or not after.any():
        return None, None, None, None, 0
    shift, p, used = van_elteren(hours[base], hours[after], priority[base], priority[after])
    return float(np.median(hours[base])), float(np.median(hours[after])), shift, p, used


def _did(
    by_team, win: Windows, team: str, weeks_ok: set
) -> tuple[float | None, float | None, float | None, float | None, int]:
    """Difference-in-differences against the other teams (Card & Krueger 1994; Angrist &
    Pischke 2009, ch. 5): per week, the team's value minus the mean of the other teams' values;
    the Hodges–Lehmann shift of that weekly gap from the baseline to the after weeks, its 95 %
    interval and Mann–Whitney p. ``by_team``: the metric's weekly series of every team
    (``bucket``, ``team``, ``value``; a frame or a dict of columns). Returns (shift, low, high,
    p, other teams)."""
    teams = np.asarray(by_team["team"], dtype=object)
    mine = np.asarray(teams == team, dtype=bool)  # vectorised: no Python set (#11)
    n_others = len({t for t in teams[~mine] if t is not None and t == t})  # NaN: no team
    if not n_others or not mine.any():
        return None, None, None, None, n_others
    # parallel trends: the other teams' mean per week stands in for where the team would be;
    # in arrays over the week codes (a pandas groupby and alignment per improvement cost more)
    weeks, week = np.unique(np.asarray(by_team["bucket"], dtype=object), return_inverse=True)
    week = week.reshape(-1)
    value = np.asarray(by_team["value"], dtype=float)
    other = ~mine & ~np.isnan(value)
    with np.errstate(invalid="ignore", divide="ignore"):
        other_mean = np.bincount(week[other], value[other], len(weeks)) / np.bincount(
            week[other], minlength=len(weeks)
        )
    gap = value[mine] - other_mean[week[mine]]
    keep = ~np.isnan(gap) & np.isin(week[mine], [i for i, w in enumerate(weeks) if w in weeks_ok])
    base, _, after = _sides({"bucket": weeks[week[mine][keep]], "value": gap[keep]}, win)
    if len(base) < MIN_SIDE or len(after) < MIN_SIDE:
        return None, None, None, None, n_others
    shift, low, high = hodges_lehmann(base, after)
    return shift, low, high, compare_samples(base, after).p_value, n_others


def verdict_for(
    difference: float | None, q_value: float | None, direction: str | None, complete: bool
) -> tuple[str, bool | None]:
    """(verdict, as_expected) from the shift and its q-value: a claim needs q < ALPHA."""
    if not complete:
        return TOO_EARLY, None
    if q_value is None or q_value >= ALPHA or difference is None or difference == 0:
        return NO_CLEAR_EFFECT, (False if direction else None)
    if direction is None:
        return CHANGED, None
    as_expected = (difference > 0) == (direction == "up")
    return (AS_EXPECTED if as_expected else OPPOSITE), as_expected


def measure_improvement(
    con: duckdb.DuckDBPyConnection,
    improvement: dict,
    weeks: int = DEFAULT_WEEKS,
    data_days: tuple[dt.date, dt.date] | None = None,
    baseline_weeks: int = DEFAULT_BASELINE_WEEKS,
    gap_weeks: int = DEFAULT_GAP_WEEKS,
    by_team: pd.DataFrame | dict | None = None,
) -> ImprovementEffect:
    """The baseline/after comparison of one register entry (a dict of its columns), with the
    difference-in-differences against the other teams when it names a team. Alone, its q-value
    is its p-value (a family of one); :func:`measure_improvements` adjusts across the register.

    ``data_days`` is (first, latest) day of the data (:func:`event_days`); looked up when not
    given. Window lengths are whole weeks. ``by_team``: the target metric's weekly series of
    every team over the windows, as ``metric_series(..., by="team")`` gives it (queried when
    None; :func:`measure_improvements` passes it, read once for several improvements; a frame or
    a dict of columns).
    """
    from analytics.series import metric_series_columns

    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be between {MIN_WEEKS} and {MAX_WEEKS}, not {weeks}")
    if not MIN_BASELINE_WEEKS <= baseline_weeks <= MAX_BASELINE_WEEKS:
        raise ValueError(
            f"baseline_weeks must be between {MIN_BASELINE_WEEKS} and {MAX_BASELINE_WEEKS}, "
            f"not {baseline_weeks}"
        )
    if not 0 <= gap_weeks <= MAX_GAP_WEEKS:
        raise ValueError(f"gap_weeks must be between 0 and {MAX_GAP_WEEKS}, not {gap_weeks}")
    started_on = _day(improvement["started_on"])
    team, service = _text(improvement.get("team")), _text(improvement.get("service"))
    metric = _text(improvement.get("target_metric"))
    direction = _text(improvement.get("expected_direction"))
    win = windows(started_on, weeks, baseline_weeks, gap_weeks)
    base = {
        "improvement_id": improvement["improvement_id"],
        "title": improvement["title"],
        "team": team,
        "service": service,
        "target_metric": metric,
        "expected_direction": direction,
        "started_on": started_on,
        "weeks": weeks,
        "baseline_weeks_asked": baseline_weeks,
        "gap_weeks": gap_weeks,
        "before_from": win.baseline_from,
        "baseline_to": win.baseline_to,
        "after_from": win.after_from,
        "after_to": win.after_to,
    }
    if data_days is None:
        data_days = event_days(con)
    complete = data_days is not None and win.after_to <= data_days[1]
    nothing = dict(
        gap=None, after=None, difference=None, low=None, high=None, p_value=None, q_value=None,
        method=None, regression_to_mean=False, did_difference=None, did_low=None, did_high=None,
        did_p_value=None, other_teams=0, as_expected=None,
    )  # fmt: skip

    def unmeasured(reason: str, before=None, weeks_before=0, weeks_after=0) -> ImprovementEffect:
        return ImprovementEffect(
            **base, **nothing, weeks_before=weeks_before, weeks_gap=0, weeks_after=weeks_after,
            before=before, complete=complete, verdict=NOT_MEASURED if complete else TOO_EARLY,
            reason=reason,
        )  # fmt: skip

    if metric is None:
        return replace(unmeasured("it names no target metric"), verdict=NOT_MEASURED)
    if data_days is None or win.after_from > data_days[1]:
        return unmeasured("no data after it started yet")
    flt = Filter(
        win.baseline_from,
        win.after_to,
        teams=(team,) if team else (),
        services=(service,) if service else (),
    )
    if not team:
        by_team = None
    elif by_team is None:
        # one query for every team: the team's own series and the others' for the DiD
        every = Filter(win.baseline_from, win.after_to, services=flt.services)
        by_team = metric_series_columns(con, every, metric, freq="week", by="team")
    else:
        by_team = {c: np.asarray(by_team[c]) for c in ("bucket", "team", "value")}
    own = None if by_team is None else np.asarray(by_team["team"] == team, dtype=bool)
    if own is not None and own.any():
        series = {"bucket": by_team["bucket"][own], "value": by_team["value"][own]}
    else:
        series = metric_series_columns(con, flt, metric, freq="week")
    bucket = np.asarray(series["bucket"], dtype=object)
    value = np.asarray(series["value"], dtype=float)
    inside = _inside(series, data_days)
    weeks_ok = set(bucket[inside])
    keep = inside & ~np.isnan(value)
    a, g, b = _sides({"bucket": bucket[keep], "value": value[keep]}, win)
    before_median = float(np.median(a)) if len(a) else None
    if len(a) < MIN_SIDE or len(b) < MIN_SIDE:
        side = "in the baseline before" if len(a) < MIN_SIDE else "after"
        n = len(a) if len(a) < MIN_SIDE else len(b)
        return unmeasured(
            f"only {n} week(s) with a value {side} it started", before_median, len(a), len(b)
        )
    gap_median = float(np.median(g)) if len(g) else None
    after_median = float(np.median(b))
    if metric == "time_to_restore_hours_median":
        # the priority mix moves a pooled median: compare restore times within each priority
        before_median, after_median, difference, p_value, _ = _restore_within_priority(
            con, win, team, service, weeks_ok
        )
        low = high = None
        method = "van Elteren within priority"
        if difference is None:
            return unmeasured("no resolved incident on one side of its start", None, len(a), len(b))
    else:
        difference, low, high = hodges_lehmann(a, b)
        p_value = compare_samples(a, b).p_value
        method = "Mann–Whitney"
    # regression to the mean: improvements start after a bad spell, which passes by itself
    worse = {"up": -1, "down": 1}.get(direction or "", 0)
    rtm = bool(
        worse
        and gap_median is not None
        and len(a)
        and (gap_median - float(np.median(a))) * worse > 0
    )
    did = (None, None, None, None, 0)
    if by_team is not None:
        did = _did(by_team, win, team, weeks_ok)
    verdict, as_expected = verdict_for(difference, p_value, direction, complete)
    return ImprovementEffect(
        **base, weeks_before=len(a), weeks_gap=len(g), weeks_after=len(b), before=before_median,
        gap=gap_median, after=after_median, difference=difference, low=low, high=high,
        p_value=p_value, q_value=p_value, method=method, regression_to_mean=rtm,
        did_difference=did[0], did_low=did[1], did_high=did[2], did_p_value=did[3],
        other_teams=did[4], complete=complete, as_expected=as_expected, verdict=verdict,
        reason=None if complete else f"the after window runs to {win.after_to}, past the data",
    )  # fmt: skip


def _team_series(
    con: duckdb.DuckDBPyConnection,
    records: list[dict],
    weeks: int,
    baseline_weeks: int,
    gap_weeks: int,
    data_days: tuple[dt.date, dt.date] | None,
) -> dict[int, dict[str, np.ndarray]]:
    """For each team-scoped record (by position) with data after its start, its metric's weekly
    series of every team over its windows (columns ``bucket``, ``team``, ``value``), exactly as
    :func:`measure_improvement` would query it: one query per metric kind (deployments or
    tickets) and service over the union of overlapping windows, sliced per record. Windows are whole
    weeks, so each week's value does not depend on the span queried; a team counts only when it
    has records of the metric's kind inside the record's own windows, as in the narrow query."""
    from analytics.metrics import _parts
    from analytics.series import SERIES_METRICS, metrics_series_columns

    if (
        data_days is None
        or not MIN_WEEKS <= weeks <= MAX_WEEKS
        or not MIN_BASELINE_WEEKS <= baseline_weeks <= MAX_BASELINE_WEEKS
        or not 0 <= gap_weeks <= MAX_GAP_WEEKS
    ):
        return {}
    wanted: dict[tuple, list[tuple[int, str, Windows]]] = {}
    for i, record in enumerate(records):
        team, metric = _text(record.get("team")), _text(record.get("target_metric"))
        if not team or metric not in SERIES_METRICS:
            continue
        win = windows(_day(record["started_on"]), weeks, baseline_weeks, gap_weeks)
        if win.after_from > data_days[1]:
            continue
        service = _text(record.get("service"))
        wanted.setdefault((_parts((metric,)), service), []).append((i, metric, win))
    # windows far apart are read apart: a span over the years between them costs more
    batches = []
    for key, items in wanted.items():
        items.sort(key=lambda item: item[2].baseline_from)
        batch = [items[0]]
        for item in items[1:]:
            if item[2].baseline_from > max(w.after_to for _, _, w in batch):
                batches.append((key, batch))
                batch = []
            batch.append(item)
        batches.append((key, batch))
    out: dict[int, dict[str, np.ndarray]] = {}
    for ((need_d, need_t), service), items in batches:
        # the record counts that decide which teams the narrow query lists
        counts = (("deployments",) if need_d else ()) + (
            ("incidents", "requests") if need_t else ()
        )
        metrics = tuple(dict.fromkeys([*(m for _, m, _ in items), *counts]))
        span = Filter(
            min(w.baseline_from for _, _, w in items),
            max(w.after_to for _, _, w in items),
            services=(service,) if service else (),
        )
        frame = metrics_series_columns(con, span, metrics, freq="week", by="team")
        records_in_week = np.sum([frame[c] for c in counts], axis=0)
        monday = frame["bucket"].astype("datetime64[D]")
        for i, metric, win in items:
            inside = (monday >= np.datetime64(win.baseline_from)) & (
                monday <= np.datetime64(win.after_to)
            )
            present = set(frame["team"][inside & (records_in_week > 0)])
            keep = inside & np.array([t in present for t in frame["team"]], dtype=bool)
            out[i] = {"bucket": frame["bucket"][keep], "team": frame["team"][keep]}
            out[i]["value"] = frame[metric][keep]
    return out


def measure_improvements(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    weeks: int = DEFAULT_WEEKS,
    baseline_weeks: int = DEFAULT_BASELINE_WEEKS,
    gap_weeks: int = DEFAULT_GAP_WEEKS,
) -> pd.DataFrame:
    """One row per improvement in the filter (see :func:`improvements_frame`): every field of
    :class:`ImprovementEffect` plus ``sentence`` (the plain-language reading) and ``details``
    (its statistics). The q-values are Benjamini–Hochberg over the complete measurements in
    this set, and the verdicts follow them."""
    import pandas as pd

    effects, tested = _measured(con, flt, weeks, baseline_weeks, gap_weeks)
    rows = [
        {
            **effect.__dict__,
            "sentence": effect_sentence(effect),
            "details": effect_details(effect, tested),
        }
        for effect in effects
    ]
    columns = [*ImprovementEffect.__dataclass_fields__, "sentence", "details"]
    return pd.DataFrame(rows, columns=columns)


def _measured(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    weeks: int,
    baseline_weeks: int,
    gap_weeks: int,
) -> tuple[list[ImprovementEffect], int]:
    """The effects of :func:`measure_improvements` with their q-values and verdicts, and how
    many were tested together (the family of the q-values); no pandas (the report's form)."""
    data_days = event_days(con)
    records = improvement_records(con, flt)
    series = _team_series(con, records, weeks, baseline_weeks, gap_weeks, data_days)
    effects = [  # the weekly series read once per kind of metric and service (#11)
        measure_improvement(con, record, weeks, data_days, baseline_weeks, gap_weeks, series.get(i))
        for i, record in enumerate(records)
    ]
    # the family: every improvement with a finished after window and a p-value
    family = [e.p_value if e.complete else None for e in effects]
    q = bh_qvalues(family)
    tested = int(np.sum(~np.isnan(q)))
    adjusted = []
    for effect, q_value in zip(effects, q, strict=True):
        if effect.p_value is not None:
            q_value = None if math.isnan(q_value) else float(q_value)
            verdict, as_expected = verdict_for(
                effect.difference, q_value, effect.expected_direction, effect.complete
            )
            effect = replace(effect, q_value=q_value, verdict=verdict, as_expected=as_expected)
        adjusted.append(effect)
    return adjusted, tested


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
    "q_value",
    "baseline_from",
    "baseline_to",
    "did_difference",
)


def improvements_for_report(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    weeks: int = DEFAULT_WEEKS,
    baseline_weeks: int = DEFAULT_BASELINE_WEEKS,
    gap_weeks: int = DEFAULT_GAP_WEEKS,
) -> list[dict]:
    """The report's ``improvements`` key: for each improvement in the filter, JSON-ready
    ``{improvement_id, target_metric, before, after, difference, low, high, p_value,
    as_expected, q_value, baseline_from, baseline_to, did_difference}`` (``before`` is the
    baseline's median; ``as_expected`` is None while too early to tell and needs q < 0.05;
    ``baseline_from``/``baseline_to`` ISO dates; ``did_difference`` None where no other team
    was compared)."""
    effects, _ = _measured(con, flt, weeks, baseline_weeks, gap_weeks)
    return [
        json_safe(
            {k: getattr(e, "before_from" if k == "baseline_from" else k) for k in REPORT_KEYS}
        )
        for e in effects
    ]


# --- the sentence -------------------------------------------------------------------------------


def format_value(metric: str | None, value: float | None, signed: bool = False) -> str:
    """A value of ``metric`` in its unit: percent for rates (percentage points when
    ``signed``), hours for durations, "per week" for weekly counts and sums; ``signed`` adds a +
    for positive differences."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    sign = "+" if signed and value > 0 else ""
    if metric in RATE_METRICS:
        return f"{sign}{value * 100:.1f} {'points' if signed else '%'}"
    if metric in HOUR_METRICS and metric != "support_hours":
        return f"{sign}{value:,.1f} h"
    if metric == "support_hours":
        return f"{sign}{value:,.1f} h per week"
    if metric == "support_cost":
        return f"{sign}{value:,.0f} per week"
    return f"{sign}{value:,.1f} per week"


def _scope(e: ImprovementEffect) -> str:
    return ", ".join(x for x in (e.team, e.service) if x) or "all teams"


def effect_sentence(e: ImprovementEffect) -> str:
    """One plain sentence: what moved after the start, by how much, whether that went the
    expected way, and whether the weeks just before were a bad spell. Association wording: the
    metric changed after the start, nothing says the improvement caused it."""
    head = f"{e.improvement_id} {e.title} ({_scope(e)}, from {e.started_on})"
    if e.difference is None:
        return f"{head}: {e.verdict} — {e.reason}."
    m = e.target_metric
    label = METRIC_LABELS.get(m or "", m or "")
    what = "median time to restore" if m == "time_to_restore_hours_median" else f"weekly {label}"
    numbers = (
        f"the {what} went from {format_value(m, e.before)} in the {e.weeks_before}-week "
        f"baseline to {format_value(m, e.after)} in the {e.weeks_after} weeks after "
        f"({format_value(m, e.difference, signed=True)}"
        + (" within priority)" if e.method and "priority" in e.method else ")")
    )
    rtm = (
        "; the weeks just before the start were worse than usual, so part of the change may be "
        "a return to normal"
        if e.regression_to_mean
        else ""
    )
    wanted = {"down": "fall", "up": "rise"}.get(e.expected_direction or "", "move")
    if e.verdict == TOO_EARLY:
        return (
            f"{head}: too early to tell, {e.weeks_after} of {e.weeks} weeks so far — "
            f"{numbers}{rtm}."
        )
    if e.verdict == AS_EXPECTED:
        return f"{head}: changed as expected after it started — {numbers}{rtm}."
    if e.verdict == CHANGED:
        return f"{head}: changed after it started — {numbers}; no direction was expected{rtm}."
    if e.verdict == OPPOSITE:
        return (
            f"{head}: moved the wrong way after it started — {numbers}; it was expected to "
            f"{wanted}{rtm}."
        )
    return (
        f"{head}: within noise — {numbers}, a change this size is within week-to-week "
        f"variation; it was expected to {wanted}{rtm}."
    )


def effect_details(e: ImprovementEffect, tested: int = 1) -> str:
    """The statistics behind :func:`effect_sentence` (for the "How this was computed" part):
    the windows, the shift's interval, p and the Benjamini–Hochberg q over ``tested``
    improvements, and the difference-in-differences against the other teams."""
    from analytics.narrative import fmt_p

    if e.difference is None:
        return ""
    m = e.target_metric
    parts = [
        f"{e.improvement_id}: baseline {e.before_from} to {e.baseline_to} "
        f"({e.weeks_before} whole weeks), {e.gap_weeks}-week gap left out"
        + (f" (median {format_value(m, e.gap)})" if e.gap is not None else "")
        + f", after {e.after_from} to {e.after_to}",
        f"shift {format_value(m, e.difference, signed=True)}"
        + (
            f", 95 % CI {format_value(m, e.low, signed=True)} to "
            f"{format_value(m, e.high, signed=True)} (Hodges–Lehmann, Moses)"
            if e.low is not None
            else ""
        ),
        f"{e.method} {fmt_p(e.p_value)}",
        f"Benjamini–Hochberg q = {e.q_value:.2g} over {tested} improvement(s)"
        if e.q_value is not None
        else "no q-value (the after window is not over)",
    ]
    if e.did_difference is not None:
        parts.append(
            f"against the other {e.other_teams} team(s), difference-in-differences "
            f"{format_value(m, e.did_difference, signed=True)}"
            + (
                f" (95 % CI {format_value(m, e.did_low, signed=True)} to "
                f"{format_value(m, e.did_high, signed=True)})"
                if e.did_low is not None
                else ""
            )
            + f", Mann–Whitney {fmt_p(e.did_p_value)}"
        )
    return "; ".join(parts) + "."


def register_verdict(measured: pd.DataFrame) -> str:
    """The register's one-sentence verdict: how many improvements changed as expected after
    they started, how many are within noise, and how many cannot be judged yet."""
    from analytics.narrative import count

    if measured.empty:
        return ""
    verdicts = measured["verdict"].value_counts()
    parts = [
        f"{verdicts.get(AS_EXPECTED, 0)} of {len(measured)} improvements changed as expected "
        "after they started"
    ]
    for verdict, words in (
        (OPPOSITE, "moved the wrong way"),
        (CHANGED, "changed with no direction expected"),
        (NO_CLEAR_EFFECT, "within noise"),
        (TOO_EARLY, "too early to tell"),
        (NOT_MEASURED, "not measured"),
    ):
        if verdicts.get(verdict, 0):
            parts.append(f"{count(int(verdicts[verdict]), 'improvements')} {words}")
    return "; ".join(parts) + "."
