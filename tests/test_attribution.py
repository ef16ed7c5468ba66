"""Window attribution against its placebo: the same hours a week earlier and a week later count
the links chance alone makes (a bidirectional case-crossover design). Hand-made incidents and
changes at known times, the report's JSON keys, and the warning the pages show."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
from scipy.stats import norm
from streamlit.testing.v1 import AppTest

from analytics.filters import Filter
from analytics.metrics import EXPLICIT, Attribution, attribution_placebo, report
from tests.builders import change, incident
from ui.attribution import placebo_message

MARCH = Filter(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
DAY = Attribution("window", 24.0)
KEYS = ("window_links", "placebo_links", "excess_links", "placebo_after_links", "p_value")


@pytest.fixture
def links_db(con):
    """Deployments on service web: D0 Fri 20 Feb 10:00 and DEND Tue 31 Mar 10:00 (the record's
    ends), P1 Mon 23 Feb 15:00, C1 Mon 2 Mar 10:00, C2 Wed 4 Mar 12:00, Q1 Tue 10 Mar 09:00.
    Incidents, with the 24 h before them, the same hours a week earlier / later, and the 24 h
    straight after:
    I1 Mon 2 Mar 20:00: C1 10 h before; P1 a week earlier (23 Feb 15:00 is in 22 Feb 20:00 ..
       23 Feb 20:00); nothing a week later; nothing straight after
    I2 Tue 3 Mar 18:00: C1 32 h before (too early); nothing a week earlier; Q1 a week later
       (10 Mar 09:00 in 9 Mar 18:00 .. 10 Mar 18:00); C2 after
    I3 Wed 4 Mar 08:00: nothing before; nothing a week earlier; Q1 a week later (10 Mar 09:00 in
       10 Mar 08:00 .. 11 Mar 08:00); C2 4 h straight after
    I4 Wed 4 Mar 10:00, fixed by C2: nothing before (C1 48 h); nothing a week either side (Q1 is
       an hour early); C2 straight after is its own fix
    I5 Mon 2 Mar 11:00, caused_by_change C1: linked explicitly, in no count
    I6 Sat 21 Feb 10:00: D0 exactly 24 h before, but its week-earlier window lies before the
       record (20 Feb): left out of the placebo comparison."""
    for cid, at in (("D0", "2026-02-20 10:00"), ("P1", "2026-02-23 15:00"),
                    ("C1", "2026-03-02 10:00"), ("C2", "2026-03-04 12:00"),
                    ("Q1", "2026-03-10 09:00"), ("DEND", "2026-03-31 10:00")):  # fmt: skip
        change(con, cid, at)
    incident(con, "I1", "2026-03-02 20:00")
    incident(con, "I2", "2026-03-03 18:00")
    incident(con, "I3", "2026-03-04 08:00")
    incident(con, "I4", "2026-03-04 10:00", resolved_by_change="C2")
    incident(con, "I5", "2026-03-02 11:00", caused_by_change="C1")
    incident(con, "I6", "2026-02-21 10:00")
    return con


def test_window_and_placebo_links_by_hand(links_db):
    got = attribution_placebo(links_db, MARCH, DAY)
    # window: I1. Placebo: (week earlier: I1 + week later: I2, I3) / 2 = 1.5. Straight after:
    # I2, I3. All four are on web in the week of 2 March: one cluster, score 1 - 3/2 = -0.5,
    # variance 0.25: z = -0.5 / 0.5 = -1.
    assert got == {"window_links": 1, "placebo_links": 1.5, "excess_links": -0.5,
                   "placebo_after_links": 2, "p_value": pytest.approx(norm.sf(-1))}  # fmt: skip
    # the report carries them beside its own window count (I1, the only one in March)
    att = report(links_db, MARCH, attribution=DAY)["attribution"]
    assert att["incidents_linked_by_window"] == 1 and att["incidents_linked_explicitly"] == 1
    assert {k: att[k] for k in KEYS if k != "window_links"} == {
        k: got[k] for k in KEYS if k != "window_links"
    }


def test_a_longer_window_finds_more_of_both(links_db):
    # 48 h: C1 is in the window before I1 (10 h), I2 (32 h), I3 (46 h) and I4 (exactly 48 h).
    # A week earlier P1 (23 Feb 15:00) is in all four windows; a week later Q1 (10 Mar 09:00) in
    # those of I2, I3 and I4 (I1's ends 9 Mar 20:00): placebo (4 + 3) / 2 = 3.5. Straight after:
    # C2 for I1, I2, I3 (I4's is its fix). One cluster, score 0.5 + 0 + 0 + 0: z = 0.5 / 0.5 = 1.
    got = attribution_placebo(links_db, MARCH, Attribution("window", 48.0))
    assert got == {"window_links": 4, "placebo_links": 3.5, "excess_links": 0.5,
                   "placebo_after_links": 3, "p_value": pytest.approx(norm.sf(1))}  # fmt: skip


def test_incidents_whose_placebo_windows_leave_the_record_are_left_out(links_db):
    since_february = Filter(dt.date(2026, 2, 1), dt.date(2026, 3, 31))
    att = report(links_db, since_february, attribution=DAY)["attribution"]
    assert att["incidents_linked_by_window"] == 2  # I1 and I6
    # I6 left out, the rest as in March: window I1, placebo 1.5, straight after I2 and I3
    got = attribution_placebo(links_db, since_february, DAY)
    assert got == attribution_placebo(links_db, MARCH, DAY)
    assert (got["window_links"], got["placebo_links"], got["placebo_after_links"]) == (1, 1.5, 2)


def test_explicit_mode_has_no_placebo(links_db):
    assert attribution_placebo(links_db, MARCH, EXPLICIT) == dict.fromkeys(KEYS)
    att = report(links_db, MARCH)["attribution"]
    assert all(att[k] is None for k in KEYS if k != "window_links")


def test_links_beyond_chance_are_not_flagged(con):
    # six incidents each 1 h after their own deployment, every eighth day from Monday 2 March
    # 10:00 (each in its own ISO week); the neighbours' deployments are 8 days away, an hour
    # outside the placebo windows a week either side. The record runs from 1 February to
    # 30 April (deployments on another service).
    change(con, "START", "2026-02-01 10:00", service="other")
    change(con, "END", "2026-04-30 10:00", service="other")
    for k in range(6):
        day = dt.datetime(2026, 3, 2, 10) + dt.timedelta(days=8 * k)
        change(con, f"C{k}", day)
        incident(con, f"I{k}", day + dt.timedelta(hours=1))
    got = attribution_placebo(con, Filter(dt.date(2026, 3, 1), dt.date(2026, 4, 30)), DAY)
    # six clusters with score 1 each: variance 6, z = 6 / sqrt(6)
    assert got == {"window_links": 6, "placebo_links": 0.0, "excess_links": 6.0,
                   "placebo_after_links": 0,
                   "p_value": pytest.approx(norm.sf(6 / math.sqrt(6)))}  # fmt: skip
    message, warn = placebo_message(got, 24.0)
    assert not warn
    assert message == (
        "Window attribution links 6 incidents to a deployment in the 24 h before them; the same "
        "24 h a week earlier or later, where a deployment cannot be the cause, link 0 on average "
        "(the placebo windows): about 6 links beyond chance."
    )


def test_the_warning_when_the_excess_is_small(links_db):
    message, warn = placebo_message(attribution_placebo(links_db, MARCH, DAY), 24.0)
    assert warn
    assert message.startswith(
        "Window attribution links 1 incident to a deployment in the 24 h before them; the same "
        "24 h a week earlier or later"
    )
    assert (
        "link 1.5 on average (the placebo windows). That is -0.5 beyond chance: most window "
        "links are coincidences" in message
    )
    assert placebo_message({"placebo_links": None}, 24.0) is None


def test_pages_with_failure_rates_show_the_placebo_warning(demo_db, tmp_path, monkeypatch):
    import shutil

    from analytics.store import connect

    # a copy: the app's cached read-write connection must not hold the shared demo database
    db = tmp_path / "cadence.duckdb"
    shutil.copy(demo_db, db)
    monkeypatch.setenv("CADENCE_DB", str(db))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"),
                           default_timeout=60)  # fmt: skip
    at.query_params.update({"preset": "all"})
    at.run()
    assert not [w for w in at.warning if "placebo window" in w.value]  # explicit: nothing
    at.toggle(key="attr_window").set_value(True).run()
    assert not at.exception
    con = connect(db)  # the app holds it open read-write
    try:
        expected = attribution_placebo(con, at.session_state["filter"], DAY)
    finally:
        con.close()
    # the demo: a few links beyond chance, far fewer than chance makes
    assert 0 < expected["excess_links"] <= expected["placebo_links"]
    shown = [w.value for w in at.warning if "placebo window" in w.value]
    assert shown == [placebo_message(expected, 24.0)[0]]
    for page in ("app_pages/change_control.py", "app_pages/flexibility.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert [w.value for w in at.warning if "placebo window" in w.value] == shown, page
