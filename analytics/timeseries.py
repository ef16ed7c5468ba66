"""Time-series building blocks for honest weekly statistics: pure numpy, no database.

Weekly counts are autocorrelated (a busy week follows a busy week) and often seasonal, so the
i.i.d. tests in :mod:`analytics.stats` would claim links and trends that chance alone makes.
This module holds the corrections those functions use:

- :func:`fit_ar` / :func:`ar_filter`: an AR(p) model (Yule–Walker, order by AIC) fitted to each
  series to prewhiten it before a cross-correlation (Haugh 1976; Box & Jenkins 1976, ch. 11).
- :func:`bh_qvalues`: Benjamini–Hochberg (1995) adjusted p-values across the lags tested.
- :func:`mann_kendall` and :func:`hamed_rao_factor`: the Mann–Kendall trend test (Kendall 1975)
  with the Hamed & Rao (1998) variance correction for autocorrelation.
- :func:`seasonal_adjust` / :func:`season_p_value`: removing a 52-week seasonal component
  (harmonic regression) when it is really there.
- :func:`pairwise_slopes`: Theil–Sen (Sen 1968) slopes, capped at ``MAX_PAIRS`` pairs.
- :func:`bartlett_factor_upper`: the upper bound of the long-run variance (Bartlett window,
  Newey & West 1987) that keeps the trend test honest when the short series understates it.
- :func:`block_length` / :func:`block_orders`: block permutation (Künsch 1989 blocks) for the
  change-point test, and :func:`ar1_paths` for its AR(1) parametric bootstrap.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from analytics import distributions as dist

MAX_AR_ORDER = 4  # highest AR order tried for prewhitening
MAX_PAIRS = 2_000_000  # Theil–Sen slopes beyond this are a random subsample (about 2,000 weeks)
SEASONAL_MIN_WEEKS = 104  # two years of whole weeks before a yearly wave is fitted and removed


def acf(x: np.ndarray, nlags: int) -> np.ndarray:
    """Sample autocorrelations ``r_0 .. r_nlags`` of ``x`` (biased estimator, ``r_0 = 1``).

    Computed by FFT so a 100,000-point series costs milliseconds. A constant series gives
    ``r_0 = 1`` and zeros elsewhere.
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    nlags = min(nlags, n - 1)
    d = x - x.mean()
    c0 = float(d @ d)
    out = np.zeros(nlags + 1)
    out[0] = 1.0
    if n < 2 or c0 == 0 or nlags < 1:
        return out
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(d, size)
    full = np.fft.irfft(f * np.conj(f), size)[: nlags + 1]
    out[1:] = full[1:] / c0
    return out


@dataclass(frozen=True)
class ARFit:
    """An AR(p) model of a demeaned series: ``x_t - mean = sum phi_i (x_{t-i} - mean) + e_t``.

    ``order`` is p (0 = white noise), ``phi`` the p coefficients, ``sigma2`` the innovation
    variance and ``aic`` Akaike's criterion ``n log(sigma2) + 2p`` (Akaike 1974).
    """

    order: int
    phi: tuple[float, ...]
    sigma2: float
    aic: float


