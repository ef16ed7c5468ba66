"""The Cadence page's before/after section in Streamlit's AppTest on the demo data: its cards and
sentence are those of ``insights.cadence_before_after`` (difference-in-differences reading)."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest
from test_app import APP, TIMEOUT, assert_ok, metric

from analytics import insights, narrative
from analytics.filters import Filter
from analytics.metrics import data_range
from analytics.store import connect
from ui import format as fmt


@pytest.fixture(scope="module")
def cadence_db(demo_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("app-cadence") / "cadence.duckdb"
    shutil.copy(demo_db, path)
    return path


def test_before_after_cards_and_sentence_come_from_the_reading(cadence_db, monkeypatch):
    con = connect(cadence_db, read_only=True)
    first, last = data_range(con)
    flt = Filter(first, last)
    changes = insights.sprint_length_changes(con, flt)
    assert not changes.empty  # the demo's Search team switches to shorter sprints
    row = changes.iloc[-1]
    ba = insights.cadence_before_after(con, flt, row["team"], 8, row["change_date"])
    con.close()
    monkeypatch.setenv("CADENCE_DB", str(cadence_db))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"from": first.isoformat(), "to": last.isoformat()})
    at.run()
    at.switch_page("app_pages/cadence.py").run()
    assert_ok(at)
    did = ba.did
    assert metric(at, "Incidents/week, baseline") == fmt.number(did.team_before)
    assert metric(at, "Incidents/week after") == fmt.number(did.team_after)
    sentence = narrative.before_after_sentence(ba)
    shown = " ".join(m.value for m in at.markdown)
    assert sentence.split(":")[0] in shown  # the verdict and the change it is about
    assert "Card & Krueger 1994" in shown  # the "How this was computed" lines
