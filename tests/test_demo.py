"""The demo data generator: determinism, the data contract, and the structure the docs promise."""

from __future__ import annotations

import dataclasses
import datetime as dt
import filecmp

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics import demo
from analytics.schema import DELEGATED_APPROVALS, FAILED_OUTCOMES, KINDS
from analytics.store import DEMO_DIR, connect

SMALL = demo.DemoSpec(
    start=dt.date(2025, 1, 6),
    end=dt.date(2025, 6, 29),
    teams=6,
    services=8,
    changes=400,
    incidents=1_500,
    sprints=None,
    work_items=600,
    seed=7,
)
TIMESTAMPS = {
    "work_items": ["created_at", "resolved_at"],
    "changes": ["requested_at", "implemented_at", "planned_start", "planned_end"],
    "incidents": ["opened_at", "resolved_at"],
}


def read(directory, kind: str) -> pd.DataFrame:
    """One generated CSV with its timestamps parsed."""
    df = pd.read_csv(directory / f"{kind}.csv", keep_default_na=False, na_values=[""])
    for col in TIMESTAMPS.get(kind, []):
        df[col] = pd.to_datetime(df[col], format="%Y-%m-%d %H:%M:%S")
    if kind == "sprints":
        for col in ("start_date", "end_date"):
            df[col] = pd.to_datetime(df[col], format="%Y-%m-%d")
    return df


def assert_valid(directory, spec: demo.DemoSpec) -> dict[str, pd.DataFrame]:
    """Every contract rule the generator promises, on one generated directory."""
    data = {}
    for kind, k in KINDS.items():
        header = (directory / f"{kind}.csv").read_text().splitlines()[0]
        assert header == ",".join(k.column_names)
        df = read(directory, kind)
        assert df[k.id_column].is_unique
        for c in k.columns:
            if c.required:
                assert df[c.name].notna().all(), (kind, c.name)
            if c.enum is not None:
                assert set(df[c.name].dropna()) <= set(c.enum), (kind, c.name)
        data[kind] = df
    sprints, items, changes, tickets = (
        data[k] for k in ("sprints", "work_items", "changes", "incidents")
    )
    assert (len(changes), len(tickets), len(items)) == (
        spec.changes,
        spec.incidents,
        spec.work_items,
    )
    assert (sprints["end_date"] >= sprints["start_date"]).all()
    assert not (items["resolved_at"] < items["created_at"]).any()
    assert not (changes["implemented_at"] < changes["requested_at"]).any()
    assert not (tickets["resolved_at"] < tickets["opened_at"]).any()
    assert not (changes["planned_end"] < changes["planned_start"]).any()
    cancelled = changes["outcome"] == "cancelled"
    assert changes.loc[cancelled, "implemented_at"].isna().all()
    assert changes.loc[~cancelled, "implemented_at"].notna().all()
    assert tickets["priority"].between(1, 4).all()
    # Nothing happens after the export date.
    last = pd.Timestamp(spec.end) + pd.Timedelta(days=1)
    assert changes["implemented_at"].max() < last
    assert tickets["opened_at"].max() < last and tickets["resolved_at"].max() < last
    # Every reference points at a record that exists.
    change_ids = set(changes["change_id"])
    assert set(tickets["caused_by_change"].dropna()) <= change_ids
    assert set(tickets["resolved_by_change"].dropna()) <= change_ids
    sprint_ids = set(sprints["sprint_id"])
    assert set(changes["sprint_id"].dropna()) <= sprint_ids
    assert set(items["sprint_id"].dropna()) <= sprint_ids
    # An incident a failed change caused opens after the change went live, never before.
    caused = tickets.dropna(subset=["caused_by_change"]).merge(
        changes, left_on="caused_by_change", right_on="change_id"
    )
    assert (caused["opened_at"] >= caused["implemented_at"]).all()
    assert caused["outcome"].isin(FAILED_OUTCOMES).all()
    fixed = tickets.dropna(subset=["resolved_by_change"]).merge(
        changes, left_on="resolved_by_change", right_on="change_id"
    )
    assert (fixed["implemented_at"] >= fixed["opened_at"]).all()
    assert (fixed["resolved_at"] >= fixed["implemented_at"]).all()
    return data


