"""Statistics for continual service improvement: pure functions on arrays and DataFrames.

Nothing here touches the database; :mod:`analytics.insights` feeds these functions with the
metrics' frames. Every result is JSON-safe: undefined values are ``None`` (never NaN) and come
with a one-line ``reason`` saying why.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from analytics import distributions as dist
from analytics import timeseries as ts
from analytics.stratified import (
    MantelHaenszel,
    VanElteren,
    mantel_haenszel,
    sorted_codes,
    van_elteren,
)

if TYPE_CHECKING:  # the report's statistics run without pandas (#11); frame functions import it
    import pandas as pd

ALPHA = 0.05  # significance level used by every sentence in narrative.py
MIN_POINTS = 3  # fewer points than this and a correlation or trend is not computed
EXACT_SPEARMAN_MAX_N = 7  # up to here Spearman's p-value is exact (all n! pairings)
SEED = 20261130  # fixed seed: permutation tests and bootstraps give the same answer every run


def _num(value) -> float | None:
    """A plain float, or None for missing/NaN/infinite values (keeps results JSON-safe)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def json_safe(obj):
    """Recursively turn numpy scalars into Python numbers and NaN into None."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _num(obj)
    if isinstance(obj, dt.date):
        return obj.isoformat()
    return obj


class Result:
    """Mixin for result dataclasses: ``to_dict()`` gives a JSON-safe dict."""

    def to_dict(self) -> dict:
        return json_safe(asdict(self))


# --- weekly series ------------------------------------------------------------------------------


def week_start(day: dt.date) -> dt.date:
    """The Monday of the ISO week containing ``day``."""
    return day - dt.timedelta(days=day.weekday())


def weekly_counts(timestamps, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Events per ISO week (Monday start) for every week overlapping ``[start, end]``.

    Returns a DataFrame ``[week (date of the Monday), count (int)]`` with zero for quiet weeks.
    Only events inside the window count, so the first and last weeks may be partial.
    """
    import pandas as pd

    weeks = pd.date_range(week_start(start), week_start(end), freq="7D")
    ts = pd.to_datetime(pd.Series(timestamps, dtype="object"), format="ISO8601").dropna()
    lo, hi = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    ts = ts[(ts >= lo) & (ts < hi)]
    mondays = (ts.dt.normalize() - pd.to_timedelta(ts.dt.day_of_week, unit="D")).value_counts()
    counts = mondays.reindex(weeks, fill_value=0).astype(int)
    return pd.DataFrame({"week": [w.date() for w in weeks], "count": counts.to_numpy()})


# --- correlation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Correlation(Result):
    """Spearman rank correlation of two paired series; r and p are None when undefined."""

    n: int
    spearman_r: float | None
    p_value: float | None
    reason: str | None = None


