"""The dashboard in Streamlit's AppTest: every page runs on the demo data, the Overview shows
the metrics' numbers for the sidebar's filter, filters live in the URL, uploads go through the
loader and leave the data intact on a file-level error."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.filters import Filter
from analytics.metrics import data_range, report
from analytics.store import connect, row_counts
from ui import format as fmt

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = {
    "app_pages/overview.py": "Overview",
    "app_pages/flexibility.py": "Flexibility vs stability",
    "app_pages/cadence.py": "Cadence vs incidents",
    "app_pages/change_control.py": "Change control",
    "app_pages/support_cost.py": "Support cost",
    "app_pages/backlog.py": "Backlog & warranty",
    "app_pages/change_schedule.py": "Change schedule",
    "app_pages/csi_register.py": "CSI register",
    "app_pages/data.py": "Data",
}
TIMEOUT = 60


@pytest.fixture(scope="module")
def app_db(demo_db, tmp_path_factory):
    """A private copy of the demo database (the app keeps a connection to it open)."""
    path = tmp_path_factory.mktemp("app") / "cadence.duckdb"
    shutil.copy(demo_db, path)
    return path


def open_app(db: Path, monkeypatch, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("CADENCE_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if query:
        at.query_params.update(query)
    return at.run()


def latest_day(con) -> dt.date:
    """Where presets end: the data's last day, or today when the data reaches into the future."""
    return min(data_range(con)[1], dt.datetime.now(dt.UTC).date())


def assert_ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_the_page_list_covers_every_page_of_the_app():
    root = Path(APP).parent
    files = {f"app_pages/{p.name}" for p in (root / "app_pages").glob("*.py")}
    assert set(PAGES) == files
    source = Path(APP).read_text()  # and each one is in the navigation
    assert all(f'"{page}"' in source for page in PAGES)


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_runs_on_the_demo_data(app_db, monkeypatch, page):
    at = open_app(app_db, monkeypatch)
    at.switch_page(page).run()
    assert_ok(at)
    assert at.title[0].value == PAGES[page]
    assert any(s.value == "What the numbers say" for s in at.subheader)


@pytest.mark.parametrize("page", [p for p in PAGES if p != "app_pages/data.py"])
def test_an_empty_window_shows_a_friendly_message(app_db, monkeypatch, page):
    at = open_app(app_db, monkeypatch, {"from": "2001-01-01", "to": "2001-01-31"})
    at.switch_page(page).run()
    assert_ok(at)
    assert at.info and "widen the dates" in at.info[0].value


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_runs_on_one_week_of_one_team(app_db, monkeypatch, page):
    # a narrow view: single buckets, tiny samples, charts with one bar or point
    last = latest_day(connect(app_db))
    start = last - dt.timedelta(days=50)
    query = {"from": start.isoformat(), "to": (start + dt.timedelta(days=6)).isoformat(),
             "team": "Payments"}  # fmt: skip
    at = open_app(app_db, monkeypatch, query)
    at.switch_page(page).run()
    assert_ok(at)
    assert at.session_state["filter"].window_days == 7
    assert any(s.value == "What the numbers say" for s in at.subheader) or at.info


def test_overview_shows_the_report_for_the_sidebar_filter(app_db, monkeypatch):
    at = open_app(app_db, monkeypatch)
    assert_ok(at)
    con = connect(app_db)
    last = latest_day(con)
    # default preset: the 12 months up to the data's last day
    expected = Filter(last.replace(year=last.year - 1) + dt.timedelta(days=1), last)
    assert at.session_state["filter"] == expected
    numbers = report(con, expected)
    assert metric(at, "Deployments per week") == fmt.number(numbers["deployments_per_week"])
    assert metric(at, "Lead time (median)") == fmt.hours(numbers["lead_time_hours_median"])
    assert metric(at, "Change failure rate") == fmt.percent(numbers["change_failure_rate"])
    assert metric(at, "Time to restore (median)") == fmt.hours(
        numbers["time_to_restore_hours_median"]
    )
    assert metric(at, "Rework rate") == fmt.percent(numbers["rework_rate"])
    assert metric(at, "Support cost") == fmt.money(numbers["support_cost"])

    # choosing one team changes the numbers to that team's
    team = "Payments"
    at.multiselect(key="f_teams").set_value([team]).run()
    assert_ok(at)
    one_team = report(con, Filter(expected.start, expected.end, (team,)))
    assert one_team["deployments"] < numbers["deployments"]
    assert metric(at, "Deployments per week") == fmt.number(one_team["deployments_per_week"])
    assert metric(at, "Change failure rate") == fmt.percent(one_team["change_failure_rate"])
    assert at.query_params["team"] == team  # and the URL says so


