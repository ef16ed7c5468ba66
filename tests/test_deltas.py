"""Overview deltas: a change against the previous period is an improvement or a deterioration
only when its test is significant; the tests against scipy and hand computation, their error
rate on data with no change, and the Overview's grey "within noise" cards."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest
from builders import change, incident
from scipy import stats as sps
from streamlit.testing.v1 import AppTest

from analytics import deltas
from analytics.filters import Filter

# --- the tests ------------------------------------------------------------------------------------


def test_proportion_delta_is_fisher():
    # 30 % vs 15 % failed of 100 each: a deterioration for a failure rate
    got = deltas.proportion_delta(30, 100, 15, 100)
    assert got.p_value == pytest.approx(sps.fisher_exact([[30, 70], [15, 85]]).pvalue)
    assert got.p_value < 0.05 and got.verdict == "deterioration"
    assert deltas.proportion_delta(15, 100, 30, 100).verdict == "improvement"
    # 12 % vs 11 %: within noise
    assert deltas.proportion_delta(12, 100, 11, 100).verdict == "within noise"
    assert deltas.proportion_delta(1, 5, 0, 0).verdict is None


def test_rate_delta_is_the_conditional_binomial_test():
    # 30 deployments in 28 days vs 15 in 28 days: binomial 30 of 45 at p = 1/2
    got = deltas.rate_delta(30, 28, 15, 28)
    assert got.p_value == pytest.approx(sps.binomtest(30, 45, 0.5).pvalue)  # 0.036
    assert got.verdict == "improvement"  # more deployments per week is better
    # 20 in 14 days vs 10 in 7 days: the same rate, p = share of exposure 2/3
    same = deltas.rate_delta(20, 14, 10, 7)
    assert same.p_value == pytest.approx(sps.binomtest(20, 30, 2 / 3).pvalue)
    assert same.verdict == "within noise"
    # 11 vs 8: a 38 % rise, but binomial 11 of 19 at 1/2 gives p = 0.65
    assert deltas.rate_delta(11, 28, 8, 28).verdict == "within noise"
    assert deltas.rate_delta(0, 28, 0, 28).verdict == "within noise"


def test_median_delta_is_mann_whitney():
    now = [30.0, 42.0, 55.0, 61.0, 70.0, 88.0]
    before = [10.0, 12.0, 15.0, 20.0, 22.0, 31.0]
    got = deltas.median_delta(now, before)
    ref = sps.mannwhitneyu(now, before, alternative="two-sided")
    assert got.p_value == pytest.approx(ref.pvalue)  # 1 of 36 pairs below: p = 0.0087
    assert got.verdict == "deterioration"  # longer lead times
    assert deltas.median_delta(before, now).verdict == "improvement"
    assert deltas.median_delta([5.0, 9.0], [6.0, 8.0]).verdict == "within noise"
    assert deltas.median_delta([], [1.0]).verdict is None


def test_total_delta_small_case_by_hand():
    # pooled costs 1 and 2, equal periods: T* is 0, 1, 2 or 3 with probability 1/4 each; the
    # observed T = 3 (both now): P(T* >= 3) = 1/4, so two-sided p = 1/2
    got = deltas.total_delta([1.0, 2.0], 7, [], 7)
    assert got.p_value == pytest.approx(0.5, abs=0.05)
    assert got.verdict == "within noise"


def test_total_delta_normal_branch_matches_the_rate_test_for_unit_costs():
    # 1,100 unit-cost tickets now, 1,000 before: the total is the count, so the normal
    # approximation of the binomial test: z = (1100 - 1050) / sqrt(2100 / 4)
    got = deltas.total_delta(np.ones(1100), 28, np.ones(1000), 28)
    assert got.p_value == pytest.approx(2 * sps.norm.sf(50 / np.sqrt(525)))
    assert got.p_value == pytest.approx(sps.binomtest(1100, 2100).pvalue, abs=0.01)


def test_false_labels_on_data_with_no_change():
    # 400 pairs of periods drawn from the same process: each test labels about 5 % or fewer
    rng = np.random.default_rng(7)
    labelled = {"rate": 0, "proportion": 0, "median": 0, "total": 0}
    runs = 400
    for _ in range(runs):
        k1, k2 = rng.poisson(40, 2)
        labelled["rate"] += deltas.rate_delta(k1, 91, k2, 91).verdict != "within noise"
        f1, f2 = rng.binomial(k1, 0.15), rng.binomial(k2, 0.15)
        labelled["proportion"] += deltas.proportion_delta(f1, k1, f2, k2).verdict != (
            "within noise"
        )
        a, b = rng.lognormal(3, 1, k1), rng.lognormal(3, 1, k2)
        labelled["median"] += deltas.median_delta(a, b).verdict != "within noise"
        labelled["total"] += deltas.total_delta(a, 91, b, 91, runs=199).verdict != ("within noise")
    # binomial(400, 0.05) exceeds 32 (8 %) with probability < 1 %
    assert all(n <= 32 for n in labelled.values()), labelled


# --- both periods from the database ---------------------------------------------------------------

NOW = Filter(dt.date(2026, 11, 2), dt.date(2026, 11, 29))  # 28 days; before: Oct 5 .. Nov 1


def test_period_deltas(con):
    # before: 2 deployments, both failed; now: 12 deployments, 1 failed
    for i in range(2):
        change(con, f"B{i}", f"2026-10-1{i} 10:00", outcome="failed")
    for i in range(12):
        outcome = "failed" if i == 0 else "successful"
        change(con, f"N{i}", f"2026-11-{10 + i} 10:00", outcome=outcome)
    incident(con, "I1", "2026-11-03 10:00")
    got = deltas.period_deltas(con, NOW)
    # deployments: binomial 12 of 14 at 1/2 -> p = 0.013: an improvement
    assert got["deployments_per_week"].p_value == pytest.approx(sps.binomtest(12, 14).pvalue)
    assert got["deployments_per_week"].verdict == "improvement"
    # failure rate 1/12 vs 2/2: of the 3 failures, both earlier deployments failing has
    # probability C(12,1) / C(14,3) = 12/364, the least likely table: Fisher p = 0.033
    assert got["change_failure_rate"].p_value == pytest.approx(12 / 364)
    assert got["change_failure_rate"].verdict == "improvement"
    # no incident before: time to restore has nothing to compare
    assert got["time_to_restore_hours_median"].verdict is None
    assert set(got) == {
        "deployments_per_week", "lead_time_hours_median", "change_failure_rate",
        "time_to_restore_hours_median", "rework_rate", "support_cost",
    }  # fmt: skip


# --- the Overview page --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_db(demo_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("ov") / "cadence.duckdb"
    shutil.copy(demo_db, path)
    return path


def test_overview_greys_changes_within_noise(app_db, monkeypatch):
    from analytics.store import connect
    from ui.components import md_escape

    monkeypatch.setenv("CADENCE_DB", str(app_db))
    app = str(Path(__file__).resolve().parent.parent / "app.py")
    at = AppTest.from_file(app, default_timeout=60)
    at.query_params.update({"preset": "custom", "from": "2026-04-01", "to": "2026-06-30"})
    at.run()
    assert not at.exception
    con = connect(app_db)
    verdicts = deltas.period_deltas(con, at.session_state["filter"])
    con.close()
    labels = {
        "deployments_per_week": "Deployments per week",
        "lead_time_hours_median": "Lead time (median)",
        "change_failure_rate": "Change failure rate",
        "time_to_restore_hours_median": "Time to restore (median)",
        "rework_rate": "Rework rate",
        "support_cost": "Support cost",
    }
    cards = {m.label: m.proto for m in at.metric}
    noisy = 0
    for key, label in labels.items():
        proto = cards[label]
        if not proto.delta:
            continue
        if verdicts[key].verdict in ("improvement", "deterioration"):
            assert proto.delta_description == "vs previous period"
        else:
            noisy += 1
            assert proto.delta_description == "within noise vs previous period"
            assert proto.color == proto.MetricColor.GRAY
    assert noisy  # this quarter has changes within noise
    reading = " ".join(m.value for m in at.markdown)
    assert md_escape("in the previous period (within noise)") in reading
