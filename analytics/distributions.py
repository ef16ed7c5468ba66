"""The few distribution functions and tests the report path needs, without importing scipy.

``import scipy.stats`` costs a second or more at start-up (it builds its distributions' docs at
import), which is most of what ``python -m analytics report`` spent before computing anything.
Every function here reproduces the scipy 1.17 function it replaces, to about 1e-10 relative or
better (``tests/test_distributions.py`` compares them over grids with ties, zeros, tiny and large
samples); where a definition differs it says so. scipy stays a dependency for the pages.

* normal: :func:`norm_cdf`, :func:`norm_sf`, :func:`norm_ppf`;
* Student t and F: :func:`t_cdf`, :func:`t_sf`, :func:`f_sf` via the regularized incomplete
  beta function :func:`betainc` (continued fraction, Numerical Recipes §6.4), and the t
  quantile :func:`t_ppf` by bisection on :func:`t_cdf`;
* exact tests: :func:`fisher_exact` (2x2), :func:`binomtest_p` (two-sided);
* ranks: :func:`rankdata` (average ranks along an axis), :func:`mannwhitneyu` (two-sided,
  scipy's ``method="auto"``), :func:`mann_kendall_s` in O(n log n);
* :func:`solve_toeplitz` for the small Yule–Walker systems.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

_SQRT2 = math.sqrt(2.0)
_STANDARD_NORMAL = NormalDist()

# --- normal ---------------------------------------------------------------------------------


def norm_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z: ``erfc(-x / sqrt 2) / 2``, accurate in both tails."""
    return 0.5 * math.erfc(-float(x) / _SQRT2)


def norm_sf(x: float) -> float:
    """P(Z > x) for a standard normal Z (the upper tail, accurate for large x)."""
    return 0.5 * math.erfc(float(x) / _SQRT2)


def norm_ppf(q: float) -> float:
    """The standard normal quantile of probability ``q``: -inf at 0, inf at 1, NaN outside.

    Wichura's AS241 (1988) via :meth:`statistics.NormalDist.inv_cdf`, about 1e-16 relative.
    """
    q = float(q)
    if q == 0.0:
        return -math.inf
    if q == 1.0:
        return math.inf
    if not 0.0 < q < 1.0:
        return math.nan
    return _STANDARD_NORMAL.inv_cdf(q)


# --- incomplete beta, Student t, F ----------------------------------------------------------

_LN_SQRT_2PI = 0.5 * math.log(2 * math.pi)
# Stirling series of log Gamma (Abramowitz & Stegun 6.1.40): B_2k / (2k (2k - 1)) for k = 1..7
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)


def _lgamma_correction(x: float) -> float:
    """``lgamma(x) - ((x - 1/2) log x - x + log sqrt(2 pi))`` for x >= 10, to about 1e-16."""
    inv2 = 1.0 / (x * x)
    total, power = 0.0, 1.0 / x
    for coef in _STIRLING:
        total += coef * power
        power *= inv2
    return total


def _lbeta(a: float, b: float) -> float:
    """``log B(a, b)`` for a, b > 0. With a large argument the three log Gammas would cancel
    (a relative error of 1e-16 * a log a); the Stirling form below keeps the difference exact
    to about 1e-15, as R's ``lbeta`` does (R Core, nmath/lbeta.c)."""
    p, q = min(a, b), max(a, b)
    if q < 10:
        return math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)
    corr = _lgamma_correction(q) - _lgamma_correction(p + q)
    if p < 10:
        # lgamma(q) - lgamma(p + q) by Stirling, lgamma(p) directly
        return (
            math.lgamma(p) + corr + p - p * math.log(p + q) + (q - 0.5) * math.log1p(-p / (p + q))
        )
    corr += _lgamma_correction(p)
    return (
        -0.5 * math.log(q)
        + _LN_SQRT_2PI
        + corr
        + (p - 0.5) * math.log(p / (p + q))
        + q * math.log1p(-p / (p + q))
    )


_BETACF_MAX_ITER = 100_000  # the fraction needs O(sqrt(max(a, b))) terms
_BETACF_EPS = 1e-16
_FPMIN = 1e-300


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function by the modified Lentz method
    (Numerical Recipes, 3rd ed., §6.4, ``betacf``; Press et al. 2007)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _FPMIN else _FPMIN)
    h = d
    for m in range(1, _BETACF_MAX_ITER + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))  # even step
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _FPMIN else _FPMIN)
        c = 1.0 + aa / c
        c = c if abs(c) > _FPMIN else _FPMIN
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))  # odd step
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _FPMIN else _FPMIN)
        c = 1.0 + aa / c
        c = c if abs(c) > _FPMIN else _FPMIN
        step = d * c
        h *= step
        if abs(step - 1.0) < _BETACF_EPS:
            break
    return h


