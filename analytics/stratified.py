"""Comparisons of two groups within strata, so that a third variable cannot fake a difference.

When teams differ both in how often they route changes through the CAB and in how often their
changes fail, a crude CAB-versus-delegated comparison shows a "difference" that is only the team
mix (Simpson's paradox). The methods here compare the groups *within* each stratum (team x risk)
and pool those within-stratum comparisons:

* :func:`mantel_haenszel` — Mantel-Haenszel common odds ratio with the Robins-Breslow-Greenland
  interval, the Cochran-Mantel-Haenszel test and an MH-weighted risk difference with a
  Newcombe-style interval;
* :func:`newcombe_interval` — the unstratified difference of two proportions with Newcombe's
  hybrid score interval;
* :func:`van_elteren` — the stratified Wilcoxon rank-sum test for a continuous outcome.

Pure numpy (distributions from :mod:`analytics.distributions`); every result is JSON-safe (None
for undefined values, with a ``reason``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analytics.distributions import norm_ppf

Z95 = norm_ppf(0.975)  # 1.959964: two-sided 95 % normal quantile


def _num(value) -> float | None:
    """A plain float, or None for missing/NaN/infinite values (keeps results JSON-safe)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# --- difference of two proportions --------------------------------------------------------------


def wilson_bounds(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (Wilson 1927) of a proportion ``p`` observed on ``n`` trials.

    ``n`` may be fractional (an effective sample size). Returns ``(low, high)`` as fractions.
    """
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _mover(p1: float, n1: float, p2: float, n2: float, z: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval for ``p1 - p2`` from the two Wilson intervals
    (Newcombe 1998, method 10; the "MOVER" of Zou & Donner 2008)."""
    l1, u1 = wilson_bounds(p1, n1, z)
    l2, u2 = wilson_bounds(p2, n2, z)
    d = p1 - p2
    return d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


@dataclass(frozen=True)
class RiskDifference:
    """``p1 - p2`` (fraction) with its 95 % interval ``low``..``high``."""

    difference: float | None
    low: float | None
    high: float | None


def newcombe_interval(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> RiskDifference:
    """Difference ``x1/n1 - x2/n2`` with Newcombe's hybrid score interval (method 10 of
    Newcombe 1998, Stat Med 17:873-890): Wilson limits of each proportion combined as
    ``d - sqrt((p1-l1)^2 + (u2-p2)^2)`` and ``d + sqrt((u1-p1)^2 + (p2-l2)^2)``.

    Returns fractions; all None when a group is empty.
    """
    if n1 <= 0 or n2 <= 0:
        return RiskDifference(None, None, None)
    p1, p2 = x1 / n1, x2 / n2
    low, high = _mover(p1, n1, p2, n2, z)
    return RiskDifference(p1 - p2, low, high)


# --- Mantel-Haenszel ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MantelHaenszel:
    """Two groups' binary outcome pooled over strata (group 1 versus group 2).

    ``odds_ratio`` (Mantel-Haenszel) with its 95 % Robins-Breslow-Greenland interval
    ``low``..``high``; ``statistic`` and ``p_value``: the Cochran-Mantel-Haenszel chi-square test
    (1 df, continuity-corrected) of a common odds ratio of 1; ``strata``: the informative strata
    (both groups and both outcomes present). ``risk_difference`` (fraction, group 1 - group 2,
    MH-weighted) with its 95 % interval ``rd_low``..``rd_high`` over ``rd_strata`` strata that
    have both groups.
    """

    strata: int
    odds_ratio: float | None
    low: float | None
    high: float | None
    statistic: float | None
    p_value: float | None
    rd_strata: int
    risk_difference: float | None
    rd_low: float | None
    rd_high: float | None
    reason: str | None = None


def mantel_haenszel(tables, z: float = Z95) -> MantelHaenszel:
    """Pool ``tables`` (shape K x 2 x 2: stratum, group, [event, no event]) counts.

    * Common odds ratio: ``sum(a d / n) / sum(b c / n)`` (Mantel & Haenszel 1959), 95 % interval
      on the log scale with the Robins, Breslow & Greenland (1986) variance.
    * Test: ``(|sum(a - E a)| - 1/2)^2 / sum(Var a)`` with ``E a = n1 m1 / n`` and
      ``Var a = n1 n2 m1 m2 / (n^2 (n - 1))``, chi-square with 1 df (Cochran 1954, Mantel &
      Haenszel 1959). The continuity correction is the one of statsmodels'
      ``StratifiedTable.test_null_odds(correction=True)``, capped at ``|sum(a - E a)|`` as in R's
      ``mantelhaen.test`` so that a tiny deviation never reads as a larger one.
    * Risk difference: ``sum(w (p1 - p2)) / sum(w)`` with MH weights ``w = n1 n2 / n``
      (Greenland & Robins 1985). Interval: Newcombe's method 10 applied to the two weighted
      proportions, each with a Wilson interval at its effective sample size
      ``1 / sum(w'^2 / n_g)`` (normalised weights ``w'``; the variance of a weighted proportion
      under a common rate, as in Korn & Graubard 1998). With one stratum it is exactly
      :func:`newcombe_interval`.

    Strata with only one group, or (for the odds ratio and the test) without variation in the
    outcome, contribute nothing, as in the standard estimators. Returns a
    :class:`MantelHaenszel` (odds ratio dimensionless, risk difference a fraction).
    """
    t = np.asarray(tables, dtype=float).reshape(-1, 2, 2)
    a, b, c, d = t[:, 0, 0], t[:, 0, 1], t[:, 1, 0], t[:, 1, 1]
    n1, n2 = a + b, c + d
    m1, m2 = a + c, b + d
    n = n1 + n2
    both = (n1 > 0) & (n2 > 0)
    informative = both & (m1 > 0) & (m2 > 0)

    # risk difference over every stratum with both groups
    rd = rd_low = rd_high = None
    if both.any():
        w = n1[both] * n2[both] / n[both]
        w = w / w.sum()
        p1 = float(np.sum(w * a[both] / n1[both]))
        p2 = float(np.sum(w * c[both] / n2[both]))
        eff1 = 1 / float(np.sum(w * w / n1[both]))
        eff2 = 1 / float(np.sum(w * w / n2[both]))
        rd = p1 - p2
        rd_low, rd_high = _mover(p1, eff1, p2, eff2, z)

    k = int(informative.sum())
    if not k:
        return MantelHaenszel(
            0, None, None, None, None, None, int(both.sum()), rd, rd_low, rd_high,
            "no stratum has both groups and both outcomes",
        )  # fmt: skip
    a, b, c, d, n = (x[informative] for x in (a, b, c, d, n))
    n1, n2, m1, m2 = a + b, c + d, a + c, b + d

    r, s = a * d / n, b * c / n
    big_r, big_s = float(r.sum()), float(s.sum())
    odds = big_r / big_s if big_s > 0 else math.inf
    low = high = None
    if big_r > 0 and big_s > 0:
        p, q = (a + d) / n, (b + c) / n
        var = (
            np.sum(p * r) / (2 * big_r**2)
            + np.sum(p * s + q * r) / (2 * big_r * big_s)
            + np.sum(q * s) / (2 * big_s**2)
        )
        half = z * math.sqrt(var)
        low, high = math.exp(math.log(odds) - half), math.exp(math.log(odds) + half)

    deviation = float(np.sum(a - n1 * m1 / n))
    variance = float(np.sum(n1 * n2 * m1 * m2 / (n * n * (n - 1))))
    corrected = abs(deviation) - min(0.5, abs(deviation))
    statistic = corrected**2 / variance
    p_value = math.erfc(math.sqrt(statistic / 2))  # chi-square 1 df survival function
    return MantelHaenszel(
        k, _num(odds), low, high, statistic, p_value, int(both.sum()), rd, rd_low, rd_high
    )


# --- van Elteren ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VanElteren:
    """Stratified Wilcoxon rank-sum test of group a versus group b.

    ``statistic`` is the standard normal z (positive: values in a tend to be larger than in b
    of the same stratum), ``p_value`` two-sided; ``strata`` counts the strata with both groups
    and ``a_n``/``b_n`` the values in them. ``median_difference``: the median of a minus the
    median of b within each stratum, averaged with the test's weights ``m l / (n + 1)`` (units
    of the values).
    """

    strata: int
    a_n: int
    b_n: int
    statistic: float | None
    p_value: float | None
    median_difference: float | None
    reason: str | None = None


def sorted_codes(values) -> np.ndarray:
    """Codes 0..k-1 of ``values`` in sorted order of the distinct values, missing ones (None,
    NaN) last: pandas' sorted group numbering, in numpy (the report runs without pandas)."""
    v = np.asarray(values)
    if v.dtype != object:
        return np.unique(v, return_inverse=True)[1].reshape(-1)
    missing = np.equal(v, None) | (v != v)  # None, or NaN (the one value unequal to itself)
    codes = np.zeros(len(v), dtype=np.int64)
    distinct, codes[~missing] = np.unique(v[~missing], return_inverse=True)
    codes[missing] = len(distinct)
    return codes


def van_elteren(values: Sequence, in_a: Sequence, strata: Sequence) -> VanElteren:
    """Van Elteren's test (van Elteren 1960, Bull Inst Int Stat 37:351-361).

    In each stratum with both groups, the Wilcoxon rank sum ``W`` of group a (midranks for ties)
    is centred by ``m (n + 1) / 2`` and weighted by ``1 / (n + 1)``;
    ``z = sum((W - E W) / (n + 1)) / sqrt(sum(Var W / (n + 1)^2))`` with the tie-corrected
    ``Var W = m l / 12 * ((n + 1) - sum(t^3 - t) / (n (n - 1)))``. Two-sided normal p-value.
    Missing values drop; strata with one group only contribute nothing.
    """
    v = np.asarray(values, dtype=float)
    in_a = np.asarray(in_a, dtype=bool)
    codes = sorted_codes(strata)
    keep = ~np.isnan(v)
    v, in_a, codes = v[keep], in_a[keep], codes[keep]
    # one pass for every stratum (no loop): sort by stratum, then value
    order = np.lexsort((v, codes))
    v, in_a, codes = v[order], in_a[order], codes[order]
    k_all = int(codes.max()) + 1 if len(codes) else 0
    n = np.bincount(codes, minlength=k_all).astype(float)
    m = np.bincount(codes, weights=in_a, minlength=k_all)
    ell = n - m
    first = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(int)
    within = np.arange(len(v)) - first[codes]  # 0-based position inside the stratum
    new_tie = np.ones(len(v), dtype=bool)
    new_tie[1:] = (codes[1:] != codes[:-1]) | (v[1:] != v[:-1])
    tie_id = np.cumsum(new_tie) - 1
    tie_size = np.bincount(tie_id).astype(float)
    # a tie of t values from 0-based position f takes the midrank f + (t + 1) / 2
    midrank = within[new_tie][tie_id] + (tie_size[tie_id] + 1) / 2
    rank_sum = np.bincount(codes, weights=midrank * in_a, minlength=k_all)
    ties = np.bincount(codes[new_tie], weights=tie_size**3 - tie_size, minlength=k_all)
    both = (m > 0) & (ell > 0)
    k = int(both.sum())
    if not k:
        return VanElteren(0, 0, 0, None, None, None, "no stratum has both groups")
    n, m, ell, rank_sum, ties = n[both], m[both], ell[both], rank_sum[both], ties[both]
    centred = float(np.sum((rank_sum - m * (n + 1) / 2) / (n + 1)))
    variance = float(np.sum(m * ell / 12 * ((n + 1) - ties / (n * (n - 1))) / (n + 1) ** 2))
    # each group's median per stratum: its values are sorted inside the stratum already
    diffs = (
        _stratum_medians(v[in_a], codes[in_a], k_all)[both]
        - _stratum_medians(v[~in_a], codes[~in_a], k_all)[both]
    )
    shift = float(np.average(diffs, weights=m * ell / (n + 1)))
    a_n, b_n = int(m.sum()), int(ell.sum())
    if variance <= 0:
        # every value tied within every stratum: no evidence of a difference
        return VanElteren(k, a_n, b_n, 0.0, 1.0, shift)
    z = centred / math.sqrt(variance)
    return VanElteren(k, a_n, b_n, z, math.erfc(abs(z) / math.sqrt(2)), shift)  # two-sided


def _stratum_medians(v: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Median of ``v`` per stratum code 0..k-1 (NaN where empty); ``v`` sorted within codes."""
    size = np.bincount(codes, minlength=k)
    start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(int)
    out = np.full(k, np.nan)
    has = size > 0
    lo = start[has] + (size[has] - 1) // 2
    hi = start[has] + size[has] // 2
    out[has] = (v[lo] + v[hi]) / 2
    return out