def max_ar_order(n: int) -> int:
    """The highest AR order tried on ``n`` points: up to 4, about one per 10 points."""
    return max(0, min(MAX_AR_ORDER, n // 10))


def fit_ar(x, max_order: int | None = None) -> ARFit:
    """Yule–Walker AR fit with the order chosen by AIC among ``0 .. max_order``.

    ``max_order`` defaults to :func:`max_ar_order` of the length. Orders whose fit is not
    stationary-valid (innovation variance not positive) are skipped.
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    max_order = max_ar_order(n) if max_order is None else min(max_order, max(n - 2, 0))
    var = float(np.var(x))
    if n < 2 or var == 0:
        return ARFit(0, (), var, -math.inf if var == 0 else 0.0)
    r = acf(x, max_order)
    best = ARFit(0, (), var, n * math.log(var))
    for p in range(1, max_order + 1):
        phi = dist.solve_toeplitz(r[:p], r[1 : p + 1])
        sigma2 = var * (1 - float(phi @ r[1 : p + 1]))
        if sigma2 <= 0:
            continue
        aic = n * math.log(sigma2) + 2 * p
        if aic < best.aic:
            best = ARFit(p, tuple(float(v) for v in phi), sigma2, aic)
    return best


def ar_filter(x, phi) -> np.ndarray:
    """Residuals ``e_t = d_t - sum phi_i d_{t-i}`` of the demeaned ``x`` for ``t = p .. n-1``.

    Returns ``n - p`` values: element ``k`` belongs to position ``p + k`` of ``x``.
    """
    x = np.asarray(x, dtype=float)
    d = x - x.mean()
    p = len(phi)
    out = d[p:].copy()
    for i, coef in enumerate(phi, start=1):
        out -= coef * d[p - i : len(d) - i]
    return out


def bh_qvalues(p_values) -> np.ndarray:
    """Benjamini–Hochberg (1995) adjusted p-values (q-values); NaN stays NaN and does not count.

    ``q_(i) = min_{j >= i} p_(j) m / j`` capped at 1, as ``scipy.stats.false_discovery_control``.
    """
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if not m:
        return q
    order = np.argsort(p[ok])
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(ranked, 1.0)
    q[ok] = adjusted
    return q


@dataclass(frozen=True)
class MannKendall:
    """Mann–Kendall S (concordant minus discordant pairs in time) and its variance under no
    trend with the tie correction (Kendall 1975): ``n(n-1)(2n+5)/18 - sum t(t-1)(2t+5)/18``."""

    n: int
    s: int
    var_s: float


def mann_kendall(y) -> MannKendall:
    """Mann–Kendall S of ``y`` against its order, in O(n log n) (:func:`analytics.distributions.
    mann_kendall_s`), and its tie-corrected variance."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    _, ties = np.unique(y, return_counts=True)
    var_s = (n * (n - 1) * (2 * n + 5) - float(np.sum(ties * (ties - 1) * (2 * ties + 5)))) / 18
    n0 = n * (n - 1) / 2
    n2 = float(np.sum(ties * (ties - 1))) / 2
    if n < 2 or n0 == n2:
        return MannKendall(n, 0, max(var_s, 0.0))
    return MannKendall(n, dist.mann_kendall_s(y), var_s)


MAX_MODEL_LAGS = 2_000  # the AR(1) model's autocorrelations are summed up to this lag
RHO_UPPER_Z = 1.645  # lag-1 autocorrelation of the AR(1) model: its upper one-sided 95 % bound


def _variance_factor(n: int, rho: np.ndarray) -> float:
    """Hamed & Rao (1998) eq. 18: ``1 + 2 / (n(n-1)(n-2)) * sum_k (n-k)(n-k-1)(n-k-2) rho_k``
    for ``rho`` the autocorrelations at lags 1, 2, ..."""
    k = np.arange(1, len(rho) + 1, dtype=float)
    weights = (n - k) * (n - k - 1) * (n - k - 2)
    return 1 + 2 / (n * (n - 1) * (n - 2)) * float(np.sum(weights * rho))


def rho_upper(r1: float, n: int, fitted: int = 2) -> float:
    """Upper one-sided 95 % confidence bound of a lag-1 autocorrelation ``r1`` measured on ``n``
    residuals after ``fitted`` parameters: ``r1`` plus its small-sample bias (about
    ``(fitted + 4 r1) / n``; Kendall 1954) plus ``1.645`` standard errors
    ``sqrt((1 - r1^2) / n)`` (Bartlett 1946), at most 0.99."""
    se = math.sqrt(max(1 - r1**2, 0.0) / n)
    return min(r1 + (fitted + 4 * r1) / n + RHO_UPPER_Z * se, 0.99)


def hamed_rao_factor(detrended, alpha: float = 0.05, fitted: int = 2) -> float:
    """Variance inflation ``n / n*`` for Mann–Kendall's S under autocorrelation (Hamed & Rao
    1998), from the ranks of the detrended series.

    Two sets of autocorrelations of the ranks go into the Hamed–Rao formula and the larger
    factor wins: (a) the sample autocorrelations significant at ``alpha``, up to lag
    ``10 log10(n)`` (the usual ACF horizon; on long series the thousands of far lags significant
    by chance add noise that does not shrink with ``n``); (b) the AR(1) model ``rho^k`` over all
    lags, ``rho`` the lag-1 autocorrelation corrected for its small-sample bias after fitting
    ``fitted`` parameters (about ``(fitted + 4 rho) / n``: 2 for level and slope, more when a
    season was removed; Kendall 1954, Yue & Wang 2004 correct with this model too) and
    raised to its upper one-sided 95 % bound (:func:`rho_upper`): the factor grows steeply
    with rho, so an estimate on the low side would let chance trends through (simulated:
    AR(1) phi = 0.8 on 52 weeks claims 17 % of null series with the plain estimate). On 104
    weeks of the demo's AR(1) noise (phi 0.7 on the log scale, under Poisson counts: a small
    but slowly decaying autocorrelation) one standard error still claimed 18 % of 50 null
    series, the 95 % bound 10 %, with the same detection of a planted trend (15 of 20).
    Floored at 1: a negative correction would make the test bolder than the i.i.d. one on
    correlations that are mostly noise.
    """
    x = np.asarray(detrended, dtype=float)
    n = len(x)
    if n < 3:
        return 1.0
    ranks = dist.rankdata(x)
    rho = acf(ranks, min(n - 1, math.ceil(10 * math.log10(n))))[1:]
    bound = dist.norm_ppf(1 - alpha / 2) / math.sqrt(n)
    empirical = _variance_factor(n, np.where(np.abs(rho) > bound, rho, 0.0))
    phi = rho_upper(float(rho[0]) if len(rho) else 0.0, n, fitted)
    lags = min(n - 1, MAX_MODEL_LAGS)
    model = _variance_factor(n, phi ** np.arange(1, lags + 1)) if phi > 0 else 1.0
    return max(empirical, model, 1.0)


SEASON_HARMONICS = 2  # annual and half-yearly waves: 4 parameters, not 52 weekly means
YEAR_WEEKS = 365.2425 / 7  # weeks in a mean Gregorian year


def season_phase(n: int, weeks=None) -> np.ndarray:
    """Position of each of ``n`` consecutive weeks in the year, in weeks (0 .. 52.18): from the
    day of the year of the Mondays in ``weeks``, else the position itself."""
    if weeks is None:
        return np.arange(n, dtype=float)
    return np.array([(w.timetuple().tm_yday - 1) / 7 for w in weeks], dtype=float)


def _season_design(n: int, weeks=None) -> tuple[np.ndarray, np.ndarray]:
    """Columns (level, trend) and the ``2 * SEASON_HARMONICS`` yearly waves for ``n`` weeks."""
    angle = 2 * np.pi * season_phase(n, weeks) / YEAR_WEEKS
    waves = np.column_stack(
        [f(h * angle) for h in range(1, SEASON_HARMONICS + 1) for f in (np.sin, np.cos)]
    )
    return np.column_stack([np.ones(n), np.arange(n, dtype=float)]), waves


def seasonal_adjust(y, weeks=None) -> np.ndarray:
    """``y`` minus its 52-week seasonal component: annual and half-yearly sine/cosine waves
    (harmonic regression; Bloomfield 1976) fitted by least squares together with a straight
    line, so a trend neither leaks into the season nor is removed with it. Four parameters
    rather than 52 week-of-year means, which on two years would leave each week's pair of values
    mirror images of each other. The level and the trend are kept."""
    y = np.asarray(y, dtype=float)
    base, waves = _season_design(len(y), weeks)
    coef, *_ = np.linalg.lstsq(np.column_stack([base, waves]), y, rcond=None)
    return y - waves @ coef[2:]


def season_p_value(y, weeks=None, inflation: float = 1.0) -> float:
    """p-value of the F-test that the yearly waves of :func:`seasonal_adjust` explain nothing
    beyond a straight line, with the residual degrees of freedom divided by ``inflation`` (the
    autocorrelation's variance factor): slow wandering of an autocorrelated series fits yearly
    waves by chance, and removing such a fake season would also hide that wandering from the
    autocorrelation correction of the trend test."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    base, waves = _season_design(n, weeks)
    k = waves.shape[1]
    rss0 = float(np.sum((y - base @ np.linalg.lstsq(base, y, rcond=None)[0]) ** 2))
    full = np.column_stack([base, waves])
    rss1 = float(np.sum((y - full @ np.linalg.lstsq(full, y, rcond=None)[0]) ** 2))
    dof = n / max(inflation, 1.0) - full.shape[1]
    if rss1 <= 0:
        return 0.0 if rss0 > 0 else 1.0
    if dof < 1:
        return 1.0
    f = ((rss0 - rss1) / k) / (rss1 / dof)
    return dist.f_sf(f, k, dof)


def remove_clear_season(y, weeks=None, alpha: float = 0.05) -> tuple[np.ndarray, float | None]:
    """``y`` with its 52-week season removed (:func:`seasonal_adjust`) when the season stands
    out from the autocorrelation (:func:`season_p_value` below ``alpha``, the variance factor
    taken from the adjusted series' ranks); otherwise ``y`` unchanged. Needs
    ``SEASONAL_MIN_WEEKS`` points. Returns the series and the F-test's p-value when the season
    was removed, else None."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < SEASONAL_MIN_WEEKS:
        return y, None
    adjusted = seasonal_adjust(y, weeks)
    slope = float(np.median(pairwise_slopes(adjusted)[0]))
    fitted = 2 + 2 * SEASON_HARMONICS  # level, slope and the waves
    inflation = hamed_rao_factor(adjusted - slope * np.arange(n), fitted=fitted)
    p = season_p_value(y, weeks, inflation)
    return (adjusted, p) if p < alpha else (y, None)


def schwert_bandwidth(n: int) -> int:
    """Bartlett-kernel bandwidth ``floor(12 (n / 100) ** (1/4))`` in lags (Schwert 1989's long
    rule; 12 for two years of weeks), at most ``n - 1``."""
    return max(1, min(n - 1, int(12 * (n / 100) ** 0.25)))


def chi2_quantile(q: float, dof: float) -> float:
    """The ``q`` quantile of a chi-square with ``dof`` degrees of freedom by the Wilson &
    Hilferty (1931) cube-root approximation (relative error under 1 % from 10 degrees)."""
    h = 2 / (9 * dof)
    return dof * max(1 - h + dist.norm_ppf(q) * math.sqrt(h), 0.0) ** 3


def bartlett_factor_upper(x, alpha: float = 0.05) -> float:
    """Upper one-sided ``1 - alpha`` bound of the variance inflation ``n / n*`` of a sum of the
    ranks of ``x``: the Bartlett-kernel (Newey & West 1987) long-run variance over the variance,
    bandwidth :func:`schwert_bandwidth`, divided by the chi-square quantile of its ``3n / M``
    equivalent degrees of freedom (Priestley 1981, ch. 6; Bartlett window). Never below 1.

    Why an upper bound: on two years of weeks the estimate is noisy, and the series whose
    estimate happens to come out low are exactly those that claim a chance trend (audit, #11).
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n < 4:
        return 1.0
    lags = schwert_bandwidth(n)
    r = acf(dist.rankdata(x), lags)[1:]
    weights = 1 - np.arange(1, lags + 1) / (lags + 1)
    ratio = max(1 + 2 * float(weights @ r), 0.0)
    dof = 3 * n / lags
    return max(ratio * dof / chi2_quantile(alpha, dof), 1.0)


def long_run_ratio(x) -> float:
    """Long-run variance over variance of ``x`` under its AR fit (AIC, up to order 4): how much
    autocorrelation inflates the variance of a sum, ``1`` for white noise, ``(1+phi)/(1-phi)``
    for AR(1). Never below 1."""
    fit = fit_ar(x)
    if not fit.order:
        return 1.0
    var = float(np.var(np.asarray(x, dtype=float)))
    ratio = fit.sigma2 / (var * (1 - sum(fit.phi)) ** 2) if var > 0 else 1.0
    return max(1.0, ratio)


def pairwise_slopes(y, max_pairs: int = MAX_PAIRS, seed: int = 0) -> tuple[np.ndarray, int]:
    """Slopes ``(y_j - y_i) / (j - i)`` for pairs ``i < j`` of positions, and the number of
    pairs they stand for.

    All pairs up to ``max_pairs``; beyond, ``max_pairs`` pairs drawn at random (fixed seed), so
    memory stays about ``24 * max_pairs`` bytes whatever the length. Slopes come back unsorted.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    total = n * (n - 1) // 2
    if total <= max_pairs:
        i, j = np.triu_indices(n, 1)
    else:
        rng = np.random.default_rng(seed)
        a = rng.integers(0, n, max_pairs)
        b = rng.integers(0, n - 1, max_pairs)
        b = b + (b >= a)  # uniform over the other n - 1 positions: never i == j
        i, j = np.minimum(a, b), np.maximum(a, b)
    return (y[j] - y[i]) / (j - i), total


def ar1_paths(phi: float, n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` x ``n`` stationary Gaussian AR(1) paths ``z_t = phi z_(t-1) + e_t`` (unit
    innovations), as a convolution of white noise with ``phi^k`` truncated where ``phi^k``
    falls below 1e-12, whose length also serves as burn-in: FFT time, no loop over weeks."""
    if phi <= 0:
        return rng.standard_normal((count, n))
    memory = int(min(math.ceil(math.log(1e-12) / math.log(phi)), 100_000))
    noise = rng.standard_normal((count, n + memory))
    kernel = phi ** np.arange(memory, dtype=float)
    size = 1 << (n + 2 * memory - 1).bit_length()
    paths = np.fft.irfft(np.fft.rfft(noise, size) * np.fft.rfft(kernel, size), size)
    return paths[:, memory : memory + n]


def block_length(resid, n: int | None = None) -> int:
    """Block length for a block permutation of a series whose residuals are ``resid``.

    ``n^(1/3)`` (Künsch 1989; Hall, Horowitz & Jing 1995) stretched by the residuals'
    :func:`long_run_ratio` (``(1 + phi) / (1 - phi)`` for AR(1)), and at most a quarter of the
    series so at least four blocks remain.
    """
    resid = np.asarray(resid, dtype=float)
    n = len(resid) if n is None else n
    length = math.ceil(n ** (1 / 3) * long_run_ratio(resid))
    return int(max(1, min(length, n // 4)))


def block_orders(n: int, length: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Index arrays (``count`` x ``n``) that reorder ``n`` points by moving whole blocks of
    ``length`` consecutive points (the last block may be shorter) into random order.

    When the blocks have at most ``count`` orderings, all of them come back instead (exact
    test), the original order first.
    """
    starts = np.arange(0, n, length)
    lens = np.minimum(length, n - starts)
    blocks = len(starts)
    if math.factorial(blocks) <= count:
        perm = np.array(list(itertools.permutations(range(blocks))), dtype=np.int64)
    else:
        perm = np.argsort(rng.random((count, blocks)), axis=1)
    s, ln = starts[perm], lens[perm]
    out_start = np.cumsum(ln, axis=1) - ln  # where each moved block lands
    shift = np.repeat((s - out_start).ravel(), ln.ravel()).reshape(len(perm), n)
    return shift + np.arange(n)
