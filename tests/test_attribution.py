"""Window attribution against its placebo: the same window *after* each incident counts the
links chance alone makes. Hand-made incidents and changes at known times, the report's JSON
keys, and the warning the pages show."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.filters import Filter
from analytics.metrics import EXPLICIT, Attribution, attribution_placebo, report
from tests.builders import change, incident
from ui.attribution import placebo_message

MARCH = Filter(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
DAY = Attribution("window", 24.0)


@pytest.fixture
def links_db(con):
    """Changes C1 (Mon 2 Mar 10:00) and C2 (Wed 4 Mar 12:00) on service web, and incidents:
    I1 Mon 20:00: C1 10 h before (window link); C2 40 h after (too late for the placebo)
    I2 Tue 18:00: C1 32 h before (too early); C2 18 h after (placebo link)
    I3 Wed 08:00: C1 46 h before (too early); C2 4 h after (placebo link)
    I4 Wed 10:00, fixed by C2: C1 48 h before; C2 2 h after is its own fix, not a placebo link
    I5 Mon 11:00, caused_by_change C1: linked explicitly, in neither count."""
    change(con, "C1", "2026-03-02 10:00")
    change(con, "C2", "2026-03-04 12:00")
    incident(con, "I1", "2026-03-02 20:00")
    incident(con, "I2", "2026-03-03 18:00")
    incident(con, "I3", "2026-03-04 08:00")
    incident(con, "I4", "2026-03-04 10:00", resolved_by_change="C2")
    incident(con, "I5", "2026-03-02 11:00", caused_by_change="C1")
    return con


def test_window_and_placebo_links_by_hand(links_db):
    got = attribution_placebo(links_db, MARCH, DAY)
    # linked one way only: I1 before; I2 and I3 after. Sign test: P(X >= 1 | n = 3, 1/2) = 7/8
    assert got == {
        "window_links": 1,
        "placebo_links": 2,
        "excess_links": -1,
        "p_value": pytest.approx(7 / 8),
    }
    # the window count is the report's own
    att = report(links_db, MARCH, attribution=DAY)["attribution"]
    assert att["incidents_linked_by_window"] == 1 and att["incidents_linked_explicitly"] == 1
    assert (att["placebo_links"], att["excess_links"], att["p_value"]) == (
        2,
        -1,
        pytest.approx(7 / 8),
    )


def test_a_longer_window_finds_more_of_both(links_db):
    # 48 h: I1 (10 h), I2 (32 h), I3 (46 h), I4 (exactly 48 h) before; I1 (40 h), I2, I3 after
    got = attribution_placebo(links_db, MARCH, Attribution("window", 48.0))
    assert (got["window_links"], got["placebo_links"], got["excess_links"]) == (4, 3, 1)
    # one way only: I4 before, nobody after: p = P(X >= 1 | n = 1) = 1/2
    assert got["p_value"] == pytest.approx(0.5)


def test_explicit_mode_has_no_placebo(links_db):
    assert attribution_placebo(links_db, MARCH, EXPLICIT) == dict.fromkeys(
        ("window_links", "placebo_links", "excess_links", "p_value")
    )
    att = report(links_db, MARCH)["attribution"]
    assert (att["placebo_links"], att["excess_links"], att["p_value"]) == (None, None, None)


def test_links_beyond_chance_are_not_flagged(con):
    # six incidents each 1 h after their own deployment, nothing deployed after them:
    # 6 window links, 0 placebo links, p = (1/2)^6 = 1/64
    for k in range(6):
        day = dt.datetime(2026, 3, 2, 10) + dt.timedelta(days=3 * k)
        change(con, f"C{k}", day)
        incident(con, f"I{k}", day + dt.timedelta(hours=1))
    got = attribution_placebo(con, MARCH, DAY)
    assert got == {"window_links": 6, "placebo_links": 0, "excess_links": 6,
                   "p_value": pytest.approx(1 / 64)}  # fmt: skip
    message, warn = placebo_message(got, 24.0)
    assert not warn
    assert message == (
        "Window attribution links 6 incidents to a deployment in the 24 h before them; "
        "0 incidents have one in the 24 h after them, where it cannot be the cause (the placebo "
        "window): about 6 links beyond chance."
    )


def test_the_warning_when_the_excess_is_small(links_db):
    message, warn = placebo_message(attribution_placebo(links_db, MARCH, DAY), 24.0)
    assert warn
    assert message.startswith(
        "Window attribution links 1 incident to a deployment in the 24 h before them; "
        "2 incidents have one in the 24 h after them"
    )
    assert "That is -1 beyond chance: most window links are coincidences" in message
    assert placebo_message({"placebo_links": None}, 24.0) is None


def test_pages_with_failure_rates_show_the_placebo_warning(demo_db, monkeypatch):
    from analytics.store import connect

    monkeypatch.setenv("CADENCE_DB", str(demo_db))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"),
                           default_timeout=60)  # fmt: skip
    at.query_params.update({"preset": "all"})
    at.run()
    assert not [w for w in at.warning if "placebo window" in w.value]  # explicit: nothing
    at.toggle(key="attr_window").set_value(True).run()
    assert not at.exception
    con = connect(demo_db)  # the app holds it open read-write
    try:
        expected = attribution_placebo(con, at.session_state["filter"], DAY)
    finally:
        con.close()
    # the demo: chance finds as many links after incidents as the window before them
    assert expected["excess_links"] <= expected["placebo_links"]
    shown = [w.value for w in at.warning if "placebo window" in w.value]
    assert shown == [placebo_message(expected, 24.0)[0]]
    for page in ("app_pages/change_control.py", "app_pages/flexibility.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert [w.value for w in at.warning if "placebo window" in w.value] == shown, page
