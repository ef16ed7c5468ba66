"""The support cost model: one hourly rate and default efforts where a ticket has none, and the
currency the rate is in (every cost shown carries it: "€12,300", "CHF 12,300")."""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_CURRENCY = "EUR"
# ISO 4217 codes with a symbol written before the amount; any other code is written out.
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹"}
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "JPY", "INR", "CAD", "AUD")


@dataclass(frozen=True)
class CostModel:
    """Hourly rate (``currency`` per hour) and default effort in hours per ticket.

    Frozen so Streamlit can cache results keyed by it; the dashboard edits it with ``replace``.
    """

    hourly_rate: float = 75.0
    p1_hours: float = 8.0
    p2_hours: float = 4.0
    p3_hours: float = 2.0
    p4_hours: float = 1.0
    request_hours: float = 0.5
    currency: str = DEFAULT_CURRENCY

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


def currency_code(code: str | None) -> str:
    """A clean upper-case currency code (three letters), else the default currency."""
    text = (code or "").strip().upper()
    return text if len(text) == 3 and text.isalpha() else DEFAULT_CURRENCY


def money_prefix(currency: str | None = None) -> str:
    """What goes before an amount: the symbol ("€") or the code and a space ("CHF ")."""
    code = currency_code(currency)
    return CURRENCY_SYMBOLS.get(code, code + " ")


def format_money(value, currency: str | None = None, *, sign: bool = False) -> str:
    """An amount in whole currency units with its currency: ``€12,300``, ``CHF 12,300``,
    ``-€40``; with ``sign`` a leading ``+`` for positive amounts (deltas). None/NaN: "—"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    rounded = round(float(value))
    lead = "-" if rounded < 0 else ("+" if sign else "")
    return f"{lead}{money_prefix(currency)}{abs(rounded):,.0f}"


def effort_sql(alias: str = "") -> str:
    """SQL expression for a ticket's effort in hours: its own, else the model's default."""
    p = f"{alias}." if alias else ""
    return f"""coalesce({p}effort_hours, CASE
        WHEN {p}kind = 'request' THEN $request_hours
        WHEN {p}priority = 1 THEN $p1_hours
        WHEN {p}priority = 2 THEN $p2_hours
        WHEN {p}priority = 3 THEN $p3_hours
        ELSE $p4_hours END)"""
