"""The time-series corrections (analytics.timeseries) against scipy, hand arithmetic and small
simulations; and the weekly statistics built on them (analytics.stats) on null data."""

from __future__ import annotations

import datetime as dt
import math
import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analytics import narrative, stats
from analytics import timeseries as ts
from analytics.series import whole_weeks


def ar1(rng: np.random.Generator, n: int, phi: float, burn: int = 50) -> np.ndarray:
    """A Gaussian AR(1) series ``x_t = phi x_{t-1} + e_t`` after ``burn`` warm-up steps."""
    e = rng.normal(size=n + burn)
    x = np.zeros(n + burn)
    for t in range(1, n + burn):
        x[t] = phi * x[t - 1] + e[t]
    return x[burn:]


# --- building blocks ----------------------------------------------------------------------------


def test_bh_qvalues_match_scipy_and_skip_missing():
    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan, 0.5, 0.001])
    got = ts.bh_qvalues(p)
    ref = sps.false_discovery_control(p[~np.isnan(p)], method="bh")
    assert np.isnan(got[4])
    assert np.delete(got, 4) == pytest.approx(ref)
    # by hand: 6 p-values; 0.04 is 4th smallest -> 0.04 * 6/4 = 0.06, and 0.03 (3rd) -> 0.06
    assert got[1] == pytest.approx(0.06) and got[2] == pytest.approx(0.06)
    assert np.isnan(ts.bh_qvalues([np.nan])).all()


def test_acf_matches_the_direct_sum():
    x = np.array([3.0, 1, 4, 1, 5, 9, 2, 6])
    d = x - x.mean()
    direct = [np.sum(d[k:] * d[: len(d) - k]) / np.sum(d * d) for k in range(4)]
    assert ts.acf(x, 3) == pytest.approx(direct)
    assert ts.acf(np.ones(5), 2).tolist() == [1.0, 0.0, 0.0]


def test_ar_fit_recovers_phi_of_a_simulated_ar1():
    rng = np.random.default_rng(1)
    x = ar1(rng, 5000, 0.6)
    fit = ts.fit_ar(x, max_order=4)
    assert fit.order >= 1
    assert fit.phi[0] == pytest.approx(0.6, abs=0.04)
    assert sum(fit.phi[1:]) == pytest.approx(0.0, abs=0.06)
    assert fit.sigma2 == pytest.approx(1.0, rel=0.06)
    # white noise: AIC keeps order 0 (or a negligible coefficient)
    white = ts.fit_ar(rng.normal(size=2000), max_order=4)
    assert white.order == 0 or max(abs(v) for v in white.phi) < 0.08


def test_ar_filter_by_hand():
    # mean 2; d = -1, 0, 1, 0; e_t = d_t - 0.5 d_{t-1} for t = 1..3 -> 0.5, 1, -0.5
    assert ts.ar_filter([1.0, 2, 3, 2], (0.5,)).tolist() == pytest.approx([0.5, 1.0, -0.5])


def test_mann_kendall_s_and_variance_by_hand():
    # 1, 3, 2, 2, 5: pairs rising 7 (1<3, 1<2, 1<2, 1<5, 3<5, 2<5, 2<5), falling 2 (3>2, 3>2),
    # one tie (2, 2) -> S = 5; var = (5*4*15 - 2*1*9) / 18 = 282 / 18
    mk = ts.mann_kendall([1, 3, 2, 2, 5])
    assert (mk.n, mk.s) == (5, 5)
    assert mk.var_s == pytest.approx(282 / 18)
    assert ts.mann_kendall([4, 4, 4]).s == 0


def test_hamed_rao_variance_factor_by_hand():
    # n = 5, rho_1 = 0.5: 1 + 2/(5*4*3) * (4*3*2 * 0.5) = 1.4; with rho_2 = 0.25 add 3*2*1*0.25
    assert ts._variance_factor(5, np.array([0.5])) == pytest.approx(1.4)
    assert ts._variance_factor(5, np.array([0.5, 0.25])) == pytest.approx(1 + 2 / 60 * 13.5)


def test_rho_upper_by_hand():
    # r1 = 0.3 on 100 residuals after 2 parameters: bias (2 + 1.2) / 100 = 0.032, standard error
    # sqrt(0.91 / 100) = 0.0953939, times 1.645 = 0.1569230
    assert ts.rho_upper(0.3, 100) == pytest.approx(0.3 + 0.032 + 0.1569230, abs=1e-6)
    assert ts.rho_upper(0.0, 100, fitted=6) == pytest.approx(0.06 + 0.1645)
    assert ts.rho_upper(0.98, 10) == 0.99  # capped below 1


