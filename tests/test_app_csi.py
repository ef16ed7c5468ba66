"""The CSI register and change schedule pages in Streamlit's AppTest, on a private copy of the
demo database: they render, react to the filter, and the register form adds, edits and removes
entries (and refuses bad ones with one line)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import improvements as imp
from analytics import schedule
from analytics.filters import Filter
from analytics.store import connect

APP = str(Path(__file__).resolve().parent.parent / "app.py")
REGISTER = "app_pages/csi_register.py"
SCHEDULE = "app_pages/change_schedule.py"
TIMEOUT = 60


@pytest.fixture
def app_db(demo_db, tmp_path):
    """A private copy of the demo database per test (the form writes to it)."""
    path = tmp_path / "cadence.duckdb"
    shutil.copy(demo_db, path)
    return path


def open_page(db: Path, monkeypatch, page: str, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("CADENCE_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"preset": "all", **(query or {})})
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def register_ids(db: Path) -> list[str]:
    con = connect(db)
    try:
        return imp.improvements_frame(con)["improvement_id"].tolist()
    finally:
        con.close()


def test_register_page_shows_each_improvement_with_its_verdict(app_db, monkeypatch):
    at = open_page(app_db, monkeypatch, REGISTER)
    assert at.title[0].value == "CSI register"
    table = at.dataframe[0].value
    con = connect(app_db)
    try:
        first, last = con.execute(
            "SELECT min(CAST(requested_at AS DATE)), max(CAST(implemented_at AS DATE)) FROM changes"
        ).fetchone()
        expected = imp.measure_improvements(con, Filter(dt.date(2000, 1, 1), dt.date(2100, 1, 1)))
    finally:
        con.close()
    assert first and last
    assert table["improvement_id"].tolist() == expected["improvement_id"].tolist()
    labels = [imp.VERDICT_LABELS[v] for v in expected["verdict"]]
    assert table["verdict"].tolist() == labels
    # the demo holds improvements that changed as expected, some that did not and one too early
    assert {"changed as expected", "within noise", "too early to tell"} <= set(table["verdict"])
    # values in their unit: a rate in %, a duration in hours, a count per week
    shown = dict(zip(table["improvement_id"], table["baseline"], strict=True))
    assert shown["IMP-01"].endswith(" %") and shown["IMP-02"].endswith(" h")
    assert shown["IMP-04"].endswith(" per week")
    # each improvement's verdict as a badge next to its title
    for row in expected.itertuples():
        badge = f"-badge[{imp.VERDICT_LABELS[row.verdict]}]"
        assert any(m.value.startswith(":") and badge in m.value and f"**{row.improvement_id}**"
                   in m.value for m in at.markdown), row.improvement_id  # fmt: skip
    # the reading: the register's verdict first (bold), then one sentence per improvement
    bold = [m.value for m in at.markdown if m.value.startswith("**") and "improvements" in m.value]
    assert bold == [f"**{imp.register_verdict(expected)}**"]
    lines = [m.value for m in at.markdown if m.value.startswith("- IMP-")]
    # the statistics of each measured improvement go to "How this was computed"
    details = [v for v in lines if ": baseline " in v]
    readings = [v for v in lines if ": baseline " not in v]
    assert len(readings) == len(expected)
    assert len(details) == expected["difference"].notna().sum()
    assert not any("caused" in r for r in readings)


def test_register_page_follows_the_team_filter(app_db, monkeypatch):
    at = open_page(app_db, monkeypatch, REGISTER, {"team": "Checkout"})
    assert at.dataframe[0].value["team"].unique().tolist() == ["Checkout"]


def test_form_adds_edits_and_removes_an_improvement(app_db, monkeypatch):
    at = open_page(app_db, monkeypatch, REGISTER)
    before = register_ids(app_db)
    at.text_input(key="add_id").input("IMP-50")
    at.text_input(key="add_title").input("=Pair programming on risky changes")
    at.date_input(key="add_started_on").set_value(dt.date(2026, 6, 1))
    at.selectbox(key="add_team").set_value("Payments")
    at.selectbox(key="add_target_metric").set_value("change_failure_rate")
    at.selectbox(key="add_expected_direction").set_value("down")
    at.button[[b.label for b in at.button].index("Add improvement")].click().run()
    assert not at.exception
    assert set(register_ids(app_db)) == {*before, "IMP-50"}
    con = connect(app_db)
    try:
        row = imp.improvements_frame(con).set_index("improvement_id").loc["IMP-50"]
    finally:
        con.close()
    assert (row["title"], row["team"], row["started_on"], row["expected_direction"]) == (
        "=Pair programming on risky changes",
        "Payments",
        dt.date(2026, 6, 1),
        "down",
    )
    assert any("Added IMP-50" in s.value for s in at.success)
    # after a successful add the form is empty again
    assert at.text_input(key="add_id").value == ""
    assert at.text_input(key="add_title").value == ""
    assert at.selectbox(key="add_team").value == ""

    # edit: pick it, change the owner
    at.selectbox(key="edit_pick").set_value("IMP-50").run()
    at.text_input(key="edit_IMP-50_owner").input("Payments lead")
    at.button[[b.label for b in at.button].index("Save changes")].click().run()
    assert not at.exception
    con = connect(app_db)
    try:
        owner = imp.improvements_frame(con).set_index("improvement_id").loc["IMP-50", "owner"]
    finally:
        con.close()
    assert owner == "Payments lead"

    # remove: needs the confirmation first
    at.segmented_control(key="csi_keep").set_value("Remove").run()
    at.selectbox(key="remove_pick").set_value("IMP-50").run()
    assert at.button(key="remove_button").disabled
    at.checkbox(key="remove_sure").check().run()
    at.button(key="remove_button").click().run()
    assert not at.exception
    assert "IMP-50" not in register_ids(app_db)
    assert sorted(register_ids(app_db)) == sorted(before)


def test_form_refuses_an_entry_without_title_in_one_line(app_db, monkeypatch):
    at = open_page(app_db, monkeypatch, REGISTER)
    before = register_ids(app_db)
    at.button[[b.label for b in at.button].index("Add improvement")].click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["column title: required value is missing"]
    assert register_ids(app_db) == before


def test_schedule_page_shows_the_timeline_and_the_flag_counts(app_db, monkeypatch):
    at = open_page(app_db, monkeypatch, SCHEDULE, {"preset": "custom", "from": "2026-09-01",
                                                   "to": "2026-11-29"})  # fmt: skip
    assert at.title[0].value == "Change schedule"
    flt = at.session_state["filter"]
    con = connect(app_db)
    try:
        expected = {label: len(fn(con, flt)) for label, fn in schedule.FLAGS.items()}
    finally:
        con.close()
    # short card labels; the full flag name is the card's help text
    shown = {m.proto.help: int(m.value.replace(",", "")) for m in at.metric}
    assert shown == expected
    assert expected["Implemented outside the planned window"] > 0
    assert any(s.value == "What the numbers say" for s in at.subheader)


@pytest.mark.parametrize("page", [REGISTER, SCHEDULE])
def test_an_empty_window_shows_a_friendly_message(app_db, monkeypatch, page):
    at = open_page(app_db, monkeypatch, page, {"preset": "custom", "from": "2001-01-01",
                                               "to": "2001-01-31"})  # fmt: skip
    assert at.info and "widen the dates" in at.info[0].value


def test_editing_keeps_a_team_no_record_has(app_db, monkeypatch):
    con = connect(app_db)
    imp.add_improvement(con, {"improvement_id": "IMP-60", "title": "Chaos days",
                              "started_on": "2026-05-04", "team": "Ghost team"})  # fmt: skip
    con.close()
    at = open_page(app_db, monkeypatch, REGISTER)
    at.selectbox(key="edit_pick").set_value("IMP-60").run()
    assert at.selectbox(key="edit_IMP-60_team").value == "Ghost team"
    at.text_input(key="edit_IMP-60_owner").input("SRE guild")
    at.button[[b.label for b in at.button].index("Save changes")].click().run()
    assert not at.exception
    con = connect(app_db)
    try:
        row = imp.improvements_frame(con).set_index("improvement_id").loc["IMP-60"]
    finally:
        con.close()
    assert (row["team"], row["owner"]) == ("Ghost team", "SRE guild")


def test_picking_an_entry_stays_in_the_section_the_user_chose(app_db, monkeypatch):
    at = open_page(app_db, monkeypatch, REGISTER)
    at.selectbox(key="edit_pick").set_value("IMP-03").run()
    assert at.segmented_control(key="csi_keep").value == "Edit"
    assert at.text_input(key="edit_IMP-03_owner").value == "Payments SRE"
    # Remove chosen, then an entry picked: still on Remove, the edit form is not drawn
    at.segmented_control(key="csi_keep").set_value("Remove").run()
    at.selectbox(key="remove_pick").set_value("IMP-02").run()
    assert not at.exception
    assert at.segmented_control(key="csi_keep").value == "Remove"
    assert at.checkbox(key="remove_sure").label == "Yes, remove IMP-02 from the register"
    assert not [t for t in at.text_input if str(t.key).startswith("edit_")]
    # and back on Edit, picking another entry keeps Edit
    at.segmented_control(key="csi_keep").set_value("Edit").run()
    at.selectbox(key="edit_pick").set_value("IMP-05").run()
    assert at.segmented_control(key="csi_keep").value == "Edit"
    assert at.text_input(key="edit_IMP-05_owner").value == "Mobile lead"


def test_user_text_is_escaped_in_markdown(app_db, monkeypatch):
    # issue #13: an external image in a title must not load: it reaches markdown escaped
    title = "![x](https://example.com/track.png) <b>bold</b> *stars*"
    con = connect(app_db)
    imp.add_improvement(con, {"improvement_id": "IMP-[9]", "title": title,
                              "started_on": "2026-05-04", "team": "Payments",
                              "target_metric": "incidents"})  # fmt: skip
    con.close()
    at = open_page(app_db, monkeypatch, REGISTER)
    at.selectbox(key="csi_pick").set_value("IMP-[9]").run()
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert any("IMP-\\[9\\]" in t for t in texts)
    with_title = [t for t in texts if "track.png" in t]
    assert with_title  # the badge line, the heading and the reading
    for text in with_title:
        assert "![x](" not in text and "\\!\\[x\\]\\(https" in text
        assert "<b>" not in text and "\\*stars\\*" in text