def betainc(a: float, b: float, x: float, y: float | None = None) -> tuple[float, float]:
    """The regularized incomplete beta function ``I_x(a, b)`` and its complement ``1 - I_x``.

    Returns ``(lower, upper)``, each accurate on its own (the smaller one is computed directly,
    not as 1 minus the other). ``y`` is ``1 - x`` when the caller knows it more precisely than
    the subtraction would give it (e.g. ``t^2 / (df + t^2)``). Numerical Recipes §6.4 (``betai``):
    the continued fraction for ``I_x(a, b)`` converges fast for ``x < (a + 1) / (a + b + 2)``,
    else that of ``I_y(b, a)`` is used.
    """
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0, 1.0
    if y <= 0.0:
        return 1.0, 0.0
    # front factor x^a y^b / B(a, b), in logs: it under- or overflows long before the result
    front = math.exp(a * math.log(x) + b * math.log(y) - _lbeta(a, b))
    if x < (a + 1.0) / (a + b + 2.0):
        lower = front * _betacf(a, b, x) / a
        return lower, 1.0 - lower
    upper = front * _betacf(b, a, y) / b
    return 1.0 - upper, upper


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom (as ``scipy.special.stdtr``):
    ``I_{df / (df + t^2)}(df / 2, 1 / 2) / 2`` below 0, its mirror above."""
    t = float(t)
    if math.isnan(t) or df <= 0:
        return math.nan
    if math.isinf(t):
        return 0.0 if t < 0 else 1.0
    if t == 0.0:
        return 0.5
    t2 = t * t
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))[0]
    return tail if t < 0 else 1.0 - tail


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (``scipy.stats.t.sf``)."""
    return t_cdf(-float(t), df)