def test_query_parameters_restore_the_filters_on_every_page(app_db, monkeypatch):
    query = {"preset": "custom", "from": "2025-01-01", "to": "2025-03-31",
             "team": ["Payments", "Search"]}  # fmt: skip
    at = open_app(app_db, monkeypatch, query)
    assert_ok(at)
    expected = Filter(dt.date(2025, 1, 1), dt.date(2025, 3, 31), ("Payments", "Search"))
    assert at.session_state["filter"] == expected
    assert at.session_state["f_preset"] == "custom"
    assert at.multiselect(key="f_teams").value == ["Payments", "Search"]
    numbers = report(connect(app_db), expected)
    assert metric(at, "Deployments per week") == fmt.number(numbers["deployments_per_week"])
    # navigating keeps the view and the URL
    at.switch_page("app_pages/change_control.py").run()
    assert_ok(at)
    assert at.session_state["filter"] == expected
    assert at.query_params["from"] == "2025-01-01" and at.query_params["to"] == "2025-03-31"
    assert at.query_params["team"] == ["Payments", "Search"]


def test_preset_in_the_url(app_db, monkeypatch):
    at = open_app(app_db, monkeypatch, {"preset": "last_90_days"})
    last = latest_day(connect(app_db))
    assert at.session_state["filter"] == Filter(last - dt.timedelta(days=89), last)


# --- uploads ------------------------------------------------------------------------------------

HEADER = "change_id,service,team,change_type,approval,risk,requested_at,implemented_at,outcome\n"
GOOD = (
    HEADER
    + "UP-1,web,Payments,normal,cab,low,2026-11-01 10:00,2026-11-02 10:00,successful\n"
    + "UP-2,web,Payments,standard,,low,2026-11-03 10:00,2026-11-03 12:00,successful\n"
    + "UP-3,web,Payments,sometimes,cab,low,2026-11-03 10:00,2026-11-03 12:00,successful\n"
).encode()


@pytest.fixture
def fresh_db(demo_db, tmp_path):
    path = tmp_path / "cadence.duckdb"
    shutil.copy(demo_db, path)
    return path


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.file_uploader(key="uploads").set_value((name, content, "text/csv")).run()
    assert_ok(at)
    return at.button(key="load_button").click().run()


def test_upload_of_a_good_file_reports_inserted_and_rejected_rows(fresh_db, monkeypatch):
    at = open_app(fresh_db, monkeypatch)
    at.switch_page("app_pages/data.py").run()
    before = row_counts(connect(fresh_db))["changes"]
    upload(at, "new-changes.csv", GOOD)
    assert_ok(at)
    # UP-1 and UP-2 are new; UP-3's change type is not one of standard/normal/emergency
    assert at.warning[0].value == "Loaded 1 file(s): 2 rows stored, 1 rejected."
    texts = [t.value for t in at.text]
    assert any("new-changes.csv: changes: 2 inserted, 0 updated, 1 rejected" in t for t in texts)
    assert row_counts(connect(fresh_db))["changes"] == before + 2
    # the cached results were dropped: the sidebar's dataset panel shows the new count
    assert any(f"changes: {before + 2:,}" in c.value for c in at.sidebar.caption)
    rejected = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert list(rejected["file_name"]) == ["new-changes.csv"]
    assert list(rejected["column_name"]) == ["change_type"]


def test_upload_of_a_bad_file_changes_nothing(fresh_db, monkeypatch):
    at = open_app(fresh_db, monkeypatch)
    at.switch_page("app_pages/data.py").run()
    before = row_counts(connect(fresh_db))
    upload(at, "mystery.csv", b"colour,size\nred,3\n")
    assert_ok(at)
    assert at.error[0].value.startswith("Nothing was loaded: ")
    assert "mystery.csv" in at.error[0].value
    assert row_counts(connect(fresh_db)) == before


def test_window_attribution_applies_to_the_numbers(app_db, monkeypatch):
    from analytics.metrics import Attribution

    at = open_app(app_db, monkeypatch)
    at.toggle(key="attr_window").set_value(True).run()
    at.number_input(key="attr_hours").set_value(12.0).run()
    assert_ok(at)
    numbers = report(
        connect(app_db), at.session_state["filter"], attribution=Attribution("window", 12.0)
    )
    assert metric(at, "Change failure rate") == fmt.percent(numbers["change_failure_rate"])


