"""The dashboard on partial data: only incidents, only changes, only sprints, one week of
everything. Every page runs without an exception, no reading has a "—" hole where a number is
missing, and no DORA badge rates what was not loaded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.store import connect
from tests import builders as b
from tests.test_app import PAGES, assert_ok, metric, open_app

TEAMS = ("alpha", "beta", "gamma")
SERVICES = ("web", "api")


def incidents_only(con) -> None:
    """36 incidents over 12 weeks (3 teams, 2 services), all resolved after 2-13 hours, plus
    6 service requests."""
    for i in range(36):
        day = 1 + (i * 2) % 84
        opened = f"2025-{1 + (day - 1) // 28:02d}-{1 + (day - 1) % 28:02d} 09:00"
        resolved = f"2025-{1 + (day - 1) // 28:02d}-{1 + (day - 1) % 28:02d} {11 + i % 12}:00"
        b.incident(
            con, f"INC{i}", opened, resolved_at=resolved, team=TEAMS[i % 3],
            service=SERVICES[i % 2], priority=1 + i % 4,
        )  # fmt: skip
    for i in range(6):
        b.request(con, f"REQ{i}", f"2025-02-{1 + 3 * i:02d} 10:00", team=TEAMS[i % 3])


def changes_only(con) -> None:
    """45 changes over 12 weeks by 3 teams, every 9th failed."""
    for i in range(45):
        day = 1 + (i * 13) % 84
        when = f"2025-{1 + (day - 1) // 28:02d}-{1 + (day - 1) % 28:02d} 14:00"
        b.change(
            con, f"CHG{i}", when, requested_at=when.replace("14:00", "08:00"),
            team=TEAMS[i % 3], service=SERVICES[i % 2],
            outcome="failed" if i % 9 == 0 else "successful",
            change_type="emergency" if i % 10 == 0 else "normal",
        )  # fmt: skip


def sprints_only(con) -> None:
    """6 two-week sprints per team for 2 teams, with two stories each."""
    for team in TEAMS[:2]:
        for s in range(6):
            start = f"2025-{1 + (14 * s) // 28:02d}-{1 + (14 * s) % 28:02d}"
            end = f"2025-{1 + (14 * s + 13) // 28:02d}-{1 + (14 * s + 13) % 28:02d}"
            sprint_id = f"{team}-S{s}"
            b.sprint(
                con, sprint_id, start, end, team=team, committed_points=20,
                completed_points=15 + s,
            )  # fmt: skip
            for k in range(2):
                b.work_item(
                    con, f"{sprint_id}-{k}", sprint_id, team=team, story_points=5,
                    created_at=f"{start} 09:00",
                    requirement_type="warranty" if k else "functional",
                )  # fmt: skip


def one_week(con) -> None:
    """One week: a sprint, 3 changes (one failed, causing an incident), 4 incidents."""
    b.sprint(con, "S1", "2025-03-03", "2025-03-09", committed_points=10, completed_points=8)
    for i, day in enumerate((3, 5, 7)):
        b.change(
            con, f"CHG{i}", f"2025-03-0{day} 10:00", requested_at="2025-03-01 10:00",
            sprint_id="S1", outcome="failed" if i == 1 else "successful",
        )  # fmt: skip
    for i, day in enumerate((4, 5, 6, 8)):
        b.incident(
            con, f"INC{i}", f"2025-03-0{day} 09:00", resolved_at=f"2025-03-0{day} 12:00",
            caused_by_change="CHG1" if i == 1 else None,
        )  # fmt: skip


DATASETS = {
    "incidents": incidents_only,
    "changes": changes_only,
    "sprints": sprints_only,
    "one_week": one_week,
}


@pytest.fixture(scope="module", params=list(DATASETS))
def partial_db(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"partial-{request.param}")
    return request.param, build_db(folder, DATASETS[request.param])


def build_db(folder, build) -> Path:
    """A database in ``folder`` holding what ``build`` inserts; returns its path."""
    path = folder / "cadence.duckdb"
    con = connect(path)
    build(con)
    con.close()
    return path


# A missing number rendered as a dash inside a sentence: "(—", "of —", "— a week", "—%" ...
HOLE = re.compile(
    r"\(—|—\)|—[,;.%]|\b(?:of|at|is|took|carries|deploys|median|from|to|a|and) —"
    r"|— (?:times|hours|of|a week|in the previous|per)"
)
DORA_TIER = re.compile(r"DORA (?:elite|high|medium|low)")


def texts(at: AppTest) -> list[str]:
    """Every markdown and caption text on the page."""
    return [m.value for m in at.markdown] + [c.value for c in at.caption]


def open_page(path, monkeypatch, page: str) -> AppTest:
    """``page`` of the app on the database at ``path``, over all its data."""
    return open_app(path, monkeypatch, {"preset": "all"}).switch_page(page).run()


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_runs_on_partial_data_without_holes(partial_db, monkeypatch, page):
    name, path = partial_db
    at = open_page(path, monkeypatch, page)
    assert_ok(at)
    holes = [t for t in texts(at) if HOLE.search(t)]
    assert not holes, f"{name}: a missing number left a hole: {holes}"
    if page == "app_pages/overview.py" and name in ("incidents", "sprints"):
        # nothing deployed was loaded: no DORA tier may be claimed for it
        assert not [t for t in texts(at) if DORA_TIER.search(t)]


def test_overview_badges_name_what_is_missing(tmp_path, monkeypatch):
    at = open_page(build_db(tmp_path, incidents_only), monkeypatch, "app_pages/overview.py")
    assert_ok(at)
    shown = " ".join(texts(at))
    assert shown.count("no deployments loaded") == 4  # frequency, lead time, CFR, recovery
    reading = " ".join(m.value for m in at.markdown)
    assert "deployed 0 times" not in reading
    assert "no changes are loaded" in reading.lower()


def test_support_cost_names_no_failed_changes_without_changes(tmp_path, monkeypatch):
    at = open_page(build_db(tmp_path, incidents_only), monkeypatch, "app_pages/support_cost.py")
    assert_ok(at)
    shown = " ".join(texts(at))
    assert "failed changes" not in shown
    assert "Each deployment carries" not in shown
    assert "No changes are loaded, so no cost can be tied to deployments." in shown
    # 9 incidents of each priority at 8 + 4 + 2 + 1 h, 6 requests at 0.5 h; €75 an hour
    assert metric(at, "Support cost") == "€10,350"  # (9 × 15 + 6 × 0.5) h × €75
    assert metric(at, "Per deployment") == "—"  # nothing deployed to divide by
    assert metric(at, "Caused by changes") == "€0"


def test_changes_only_overview_rates_deployments_but_not_recovery(tmp_path, monkeypatch):
    at = open_page(build_db(tmp_path, changes_only), monkeypatch, "app_pages/overview.py")
    assert_ok(at)
    shown = " ".join(texts(at))
    assert shown.count("no incidents loaded") == 1  # time to restore: no badge
    # the deployment tiers: 45 in 12 weeks (3.75 a week), 6 h lead time, 5 of 45 failed
    assert metric(at, "Deployments per week") == "3.8"
    assert metric(at, "Lead time (median)") == "6.0 h"
    assert metric(at, "Change failure rate") == "11.1 %"
    assert metric(at, "Time to restore (median)") == "—"
    badges = [t for t in texts(at) if "badge[" in t]
    assert DORA_TIER.findall(" ".join(badges)) == ["DORA high", "DORA elite", "DORA medium"]
