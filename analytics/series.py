"""Time series of the metrics, per ISO week or calendar month, optionally per team or service.

The numbers come from the same SQL as the report (``analytics.metrics._aggregate``), bucketed by
the day of the event: a deployment by ``implemented_at``, an incident or request by ``opened_at``.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from analytics.cost import DEFAULT_COST_MODEL, CostModel
from analytics.filters import Filter
from analytics.metrics import _FREQ, _GROUPS, EXPLICIT, Attribution, _aggregate, _to_dates
from analytics.schema import IMPROVEMENT_METRICS

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
    df = metrics_series(con, flt, (metric,), freq, by, cost, attribution)
    return df.drop(columns="bucket_days").rename(columns={metric: "value"})


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
    unknown = [m for m in metrics if m not in SERIES_METRICS]
    if unknown:
        raise ValueError(
            f"unknown metric {unknown[0]!r}; choose one of {', '.join(SERIES_METRICS)}"
        )
    if freq not in _FREQ:
        raise ValueError(f"freq must be one of {', '.join(_FREQ)}, not {freq!r}")
    if by is not None and by not in _GROUPS:
        raise ValueError(f"by must be None or one of {', '.join(_GROUPS)}, not {by!r}")
    df = _aggregate(con, flt, freq, by, cost, attribution, metrics=tuple(metrics))
    out = pd.DataFrame({"bucket": _to_dates(df["bucket"]), "bucket_days": df["bucket_days"]})
    if by is not None:
        out[by] = df["grp"]
    for metric in metrics:
        out[metric] = df[metric]
    return out.reset_index(drop=True)


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
    if extent is None or weekly.empty:
        return weekly.iloc[0:0].reset_index(drop=True)
    first, last = extent
    monday = pd.to_datetime(weekly[week])
    inside = (
        (weekly[days] == 7)
        & (monday >= pd.Timestamp(first))
        & (monday + pd.Timedelta(days=6) <= pd.Timestamp(last))
    )
    return weekly[inside.to_numpy()].reset_index(drop=True)
