"""The support cost model: one hourly rate and default efforts where a ticket has none."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CostModel:
    """Hourly rate (currency units per hour) and default effort in hours per ticket.

    Frozen so Streamlit can cache results keyed by it; the dashboard edits it with ``replace``.
    """

    hourly_rate: float = 75.0
    p1_hours: float = 8.0
    p2_hours: float = 4.0
    p3_hours: float = 2.0
    p4_hours: float = 1.0
    request_hours: float = 0.5

    def params(self) -> dict:
        """Named SQL parameters used by :func:`effort_sql`."""
        return {
            "hourly_rate": self.hourly_rate,
            "p1_hours": self.p1_hours,
            "p2_hours": self.p2_hours,
            "p3_hours": self.p3_hours,
            "p4_hours": self.p4_hours,
            "request_hours": self.request_hours,
        }


DEFAULT_COST_MODEL = CostModel()


def effort_sql(alias: str = "") -> str:
    """SQL expression for a ticket's effort in hours: its own, else the model's default."""
    p = f"{alias}." if alias else ""
    return f"""coalesce({p}effort_hours, CASE
        WHEN {p}kind = 'request' THEN $request_hours
        WHEN {p}priority = 1 THEN $p1_hours
        WHEN {p}priority = 2 THEN $p2_hours
        WHEN {p}priority = 3 THEN $p3_hours
        ELSE $p4_hours END)"""