def t_ppf(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (bisection on
    :func:`t_cdf` to 1e-12 over -1000..1000; ``scipy.stats.t.ppf``)."""
    lo, hi = -1e3, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2


def f_sf(f: float, dfn: float, dfd: float) -> float:
    """P(F > f) for Snedecor's F with ``dfn`` and ``dfd`` degrees of freedom (``scipy.stats.f.sf``;
    non-integer degrees of freedom allowed): ``I_{dfd / (dfd + dfn f)}(dfd / 2, dfn / 2)``."""
    f = float(f)
    if math.isnan(f) or dfn <= 0 or dfd <= 0:
        return math.nan
    if f <= 0:
        return 1.0
    if math.isinf(f):
        return 0.0
    scale = dfd + dfn * f
    return betainc(dfd / 2.0, dfn / 2.0, dfd / scale, dfn * f / scale)[0]


# --- exact tests on counts ------------------------------------------------------------------

# a support point as likely as the observed one within this relative tolerance counts as "as
# extreme": the same 1 + 1e-7 as scipy.stats.binomtest and R's fisher.test (scipy's fisher_exact
# uses 1 + 1e-14, finer than the 1e-12 to which the probabilities below are computed, so exactly
# symmetric tables could lose their mirror image; differences between the two need a second
# table within 1e-7 of the observed one's probability without being equal, which is rare)
_RELATIVE_TIE = 1 + 1e-7


def _two_sided_from_logs(logw: np.ndarray, observed: int) -> float:
    """Two-sided exact p-value of a unimodal discrete distribution given unnormalized log
    probabilities ``logw`` over its support: the total probability of the points no more likely
    than ``observed`` (an index into ``logw``), at most 1."""
    w = np.exp(logw - logw.max())  # the mode's weight is 1: no overflow, the sum is >= 1
    p = float(w[w <= w[observed] * _RELATIVE_TIE].sum() / w.sum())
    return min(p, 1.0)


class FisherResult(NamedTuple):
    """``statistic``: the sample odds ratio ``a d / (b c)`` (inf when ``b c`` is 0, NaN when a
    row or column is empty); ``pvalue``: two-sided."""

    statistic: float
    pvalue: float


def fisher_exact(table) -> FisherResult:
    """Fisher's exact test on a 2x2 table ``[[a, b], [c, d]]`` of counts, two-sided
    (Fisher 1935): the hypergeometric probability, given the margins, of every table no more
    likely than the observed one (as ``scipy.stats.fisher_exact``, up to the tolerance above).

    The probabilities come from the ratio of neighbouring hypergeometric terms,
    ``P(x + 1) / P(x) = (r1 - x)(c1 - x) / ((x + 1)(r2 - c1 + x + 1))``, summed in logs and
    normalized over the support: about 1e-12 relative for supports up to 10^5 values.
    """
    (a, b), (c, d) = ((int(v) for v in row) for row in table)
    if min(a, b, c, d) < 0:
        raise ValueError("All values in `table` must be nonnegative.")
    if 0 in (a + b, c + d, a + c, b + d):
        return FisherResult(math.nan, 1.0)  # an empty row or column: nothing to test
    odds = a * d / (c * b) if c > 0 and b > 0 else math.inf
    r1, r2, c1 = a + b, c + d, a + c
    lo, hi = max(0, c1 - r2), min(c1, r1)
    x = np.arange(lo, hi, dtype=float)
    ratios = np.log((r1 - x) * (c1 - x)) - np.log((x + 1) * (r2 - c1 + x + 1))
    logw = np.concatenate([[0.0], np.cumsum(ratios)])
    return FisherResult(float(odds), _two_sided_from_logs(logw, a - lo))


def binomtest_p(k: int, n: int, p: float = 0.5) -> float:
    """Two-sided p-value of the exact binomial test of ``k`` successes in ``n`` trials against
    success probability ``p``, as ``scipy.stats.binomtest(k, n, p).pvalue``: the probability of
    every count no more likely than ``k`` (within the relative ``1e-7`` that scipy allows).

    The probabilities come from ``P(i + 1) / P(i) = (n - i) / (i + 1) * p / (1 - p)``, summed in
    logs and normalized over ``0..n`` (about 1e-12 relative).
    """
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, not k={k}, n={n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p ({p}) must be in range [0,1]")
    if k == p * n:
        return 1.0
    if p in (0.0, 1.0):
        return 0.0  # the only possible count is 0 (or n), and k is another
    i = np.arange(n, dtype=float)
    ratios = np.log((n - i) / (i + 1)) + (math.log(p) - math.log1p(-p))
    logw = np.concatenate([[0.0], np.cumsum(ratios)])
    return _two_sided_from_logs(logw, k)


# --- ranks ----------------------------------------------------------------------------------


def rankdata(a, axis: int = -1) -> np.ndarray:
    """Ranks 1..n along ``axis`` with ties sharing their average rank, as float (as
    ``scipy.stats.rankdata(a, axis=axis)``; a line holding a NaN is all NaN, as scipy's default
    ``nan_policy="propagate"``). A 0-d input is ranked as one value."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return np.ones(()) if not np.isnan(a) else np.full((), np.nan)
    a = np.moveaxis(a, axis, -1)
    n = a.shape[-1]
    if n == 0:
        return np.moveaxis(np.empty(a.shape), -1, axis)
    order = np.argsort(a, axis=-1, kind="stable")
    s = np.take_along_axis(a, order, axis=-1)
    first = np.ones(s.shape, dtype=bool)  # a value unlike the one before it starts a tie group
    first[..., 1:] = s[..., 1:] != s[..., :-1]
    last = np.ones(s.shape, dtype=bool)
    last[..., :-1] = first[..., 1:]
    pos = np.broadcast_to(np.arange(n), s.shape)
    start = np.maximum.accumulate(np.where(first, pos, 0), axis=-1)
    end = np.minimum.accumulate(np.where(last, pos, n - 1)[..., ::-1], axis=-1)[..., ::-1]
    ranks = np.empty(s.shape)
    np.put_along_axis(ranks, order, (start + end) / 2 + 1, axis=-1)
    nan_lines = np.isnan(s[..., -1:])  # NaN sorts last
    ranks = np.where(nan_lines, np.nan, ranks)
    return np.moveaxis(ranks, -1, axis)


class MannWhitneyResult(NamedTuple):
    """``statistic``: U of the first sample (pairs where it is larger, ties counting one half);
    ``pvalue``: two-sided."""

    statistic: float
    pvalue: float


def mann_whitney_counts(m: int, n: int, kmax: int | None = None) -> np.ndarray:
    """How many of the ``C(m + n, m)`` orderings of two samples without ties give U = 0..kmax:
    the coefficients of the Gaussian binomial ``prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i)``
    (Mann & Whitney 1947; Andrews 1976, The Theory of Partitions, Thm 3.1), truncated at
    ``q^kmax`` (default ``m n``, the whole distribution; symmetric in m and n). Exact integers:
    int64 while ``C(m + n, m)`` fits, Python integers (an object array) beyond. O(m * kmax)."""
    kmax = m * n if kmax is None else kmax
    dtype = np.int64 if math.comb(m + n, m) < 2**62 else object
    c = np.zeros(kmax + 1, dtype=dtype)
    c[0] = 1
    for i in range(1, m + 1):
        d = n + i
        if d <= kmax:
            c[d:] = c[d:] - c[:-d]  # times (1 - q^d): the right side is read before the write
        # divided by (1 - q^i): a running sum within each residue class modulo i
        pad = -len(c) % i
        grid = np.concatenate([c, np.zeros(pad, dtype=dtype)]).reshape(-1, i)
        c = np.add.accumulate(grid, axis=0, dtype=dtype).ravel()[: kmax + 1]
    return c