def _rank_correlation(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's r along ``axis`` (vectorised, for the exact permutation test)."""
    ra = dist.rankdata(a, axis=axis)
    rb = dist.rankdata(b, axis=axis)
    ra = ra - ra.mean(axis=axis, keepdims=True)
    rb = rb - rb.mean(axis=axis, keepdims=True)
    num = (ra * rb).sum(axis=axis)
    return num / np.sqrt((ra**2).sum(axis=axis) * (rb**2).sum(axis=axis))


def spearman(x: Sequence, y: Sequence) -> Correlation:
    """Spearman r and its two-sided p-value for paired values (pairs with a missing value drop).

    The p-value is exact (permutation over all pairings) up to ``EXACT_SPEARMAN_MAX_N`` points,
    else the t approximation (as scipy's ``spearmanr``).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = int(len(x))
    if n < MIN_POINTS:
        return Correlation(n, None, None, f"fewer than {MIN_POINTS} data points")
    if np.all(x == x[0]) or np.all(y == y[0]):
        return Correlation(n, None, None, "one series is constant: correlation undefined")
    # scipy.stats.spearmanr's statistic and t-approximation p, without its per-call overhead
    # (the lag table calls this nine times per page view)
    rx, ry = dist.rankdata(x), dist.rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    r = float(np.clip(rx @ ry / math.sqrt((rx @ rx) * (ry @ ry)), -1.0, 1.0))
    p = _spearman_t_p(r, n)
    if n <= EXACT_SPEARMAN_MAX_N:
        # the t approximation is far too confident on a handful of points: use all pairings
        orders = np.array(list(itertools.permutations(range(n))))
        null = _rank_correlation(np.broadcast_to(x, orders.shape), y[orders])
        p = float(np.mean(np.abs(null) >= abs(r) - 1e-12))
    return Correlation(n, _num(r), _num(p))


def lagged_spearman(
    deploys: Sequence, incidents: Sequence, max_lag: int = 8, prewhiten: bool = True
) -> list[dict]:
    """Spearman correlation of weekly deployments with weekly incidents ``k`` weeks later.

    Weekly counts are autocorrelated, and two autocorrelated series correlate by chance far more
    often than the i.i.d. p-value admits. So each series is first prewhitened with its own AR
    model (Yule–Walker, order by AIC up to 4): Haugh's (1976) test of independence of two series
    correlates the residuals of the two fitted models, which are then close to white, so the
    usual null distribution of a cross-correlation holds; a real link from deployments to
    incidents survives the filters. Filtering the incidents with the deployments' model only
    (Box & Jenkins 1976) left them autocorrelated: 9 % false claims on the audit's AR(1) weekly
    noise (#11). What the short fits leave of the autocorrelation is allowed for by Bartlett's
    (1935) variance of a cross-correlation, ``(1 + 2 sum_j (1 - j/n) r_a(j) r_b(j)) / n`` over the
    residuals' rank autocorrelations up to lag ``10 log10 n`` (t-test on ``n / factor - 2``
    degrees of freedom; never below the i.i.d. variance). For each lag ``k = 0..max_lag`` the
    residual of week ``t`` pairs with the incidents' residual of week ``t + k`` (``n = weeks -
    max(p, q) - k`` pairs). The lags' p-values get Benjamini–Hochberg (1995) q-values; claim a lag
    only when ``q_value < ALPHA``.

    Returns one dict per lag: ``{lag_weeks, n, spearman_r, p_value, q_value, method, reason}``
    (r, p and q None with a reason when undefined; ``method`` e.g. "prewhitened Spearman,
    deployments AR(2), incidents AR(1)"). ``prewhiten=False`` pairs the raw counts (plain
    Spearman, still with q-values).
    """
    deploys = np.asarray(deploys, dtype=float)
    incidents = np.asarray(incidents, dtype=float)
    if len(deploys) != len(incidents):
        raise ValueError("deployment and incident series must cover the same weeks")
    method = "Spearman"
    usable = not (np.isnan(deploys).any() or np.isnan(incidents).any())
    whitened = prewhiten and usable and len(deploys) >= MIN_POINTS and np.ptp(deploys) > 0
    if whitened:
        fit_d, fit_i = ts.fit_ar(deploys), ts.fit_ar(incidents)
        first = max(fit_d.order, fit_i.order)  # both residual series start at the same week
        deploys = ts.ar_filter(deploys, fit_d.phi)[first - fit_d.order :]
        incidents = ts.ar_filter(incidents, fit_i.phi)[first - fit_i.order :]
        if first:
            method = (
                f"prewhitened Spearman, deployments AR({fit_d.order}), incidents AR({fit_i.order})"
            )
        else:
            method = "Spearman, AR(0): neither series autocorrelated"
    weeks = len(deploys)
    rows = []
    for lag in range(max_lag + 1):
        pairs = max(weeks - lag, 0)
        a, b = deploys[:pairs], incidents[lag : lag + pairs]
        c = spearman(a, b)
        if whitened and c.p_value is not None and pairs > EXACT_SPEARMAN_MAX_N:
            c = replace(c, p_value=_bartlett_p(a, b, c.spearman_r))
        rows.append({"lag_weeks": lag, **c.to_dict()})
    q = ts.bh_qvalues([np.nan if r["p_value"] is None else r["p_value"] for r in rows])
    for row, q_value in zip(rows, q, strict=True):
        row["q_value"] = _num(q_value)
        row["method"] = method
        row["reason"] = row.pop("reason")  # keep reason last, as before
    return rows


def _bartlett_p(a: np.ndarray, b: np.ndarray, r: float) -> float:
    """Two-sided p-value of a rank correlation ``r`` of ``a`` and ``b`` with Bartlett's (1935)
    variance for autocorrelated series: the t-test of Spearman's r on ``n / factor - 2`` degrees
    of freedom, ``factor = 1 + 2 sum_j (1 - j/n) r_a(j) r_b(j)`` (rank autocorrelations up to lag
    ``10 log10 n``), at least 1."""
    n = len(a)
    lags = min(n - 1, math.ceil(10 * math.log10(n)))
    ra, rb = ts.acf(dist.rankdata(a), lags)[1:], ts.acf(dist.rankdata(b), lags)[1:]
    factor = max(1 + 2 * float(np.sum((1 - np.arange(1, lags + 1) / n) * ra * rb)), 1.0)
    return _spearman_t_p(r, n, factor)


def _spearman_t_p(r: float, n: int, factor: float = 1.0) -> float:
    """Two-sided p-value of Spearman's ``r`` on ``n`` pairs by the t approximation (as
    ``scipy.stats.spearmanr``), its variance inflated by ``factor`` (1: independent pairs):
    ``t = r sqrt((n - 2) / factor / (1 - r^2))`` on ``max(n / factor - 2, 1)`` degrees of
    freedom; 0 when ``|r| = 1``."""
    if abs(r) >= 1:
        return 0.0
    t = r * math.sqrt((n - 2) / factor / (1 - r * r))
    return float(2 * dist.t_cdf(-abs(t), max(n / factor - 2, 1.0)))


# --- proportions --------------------------------------------------------------------------------


def wilson_interval(
    failed: int, total: int, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Wilson score interval for a proportion ``failed / total`` (fractions 0..1).

    Returns ``(low, high)``, or None when ``total`` is 0.
    """
    if total <= 0:
        return None
    if not 0 <= failed <= total:
        raise ValueError(f"failed ({failed}) must lie between 0 and total ({total})")
    z = dist.norm_ppf(1 - (1 - confidence) / 2)
    p = failed / total
    denom = 1 + z**2 / total
    centre = (p + z**2 / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z**2 / (4 * total**2)) / denom
    # exact ends at 0 and 1: the formula leaves rounding crumbs there
    low = 0.0 if failed == 0 else max(0.0, float(centre - half))
    high = 1.0 if failed == total else min(1.0, float(centre + half))
    return low, high


@dataclass(frozen=True)
class RateComparison(Result):
    """Two failure rates and Fisher's exact test on the 2x2 table failed/not failed."""

    a_total: int
    a_failed: int
    a_rate: float | None
    a_ci95: tuple[float, float] | None
    b_total: int
    b_failed: int
    b_rate: float | None
    b_ci95: tuple[float, float] | None
    odds_ratio: float | None
    fisher_p: float | None
    reason: str | None = None


def compare_rates(a_failed: int, a_total: int, b_failed: int, b_total: int) -> RateComparison:
    """Failure rates of groups a and b (fractions) with Fisher's exact two-sided p-value."""
    a_rate = a_failed / a_total if a_total else None
    b_rate = b_failed / b_total if b_total else None
    odds = p = None
    reason = None
    if not a_total or not b_total:
        reason = "one group has no deployments"
    else:
        table = [[a_failed, a_total - a_failed], [b_failed, b_total - b_failed]]
        res = dist.fisher_exact(table)
        odds, p = _num(res.statistic), _num(res.pvalue)
    return RateComparison(
        a_total,
        a_failed,
        a_rate,
        wilson_interval(a_failed, a_total),
        b_total,
        b_failed,
        b_rate,
        wilson_interval(b_failed, b_total),
        odds,
        p,
        reason,
    )