def test_hamed_rao_factor_grows_with_autocorrelation_and_never_shrinks():
    rng = np.random.default_rng(2)
    strong = ts.hamed_rao_factor(ar1(rng, 200, 0.8))
    weak = ts.hamed_rao_factor(ar1(rng, 200, 0.0))
    # AR(1) phi = 0.8: the variance of S is about (1 + phi) / (1 - phi) = 9 times the i.i.d. one
    assert 5 < strong < 15
    assert 1 <= weak < 2
    alternating = np.tile([1.0, -1.0], 50)  # negative autocorrelation: floored at 1
    assert ts.hamed_rao_factor(alternating) == 1.0


def test_seasonal_adjustment_removes_a_pure_sine():
    mondays = [dt.date(2023, 1, 2) + dt.timedelta(weeks=i) for i in range(156)]
    phase = np.array([(m.timetuple().tm_yday - 1) / 7 for m in mondays])
    season = 3 * np.sin(2 * np.pi * phase / ts.YEAR_WEEKS)
    adjusted = ts.seasonal_adjust(10 + season, mondays)
    assert adjusted == pytest.approx(np.full(156, 10.0), abs=1e-9)
    # a trend under the season survives: slope 0.05 per week is kept
    trend = 0.05 * np.arange(156)
    kept = ts.seasonal_adjust(10 + season + trend, mondays)
    assert np.polyfit(np.arange(156), kept, 1)[0] == pytest.approx(0.05, abs=1e-3)


def test_pairwise_slopes_are_capped_with_a_fixed_seed():
    y = np.arange(10.0) ** 2
    every, total = ts.pairwise_slopes(y)
    assert total == 45 and len(every) == 45
    # (y_j - y_i) / (j - i) = i + j for y = x^2
    assert sorted(every) == sorted(i + j for i in range(10) for j in range(i + 1, 10))
    some, total = ts.pairwise_slopes(y, max_pairs=20, seed=3)
    assert total == 45 and len(some) == 20
    assert some.tolist() == ts.pairwise_slopes(y, max_pairs=20, seed=3)[0].tolist()
    assert set(some.tolist()) <= set(every.tolist())


def test_block_length_follows_autocorrelation():
    rng = np.random.default_rng(4)
    assert ts.block_length(rng.normal(size=125)) in (5, 6)  # 125^(1/3) = 5
    assert ts.block_length(ar1(rng, 125, 0.8)) > 15
    assert ts.block_length(rng.normal(size=8)) == 2  # at most n / 4


# --- whole weeks --------------------------------------------------------------------------------


def test_whole_weeks_drop_weeks_cut_by_the_window_or_the_data():
    mondays = [dt.date(2026, 11, 2) + dt.timedelta(weeks=i) for i in range(5)]
    weekly = pd.DataFrame({"bucket": mondays, "bucket_days": [4, 7, 7, 7, 7], "value": range(5)})
    # data from Mon 2026-11-09 to Sat 2026-11-28: week 4 (Nov 30) is after it, week 3 (Nov 23)
    # ends on Sunday Nov 29, after the last day; week 0 is cut by the window
    got = whole_weeks(weekly, (dt.date(2026, 11, 9), dt.date(2026, 11, 28)))
    assert got["bucket"].tolist() == mondays[1:3]
    assert whole_weeks(weekly, None).empty


# --- the statistics on null data and on planted effects -----------------------------------------


def test_lag_zero_claims_on_independent_autocorrelated_series_stay_rare():
    # 200 pairs of independent AR(1) phi = 0.6 series of a year: raw Spearman claims lag 0 in
    # about 12 %; prewhitened with BH q-values it must stay near the 5 % level
    rng = np.random.default_rng(20261202)
    claims = raw = 0
    for _ in range(200):
        d, i = ar1(rng, 52, 0.6), ar1(rng, 52, 0.6)
        rows = stats.lagged_spearman(d, i)
        claims += rows[0]["q_value"] < 0.05
        raw += stats.spearman(d, i).p_value < 0.05
    assert claims / 200 <= 0.08
    assert raw > claims  # the uncorrected test is fooled more often


def test_a_real_lagged_link_is_still_found():
    rng = np.random.default_rng(7)
    d = ar1(rng, 104, 0.6)
    i = ar1(rng, 104, 0.6) + 0.8 * np.concatenate([[0, 0], d[:-2]])  # incidents 2 weeks later
    rows = stats.lagged_spearman(d, i)
    assert rows[0]["method"].startswith("prewhitened Spearman, deployments AR(")
    assert rows[2]["q_value"] < 0.05 and rows[2]["spearman_r"] > 0
    assert narrative.lagged_correlation_sentence(rows) == (
        "Weeks with more releases went with more incidents 2 weeks later."
    )


