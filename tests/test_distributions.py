"""analytics.distributions against scipy (which it replaces on the report path) over grids with
ties, zeros, tiny and large samples, plus a few values worked out by hand."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import linalg, special
from scipy import stats as sps

from analytics import distributions as dist

RTOL = 1e-10


def _close(ours: float, theirs: float, rtol: float = RTOL) -> bool:
    if math.isnan(theirs):
        return math.isnan(ours)
    # below 1e-290 scipy's values underflow to 0 where ours still hold a few digits
    return ours == theirs or abs(ours - theirs) <= rtol * abs(theirs) + 1e-290


# --- normal ---------------------------------------------------------------------------------


@pytest.mark.parametrize("x", np.linspace(-30, 30, 241))
def test_normal_tails_match_scipy(x):
    assert _close(dist.norm_sf(x), float(sps.norm.sf(x)), 1e-12)
    assert _close(dist.norm_cdf(x), float(sps.norm.cdf(x)), 1e-12)


def test_normal_by_hand():
    assert dist.norm_sf(0) == 0.5
    # Phi(1.96) = 0.9750021048517795 (tables: 0.97500)
    assert dist.norm_cdf(1.96) == pytest.approx(0.9750021048517795, rel=1e-15)


@pytest.mark.parametrize("q", [1e-300, 1e-30, 1e-8, 0.001, 0.025, 0.2, 0.5, 0.8, 0.975, 1 - 1e-12])
def test_normal_quantile_matches_scipy(q):
    assert _close(dist.norm_ppf(q), float(sps.norm.ppf(q)), 1e-14)


def test_normal_quantile_ends():
    assert dist.norm_ppf(0) == -math.inf
    assert dist.norm_ppf(1) == math.inf
    assert math.isnan(dist.norm_ppf(1.5))
    assert dist.norm_ppf(0.975) == pytest.approx(1.959963984540054, rel=1e-15)


# --- incomplete beta, t, F ------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b", [(0.5, 0.5), (1, 1), (0.5, 3), (2, 5), (10, 0.5), (40, 60), (2500, 0.5), (3e4, 7e4)]
)
def test_incomplete_beta_matches_scipy_both_tails(a, b):
    for x in [1e-8, 1e-3, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 1 - 1e-9]:
        lower, upper = dist.betainc(a, b, x)
        ref_lower, ref_upper = special.betainc(a, b, x), special.betaincc(a, b, x)
        # each tail to 1e-10 of itself, or 1e-14 absolute where scipy's value is itself rounded
        assert abs(lower - ref_lower) <= max(RTOL * ref_lower, 1e-14), (x, lower, ref_lower)
        assert abs(upper - ref_upper) <= max(RTOL * ref_upper, 1e-14), (x, upper, ref_upper)


def test_incomplete_beta_by_hand():
    # I_x(1, 1) = x; I_x(2, 1) = x^2; I_x(1, 2) = 1 - (1 - x)^2
    assert dist.betainc(1, 1, 0.3)[0] == pytest.approx(0.3, rel=1e-14)
    assert dist.betainc(2, 1, 0.3)[0] == pytest.approx(0.09, rel=1e-14)
    assert dist.betainc(1, 2, 0.3)[1] == pytest.approx(0.49, rel=1e-14)
    assert dist.betainc(3, 4, 0.0) == (0.0, 1.0)
    assert dist.betainc(3, 4, 1.0) == (1.0, 0.0)


DFS = [1, 2, 3, 4.5, 7, 10, 28, 98, 500, 1e4, 1e5]
TS = [-1e3, -40, -10, -5, -3, -2, -1, -0.3, -1e-6, 0, 0.5, 2, 8, 35]


@pytest.mark.parametrize("df", DFS)
def test_student_t_matches_scipy(df):
    for t in TS:
        # relative to the smaller tail: where stdtr gives 1 - tiny, both are 1 in floating point
        assert _close(dist.t_cdf(t, df), float(special.stdtr(df, t))), (t, df)
        assert _close(dist.t_sf(t, df), float(sps.t.sf(t, df))), (t, df)


def test_t_quantile_matches_scipy():
    for q, df in ((0.975, 5), (0.975, 30), (0.025, 12), (0.5, 3)):
        assert dist.t_ppf(q, df) == pytest.approx(sps.t.ppf(q, df), abs=1e-9)


def test_student_t_by_hand():
    # one degree of freedom is Cauchy: P(T <= -1) = 1/2 - atan(1) / pi = 1/4
    assert dist.t_cdf(-1, 1) == pytest.approx(0.25, rel=1e-14)
    # two: P(T <= t) = 1/2 + t / (2 sqrt(2 + t^2)); t = -2 gives 1/2 - 1/sqrt(6)
    assert dist.t_cdf(-2, 2) == pytest.approx(0.5 - 1 / math.sqrt(6), rel=1e-14)
    assert dist.t_cdf(-math.inf, 5) == 0.0 and dist.t_sf(math.inf, 5) == 0.0


@pytest.mark.parametrize("dfn", [1, 2, 4, 7.5])
@pytest.mark.parametrize("dfd", [1, 3, 10, 37.3, 100, 1e4])
def test_f_matches_scipy(dfn, dfd):
    for f in [1e-5, 0.1, 0.5, 1, 2, 5, 20, 300, 1e5]:
        assert _close(dist.f_sf(f, dfn, dfd), float(sps.f.sf(f, dfn, dfd))), (f, dfn, dfd)


def test_f_by_hand_and_ends():
    # F(2, 2): P(F > f) = 1 / (1 + f)
    assert dist.f_sf(3.0, 2, 2) == pytest.approx(0.25, rel=1e-14)
    assert dist.f_sf(0.0, 4, 10) == 1.0
    assert dist.f_sf(math.inf, 4, 10) == 0.0


# --- Fisher's exact test --------------------------------------------------------------------


def _fisher_tables():
    rng = np.random.default_rng(7)
    small = [list(t) for t in itertools.product(range(4), repeat=4)]  # every table up to 3s
    random = [rng.integers(0, 40, size=4) * rng.integers(1, 6) for _ in range(300)]
    large = [
        [1000, 20000, 1300, 19000],
        [50000, 100000, 51000, 99000],
        [5, 99995, 20, 99980],
        [100, 200, 200, 100],  # symmetric: both tails equally likely
        [10, 10, 10, 10],
        [0, 50, 50, 0],
    ]
    return [np.reshape(t, (2, 2)) for t in small + random + large]


def test_fisher_exact_matches_scipy():
    for table in _fisher_tables():
        ours = dist.fisher_exact(table)
        ref = sps.fisher_exact(table)
        assert _close(ours.pvalue, float(ref.pvalue), 1e-9), table.tolist()
        assert _close(ours.statistic, float(ref.statistic), 1e-15), table.tolist()


def test_fisher_exact_by_hand():
    # [[3, 1], [1, 3]], margins 4/4/4/4: P(a) = C(4,a) C(4,4-a) / C(8,4) = 1, 16, 36, 16, 1 / 70;
    # as or less likely than a = 3: a = 0, 1, 3, 4 -> 34/70
    res = dist.fisher_exact([[3, 1], [1, 3]])
    assert res.pvalue == pytest.approx(34 / 70, rel=1e-12)
    assert res.statistic == 9.0
    assert dist.fisher_exact([[0, 0], [3, 4]]).pvalue == 1.0  # an empty row: nothing to test
    assert math.isnan(dist.fisher_exact([[0, 0], [3, 4]]).statistic)
    assert dist.fisher_exact([[2, 0], [1, 4]]).statistic == math.inf


# --- binomial test --------------------------------------------------------------------------


def test_binomtest_matches_scipy():
    rng = np.random.default_rng(11)
    cases = [(k, n, p) for n in (1, 2, 5, 13) for k in range(n + 1) for p in (0.5, 0.3, 0.9)]
    for _ in range(400):
        n = int(rng.integers(1, 300))
        cases.append((int(rng.integers(0, n + 1)), n, float(rng.uniform(0.01, 0.99))))
    cases += [(50000, 99000, 0.5), (12345, 30000, 0.4), (3, 100000, 1e-4), (0, 10, 0.3)]
    cases += [(10, 10, 0.3), (7, 20, 0.35), (0, 5, 0.0), (2, 5, 0.0), (5, 5, 1.0)]
    for k, n, p in cases:
        ours, ref = dist.binomtest_p(k, n, p), float(sps.binomtest(k, n, p).pvalue)
        assert _close(ours, ref, 1e-9), (k, n, p, ours, ref)


def test_binomtest_by_hand():
    # 0 of 3 at p = 1/2: P(0) = P(3) = 1/8, both tails -> 1/4
    assert dist.binomtest_p(0, 3, 0.5) == pytest.approx(0.25, rel=1e-14)
    assert dist.binomtest_p(2, 4, 0.5) == 1.0


# --- ranks ----------------------------------------------------------------------------------


def test_rankdata_matches_scipy_along_either_axis():
    rng = np.random.default_rng(3)
    for shape in [(1,), (7,), (5, 7), (3, 4, 6)]:
        for values in (rng.integers(0, 3, size=shape), rng.normal(size=shape)):
            a = values.astype(float)
            for axis in range(-1, a.ndim):
                np.testing.assert_array_equal(
                    dist.rankdata(a, axis=axis), sps.rankdata(a, axis=axis)
                )


def test_rankdata_by_hand_and_nan():
    np.testing.assert_array_equal(dist.rankdata([10, 20, 10, 30, 20]), [1.5, 3.5, 1.5, 5, 3.5])
    out = dist.rankdata([[1.0, np.nan, 2.0], [3.0, 1.0, 2.0]])
    assert np.isnan(out[0]).all()
    np.testing.assert_array_equal(out[1], [3, 1, 2])
    assert dist.rankdata([]).shape == (0,)


def _mwu_samples():
    rng = np.random.default_rng(5)
    samples = []
    for n1, n2 in [(1, 1), (1, 5), (3, 3), (8, 8), (8, 9), (9, 9), (2, 40), (5, 300), (30, 40)]:
        samples.append((rng.normal(size=n1), rng.normal(0.4, size=n2)))  # no ties: exact if small
        samples.append((rng.integers(0, 4, n1).astype(float), rng.integers(0, 5, n2) * 1.0))
        samples.append((np.arange(n1, dtype=float), np.arange(n2, dtype=float) + n1))  # extreme
    for _ in range(300):
        n1, n2 = int(rng.integers(1, 14)), int(rng.integers(1, 30))
        samples.append((rng.exponential(size=n1), rng.exponential(1.5, size=n2)))
        samples.append((rng.integers(0, 3, n1) * 1.0, rng.integers(0, 3, n2) * 1.0))
    samples.append((np.zeros(4), np.zeros(6)))  # all tied: NaN, as scipy
    samples.append((rng.normal(size=2000), rng.normal(0.05, size=3000)))
    return samples


def test_mannwhitneyu_matches_scipy():
    for x, y in _mwu_samples():
        ours = dist.mannwhitneyu(x, y)
        ref = sps.mannwhitneyu(x, y, alternative="two-sided")
        assert ours.statistic == float(ref.statistic)
        assert _close(ours.pvalue, float(ref.pvalue), 1e-12), (x, y)


def test_mannwhitneyu_exact_by_hand_and_large_exact_case():
    # x = [1, 2], y = [3, 4]: U_x = 0; of the C(4, 2) = 6 orderings one has U = 0 and one U = 4
    res = dist.mannwhitneyu([1.0, 2.0], [3.0, 4.0])
    assert res.statistic == 0.0 and res.pvalue == pytest.approx(2 / 6, rel=1e-15)
    # 8 values against 2,000 (no ties): the exact distribution, C(2008, 8) orderings, needs
    # integers beyond 64 bits; scipy agrees
    rng = np.random.default_rng(2)
    x, y = rng.normal(0.3, size=8), rng.normal(size=2000)
    ref = sps.mannwhitneyu(x, y, alternative="two-sided")
    assert _close(dist.mannwhitneyu(x, y).pvalue, float(ref.pvalue), 1e-9)


def test_mann_whitney_counts_by_enumeration():
    # every choice of the first sample's ranks among m + n, its U = rank sum - m (m + 1) / 2
    for m, n in [(0, 3), (1, 1), (2, 3), (3, 5), (5, 4), (4, 6)]:
        brute = np.zeros(m * n + 1, dtype=int)
        for ranks in itertools.combinations(range(1, m + n + 1), m):
            brute[sum(ranks) - m * (m + 1) // 2] += 1
        np.testing.assert_array_equal(dist.mann_whitney_counts(m, n), brute)
        np.testing.assert_array_equal(dist.mann_whitney_counts(n, m), brute)
    # beyond 64 bits the counts are Python integers, still exact
    big = dist.mann_whitney_counts(30, 40)
    assert int(big.sum()) == math.comb(70, 30) and big[0] == 1 and big[1] == 1


# --- Mann-Kendall S -------------------------------------------------------------------------


def _kendall_s(y) -> int:
    """S from scipy's tau-b (the time axis has no ties): tau_b sqrt(n0 (n0 - n2))."""
    n = len(y)
    _, ties = np.unique(y, return_counts=True)
    n0, n2 = n * (n - 1) / 2, float(np.sum(ties * (ties - 1))) / 2
    if n0 == n2:
        return 0
    return int(round(sps.kendalltau(np.arange(n), y).statistic * math.sqrt(n0 * (n0 - n2))))