# --- two samples --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleComparison(Result):
    """Mann-Whitney U test of sample b against sample a, with medians, means and effect size.

    ``rank_biserial`` is in [-1, 1]: positive when values in b tend to be larger than in a.
    """

    a_n: int
    b_n: int
    a_median: float | None
    b_median: float | None
    a_mean: float | None
    b_mean: float | None
    u_statistic: float | None
    p_value: float | None
    rank_biserial: float | None
    reason: str | None = None


def compare_samples(a: Sequence, b: Sequence) -> SampleComparison:
    """Two-sided Mann-Whitney U test of b versus a (missing values dropped)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    summary = [
        _num(np.median(a)) if len(a) else None,
        _num(np.median(b)) if len(b) else None,
        _num(np.mean(a)) if len(a) else None,
        _num(np.mean(b)) if len(b) else None,
    ]
    if not len(a) or not len(b):
        return SampleComparison(len(a), len(b), *summary, None, None, None, "a group is empty")
    if np.all(np.concatenate([a, b]) == a[0]):
        # every value equal: no evidence of a difference, and scipy's p would be NaN
        return SampleComparison(len(a), len(b), *summary, len(a) * len(b) / 2, 1.0, 0.0)
    res = dist.mannwhitneyu(b, a)  # two-sided, scipy's defaults
    u_b = float(res.statistic)  # pairs where b > a, ties counting one half
    effect = 2 * u_b / (len(a) * len(b)) - 1
    return SampleComparison(len(a), len(b), *summary, u_b, _num(res.pvalue), effect)


# --- trend and change point ---------------------------------------------------------------------


@dataclass(frozen=True)
class Trend(Result):
    """Theil-Sen slope (units per step, e.g. incidents per week) with its 95 % interval and the
    two-sided p-value of the Mann–Kendall test for it; ``method`` names the corrections applied
    (autocorrelation, seasonality, subsampled pairs). Call it rising or falling only when
    ``p_value < ALPHA``."""

    n: int
    slope: float | None
    intercept: float | None
    low: float | None
    high: float | None
    reason: str | None = None
    p_value: float | None = None
    method: str | None = None


# A season this clear (F-test p below it) is not slow autocorrelated wander fitted by the waves:
# the trend's variance factor then comes from the adjusted weeks alone (audit, #11).
SEASON_BEYOND_WANDER_P = 1e-4


def theil_sen(
    values: Sequence,
    weeks: Sequence[dt.date] | None = None,
    seasonal: bool = True,
    max_pairs: int = ts.MAX_PAIRS,
    seed: int = SEED,
) -> Trend:
    """Theil-Sen slope (Sen 1968) of ``values`` against their position 0, 1, 2, ... with a 95 %
    interval and a Mann–Kendall p-value, both robust to autocorrelation.

    The variance of Mann–Kendall's S is inflated by the Hamed & Rao (1998) factor from the
    significant autocorrelations of the detrended ranks; the interval uses the same variance
    (Sen's rank bounds), so it excludes 0 about when ``p < 0.05``. With at least two years
    (104) of consecutive weekly values, a 52-week seasonal component (yearly waves placed by the
    Mondays in ``weeks``, else by position) is removed first when an F-test allowing for the
    autocorrelation finds it (p < ALPHA), so a season does not read as a trend; unless the
    season is very clear (p below ``SEASON_BEYOND_WANDER_P``) the variance factor is then at
    least that of the recorded weeks, since the waves also soak up slow autocorrelated wander
    and the adjusted weeks understate it (demo's AR(1) variant: 10 % of null series claimed a
    trend without this, 6 % with it; planted-trend detection unchanged).
    Beyond ``max_pairs`` pairs (about 2,000 points) the slopes come from a random subsample of
    pairs (fixed ``seed``): memory and time stay bounded for any length. Missing values drop.
    """
    y = np.asarray(values, dtype=float)
    keep = ~np.isnan(y)
    y = y[keep]
    n = len(y)
    if n < MIN_POINTS:
        return Trend(n, None, None, None, None, f"fewer than {MIN_POINTS} data points")
    if weeks is not None:
        weeks = [w for w, k in zip(weeks, keep, strict=True) if k]
    x = np.arange(n, dtype=float)
    method = ["Theil–Sen slope, Mann–Kendall test"]
    raw_slopes, total = ts.pairwise_slopes(y, max_pairs, seed)
    slopes = raw_slopes
    fitted = 2  # level and slope; the Hamed-Rao bias correction grows with what was fitted
    recorded, season_p = y, None
    if seasonal:
        # only a season that beats the autocorrelation's slow wandering is removed
        y, season_p = ts.remove_clear_season(y, weeks, ALPHA)
        if season_p is not None:
            slopes, total = ts.pairwise_slopes(y, max_pairs, seed)
            fitted += 2 * ts.SEASON_HARMONICS
            method.append(f"52-week season removed (harmonic F-test p = {season_p:.2g})")
    slopes.sort()
    slope = float(np.median(slopes))
    intercept = float(np.median(y) - slope * np.median(x))
    mk = ts.mann_kendall(y)
    factor = ts.hamed_rao_factor(y - slope * x, fitted=fitted)
    if season_p is not None and season_p >= SEASON_BEYOND_WANDER_P:
        # the waves soak up slow autocorrelated wander too: not below the recorded weeks' factor
        raw_slope = float(np.median(raw_slopes))
        factor = max(factor, ts.hamed_rao_factor(recorded - raw_slope * x))
    # the Hamed-Rao estimate is low just where chance wander looks like a trend: also bound it
    # by the long-run variance's upper 95 % limit (AR(1) weekly noise: 9.2 % -> 6.8 % claims)
    factor = max(factor, ts.bartlett_factor_upper(y - slope * x))
    method.append(f"Hamed–Rao autocorrelation correction (variance x{factor:.2f})")
    if len(slopes) < total:
        method.append(f"slopes of {len(slopes):,} random pairs of {total:,}")
    var = mk.var_s * factor
    sigma = math.sqrt(var)
    p = 2 * dist.norm_sf(abs(mk.s - np.sign(mk.s)) / sigma) if var > 0 else 1.0
    # Sen (1968) eq. 2.6: the slopes ranked (N -/+ z sigma) / 2 bound the 95 % interval
    z = dist.norm_ppf(0.025)
    scale = len(slopes) / total
    hi = min(int(np.round((total - z * sigma) / 2 * scale)), len(slopes) - 1)
    lo = max(int(np.round((total + z * sigma) / 2 * scale)) - 1, 0)
    return Trend(
        n,
        _num(slope),
        _num(intercept),
        _num(slopes[lo]),
        _num(slopes[hi]),
        None,
        _num(min(p, 1.0)),
        "; ".join(method),
    )


@dataclass(frozen=True)
class TrendTurn(Result):
    """The recent trend of a series set against its whole-window trend.

    ``recent`` is the :func:`theil_sen` trend from position ``since`` (``since_week`` its
    Monday when weeks were given) to the end; ``turned`` is True when that recent trend is
    significant (p < ALPHA) and runs the opposite way to the whole window's slope.
    """

    whole: Trend
    recent: Trend | None
    since: int | None
    since_week: dt.date | None
    turned: bool
    reason: str | None = None


MIN_RECENT_POINTS = 8  # a recent trend needs at least this many points (weeks)


def trend_turn(
    values: Sequence, weeks: Sequence[dt.date] | None = None, since: int | None = None
) -> TrendTurn:
    """Has the trend turned lately? ``since`` is the first position of the recent part (e.g. a
    significant change point), by default the last third of the series. Missing values drop
    (with their weeks)."""
    y = np.asarray(values, dtype=float)
    keep = ~np.isnan(y)
    if weeks is not None:
        weeks = [w for w, k in zip(weeks, keep, strict=True) if k]
    y = y[keep]
    whole = theil_sen(y, weeks)
    n = len(y)
    since = n - n // 3 if since is None else since
    if n - since < MIN_RECENT_POINTS or whole.slope is None:
        reason = f"fewer than {MIN_RECENT_POINTS} recent data points"
        return TrendTurn(whole, None, None, None, False, whole.reason or reason)
    recent = theil_sen(y[since:], None if weeks is None else weeks[since:])
    turned = (
        recent.p_value is not None
        and recent.p_value < ALPHA
        and np.sign(recent.slope) == -np.sign(whole.slope) != 0
    )
    return TrendTurn(whole, recent, since, None if weeks is None else weeks[since], bool(turned))


@dataclass(frozen=True)
class ChangePoint(Result):
    """The single most likely shift in the mean of a series, with a block-permutation p-value.

    ``index`` is the position of the first value after the shift (None when not computed);
    ``block_length`` the points moved together by the permutation test, ``method`` its name.
    """

    n: int
    index: int | None
    mean_before: float | None
    mean_after: float | None
    p_value: float | None
    permutations: int
    reason: str | None = None
    block_length: int | None = None
    method: str | None = None


# Points reordered per change-point test (permutations x length) and per chunk: beyond, fewer
# permutations (never under 99) so a 100,000-week series stays within seconds and ~100 MB.
PERMUTATION_WORK = 2_000_000
PERMUTATION_CHUNK = 1_000_000
MIN_PERMUTATIONS = 99


def _split_gain(y: np.ndarray, min_size: int) -> np.ndarray:
    """For each row of ``y`` (2-D) and split k, the fall in squared error from two means.

    Gain = k (n - k) / n * (mean_left - mean_right)^2, for k = min_size .. n - min_size.
    """
    n = y.shape[1]
    k = np.arange(min_size, n - min_size + 1)
    csum = np.cumsum(y, axis=1)
    left = csum[:, k - 1] / k
    right = (csum[:, -1:] - csum[:, k - 1]) / (n - k)
    return k * (n - k) / n * (left - right) ** 2


def change_point(
    values: Sequence,
    min_size: int = 2,
    permutations: int = 999,
    seed: int = SEED,
    block: int | None = None,
) -> ChangePoint:
    """Single mean-shift change point (the first step of binary segmentation).

    The split maximising the between-segment sum of squares is the candidate. Its p-value comes
    from a block permutation (Künsch 1989 blocks): the series is cut into blocks of ``block``
    consecutive points (default :func:`analytics.timeseries.block_length` of the residuals
    around the split: ``n^(1/3)`` stretched by their autocorrelation), the blocks are shuffled
    (fixed seed) and the best split recomputed; shuffling single points would break the
    autocorrelation and make chance shifts look significant. ``p = (1 + hits) / (1 +
    permutations)``, or exact (hits / orderings) when the blocks have at most ``permutations``
    orderings. Long series get fewer permutations (``PERMUTATION_WORK``, at least 99).
    """
    y = np.asarray(values, dtype=float)
    y = y[~np.isnan(y)]
    n = len(y)
    if n < 2 * min_size:
        return ChangePoint(n, None, None, None, None, 0, f"fewer than {2 * min_size} data points")
    if np.all(y == y[0]):
        return ChangePoint(n, None, None, None, None, 0, "constant series: no shift")
    gains = _split_gain(y[None, :], min_size)[0]
    best = int(np.argmax(gains))
    index = best + min_size
    before, after = y[:index].mean(), y[index:].mean()
    length = block or ts.block_length(np.concatenate([y[:index] - before, y[index:] - after]))
    runs = min(permutations, max(MIN_PERMUTATIONS, PERMUTATION_WORK // n))
    exact = math.factorial(-(-n // length)) <= runs
    rng = np.random.default_rng(seed)
    hits = done = 0
    chunk = max(1, PERMUTATION_CHUNK // n)
    while done < runs:
        orders = ts.block_orders(n, length, runs if exact else min(chunk, runs - done), rng)
        null = _split_gain(y[orders], min_size).max(axis=1)
        # tolerance so that permutations tying with the observed split count as hits
        hits += int(np.sum(null >= gains[best] * (1 - 1e-9)))
        done += len(orders)
        if exact:
            break
    p = hits / done if exact else (1 + hits) / (1 + done)
    kind = "all" if exact else "random"
    method = f"block permutation ({kind} {done:,} orderings of {length}-point blocks)"
    # moving blocks breaks the slow wander at every seam, so the shuffled series are calmer than
    # the real one (AR(1) weekly noise: 13 % false shifts); a shift is claimed only when an
    # AR(1) model at the upper bound of the persistence does not make such a split either
    phi, p_ar = _ar1_bootstrap_p(y, gains[best], min_size, runs, rng)
    method += f"; AR(1) parametric bootstrap (φ = {phi:.2f}, upper 95 % bound), p = {p_ar:.2g}"
    p = max(p, p_ar)
    return ChangePoint(n, index, _num(before), _num(after), p, done, None, length, method)


def _ar1_bootstrap_p(
    y: np.ndarray, gain: float, min_size: int, runs: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Parametric (sieve) bootstrap p-value of the best split's share of the variance,
    ``gain / sum (y - mean)^2``, under a Gaussian AR(1) without a shift (Bühlmann 1997) whose
    coefficient is the lag-1 autocorrelation of ``y`` raised to its upper one-sided 95 % bound
    (:func:`analytics.timeseries.rho_upper`: the estimate on a short, shifted-looking series is
    low exactly when chance wander made it look shifted). Returns ``(phi, p)``,
    ``p = (1 + hits) / (1 + runs)``."""
    n = len(y)
    d = y - y.mean()
    share = gain / float(d @ d)
    phi = max(ts.rho_upper(float(ts.acf(y, 1)[1]), n, fitted=1), 0.0)
    hits = done = 0
    chunk = max(1, PERMUTATION_CHUNK // n)
    while done < runs:
        paths = ts.ar1_paths(phi, n, min(chunk, runs - done), rng)
        centred = paths - paths.mean(axis=1, keepdims=True)
        null = _split_gain(paths, min_size).max(axis=1) / np.sum(centred**2, axis=1)
        hits += int(np.sum(null >= share * (1 - 1e-9)))
        done += len(paths)
    return phi, (1 + hits) / (1 + done)


# --- sprint cadence -----------------------------------------------------------------------------


def sprint_length_changes(
    sprints: pd.DataFrame, tolerance_days: float = 1, persist: int = 2
) -> pd.DataFrame:
    """Where each team's sprint length changes for good.

    ``sprints`` has one row per sprint with ``team``, ``sprint_id``, ``start_date`` and
    ``length_days``. A change is the first sprint whose length differs from the current run's
    length by more than ``tolerance_days`` and is followed by ``persist - 1`` more sprints of
    (within tolerance) that same new length; a one-off odd sprint is not a change.
    Returns ``[team, sprint_id, change_date, length_before_days, length_after_days]`` sorted by
    team and date (length in days, ``change_date`` = start of the first sprint at the new length).
    """
    import pandas as pd

    columns = ["team", "sprint_id", "change_date", "length_before_days", "length_after_days"]
    found = []
    for team, group in sprints.sort_values(["team", "start_date"]).groupby("team", sort=True):
        lengths = group["length_days"].to_numpy(dtype=float)
        ids = group["sprint_id"].tolist()
        dates = group["start_date"].tolist()
        current = lengths[0] if len(lengths) else None
        i = 1
        while i < len(lengths):
            new = lengths[i]
            run = lengths[i : i + persist]
            if (
                abs(new - current) > tolerance_days
                and len(run) == persist
                and np.all(np.abs(run - new) <= tolerance_days)
            ):
                found.append((team, ids[i], _as_date(dates[i]), float(current), float(new)))
                current = new
                i += persist
                continue
            i += 1
    return pd.DataFrame(found, columns=columns)


def _as_date(value) -> dt.date:
    import pandas as pd

    return pd.Timestamp(value).date()


# --- trade-off frontier -------------------------------------------------------------------------


def pareto_frontier(
    df: pd.DataFrame,
    speed_col: str,
    stability_col: str,
    higher_speed_is_better: bool = True,
    lower_stability_is_better: bool = True,
) -> pd.Series:
    """Boolean mask (aligned with ``df``) of the rows no other row dominates.

    Row j dominates row i when it is at least as good on both columns and strictly better on one
    (by default: more deployments per week and a lower change failure rate). Rows with a missing
    value are never on the frontier.
    """
    import pandas as pd

    speed = df[speed_col].to_numpy(dtype=float) * (1 if higher_speed_is_better else -1)
    stab = df[stability_col].to_numpy(dtype=float) * (-1 if lower_stability_is_better else 1)
    # both columns oriented so that larger is better; [i, j] = does j dominate i
    ge = (speed[None, :] >= speed[:, None]) & (stab[None, :] >= stab[:, None])
    gt = (speed[None, :] > speed[:, None]) | (stab[None, :] > stab[:, None])
    dominated = (ge & gt).any(axis=1)
    valid = ~(np.isnan(speed) | np.isnan(stab))
    return pd.Series(valid & ~dominated, index=df.index, name="on_frontier")


def frontier_rows(df: pd.DataFrame, speed_col: str, stability_col: str, **kwargs) -> pd.DataFrame:
    """The Pareto-optimal rows of ``df``, sorted by ``speed_col`` for drawing as a line."""
    mask = pareto_frontier(df, speed_col, stability_col, **kwargs)
    return df[mask].sort_values(speed_col).reset_index(drop=True)


# --- what-if: delegating CAB approvals ----------------------------------------------------------

WHAT_IF_ASSUMPTIONS = (
    "Candidates are deployments approved by the CAB with low or medium risk.",
    "Moved changes are picked at random: the same share of the candidates in every bootstrap "
    "resample of the deployments.",
    "A moved change takes the lead time of a delegated (pre-approved or product-owner) "
    "deployment of its own team, drawn at random; only where a team has no delegated "
    "deployment is it drawn from all teams' delegated deployments.",
)
FAILURE_ASSUMPTIONS = {
    "own": "A moved change keeps its own outcome: approval route does not change its risk.",
    "delegated": "A moved change fails with the delegated deployments' failure rate.",
}


@dataclass(frozen=True)
class WhatIf(Result):
    """Projected effect of delegating a share of CAB approvals (lead times in hours, rates 0..1).

    Intervals are the 2.5th and 97.5th percentiles of ``bootstraps`` resamples (fixed seed).
    """

    share: float
    candidates: int
    moved: int
    deployments: int
    baseline_lead_time_hours_median: float | None
    projected_lead_time_hours_median: float | None
    projected_lead_time_ci95: tuple[float, float] | None
    baseline_change_failure_rate: float | None
    projected_change_failure_rate: float | None
    projected_change_failure_rate_ci95: tuple[float, float] | None
    failure_assumption: str
    assumptions: tuple[str, ...] = field(default=())
    bootstraps: int = 0
    reason: str | None = None
    # candidates whose team has no delegated deployment: their lead time comes from all teams
    pooled_candidates: int = 0


# Resamples for the what-if: 1,000 on small windows; on large ones fewer (never under 200), so a
# page stays interactive. With tens of thousands of deployments the bootstrap medians vary so
# little that 200 runs pin the 2.5 and 97.5 percentiles as well as 1,000 would on a small window.
BOOTSTRAP_WORK = 10_000_000  # resampled values per what-if, roughly 0.4 s on one core


def bootstrap_runs(n: int) -> int:
    """Bootstrap resamples used for ``n`` deployments: 1,000, down to 200 for large windows."""
    return min(1000, max(200, BOOTSTRAP_WORK // max(n, 1)))


def _fast_median(values: np.ndarray) -> float:
    """Median of a NaN-free array via partial sorting (several times faster than np.median)."""
    n = len(values)
    if n == 0:
        return np.nan
    half = n // 2
    part = np.partition(values, half)
    if n % 2:
        return float(part[half])
    return float((part[half] + part[:half].max()) / 2)


def what_if_delegation(
    deployments: pd.DataFrame,
    share: float,
    failure_assumption: str = "own",
    bootstraps: int | None = None,
    seed: int = SEED,
) -> WhatIf:
    """Move ``share`` (0..1) of CAB-approved low/medium-risk deployments to delegated approval.

    ``deployments`` has one row per deployment with ``approval``, ``risk``, ``lead_time_hours``,
    ``failed`` and ``team`` (without it, all rows count as one team). A moved change takes the
    lead time of a random delegated deployment of its own team (teams differ in lead time, so
    pooled draws would credit slow teams with fast teams' lead times); ``pooled_candidates``
    counts the candidates whose team has no delegated deployment and draw from all teams.
    Returns the baseline and projected median lead time (hours) and change failure rate with
    bootstrap 95 % intervals; the assumptions are spelled out in the result. ``bootstraps``
    defaults to :func:`bootstrap_runs` of the number of deployments.
    """
    if not 0 <= share <= 1:
        raise ValueError(f"share must lie between 0 and 1, got {share}")
    if failure_assumption not in FAILURE_ASSUMPTIONS:
        raise ValueError(f"failure_assumption must be one of {sorted(FAILURE_ASSUMPTIONS)}")
    assumptions = (*WHAT_IF_ASSUMPTIONS, FAILURE_ASSUMPTIONS[failure_assumption])
    approval = deployments["approval"].astype("object")
    risk = deployments["risk"].astype("object")
    lead = deployments["lead_time_hours"].to_numpy(dtype=float)
    failed = deployments["failed"].to_numpy(dtype=bool)
    candidate = ((approval == "cab") & risk.isin(["low", "medium"])).to_numpy()
    delegated = approval.isin(["pre-approved", "product-owner"]).to_numpy()
    n = len(deployments)
    n_candidates = int(candidate.sum())
    moved = round(share * n_candidates)
    base_lead = _num(np.nanmedian(lead)) if n and not np.all(np.isnan(lead)) else None
    base_cfr = _num(failed.mean()) if n else None

    if "team" in deployments.columns:
        import pandas as pd

        team = deployments["team"].astype("object").fillna("").to_numpy()
        team_codes = pd.factorize(team)[0]
    else:
        team_codes = np.zeros(n, dtype=int)
    n_teams = int(team_codes.max()) + 1 if n else 0
    known_lead = delegated & ~np.isnan(lead)
    # each team's delegated lead times, contiguous in one array: team t at start[t]..+size[t]
    own_order = np.argsort(team_codes[known_lead], kind="stable")
    own_lead = lead[known_lead][own_order]
    size = np.bincount(team_codes[known_lead], minlength=n_teams)
    start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(int) if n_teams else size
    pooled = candidate & (size[team_codes] == 0) if n else candidate
    n_pooled = int(pooled.sum())

    def result(lead_med, lead_ci, cfr, cfr_ci, runs, reason=None):
        return WhatIf(
            share, n_candidates, moved, n, base_lead, lead_med, lead_ci, base_cfr, cfr, cfr_ci,
            failure_assumption, assumptions, runs, reason, n_pooled,
        )  # fmt: skip

    if n == 0:
        return result(None, None, None, None, 0, "no deployments")
    if moved == 0:
        reason = "no CAB-approved low/medium-risk changes" if not n_candidates else None
        return result(base_lead, None, base_cfr, None, 0, reason or "nothing moved")
    if not len(own_lead):
        return result(None, None, None, None, 0, "no delegated deployments to learn from")
    delegated_cfr = failed[delegated].mean()

    bootstraps = bootstrap_runs(n) if bootstraps is None else bootstraps
    rng = np.random.default_rng(seed)
    lead_meds = np.empty(bootstraps)
    cfrs = np.empty(bootstraps)
    for b in range(bootstraps):
        # resample deployments, then move `moved` of the resampled candidates
        sample = rng.integers(0, n, n)
        sim_lead = lead[sample].copy()
        sim_failed = failed[sample].copy()
        pool = np.flatnonzero(candidate[sample])
        pick = rng.choice(pool, size=round(share * len(pool)), replace=False)
        # a moved change's own team's delegated lead times, all teams' where its team has none
        picked_team = team_codes[sample[pick]]
        own = size[picked_team]
        u = rng.random(len(pick))
        drawn = np.where(
            own > 0,
            start[picked_team] + np.floor(u * own).astype(int),
            np.floor(u * len(own_lead)).astype(int),
        )
        sim_lead[pick] = own_lead[drawn]
        if failure_assumption == "delegated":
            sim_failed[pick] = rng.random(len(pick)) < delegated_cfr
        lead_meds[b] = _fast_median(sim_lead[~np.isnan(sim_lead)])
        cfrs[b] = sim_failed.mean()
    lead_ci = tuple(float(v) for v in np.nanpercentile(lead_meds, [2.5, 97.5]))
    cfr_ci = tuple(float(v) for v in np.percentile(cfrs, [2.5, 97.5]))
    return result(_num(np.nanmedian(lead_meds)), lead_ci, _num(np.median(cfrs)), cfr_ci, bootstraps)


# --- composite comparisons ----------------------------------------------------------------------


# "About as often" needs the whole 95 % interval of the failure-rate difference inside +-3
# percentage points: without such a bound "not significant" would be read as "the same" on any
# small sample. Not +-5: at failure rates near 10 % a 4-point gap is a 40 % relative difference,
# and with +-5 the null audit's planted CAB effect (10 % -> 6 %) was called "about as often" in
# 2 of 20 seeds.
EQUIVALENCE_MARGIN = 0.03
DELEGATED = ("pre-approved", "product-owner")
# CAB and delegated changes are compared within team x risk x kind: teams differ in CAB share
# and failure rate, and incident fixes (``rework``) never go the standard-change route and
# fail and wait differently from planned changes, so either would fake a route difference.
STRATA = ("team", "risk", "rework")


@dataclass(frozen=True)
class CabVsDelegated(Result):
    """CAB-approved (group a) versus delegated (group b: pre-approved + product-owner) deployments.

    ``failure``: crude change failure rates with Fisher's exact test; ``lead_time_hours``: crude
    lead times (hours) with Mann-Whitney U (positive ``rank_biserial`` = delegated changes wait
    longer). ``stratified``: the same failures compared within team x risk x kind strata
    (Mantel-Haenszel odds ratio, Cochran-Mantel-Haenszel test, MH risk difference CAB -
    delegated); ``lead_time_stratified``: van Elteren's test within the same strata (positive
    statistic = CAB changes wait longer). The verdicts read the stratified results: teams differ
    in both CAB share and failure rate, so the crude ones mix the teams up (Simpson's paradox).
    """

    failure: RateComparison
    lead_time_hours: SampleComparison | None  # None when asked for failure rates only
    stratified: MantelHaenszel | None = None
    lead_time_stratified: VanElteren | None = None


def cab_failure_verdict(result: CabVsDelegated) -> str | None:
    """What may be said of CAB versus delegated failure rates, from the stratified comparison:
    ``"more"``/``"less"`` (CAB changes fail more/less often; CMH p < ALPHA), ``"same"`` (the
    95 % interval of the difference lies within +-EQUIVALENCE_MARGIN), ``"unclear"``
    (neither), or None when there is nothing to compare (a group is empty)."""
    f = result.failure
    if f.reason:
        return None
    mh = result.stratified
    if mh is None:  # built without strata: one stratum, the crude table
        mh = mantel_haenszel(
            [[[f.a_failed, f.a_total - f.a_failed], [f.b_failed, f.b_total - f.b_failed]]]
        )
    if mh.p_value is not None and mh.p_value < ALPHA and mh.odds_ratio is not None:
        return "more" if mh.odds_ratio > 1 else "less"
    if mh.p_value is not None and mh.p_value < ALPHA:  # infinite odds ratio: no failed delegated
        return "more"
    if (
        mh.rd_low is not None
        and mh.rd_low >= -EQUIVALENCE_MARGIN
        and mh.rd_high <= EQUIVALENCE_MARGIN
    ):
        return "same"
    return "unclear"


def _strata_codes(frame, rows: int) -> np.ndarray:
    """One integer per row of ``frame`` (a DataFrame or a dict of ``rows``-long arrays) naming
    its team x risk x kind stratum (the columns of ``STRATA`` present; 0 without any), numbered
    in sorted order with missing values last, as pandas' ``groupby(sort=True, dropna=False)``."""
    keys = [c for c in STRATA if c in frame]
    if not keys or rows == 0:
        return np.zeros(rows, dtype=int)
    codes = np.stack([sorted_codes(frame[c]) for c in keys], axis=1)
    return np.unique(codes, axis=0, return_inverse=True)[1].reshape(-1)


def cab_vs_delegated(deployments: pd.DataFrame, lead_times: bool = True) -> CabVsDelegated:
    """Compare CAB with delegated approval on a frame of deployments.

    ``deployments`` has one row per deployment with ``approval``, ``failed``,
    ``lead_time_hours`` and, for the stratified comparisons, ``team``, ``risk`` and ``rework``
    (kind: a fix for an incident or a planned change; a missing
    column is simply not stratified on); emergency (``ecab``) changes belong to neither group.
    ``lead_times=False`` compares the failure rates only (``lead_time_hours`` and
    ``lead_time_stratified`` are None; no ``lead_time_hours`` column needed): the JSON report
    reads no lead-time test, and two rank tests over every deployment cost it ~0.2 s (#11).
    """
    approval = deployments["approval"].astype("object")
    is_cab = (approval == "cab").to_numpy()
    is_delegated = approval.isin(DELEGATED).to_numpy()
    cab = deployments[is_cab]
    delegated = deployments[is_delegated]
    failure = compare_rates(
        int(cab["failed"].astype(bool).sum()),
        len(cab),
        int(delegated["failed"].astype(bool).sum()),
        len(delegated),
    )
    lead = None
    if lead_times:
        lead = compare_samples(
            cab["lead_time_hours"].to_numpy(dtype=float),
            delegated["lead_time_hours"].to_numpy(dtype=float),
        )
    both = deployments[is_cab | is_delegated]
    codes = _strata_codes(both, len(both))
    in_cab = is_cab[is_cab | is_delegated]
    tables = _stratum_tables(codes, in_cab, both["failed"].astype(bool).to_numpy())
    lead_strat = None
    if lead_times:
        lead_strat = van_elteren(both["lead_time_hours"].to_numpy(dtype=float), in_cab, codes)
    return CabVsDelegated(failure, lead, mantel_haenszel(tables), lead_strat)


def cab_vs_delegated_cells(cells) -> CabVsDelegated:
    """:func:`cab_vs_delegated` with ``lead_times=False`` from counted deployments
    (``metrics.approval_cells`` or its numpy columns: team, risk, rework, approval, failed and
    ``deployments``, the count of each cell): the same failure comparison and Mantel–Haenszel
    tables (Mantel & Haenszel 1959), the strata numbered in the same sorted order, without
    reading every row."""
    approval = np.asarray(cells["approval"], dtype=object)
    is_cab = approval == "cab"
    is_delegated = np.logical_or.reduce([approval == path for path in DELEGATED])
    n = np.asarray(cells["deployments"], dtype=np.int64)
    failed = np.asarray(cells["failed"]).astype(bool)
    failure = compare_rates(
        int(n[is_cab & failed].sum()),
        int(n[is_cab].sum()),
        int(n[is_delegated & failed].sum()),
        int(n[is_delegated].sum()),
    )
    chosen = is_cab | is_delegated
    # the same strata, so the same numbering
    strata = {c: np.asarray(cells[c])[chosen] for c in STRATA if c in cells}
    codes = _strata_codes(strata, int(chosen.sum()))
    tables = _stratum_tables(codes, is_cab[chosen], failed[chosen], n[chosen])
    return CabVsDelegated(failure, None, mantel_haenszel(tables), None)


def _stratum_tables(codes: np.ndarray, in_cab: np.ndarray, failed: np.ndarray, counts=None):
    """The ``k x 2 x 2`` tables of :func:`analytics.stratified.mantel_haenszel`: deployments per
    stratum (``codes``), group (CAB, delegated) and outcome (failed, not), each row counting
    ``counts`` (1 without), as int64."""
    # cell index: stratum, group (0 = CAB, 1 = delegated), outcome (0 = failed, 1 = not)
    index = codes * 4 + (~in_cab) * 2 + (~failed)
    k = int(codes.max()) + 1 if len(codes) else 0
    tables = np.bincount(index, counts, minlength=4 * k)
    return tables.astype(np.int64).reshape(k, 2, 2)  # weights make floats: exact counts


@dataclass(frozen=True)
class BeforeAfter(Result):
    """A team's weekly incidents and change failure rate in equal windows around a change.

    ``incidents``: weekly incident counts before (a) and after (b), Mann-Whitney U with
    rank-biserial effect (positive = more incidents after); ``failure``: failure rates before (a)
    and after (b) with Fisher's exact test. ``weeks`` is the length of each window.
    """

    team: str
    change_date: dt.date
    length_before_days: float | None
    length_after_days: float | None
    weeks: int
    incidents: SampleComparison
    failure: RateComparison
    reason: str | None = None


@dataclass(frozen=True)
class WeeklyChangePoint(Result):
    """A :class:`ChangePoint` on a weekly series, with the Monday of the first shifted week."""

    week: dt.date | None
    change_point: ChangePoint


def weekly_change_point(
    weeks: Sequence[dt.date], values: Sequence, seasonal: bool = True, **kwargs
) -> WeeklyChangePoint:
    """:func:`change_point` of a weekly series; ``week`` is the first week after the shift.

    From two years of weeks, the yearly waves (:func:`analytics.timeseries.seasonal_adjust`,
    harmonic regression) are always removed before the search, so the high half of a yearly
    swing is not taken for a shift: an F-test misses a modest season often enough to leave
    that error in (audit, #11), while removing waves that are not there costs four of over
    a hundred degrees of freedom. Those waves also soak up some of the slow wander of
    autocorrelated weeks, so unless the season is very clear (F-test p below
    ``SEASON_BEYOND_WANDER_P``) the blocks are at least as long as the residuals of the
    recorded values around the same split ask for (:func:`analytics.timeseries.block_length`). The
    means before and after are those of the weekly values as recorded. ``weeks`` and
    ``values`` hold no missing values.
    """
    y = np.asarray(values, dtype=float)
    adjust = seasonal and len(y) >= ts.SEASONAL_MIN_WEEKS
    # alpha = inf: the waves always go, the F-test's p-value says how clear the season was
    adjusted, season_p = ts.remove_clear_season(y, weeks, math.inf) if adjust else (y, None)
    cp = change_point(adjusted, **kwargs)
    if adjust and cp.index is not None:
        if kwargs.get("block") is None and season_p >= SEASON_BEYOND_WANDER_P:
            i = cp.index
            raw = ts.block_length(np.concatenate([y[:i] - y[:i].mean(), y[i:] - y[i:].mean()]))
            if raw > (cp.block_length or 0):
                cp = change_point(adjusted, **{**kwargs, "block": raw})
        cp = replace(
            cp,
            mean_before=_num(y[: cp.index].mean()),
            mean_after=_num(y[cp.index :].mean()),
            method=f"{cp.method}; yearly waves removed first (harmonic regression)",
        )
    return WeeklyChangePoint(None if cp.index is None else weeks[cp.index], cp)