# --- generation ------------------------------------------------------------------------------


def test_same_spec_gives_identical_bytes(tmp_path):
    first = demo.generate(tmp_path / "a", SMALL)
    second = demo.generate(tmp_path / "b", SMALL)
    assert set(first) == set(KINDS)
    for kind in KINDS:
        assert first[kind].read_bytes() == second[kind].read_bytes(), kind


def test_another_seed_gives_other_data(tmp_path):
    demo.generate(tmp_path / "a", SMALL)
    demo.generate(tmp_path / "b", dataclasses.replace(SMALL, seed=8))
    assert not filecmp.cmp(tmp_path / "a" / "incidents.csv", tmp_path / "b" / "incidents.csv")


def test_small_spec_honours_the_contract(tmp_path):
    demo.generate(tmp_path, SMALL)
    data = assert_valid(tmp_path, SMALL)
    assert data["sprints"]["team"].nunique() == 6
    assert data["incidents"]["service"].nunique() == 8


def test_chunked_generation_keeps_ids_unique_and_links_valid(tmp_path, monkeypatch):
    # 1,500 tickets in chunks of 400 -> 4 chunks of whole teams, appended to the same files.
    monkeypatch.setattr(demo, "CHUNK_INCIDENTS", 400)
    spec = dataclasses.replace(SMALL, teams=8, services=10)
    demo.generate(tmp_path, spec)
    data = assert_valid(tmp_path, spec)
    assert data["changes"]["team"].nunique() == 8
    assert {"Payments 2", "Checkout 2"} <= set(data["sprints"]["team"])


def test_sprint_cap_keeps_the_most_recent_sprints(tmp_path):
    natural = demo.build_sprints(SMALL, demo.team_profiles(SMALL))
    capped = dataclasses.replace(SMALL, sprints=len(natural) - 10)
    demo.generate(tmp_path, capped)
    sprints = assert_valid(tmp_path, capped)["sprints"]
    assert len(sprints) == len(natural) - 10
    assert sprints["end_date"].max() == pd.Timestamp(
        dt.date(1970, 1, 1) + dt.timedelta(days=int(natural["end_day"].max()))
    )


def test_benchmark_spec_sizes():
    spec = demo.benchmark_spec()
    assert (spec.incidents, spec.changes, spec.sprints, spec.work_items) == (
        1_000_000,
        200_000,
        5_000,
        300_000,
    )
    big = demo.benchmark_spec(10)
    assert (big.incidents, big.sprints) == (10_000_000, 50_000)
    # Enough teams that their cadences yield at least the asked-for sprints.
    natural = demo.build_sprints(dataclasses.replace(spec, sprints=None), demo.team_profiles(spec))
    assert len(natural) >= spec.sprints


def test_command_line_writes_a_scaled_set(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path), "--scale", "0.005"]) == 0
    spec = demo.benchmark_spec(0.005)
    assert_valid(tmp_path, spec)
    assert "incidents.csv" in capsys.readouterr().out


def test_command_line_refuses_a_non_positive_scale(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path), "--scale", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --scale must be positive"


