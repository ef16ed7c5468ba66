"""Time series of the metrics, per ISO week or calendar month, optionally per team or service.

The numbers come from the same SQL as the report (``analytics.metrics._aggregate``), bucketed by
the day of the event: a deployment by ``implemented_at``, an incident or request by ``opened_at``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from analytics.cost import DEFAULT_COST_MODEL, CostModel
from analytics.filters import Filter
from analytics.metrics import _FREQ, _GROUPS, EXPLICIT, Attribution, _aggregate_columns, _dates
from analytics.schema import IMPROVEMENT_METRICS

if TYPE_CHECKING:  # the report reads the columns without pandas (#11); the frames import it
    import pandas as pd

# Metrics a series can show (the same list an improvement may target, defined in the contract);
# counts and sums are zero-filled, medians and ratios are null (NaN) in a bucket without data.
SERIES_METRICS = IMPROVEMENT_METRICS


def metric_series(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    metric: str = "deployments",
    freq: str = "week",
    by: str | None = None,
    cost: CostModel = DEFAULT_COST_MODEL,
    attribution: Attribution = EXPLICIT,
) -> pd.DataFrame:
    """One metric per bucket: columns ``bucket`` (``datetime.date``: Monday of the ISO week, or
    the 1st of the month), then ``team`` or ``service`` when ``by`` is set, then ``value``.

    Every bucket overlapping the window appears, for every team/service that has records of the
    metric's kind in the window (deployments for the deployment metrics, incidents and requests
    for the others); only that kind's SQL runs. A bucket cut by the window counts only its days
    inside it, which matters for ``deployments_per_week`` (deployments ÷ (days inside ÷ 7)).
    """
    import pandas as pd

    return pd.DataFrame(metric_series_columns(con, flt, metric, freq, by, cost, attribution))


def metric_series_columns(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    metric: str = "deployments",
    freq: str = "week",
    by: str | None = None,
    cost: CostModel = DEFAULT_COST_MODEL,
    attribution: Attribution = EXPLICIT,
) -> dict[str, np.ndarray]:
    """:func:`metric_series` as numpy columns (``bucket``, ``team``/``service``, ``value``), no
    pandas."""
    cols = metrics_series_columns(con, flt, (metric,), freq, by, cost, attribution)
    return {("value" if k == metric else k): v for k, v in cols.items() if k != "bucket_days"}


def metrics_series(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    metrics: tuple[str, ...],
    freq: str = "week",
    by: str | None = None,
    cost: CostModel = DEFAULT_COST_MODEL,
    attribution: Attribution = EXPLICIT,
) -> pd.DataFrame:
    """Several metrics per bucket in one query: ``bucket`` (date), ``bucket_days`` (days of the
    bucket inside the window), ``team``/``service`` when ``by`` is set, then one column per
    metric, as :func:`metric_series` defines each."""
    import pandas as pd

    return pd.DataFrame(metrics_series_columns(con, flt, metrics, freq, by, cost, attribution))


def metrics_series_columns(
    con: duckdb.DuckDBPyConnection,
    flt: Filter,
    metrics: tuple[str, ...],
    freq: str = "week",
    by: str | None = None,
    cost: CostModel = DEFAULT_COST_MODEL,
    attribution: Attribution = EXPLICIT,
) -> dict[str, np.ndarray]:
    """:func:`metrics_series` as numpy columns in the same order (``bucket`` an object array of
    ``datetime.date``; a metric NaN where undefined): the report's form, without pandas."""
    unknown = [m for m in metrics if m not in SERIES_METRICS]
    if unknown:
        raise ValueError(
            f"unknown metric {unknown[0]!r}; choose one of {', '.join(SERIES_METRICS)}"
        )
    if freq not in _FREQ:
        raise ValueError(f"freq must be one of {', '.join(_FREQ)}, not {freq!r}")
    if by is not None and by not in _GROUPS:
        raise ValueError(f"by must be None or one of {', '.join(_GROUPS)}, not {by!r}")
    cols = _aggregate_columns(con, flt, freq, by, cost, attribution, metrics=tuple(metrics))
    out = {"bucket": _dates(cols["bucket"]), "bucket_days": cols["bucket_days"]}
    if by is not None:
        out[by] = cols["grp"]
    for metric in metrics:
        out[metric] = cols[metric]
    return out


def whole_weeks(
    weekly: pd.DataFrame,
    extent: tuple[dt.date, dt.date] | None,
    week: str = "bucket",
    days: str = "bucket_days",
) -> pd.DataFrame:
    """The rows of a weekly series whose week lies entirely inside the window (``days == 7``)
    and inside the data's ``extent`` (first and last day with data, as
    :func:`analytics.metrics.data_range`; None: no data, so no week).

    Every statistic on a weekly series should read only these weeks: a week cut by the window
    or by the start or end of the data holds fewer days of events and looks like a dip (and
    a window far wider than the data would count its empty weeks as quiet ones). Order kept,
    index reset.
    """
    inside = whole_weeks_mask(weekly[week], weekly[days], extent)
    return weekly[inside].reset_index(drop=True)


def whole_weeks_mask(weeks, days, extent: tuple[dt.date, dt.date] | None) -> np.ndarray:
    """The rule of :func:`whole_weeks` as a boolean array over the rows: ``weeks`` the Mondays
    (dates or datetime64), ``days`` the days of each week inside the window."""
    monday = np.asarray(weeks, dtype="datetime64[D]")
    if extent is None:
        return np.zeros(len(monday), dtype=bool)
    first, last = (np.datetime64(day, "D") for day in extent)
    return (np.asarray(days) == 7) & (monday >= first) & (monday + 6 <= last)