def mannwhitneyu(x, y) -> MannWhitneyResult:
    """Two-sided Mann–Whitney U test of ``x`` against ``y`` (Mann & Whitney 1947) as
    ``scipy.stats.mannwhitneyu(x, y, alternative="two-sided")`` with its defaults: exact null
    distribution when a sample has at most 8 values and there are no ties, else the normal
    approximation with the tie-corrected variance and the continuity correction.

    Values must not be NaN. The p-value is at most 1; NaN when every value is tied (the
    variance is 0), as scipy's.
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    n1, n2 = len(x), len(y)
    if not n1 or not n2:
        return MannWhitneyResult(math.nan, math.nan)
    both = np.concatenate([x, y])
    ranks = rankdata(both)
    _, ties = np.unique(both, return_counts=True)
    u1 = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)  # the larger U: its upper tail, doubled
    if (n1 > 8 and n2 > 8) or np.any(ties > 1):
        n = n1 + n2
        tie_term = float(np.sum(ties.astype(float) ** 3 - ties))
        s = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
        numerator = u - n1 * n2 / 2 - 0.5  # continuity: the mass at U itself counts as extreme
        if s > 0:
            p = 2 * norm_cdf(-numerator / s)
        else:
            p = math.nan if numerator == 0 else 2 * norm_cdf(-math.copysign(math.inf, numerator))
    else:
        small, large = min(n1, n2), max(n1, n2)
        k = n1 * n2 - int(round(u))  # P(U >= u) = P(U <= mn - u) by symmetry
        counts = mann_whitney_counts(small, large, k)
        p = 2 * (int(counts.sum()) / math.comb(n1 + n2, small))
    return MannWhitneyResult(u1, min(p, 1.0) if not math.isnan(p) else p)


def mann_kendall_s(y) -> int:
    """Mann–Kendall S of ``y`` against its order: pairs ``i < j`` with ``y_j > y_i`` minus those
    with ``y_j < y_i`` (ties count 0), i.e. ``n(n-1)/2 - tied pairs - 2 inversions``.

    The inversions are counted bit by bit of the values' ranks, most significant first (a
    wavelet-tree count): among values that share the higher bits, every earlier value with the
    current bit 1 is greater than a later one with bit 0. Keeping the values ordered by their
    shared bits and then by time (a stable partition per level, in cumulative sums) makes each
    of the log2(n) levels a few O(n) array passes: 100,000 points take some tens of milliseconds
    (a sort-and-search merge count took 0.35 s).
    """
    y = np.asarray(y, dtype=float).ravel()
    n = len(y)
    if n < 2:
        return 0
    _, dense, ties = np.unique(y, return_inverse=True, return_counts=True)
    cur = dense.astype(np.int64).ravel()  # value ranks 0..K-1, in the current arrangement
    pos = np.arange(n)
    start = np.zeros(n, dtype=np.int64)  # where each position's group of shared bits begins
    end = np.full(n, n, dtype=np.int64)  # and where it ends (exclusive)
    inversions = 0
    for b in reversed(range(max(int(cur.max()).bit_length(), 1))):
        bit = (cur >> b) & 1
        ones = np.concatenate([[0], np.cumsum(bit)])  # ones[i]: bit-1 values before position i
        ones_before = ones[pos] - ones[start]  # within the group, before this position
        inversions += int(ones_before[bit == 0].sum())
        zeros_in_group = (end - start) - (ones[end] - ones[start])
        zero = bit == 0
        new_pos = np.where(zero, pos - ones_before, start + zeros_in_group + ones_before)
        new_start = np.where(zero, start, start + zeros_in_group)
        new_end = np.where(zero, start + zeros_in_group, end)
        cur[new_pos], start[new_pos], end[new_pos] = cur.copy(), new_start, new_end
    pairs = n * (n - 1) // 2
    tied = int(np.sum(ties * (ties - 1))) // 2
    return pairs - tied - 2 * inversions


# --- linear algebra -------------------------------------------------------------------------


def solve_toeplitz(c, b) -> np.ndarray:
    """Solution of ``T x = b`` for the symmetric Toeplitz matrix ``T[i, j] = c[|i - j|]`` (as
    ``scipy.linalg.solve_toeplitz(c, b)``). The Yule–Walker systems here are at most 4 x 4, so
    the matrix is built and solved directly (LU) rather than by Levinson's recursion."""
    c = np.asarray(c, dtype=float)
    p = len(c)
    i = np.arange(p)
    return np.linalg.solve(c[np.abs(i[:, None] - i[None, :])], np.asarray(b, dtype=float))