def test_command_line_reports_an_unwritable_output_in_one_line(tmp_path, capsys):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    assert demo.main(["--out", str(blocker), "--scale", "0.005"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write to {blocker}: ") and err.count("\n") == 1


# --- the committed demo set -----------------------------------------------------------------


@pytest.fixture(scope="module")
def committed():
    """The committed data/demo CSVs, parsed."""
    return {kind: read(DEMO_DIR, kind) for kind in KINDS}


def test_committed_csvs_are_what_the_generator_writes(tmp_path):
    demo.generate(tmp_path, demo.DEFAULT_SPEC)
    for kind in KINDS:
        assert (tmp_path / f"{kind}.csv").read_bytes() == (DEMO_DIR / f"{kind}.csv").read_bytes(), (
            f"data/demo/{kind}.csv is stale: run python -m analytics.demo"
        )


def test_committed_csvs_honour_the_contract(committed):
    assert_valid(DEMO_DIR, demo.DEFAULT_SPEC)
    sprints = committed["sprints"]
    assert sprints["team"].nunique() == 6
    assert committed["incidents"]["service"].nunique() == 8
    # Most sprints have both point counts, a few lack completed points.
    missing = sprints["completed_points"].isna().mean()
    assert 0.01 < missing < 0.15
    assert sprints["committed_points"].notna().all()


def test_committed_csvs_load_without_rejections():
    from analytics.loader import load_paths

    con = connect(":memory:")
    summaries = load_paths(con, [DEMO_DIR / f"{kind}.csv" for kind in KINDS])
    assert {s.kind: s.rejected for s in summaries} == dict.fromkeys(KINDS, 0)
    assert {s.kind: s.inserted for s in summaries}["incidents"] == 15_000


def _implemented(committed) -> pd.DataFrame:
    changes = committed["changes"]
    done = changes[changes["outcome"] != "cancelled"].copy()
    done["failed"] = done["outcome"].isin(FAILED_OUTCOMES)
    done["lead_hours"] = (done["implemented_at"] - done["requested_at"]).dt.total_seconds() / 3600
    return done


def test_cab_adds_lead_time_without_lowering_failure_rate(committed):
    changes = _implemented(committed)
    cab = changes[changes["approval"] == "cab"]
    delegated = changes[changes["approval"].isin(DELEGATED_APPROVALS)]
    assert cab["lead_hours"].median() > 2 * delegated["lead_hours"].median()
    assert abs(cab["failed"].mean() - delegated["failed"].mean()) < 0.03
    # Not significant either: a chi-square test on the 2x2 table finds no difference.
    subset = changes[changes["approval"].isin(["cab", *DELEGATED_APPROVALS])]
    table = pd.crosstab(subset["approval"] == "cab", subset["failed"])
    assert stats.chi2_contingency(table).pvalue > 0.05


def test_emergency_and_high_risk_changes_fail_more(committed):
    changes = _implemented(committed)
    by_type = changes.groupby("change_type")["failed"].mean()
    assert by_type["emergency"] > 1.5 * by_type["normal"]
    by_risk = changes.groupby("risk")["failed"].mean()
    assert by_risk["high"] > 2 * by_risk["low"]


def test_failed_changes_cause_incidents_and_changes_fix_some(committed):
    changes, tickets = _implemented(committed), committed["incidents"]
    failed = changes[changes["failed"]]
    caused = tickets["caused_by_change"].dropna()
    assert caused.isin(failed["change_id"]).all()
    assert caused.nunique() > 0.5 * len(failed)
    fixed = tickets.dropna(subset=["resolved_by_change"])
    assert len(fixed) > 100
    assert (fixed["kind"] == "incident").all()


def test_more_warranty_work_fewer_p1_p2_incidents(committed):
    items = committed["work_items"].dropna(subset=["story_points", "sprint_id"])
    warranty_points = items["story_points"].where(items["requirement_type"] == "warranty", 0)
    share = (
        warranty_points.groupby(items["team"]).sum() / items.groupby("team")["story_points"].sum()
    )
    tickets = committed["incidents"]
    severe = tickets[(tickets["kind"] == "incident") & (tickets["priority"] <= 2)]
    per_team = severe.groupby("team").size().reindex(share.index)
    rho = stats.spearmanr(share, per_team).statistic
    assert rho < -0.8
    # The planned shares really differ between teams (at least 0.05 to 0.25).
    assert share.min() < 0.1 and share.max() > 0.25


def test_warranty_effect_holds_per_team_quarter(committed):
    items = committed["work_items"].dropna(subset=["story_points", "sprint_id"])
    items = items.merge(committed["sprints"][["sprint_id", "start_date"]], on="sprint_id")
    items["quarter"] = items["start_date"].dt.to_period("Q")
    items["warranty_points"] = items["story_points"].where(
        items["requirement_type"] == "warranty", 0
    )
    per = items.groupby(["team", "quarter"])[["warranty_points", "story_points"]].sum()
    per["share"] = per["warranty_points"] / per["story_points"]
    tickets = committed["incidents"]
    severe = tickets[(tickets["kind"] == "incident") & (tickets["priority"] <= 2)]
    per["severe"] = severe.groupby(["team", severe["opened_at"].dt.to_period("Q")]).size()
    per = per.dropna()
    assert len(per) > 40
    assert stats.spearmanr(per["share"], per["severe"]).statistic < -0.6
    # Within each team too: quarters above the team's usual share have fewer P1/P2 incidents.
    share_vs_usual = per["share"] - per.groupby("team")["share"].transform("mean")
    severe_vs_usual = per["severe"] / per.groupby("team")["severe"].transform("mean")
    within = stats.spearmanr(share_vs_usual, severe_vs_usual)
    assert within.statistic < -0.3 and within.pvalue < 0.01


def test_sprint_switch_brings_a_few_weeks_of_more_incidents(committed):
    sprints = committed["sprints"]
    search = sprints[sprints["team"] == "Search"].sort_values("start_date")
    length = (search["end_date"] - search["start_date"]).dt.days
    assert set(length) == {25, 11}  # four-week sprints, then two-week sprints
    switch = search.loc[length == 11, "start_date"].min()
    incidents = committed["incidents"]
    opened = incidents.loc[
        (incidents["team"] == "Search") & (incidents["kind"] == "incident"), "opened_at"
    ]

    def count(weeks_from: int, weeks_to: int) -> int:
        lo, hi = switch + pd.Timedelta(weeks=weeks_from), switch + pd.Timedelta(weeks=weeks_to)
        return int(((opened >= lo) & (opened < hi)).sum())

    before, after, later = count(-6, 0), count(0, 6), count(12, 18)
    assert after > 1.4 * before
    assert later < 0.8 * after  # and it recovers


def test_releases_cluster_at_sprint_ends(committed):
    changes = _implemented(committed)
    planned = changes[changes["change_type"] != "emergency"].merge(
        committed["sprints"][["sprint_id", "end_date"]], on="sprint_id"
    )
    days_before_end = (planned["end_date"] - planned["implemented_at"].dt.normalize()).dt.days
    # The last two days of a sprint are at most 2/5 of its working days (one-week sprints).
    assert days_before_end.between(0, 1).mean() > 0.5


def test_teams_differ_in_speed_and_stability(committed):
    changes = _implemented(committed)
    per_team = changes.groupby("team").agg(
        lead=("lead_hours", "median"), cfr=("failed", "mean"), n=("failed", "size")
    )
    fast, slow = per_team["lead"] < 24, per_team["lead"] > 48
    stable, unstable = per_team["cfr"] < 0.08, per_team["cfr"] > 0.15
    assert (fast & stable)["Payments"] and (fast & unstable)["Checkout"]
    assert (slow & stable)["Identity"] and (slow & unstable)["Platform"]
    assert per_team["n"]["Checkout"] > 2 * per_team["n"]["Platform"]


def test_restore_times_are_plausible_and_weekly_counts_vary(committed):
    tickets = committed["incidents"]
    incidents = tickets[tickets["kind"] == "incident"]
    hours = (incidents["resolved_at"] - incidents["opened_at"]).dt.total_seconds() / 3600
    median = hours.groupby(incidents["priority"]).median()
    assert median[1] < 6 and median[2] < median[3] < median[4] and median[4] > 48
    assert set(tickets["service"]) == set(demo.SERVICE_NAMES)
    assert 0.35 < (tickets["kind"] == "request").mean() < 0.55
    assert 0.05 < tickets["effort_hours"].isna().mean() < 0.2
    weekly = tickets.set_index("opened_at").resample("W").size().iloc[1:-1]
    assert weekly.std() / weekly.mean() > 0.1
    assert np.all(weekly > 0)


def test_register_improvements_show_their_built_in_effects(committed):
    # Entries the register marks as built into the data improve their metric after they start.
    changes, tickets = _implemented(committed), committed["incidents"]
    incidents = tickets[tickets["kind"] == "incident"].assign(
        restore_hours=(tickets["resolved_at"] - tickets["opened_at"]).dt.total_seconds() / 3600
    )
    measures = {  # target metric -> (rows, time column, value, statistic)
        "change_failure_rate": (changes, "implemented_at", "failed", "mean"),
        "lead_time_hours_median": (changes, "implemented_at", "lead_hours", "median"),
        "time_to_restore_hours_median": (incidents, "opened_at", "restore_hours", "median"),
    }
    register = committed["improvements"]
    built_in = register[register["notes"].str.contains("built into the data", na=False)]
    checked = 0
    for entry in built_in.itertuples():
        if entry.target_metric not in measures:
            continue
        rows, time_column, value, stat = measures[entry.target_metric]
        rows = rows[rows["team"] == entry.team]
        after = rows[time_column] >= pd.Timestamp(entry.started_on)
        before_value = rows.loc[~after, value].agg(stat)
        after_value = rows.loc[after, value].agg(stat)
        assert after_value < 0.8 * before_value, entry.improvement_id
        checked += 1
    assert checked >= 2


# --- effect switches (issue 11: data without an effect, to catch false claims) ----------------


def _switched(tmp_path, name: str, **changes) -> dict[str, pd.DataFrame]:
    spec = dataclasses.replace(SMALL, **changes)
    demo.generate(tmp_path / name, spec)
    return assert_valid(tmp_path / name, spec)


def test_effect_names_are_checked():
    with pytest.raises(ValueError, match="unknown effect 'cabb'"):
        dataclasses.replace(SMALL, effects=frozenset({"cabb"}))
    with pytest.raises(ValueError, match="noise_ar"):
        dataclasses.replace(SMALL, noise_ar=1.0)
    assert demo.DEFAULT_SPEC.effects == demo.DEMO_EFFECTS
    assert demo.chosen_effects(no_effects=True) == frozenset()
    assert demo.chosen_effects("cab, lag") == {"cab", "lag"}
    assert demo.chosen_effects("all", ["caused"]) == set(demo.EFFECTS) - {"caused"}
    assert demo.chosen_effects(no_effect=["csi"]) == demo.DEMO_EFFECTS - {"csi"}
    with pytest.raises(ValueError, match="unknown effect 'nope'"):
        demo.chosen_effects(no_effect=["nope"])


def test_cab_effect_only_turns_cab_failures_into_successes(tmp_path):
    # Same seed, same random draws: the "cab" switch lowers only the CAB's failure probability,
    # so every other change is identical and a CAB change can only go from failed to successful.
    off = _switched(tmp_path, "off", effects=frozenset())["changes"]
    on = _switched(tmp_path, "on", effects=frozenset({"cab"}))["changes"]
    cab = off["approval"] == "cab"
    pd.testing.assert_frame_equal(off[~cab], on[~cab])
    failed_off = off.loc[cab, "outcome"].isin(FAILED_OUTCOMES)
    failed_on = on.loc[cab, "outcome"].isin(FAILED_OUTCOMES)
    assert not (failed_on & ~failed_off).any()
    assert failed_off.sum() > failed_on.sum()


def test_without_the_lead_effect_approval_paths_share_one_median(tmp_path):
    def cab_over_owner(effects) -> float:
        """Geometric mean over teams of the CAB's median lead time / the product owner's:
        within teams, because the CAB-heavy teams are also the slow ones (structure kept)."""
        changes = _switched(tmp_path, "-".join(effects) or "none", effects=frozenset(effects))
        changes = changes["changes"].dropna(subset=["implemented_at"])
        hours = (changes["implemented_at"] - changes["requested_at"]).dt.total_seconds() / 3600
        medians = hours.groupby([changes["team"], changes["approval"]]).median().unstack()
        ratios = (medians["cab"] / medians["product-owner"]).dropna()
        return float(np.exp(np.log(ratios).mean()))

    assert 0.7 < cab_over_owner(()) < 1.4
    assert cab_over_owner(("lead",)) > 3  # 170 h against 30 h before office hours
    assert list(demo.LEAD_HOURS_FLAT[:3]) == [30.0, 30.0, 30.0]


def test_without_the_caused_effect_no_incident_is_caused_by_a_change(tmp_path):
    none = _switched(tmp_path, "none", effects=frozenset())["incidents"]
    assert none["caused_by_change"].isna().all()
    linked = _switched(tmp_path, "all", effects=frozenset({"caused"}))["incidents"]
    half = _switched(tmp_path, "half", effects=frozenset({"caused"}), unlinked=0.5)["incidents"]
    n_linked, n_half = (
        linked["caused_by_change"].notna().sum(),
        half["caused_by_change"].notna().sum(),
    )
    assert n_linked > 20
    assert 0.3 * n_linked < n_half < 0.7 * n_linked  # about half lose their link
    # the same incidents otherwise: losing a link is a separate random stream
    assert linked["priority"].tolist() == half["priority"].tolist()


def test_without_the_csi_effect_the_register_says_no_effect():
    spec = dataclasses.replace(demo.DEFAULT_SPEC, effects=frozenset())
    assert not any(demo.improvement_planted(i, spec) for i in demo.DEMO_IMPROVEMENTS)
    planted = [
        i.improvement_id
        for i in demo.DEMO_IMPROVEMENTS
        if demo.improvement_planted(i, demo.DEFAULT_SPEC)
    ]
    assert planted == ["IMP-01", "IMP-02", "IMP-03"]


def test_the_ar1_variant_makes_weekly_noise_autocorrelated():
    ctx = demo._context(dataclasses.replace(demo.DEFAULT_SPEC, noise_ar=0.8))
    noise = demo._org_noise(ctx, np.random.default_rng(0), 400)
    log = np.log(noise)
    lag1 = np.corrcoef(log[:-1], log[1:])[0, 1]
    assert 0.7 < lag1 < 0.9
    assert noise.mean() == pytest.approx(1.0, abs=0.1)
    iid = demo._org_noise(demo._context(demo.DEFAULT_SPEC), np.random.default_rng(0), 400)
    assert abs(np.corrcoef(iid[:-1], iid[1:])[0, 1]) < 0.15


def test_demo_command_builds_a_database_without_effects(tmp_path, capsys):
    from analytics import cli

    db = tmp_path / "null.duckdb"
    assert cli.main(["demo", "--db", str(db), "--seed", "3", "--no-effects"]) == 0
    con = connect(db, read_only=True)
    try:
        caused = con.execute("SELECT count(caused_by_change) FROM incidents").fetchone()[0]
        notes = {r[0] for r in con.execute("SELECT notes FROM improvements").fetchall()}
    finally:
        con.close()
    assert caused == 0
    assert notes == {"Demo: no effect in the data"}
    assert cli.main(["demo", "--db", str(db), "--effects", "cab,bogus"]) == 2
    assert "unknown effect 'bogus'" in capsys.readouterr().err
