"""The URL form of the sidebar filters and the date presets (pure functions, no Streamlit)."""

from __future__ import annotations

import datetime as dt

from analytics.filters import Filter
from ui.state import DEFAULT_PRESET, FilterState, parse_query, preset_window, resolve, to_query

D = dt.date


def test_presets_count_back_from_the_latest_day_of_data():
    first, last = D(2024, 1, 15), D(2025, 5, 20)
    # 90 days including both ends: 20 May back 89 days = 20 Feb
    assert preset_window("last_90_days", first, last) == (D(2025, 2, 20), last)
    # 12 months: the day after the same date a year earlier
    assert preset_window("last_12_months", first, last) == (D(2024, 5, 21), last)
    # 20 May is inside Q2, so the last complete quarter is Q1
    assert preset_window("last_quarter", first, last) == (D(2025, 1, 1), D(2025, 3, 31))
    # a last day that closes its quarter makes that quarter the last complete one
    assert preset_window("last_quarter", first, D(2025, 6, 30)) == (D(2025, 4, 1), D(2025, 6, 30))
    assert preset_window("all", first, last) == (first, last)


def test_twelve_months_back_from_29_february():
    assert preset_window("last_12_months", D(2020, 1, 1), D(2024, 2, 29)) == (
        D(2023, 3, 1),
        D(2024, 2, 29),
    )


def test_custom_window_round_trips_through_the_url():
    state = FilterState("custom", D(2025, 1, 1), D(2025, 3, 31), ("Payments", "Search"), ("web",))
    query = to_query(state)
    assert query == {
        "preset": "custom",
        "from": "2025-01-01",
        "to": "2025-03-31",
        "team": ["Payments", "Search"],
        "service": ["web"],
    }
    as_lists = {k: v if isinstance(v, list) else [v] for k, v in query.items()}
    assert parse_query(as_lists) == state


def test_preset_urls_carry_no_dates():
    assert to_query(FilterState("last_90_days")) == {"preset": "last_90_days"}
    assert parse_query({"preset": ["last_90_days"], "from": ["2025-01-01"]}) == FilterState(
        "last_90_days"
    )


def test_hand_edited_links_degrade_gracefully():
    assert parse_query({}) == FilterState(DEFAULT_PRESET)
    assert parse_query({"preset": ["bogus"]}) == FilterState(DEFAULT_PRESET)
    # dates without a preset mean a custom window; swapped dates are put in order
    assert parse_query({"from": ["2025-03-31"], "to": ["2025-01-01"]}) == FilterState(
        "custom", D(2025, 1, 1), D(2025, 3, 31)
    )
    assert parse_query({"from": ["yesterday"], "team": ["A", "A", ""]}) == FilterState(
        DEFAULT_PRESET, teams=("A",)
    )


def test_resolve_builds_the_filter():
    span = (D(2024, 1, 1), D(2025, 5, 20))
    state = FilterState("last_90_days", teams=("B", "A"))
    assert resolve(state, span, D(2026, 11, 30)) == Filter(
        D(2025, 2, 20), D(2025, 5, 20), ("A", "B")
    )
    custom = FilterState("custom", D(2025, 1, 1), None)
    assert resolve(custom, span, D(2026, 11, 30)) == Filter(D(2025, 1, 1), D(2025, 5, 20))
    # an empty database anchors the presets on today
    assert resolve(FilterState("last_90_days"), None, D(2026, 11, 30)) == Filter(
        D(2026, 9, 2), D(2026, 11, 30)
    )


def test_presets_never_end_in_the_future():
    # a sprint planned to end on 4 December extends the data past today (30 November)
    span = (D(2025, 1, 1), D(2026, 12, 4))
    assert resolve(FilterState("last_90_days"), span, D(2026, 11, 30)) == Filter(
        D(2026, 9, 2), D(2026, 11, 30)
    )
    # a custom window may still reach past today
    custom = FilterState("custom", D(2026, 11, 1), D(2026, 12, 4))
    assert resolve(custom, span, D(2026, 11, 30)).end == D(2026, 12, 4)


def test_presets_start_no_earlier_than_the_data():
    # eight weeks of data: "last 12 months" is those eight weeks, not 44 empty weeks before them
    span = (D(2025, 1, 6), D(2025, 3, 2))
    assert resolve(FilterState("last_12_months"), span, D(2026, 11, 30)) == Filter(
        D(2025, 1, 6), D(2025, 3, 2)
    )
    # a custom window is the user's: it may start before the data
    custom = FilterState("custom", D(2024, 1, 1), D(2025, 3, 2))
    assert resolve(custom, span, D(2026, 11, 30)).start == D(2024, 1, 1)


def test_dates_outside_the_plausible_range_are_clamped_with_a_note():
    state = parse_query({"from": ["1900-01-01"], "to": ["2026-03-31"]})
    assert (state.preset, state.start, state.end) == ("custom", D(1970, 1, 1), D(2026, 3, 31))
    assert state.note == (
        "from 1900-01-01 is outside the dates Cadence reads (1970-01-01 to 2100-12-31); "
        "using 1970-01-01"
    )
    assert "note" not in to_query(state)
    # a preset link ignores its dates, and so their note
    assert parse_query({"preset": ["all"], "to": ["9999-12-31"]}) == FilterState("all")
    # a custom window chosen in the sidebar is clamped as well
    wide = FilterState("custom", D(1, 1, 1), D(9999, 12, 31))
    assert resolve(wide, None, D(2026, 11, 30)) == Filter(D(1970, 1, 1), D(2100, 12, 31))