def test_trend_claims_on_autocorrelated_noise_stay_rare_and_real_trends_are_found():
    rng = np.random.default_rng(11)
    false = found = 0
    for _ in range(60):
        noise = ar1(rng, 52, 0.5)
        false += stats.theil_sen(noise).p_value < 0.05
        found += stats.theil_sen(noise + np.linspace(0, 6, 52)).p_value < 0.05
    assert false / 60 <= 0.1
    assert found / 60 >= 0.8


def test_a_season_alone_is_not_a_trend():
    mondays = [dt.date(2024, 1, 1) + dt.timedelta(weeks=i) for i in range(130)]
    phase = np.array([(m.timetuple().tm_yday - 1) / 7 for m in mondays])
    rng = np.random.default_rng(5)
    y = 20 + 6 * np.cos(2 * np.pi * phase / ts.YEAR_WEEKS) + rng.normal(size=130)
    got = stats.theil_sen(y, mondays)
    assert "season" in got.method
    assert got.p_value >= 0.05
    assert narrative.trend_sentence(got) == "No clear trend in weekly incidents."


def test_change_point_claims_on_autocorrelated_noise_stay_rare():
    rng = np.random.default_rng(13)
    claims = sum(
        stats.change_point(ar1(rng, 52, 0.7), permutations=199).p_value < 0.05 for _ in range(60)
    )
    assert claims / 60 <= 0.12  # an i.i.d. permutation test claims about a third here
    step = np.r_[np.zeros(30), np.full(22, 4.0)] + rng.normal(size=52)
    found = stats.change_point(step)
    assert found.index == 30 and found.p_value < 0.05
    assert found.method.startswith("block permutation")


def test_trend_turn_names_a_recent_rise_against_a_falling_window():
    weeks = [dt.date(2026, 1, 5) + dt.timedelta(weeks=i) for i in range(45)]
    y = np.r_[np.linspace(40, 10, 30), np.linspace(10, 22, 15)]
    turn = stats.trend_turn(y, weeks)
    assert turn.whole.slope < 0 and turn.since == 30 and turn.since_week == weeks[30]
    assert turn.recent.slope == pytest.approx(12 / 14) and turn.turned
    assert narrative.trend_turn_sentence(turn) == (
        "Weekly incidents have been rising since the week of 2026-08-03 although they fell "
        "over the window as a whole."
    )
    flat = stats.trend_turn(np.linspace(40, 10, 45), weeks)
    assert not flat.turned and narrative.trend_turn_sentence(flat) == ""


def test_a_100000_week_series_runs_in_bounded_memory_and_time():
    y = np.random.default_rng(0).poisson(5, 100_000).astype(float)
    tracemalloc.start()
    start = time.perf_counter()
    trend = stats.theil_sen(y)
    cp = stats.change_point(y)
    rows = stats.lagged_spearman(y[::-1], y)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 300e6  # all pairs would be 5e9 slopes (40 GB)
    assert elapsed < 30  # about 3 s on an idle core
    assert "2,000,000 random pairs of 4,999,950,000" in trend.method
    assert cp.permutations == stats.MIN_PERMUTATIONS
    assert len(rows) == 9
    assert math.isfinite(trend.slope)


def test_weekly_change_point_does_not_take_the_high_half_of_a_season_for_a_shift():
    mondays = [dt.date(2024, 1, 1) + dt.timedelta(weeks=i) for i in range(130)]
    phase = np.array([(m.timetuple().tm_yday - 1) / 7 for m in mondays])
    rng = np.random.default_rng(0)
    # +-15 % yearly swing of 50 incidents a week, as the demo's default season
    y = rng.poisson(50 * (1 + 0.15 * np.sin(2 * np.pi * phase / ts.YEAR_WEEKS))).astype(float)
    got = stats.weekly_change_point(mondays, y, permutations=199)
    assert "yearly waves removed first" in got.change_point.method
    assert got.change_point.p_value >= 0.05
    # the means shown are those of the recorded weeks on each side of the candidate
    i = got.change_point.index
    assert got.change_point.mean_before == pytest.approx(y[:i].mean())
    assert got.change_point.mean_after == pytest.approx(y[i:].mean())


def test_weekly_change_point_blocks_as_long_as_the_recorded_weeks_ask():
    # AR(1) wander plus a season: the harmonic waves soak up some wander, the blocks must not
    mondays = [dt.date(2024, 1, 1) + dt.timedelta(weeks=i) for i in range(104)]
    rng = np.random.default_rng(3)
    phase = np.arange(104) / ts.YEAR_WEEKS
    y = 50 + 10 * ar1(rng, 104, 0.8) + 5 * np.sin(2 * np.pi * phase)
    got = stats.weekly_change_point(mondays, y, permutations=199).change_point
    i = got.index
    raw = ts.block_length(np.concatenate([y[:i] - y[:i].mean(), y[i:] - y[i:].mean()]))
    adjusted = ts.seasonal_adjust(y, mondays)
    assert got.block_length == max(raw, stats.change_point(adjusted, permutations=199).block_length)
    assert got.mean_before == pytest.approx(y[:i].mean())


