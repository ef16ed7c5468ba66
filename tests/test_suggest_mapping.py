"""A file Cadence does not know (the BPIC 2014 ITSM log) is not taken for a Cadence file: the
Data page offers the column mapping, pre-filled by name similarity."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from analytics.importers.suggest import similarity, suggest_mapping
from tests.test_app import APP, TIMEOUT, assert_ok

# The first columns of the BPIC 2014 (Rabobank) incident log, as exported with underscores.
BPIC = [
    "CI_Name_aff", "CI_Type_aff", "Service_Component_WBS_aff", "Incident_ID", "Status",
    "Impact", "Urgency", "Priority", "Category", "Open_Time", "Reopen_Time", "Resolved_Time",
    "Close_Time", "Handle_Time_Hours", "Closure_Code", "Related_Change",
]  # fmt: skip


def test_similarity_of_time_columns_ignores_the_time_word():
    assert similarity("Open_Time", "opened_at") == 1.0  # "open" and "opened" share a stem
    assert similarity("Resolved Time", "resolved_at") == 1.0
    assert similarity("Close_Time", "opened_at") < 0.8


def test_suggest_mapping_pairs_bpic_columns_with_the_incident_schema():
    assert suggest_mapping(BPIC, "incidents") == {
        "Incident_ID": "incident_id",
        "Priority": "priority",
        "Open_Time": "opened_at",
        "Resolved_Time": "resolved_at",
    }
    # a plain list of targets works too; each target is used once, best pair first
    assert suggest_mapping(["Open Time", "Reopen Time"], ["opened_at"]) == {
        "Open Time": "opened_at"
    }


def test_the_data_page_offers_the_mapping_for_an_unknown_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CADENCE_DB", str(tmp_path / "cadence.duckdb"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/data.py").run()
    row = "a,b,c,IM0000004,Closed,4,4,4,incident,07-02-2013 08:00,,07-02-2013 12:00,,1,Other,\n"
    content = (";".join(BPIC).replace(";", ",") + "\n" + row).encode()
    at.file_uploader(key="uploads").set_value(("bpic.csv", content, "text/csv")).run()
    assert_ok(at)
    captions = " ".join(c.value for c in at.caption)
    assert "Detected: Cadence incidents file" not in captions
    assert "Not a Cadence, ServiceNow or Jira file" in captions
    assert at.selectbox(key="imp_as_0").value == "mapping"
    assert at.selectbox(key="imp_kind_0_(new mapping)").value == "incidents"
    # the mapping editor opens pre-filled with suggest_mapping's guesses, the rest left blank
    editor = next(d for d in at.dataframe if d.key == "imp_columns_0_(new mapping)_incidents")
    shown = editor.value
    assert shown["source column"].tolist() == BPIC
    assert {s: t for s, t in zip(shown["source column"], shown["maps to"], strict=True) if t} == {
        "Incident_ID": "incident_id",
        "Priority": "priority",
        "Open_Time": "opened_at",
        "Resolved_Time": "resolved_at",
    }
