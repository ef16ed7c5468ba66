"""The filter every metric takes: a whole-day UTC window plus optional teams and services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from analytics.schema import DATE_MAX, DATE_MIN


@dataclass(frozen=True)
class Filter:
    """A date window ``[start, end]`` (both days included, UTC) and optional team/service sets.

    Frozen and built from tuples so it hashes: Streamlit's ``st.cache_data`` keys on it.
    Empty ``teams``/``services`` mean "all"; when set, records with an empty team/service drop out.
    """

    start: dt.date
    end: dt.date
    teams: tuple[str, ...] = field(default=())
    services: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"filter ends ({self.end}) before it starts ({self.start})")
        object.__setattr__(self, "teams", tuple(sorted(set(self.teams))))
        object.__setattr__(self, "services", tuple(sorted(set(self.services))))

    @property
    def window_days(self) -> int:
        """Number of whole days in the window, both ends included."""
        return (self.end - self.start).days + 1

    @property
    def start_ts(self) -> dt.datetime:
        """Inclusive lower bound as a naive UTC timestamp."""
        return dt.datetime.combine(self.start, dt.time())

    @property
    def end_ts(self) -> dt.datetime:
        """Exclusive upper bound: midnight after the last day."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time())

    def previous_period(self) -> Filter:
        """The window of equal length that ends the day before this one starts."""
        days = dt.timedelta(days=self.window_days)
        return replace(self, start=self.start - days, end=self.end - days)

    def params(self) -> dict:
        """Named parameters for SQL built with :func:`team_clause` / :func:`service_clause`."""
        return {
            "start_ts": self.start_ts,
            "end_ts": self.end_ts,
            "start_date": self.start,
            "end_date": self.end,
            "teams": list(self.teams),
            "services": list(self.services),
            "no_teams": not self.teams,
            "no_services": not self.services,
        }


def clamp_day(day: dt.date) -> dt.date:
    """``day`` moved into the contract's plausible range (``DATE_MIN`` .. ``DATE_MAX``)."""
    return min(max(day, DATE_MIN), DATE_MAX)


def clamp_note(label: str, day: dt.date) -> str | None:
    """A one-line note when ``day`` lies outside the plausible range (else None): windows are
    clamped to it, as no record can lie outside (and a year 9999 overflows Python's dates)."""
    if clamp_day(day) == day:
        return None
    return (
        f"{label} {day.isoformat()} is outside the dates Cadence reads ({DATE_MIN} to "
        f"{DATE_MAX}); using {clamp_day(day).isoformat()}"
    )


def team_clause(column: str = "team") -> str:
    """SQL predicate for the team filter (uses $no_teams and $teams)."""
    return f"($no_teams OR list_contains($teams, {column}))"


def service_clause(column: str = "service") -> str:
    """SQL predicate for the service filter (uses $no_services and $services)."""
    return f"($no_services OR list_contains($services, {column}))"
