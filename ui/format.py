"""Human-readable numbers for KPI cards and sentences (None shows as an em dash)."""

from __future__ import annotations

import math

DASH = "—"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def number(value, digits: int = 1) -> str:
    """``1,234.5``-style number."""
    return DASH if _missing(value) else f"{value:,.{digits}f}"


def percent(value, digits: int = 1) -> str:
    """A fraction (0.123) as ``12.3 %``."""
    return DASH if _missing(value) else f"{100 * value:.{digits}f} %"


def hours(value) -> str:
    """A duration in hours: minutes below 1 h, hours below 48 h, days beyond."""
    if _missing(value):
        return DASH
    if value < 1:
        return f"{60 * value:.0f} min"
    if value < 48:
        return f"{value:.1f} h"
    return f"{value / 24:.1f} days"


def money(value) -> str:
    """A cost in currency units, without decimals."""
    return DASH if _missing(value) else f"{value:,.0f}"


def change(current, previous, kind: str = "number") -> str | None:
    """The delta text for ``st.metric``: difference to the previous period, None if unknown."""
    if _missing(current) or _missing(previous):
        return None
    diff = current - previous
    if abs(diff) < 1e-9 or (kind == "percent" and abs(diff) < 0.0005):
        return None  # "+0.0" would still get a coloured arrow
    if kind == "percent":
        return f"{100 * diff:+.1f} pp"
    if kind == "hours":
        sign = "+" if diff >= 0 else "-"
        return sign + hours(abs(diff))
    if kind == "money":
        return f"{diff:+,.0f}"
    return f"{diff:+,.2f}"
