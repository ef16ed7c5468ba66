"""The dashboard's filter state and its URL form, as pure functions (no Streamlit here).

The URL carries ``preset`` and, for a custom window, ``from``/``to`` (ISO dates), plus repeated
``team`` and ``service`` keys: ``?preset=custom&from=2025-01-01&to=2025-03-31&team=Payments``.
Presets are relative to the data's latest day, not today, so a shared link keeps its meaning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from analytics.filters import Filter, clamp_day, clamp_note

PRESETS = {
    "last_90_days": "Last 90 days",
    "last_quarter": "Last full quarter",
    "last_12_months": "Last 12 months",
    "all": "All data",
    "custom": "Custom dates",
}
DEFAULT_PRESET = "last_12_months"


@dataclass(frozen=True)
class FilterState:
    """What the sidebar shows: a preset, the custom window (if any), chosen teams and services."""

    preset: str = DEFAULT_PRESET
    start: dt.date | None = None
    end: dt.date | None = None
    teams: tuple[str, ...] = field(default=())
    services: tuple[str, ...] = field(default=())
    note: str = ""  # what was changed in a hand-edited link (a date clamped into range)


def quarter_start(day: dt.date) -> dt.date:
    """First day of the calendar quarter containing ``day``."""
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def preset_window(preset: str, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The ``(start, end)`` days (both included) of a preset, given the data's first/last day.

    ``last_quarter`` is the latest calendar quarter that is complete on the data's last day.
    Windows are not clipped to the data's first day: a 90-day window stays 90 days long so that
    comparisons with the previous period are like for like.
    """
    if preset == "last_90_days":
        return last - dt.timedelta(days=89), last
    if preset == "last_12_months":
        return _add_years(last, -1) + dt.timedelta(days=1), last
    if preset == "last_quarter":
        next_day_quarter = quarter_start(last + dt.timedelta(days=1))
        end = next_day_quarter - dt.timedelta(days=1)
        return quarter_start(end), end
    return first, last


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _parse_date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def parse_query(params: Mapping[str, Sequence[str]]) -> FilterState:
    """The filter state described by URL query parameters (each key maps to all its values).

    Unknown presets and unreadable dates are ignored rather than failing: a hand-edited link
    still opens the dashboard. ``from``/``to`` without a preset mean a custom window.
    """

    def first(key: str) -> str | None:
        values = params.get(key) or []
        return values[0] if values else None

    start, end = _parse_date(first("from")), _parse_date(first("to"))
    # Dates outside the plausible range (?to=9999-12-31) are clamped into it, with a note.
    notes = [
        n for n in (clamp_note("from", start) if start else None,
                    clamp_note("to", end) if end else None) if n
    ]  # fmt: skip
    start = clamp_day(start) if start else None
    end = clamp_day(end) if end else None
    if start and end and end < start:
        start, end = end, start
    preset = first("preset")
    if preset not in PRESETS:
        preset = "custom" if (start or end) else DEFAULT_PRESET
    teams = tuple(dict.fromkeys(t for t in params.get("team", []) if t))
    services = tuple(dict.fromkeys(s for s in params.get("service", []) if s))
    if preset != "custom":
        start = end = None
        notes = []
    return FilterState(preset, start, end, teams, services, "; ".join(notes))


def to_query(state: FilterState) -> dict[str, str | list[str]]:
    """URL query parameters for a filter state (dates only for a custom window)."""
    query: dict[str, str | list[str]] = {"preset": state.preset}
    if state.preset == "custom" and state.start and state.end:
        query["from"] = state.start.isoformat()
        query["to"] = state.end.isoformat()
    if state.teams:
        query["team"] = list(state.teams)
    if state.services:
        query["service"] = list(state.services)
    return query


def resolve(
    state: FilterState, data_range: tuple[dt.date, dt.date] | None, today: dt.date
) -> Filter:
    """The :class:`Filter` a state selects; ``data_range`` None (empty store) anchors on today.

    Presets end on the data's last day, but never after today: a sprint planned to end next week
    must not put empty future days into "the last 90 days"; they start no earlier than the
    data's first day, so a short data set is not padded with empty weeks (zeros that would
    count in every weekly statistic).
    """
    first, last = data_range or (today - dt.timedelta(days=364), today)
    # A database loaded before dates were bounded may still hold a year 0001 or 9999.
    first, last = clamp_day(first), clamp_day(last)
    if first <= today < last:
        last = today
    if state.preset == "custom":
        start = clamp_day(state.start or first)
        end = clamp_day(state.end or last)
        if end < start:
            start, end = end, start
    else:
        start, end = preset_window(state.preset, first, last)
        if data_range:  # "last 12 months" of 8 weeks of data: no empty months before the data
            start = min(max(start, first), end)
    return Filter(start, end, state.teams, state.services)