# --- long-run variance bounds and AR(1) paths (#11: AR(1) weekly noise) ------------------------


def test_chi2_quantile_is_close_to_scipy():
    for dof in (10, 26, 62, 300):
        for q in (0.05, 0.5, 0.95):
            assert ts.chi2_quantile(q, dof) == pytest.approx(sps.chi2.ppf(q, dof), rel=0.01)


def test_bartlett_factor_upper_by_hand():
    x = np.array([3.0, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4])
    n, lags = 20, ts.schwert_bandwidth(20)
    assert lags == int(12 * 0.2**0.25) == 8
    r = ts.acf(sps.rankdata(x), lags)[1:]
    ratio = 1 + 2 * sum((1 - j / (lags + 1)) * r[j - 1] for j in range(1, lags + 1))
    dof = 3 * n / lags
    expected = max(ratio * dof / ts.chi2_quantile(0.05, dof), 1.0)
    assert ts.bartlett_factor_upper(x) == pytest.approx(expected)
    # persistent noise needs a larger bound than white noise of the same length
    rng = np.random.default_rng(3)
    white, slow = rng.normal(size=104), ar1(rng, 104, 0.8)
    assert ts.bartlett_factor_upper(slow) > ts.bartlett_factor_upper(white) >= 1.0


def test_ar1_paths_are_stationary_with_the_asked_persistence():
    paths = ts.ar1_paths(0.7, 50_000, 2, np.random.default_rng(1))
    assert paths.shape == (2, 50_000)
    for path in paths:
        assert ts.acf(path, 1)[1] == pytest.approx(0.7, abs=0.02)
        assert path.var() == pytest.approx(1 / (1 - 0.49), rel=0.05)  # stationary from the start
    assert ts.ar1_paths(0.0, 5, 3, np.random.default_rng(1)).shape == (3, 5)


def test_lag_p_value_allows_for_residual_autocorrelation():
    # both series share slow wander after a too-short fit: the Bartlett factor widens the test
    rng = np.random.default_rng(8)
    a, b = ar1(rng, 104, 0.8), ar1(rng, 104, 0.8)
    r = stats.spearman(a, b).spearman_r
    lags = math.ceil(10 * math.log10(104))
    ra, rb = ts.acf(sps.rankdata(a), lags)[1:], ts.acf(sps.rankdata(b), lags)[1:]
    factor = 1 + 2 * sum((1 - j / 104) * ra[j - 1] * rb[j - 1] for j in range(1, lags + 1))
    assert factor > 1
    t = r * math.sqrt((104 - 2) / factor / (1 - r * r))
    expected = 2 * sps.t.cdf(-abs(t), 104 / factor - 2)
    assert stats._bartlett_p(a, b, r) == pytest.approx(expected)
    assert stats._bartlett_p(a, b, r) > stats.spearman(a, b).p_value


def test_independent_strongly_autocorrelated_pairs_rarely_claim_a_lag():
    # two years of weeks, each series AR(1) phi = 0.8 plus white noise (counts-like): each
    # series is prewhitened with its own model (Haugh 1976)
    rng = np.random.default_rng(20261203)
    claims = 0
    for _ in range(150):
        d = ar1(rng, 104, 0.8) + rng.normal(size=104)
        i = ar1(rng, 104, 0.8) + rng.normal(size=104)
        rows = stats.lagged_spearman(d, i)
        claims += any(r["q_value"] is not None and r["q_value"] < 0.05 for r in rows)
    assert claims / 150 <= 0.07


def test_change_point_on_persistent_noise_needs_both_tests(monkeypatch):
    rng = np.random.default_rng(21)
    series = [ar1(rng, 104, 0.9) + rng.normal(size=104) for _ in range(100)]

    def claims() -> int:
        return sum(stats.change_point(y, permutations=199).p_value < 0.05 for y in series)

    assert claims() / 100 <= 0.07
    with monkeypatch.context() as m:  # the block permutation alone is fooled by the slow wander
        m.setattr(stats, "_ar1_bootstrap_p", lambda *args: (0.0, 0.0))
        assert claims() / 100 > 0.1
    step = np.r_[np.zeros(60), np.full(44, 3.0)] + rng.normal(size=104)
    found = stats.change_point(step)
    assert found.index == 60 and found.p_value < 0.05
    assert "AR(1) parametric bootstrap" in found.method