def test_mann_kendall_s_matches_scipy_and_brute_force():
    rng = np.random.default_rng(9)
    for n in [0, 1, 2, 3, 4, 7, 16, 17, 100, 1000]:
        for y in (rng.integers(0, 5, n) * 1.0, rng.normal(size=n), np.zeros(n), np.arange(n)):
            brute = int(np.triu(np.sign(y[None, :] - y[:, None]), 1).sum())
            if n <= 100:
                assert dist.mann_kendall_s(y) == brute
            assert dist.mann_kendall_s(y) == _kendall_s(y), n


def test_mann_kendall_s_on_a_long_series():
    # 100,000 points with a trend and ties: O(n log n) and exact
    rng = np.random.default_rng(4)
    y = np.round(np.arange(100_000) / 5_000 + rng.normal(size=100_000), 1)
    assert dist.mann_kendall_s(y) == _kendall_s(y)
    assert dist.mann_kendall_s([3, 1, 2]) == -1  # (3,1) -1, (3,2) -1, (1,2) +1


# --- Toeplitz -------------------------------------------------------------------------------


def test_solve_toeplitz_matches_scipy():
    rng = np.random.default_rng(1)
    for p in range(1, 5):
        r = np.r_[1.0, rng.uniform(-0.6, 0.6, p)]
        np.testing.assert_allclose(
            dist.solve_toeplitz(r[:p], r[1 : p + 1]),
            linalg.solve_toeplitz(r[:p], r[1 : p + 1]),
            rtol=1e-10,
            atol=1e-13,
        )
    # AR(1): phi = r1
    assert dist.solve_toeplitz([1.0], [0.4]) == pytest.approx([0.4])


@pytest.mark.parametrize(
    "modules",
    [
        "analytics.distributions",
        # everything `report --format json` imports: scipy.stats alone took a second there (#11)
        "analytics.report, analytics.insights, analytics.improvements, analytics.deltas",
    ],
)
def test_the_report_path_does_not_import_scipy(modules):
    code = f"import sys, {modules}; print(sorted(m for m in sys.modules if m.startswith('scipy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