def test_flexibility_per_team_quarter_plots_every_team_quarter(app_db, monkeypatch):
    import json
    import re

    from analytics.metrics import per_team_quarter

    at = open_app(app_db, monkeypatch)
    at.switch_page("app_pages/flexibility.py").run()
    at.toggle(key="flex_quarters").set_value(True).run()
    at.toggle(key="flex_paths").set_value(True).run()
    assert_ok(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name", "") for t in spec["data"]]
    quarters = per_team_quarter(connect(app_db), at.session_state["filter"])
    active = quarters[quarters["deployments"] > 0]
    expected = sorted(f"{r.team} {r.quarter}" for r in active.itertuples())
    assert sorted(n for n in names if re.fullmatch(r".+ \d{4}-Q\d", n)) == expected
    # one trail per team with deployments, and the frontier
    assert sorted(n for n in names if n.endswith(" over time")) == [
        f"{t} over time" for t in sorted(active["team"].unique())
    ]
    assert "Pareto frontier" in names


def test_cost_model_edited_on_support_cost_applies_to_other_pages(app_db, monkeypatch):
    from analytics.cost import CostModel

    at = open_app(app_db, monkeypatch)
    at.switch_page("app_pages/support_cost.py").run()
    at.number_input(key="cost_hourly_rate").set_value(100.0).run()
    at.number_input(key="cost_p1_hours").set_value(10.0).run()
    assert_ok(at)
    model = CostModel(hourly_rate=100.0, p1_hours=10.0)
    numbers = report(connect(app_db), at.session_state["filter"], model)
    assert metric(at, "Support cost") == fmt.money(numbers["support_cost"])
    at.switch_page("app_pages/overview.py").run()
    assert_ok(at)
    assert metric(at, "Support cost") == fmt.money(numbers["support_cost"])
    # and back on the Support cost page the inputs show the edited model
    at.switch_page("app_pages/support_cost.py").run()
    assert at.number_input(key="cost_hourly_rate").value == 100.0


def test_reset_restores_the_demo_data(fresh_db, monkeypatch):
    at = open_app(fresh_db, monkeypatch)
    at.switch_page("app_pages/data.py").run()
    demo = row_counts(connect(fresh_db))
    upload(at, "new-changes.csv", GOOD)
    assert row_counts(connect(fresh_db))["changes"] == demo["changes"] + 2
    at.button(key="reset_demo").click().run()
    assert_ok(at)
    assert at.success[-1].value.startswith("Demo data restored")
    assert row_counts(connect(fresh_db)) == demo


def test_custom_dates_start_from_the_window_on_screen_and_survive_navigation(app_db, monkeypatch):
    at = open_app(app_db, monkeypatch)
    shown = at.session_state["filter"]
    at.selectbox(key="f_preset").set_value("custom").run()
    assert at.session_state["filter"] == shown  # switching to custom keeps the window
    assert at.query_params["from"] == shown.start.isoformat()
    at.date_input(key="f_dates").set_value((dt.date(2026, 1, 1), dt.date(2026, 1, 31))).run()
    at.switch_page("app_pages/backlog.py").run()
    assert_ok(at)
    assert at.session_state["filter"] == Filter(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert (at.query_params["from"], at.query_params["to"]) == ("2026-01-01", "2026-01-31")


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_runs_on_an_empty_database(tmp_path, monkeypatch, page):
    db = tmp_path / "empty.duckdb"
    connect(db).close()  # schema only, no records
    at = open_app(db, monkeypatch)
    at.switch_page(page).run()
    assert_ok(at)
    if page != "app_pages/data.py":
        assert at.info[0].value.startswith("No data loaded yet")


def test_the_sidebar_counts_follow_an_upload_and_a_reset(fresh_db, monkeypatch):
    at = open_app(fresh_db, monkeypatch)
    at.switch_page("app_pages/data.py").run()
    demo = row_counts(connect(fresh_db))["changes"]

    def sidebar_changes() -> str:
        counts = [c.value for c in at.sidebar.caption if "changes:" in c.value]
        return counts[0]

    assert f"changes: {demo:,}" in sidebar_changes()
    upload(at, "new-changes.csv", GOOD)
    assert f"changes: {demo + 2:,}" in sidebar_changes()  # drawn again after the load
    at.button(key="reset_demo").click().run()
    assert_ok(at)
    assert f"changes: {demo:,}" in sidebar_changes()  # and after the reset
    assert any(s.value.startswith("Demo data restored") for s in at.success)
