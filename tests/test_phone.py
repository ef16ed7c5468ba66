"""Issue #12 on a phone and at the edges: the Cadence timeline marks the weeks cut by the data
(hatched "Partial week" bars, off the incident lines), the Flexibility labels stay inside the plot,
the Change schedule's compact view draws a per-week summary. Real DuckDB, real AppTest."""

from __future__ import annotations

import base64
import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import charts
from analytics.store import connect
from tests import builders as b
from tests.test_app import APP, TIMEOUT, assert_ok
from tests.test_palette import off_palette

WEEKS = [dt.date(2025, 1, 6) + dt.timedelta(weeks=i) for i in range(4)]


def test_cadence_timeline_marks_partial_weeks_apart_from_whole_ones():
    weekly = pd.DataFrame(
        {"bucket": WEEKS, "deployments": [1, 5, 4, 2], "incidents": [0, 2, 3, 1],
         "incidents_p1_p2": [0, 1, 0, 1]}
    )  # fmt: skip
    fig = charts.cadence_timeline(weekly, partial=[WEEKS[0], WEEKS[3]])
    by_name = {t.name: t for t in fig.data}
    # whole weeks only in the bars and on the lines
    assert [pd.Timestamp(x) for x in by_name["Deployments"].x] == [
        pd.Timestamp(WEEKS[1]), pd.Timestamp(WEEKS[2])
    ]  # fmt: skip
    assert list(by_name["Deployments"].y) == [5, 4]
    assert list(by_name["Incidents"].y) == [2, 3]
    assert list(by_name["P1–P2 incidents"].y) == [1, 0]
    # the 1-deployment first week and the last week: hatched light bars under "Partial week"
    edge = by_name["Partial week"]
    assert edge.type == "bar" and list(edge.y) == [1, 2]
    assert edge.marker.color == charts.NEUTRAL_LIGHT and edge.marker.pattern.shape == "/"
    assert edge.showlegend is not False
    dots = by_name["Incidents (partial week)"]
    assert dots.mode == "markers" and list(dots.y) == [0, 1] and dots.showlegend is False
    assert dots.marker.symbol == "circle-open"
    # without partial weeks the chart is the plain three-series one
    assert [t.name for t in charts.cadence_timeline(weekly).data] == [
        "Deployments", "Incidents", "P1–P2 incidents"
    ]  # fmt: skip


def open_page(path, monkeypatch, page: str, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("CADENCE_DB", str(path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"preset": "all", **(query or {})})
    at.run()
    at.switch_page(page).run()
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def values(array) -> list:
    """A figure JSON array as a list: Plotly writes numeric arrays as base64 ``bdata``."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    """Changes and incidents from Thursday 9 Jan 2025 to Tuesday 25 Feb 2025: the first and last
    ISO weeks (6 Jan, 24 Feb) are cut by the data; 6 whole weeks between them."""
    path = tmp_path_factory.mktemp("phone") / "cadence.duckdb"
    con = connect(path)
    first = dt.date(2025, 1, 9)
    for i in range(48):
        day = first + dt.timedelta(days=i)
        b.change(
            con, f"CHG{i}", f"{day} 14:00", requested_at=f"{day} 08:00", team="alpha",
            service="web", outcome="failed" if i % 7 == 0 else "successful",
            approval=("pre-approved", "cab")[i % 2],
        )  # fmt: skip
        if i % 3 == 0:
            b.incident(con, f"INC{i}", f"{day} 16:00", team="alpha", service="web", priority=2)
    con.close()
    return path


def test_cadence_page_draws_partial_edge_weeks_hatched(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, "app_pages/cadence.py")
    assert_ok(at)
    timeline = next(
        f for f in figures(at) if any(t.get("name") == "Deployments" for t in f["data"])
    )
    traces = {t["name"]: t for t in timeline["data"]}
    assert [x[:10] for x in traces["Partial week"]["x"]] == ["2025-01-06", "2025-02-24"]
    # Thu-Sun of the first week: 4 deployments; Mon-Tue of the last: 2
    assert values(traces["Partial week"]["y"]) == [4, 2]
    assert len(traces["Deployments"]["x"]) == 6 and set(values(traces["Deployments"]["y"])) == {7}
    assert any("2 partial weeks" in c.value for c in at.caption)


def test_schedule_week_summary_sums_services_per_week_and_approval():
    monday = pd.Timestamp("2025-01-13")
    changes = pd.DataFrame(
        {"service": ["web", "api", "web", "web"],
         "day": [monday, monday, monday, monday + pd.Timedelta(weeks=1)],
         "approval": ["cab", "cab", "pre-approved", "cab"], "changes": [2, 3, 4, 1],
         "failed": [0, 1, 0, 0]}
    )  # fmt: skip
    incidents = pd.DataFrame(
        {"service": ["web", "api", "web"], "day": [monday, monday, monday + pd.Timedelta(weeks=1)],
         "priority": [2, 3, 1], "incidents": [1, 2, 5]}
    )  # fmt: skip
    fig = charts.schedule_week_summary(changes, incidents, partial=[monday])
    traces = {t.name: t for t in fig.data}
    # stacked from the most delegated path to the most controlled; CAB: 2 + 3 in the first week
    assert [t.name for t in fig.data] == ["Pre-approved", "CAB", "Incidents"]
    assert list(traces["CAB"].y) == [5, 1] and list(traces["Pre-approved"].y) == [4]
    assert traces["CAB"].marker.color == charts.APPROVAL_COLORS["cab"]
    assert list(traces["Incidents"].y) == [3, 5]
    # the first week is cut by the window: faded bars, an open incident marker
    assert list(traces["CAB"].marker.opacity) == [0.4, 1.0]
    assert list(traces["Incidents"].marker.symbol) == ["circle-open", "circle"]
    assert fig.layout.barmode == "stack"
    assert not off_palette(json.loads(fig.to_json()))


def test_change_schedule_compact_view_draws_the_weekly_summary(small_db, monkeypatch):
    at = open_page(small_db, monkeypatch, "app_pages/change_schedule.py")
    assert_ok(at)
    assert any("Compact view" in c.value for c in at.caption)
    at.toggle(key="sched_compact").set_value(True).run()
    assert_ok(at)
    (fig,) = [f for f in figures(at) if f["layout"]["title"]["text"].startswith("Changes and")]
    traces = {t["name"]: t for t in fig["data"]}
    # 48 changes alternating pre-approved / CAB over 8 ISO weeks (4 + 6 x 7 + 2 days)
    assert set(traces) == {"Pre-approved", "CAB", "Incidents"}
    assert sum(values(traces["CAB"]["y"])) + sum(values(traces["Pre-approved"]["y"])) == 48
    assert sum(values(traces["Incidents"]["y"])) == 16
    # the window (the data's 9 Jan to 25 Feb) cuts its first and last weeks; the last
    # incident opens on Sunday 23 Feb, in a whole week
    assert traces["CAB"]["marker"]["opacity"] == [0.4] + [1.0] * 6 + [0.4]
    assert traces["Incidents"]["marker"]["symbol"] == ["circle-open"] + ["circle"] * 6
    assert not off_palette(fig)
    # the multi-lane timeline is gone
    assert not [f for f in figures(at) if f["layout"]["title"]["text"].startswith("Sprints")]
