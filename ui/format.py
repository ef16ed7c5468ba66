"""Human-readable numbers for KPI cards, tables and sentences (None shows as an em dash), and
the one label map for column headers (the same names as on the charts' axes and legends).

Money carries the session's currency ("€12,300", "CHF 12,300"): chosen on the Support cost page
(:data:`K_CURRENCY` in the session state), else the cost model's default.
"""

from __future__ import annotations

import math

from analytics.charts import LABELS, label  # noqa: F401  (label re-exported: one label map)
from analytics.cost import DEFAULT_CURRENCY, currency_code, format_money

DASH = "—"
K_CURRENCY = "currency"


def currency() -> str:
    """The session's currency code (``EUR``): the Support cost page's choice, else the default.
    Outside a Streamlit run (tests, scripts) the default."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return DEFAULT_CURRENCY
    import streamlit as st

    return currency_code(st.session_state.get(K_CURRENCY))


def money_label(what: str = "Cost") -> str:
    """An axis or column title naming the currency: ``Cost (EUR)``."""
    return f"{what} ({currency()})"


def money_column(title: str = "Support cost"):
    """An ``st.dataframe`` column of whole amounts in the session's currency ("€1,235")."""
    import streamlit as st

    code = currency()
    preset = {"EUR": "euro", "USD": "dollar", "JPY": "yen"}.get(code)
    return st.column_config.NumberColumn(title, format=preset or f"{code} %d", step=1)


def column_labels(columns, **overrides) -> dict[str, str]:
    """``st.dataframe`` column_config entries naming each known column by :data:`LABELS`
    (``change_failure_rate`` → "Change failure rate"); ``overrides`` win."""
    config: dict[str, str] = {c: LABELS[c] for c in columns if c in LABELS}
    config.update(overrides)
    return config


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def number(value, digits: int = 1) -> str:
    """``1,234.5``-style number."""
    return DASH if _missing(value) else f"{value:,.{digits}f}"


def percent(value, digits: int = 1) -> str:
    """A fraction (0.123) as ``12.3 %``."""
    return DASH if _missing(value) else f"{100 * value:.{digits}f} %"


def hours_unit(*values) -> str:
    """One unit for durations (hours) compared with each other: "min" if the largest is under
    1 h, "h" under 48 h, else "days" (so "2.1 days vs 0.8 days", never "2.1 days vs 20.3 h")."""
    known = [abs(v) for v in values if not _missing(v)]
    largest = max(known, default=0.0)
    return "min" if largest < 1 else ("h" if largest < 48 else "days")


def hours(value, unit: str | None = None) -> str:
    """A duration given in hours, in ``unit`` ("min", "h" or "days"; default
    :func:`hours_unit` of the value alone: minutes below 1 h, hours below 48 h, days beyond)."""
    if _missing(value):
        return DASH
    unit = unit or hours_unit(value)
    if unit == "min":
        return f"{60 * value:.0f} min"
    if unit == "h":
        return f"{value:.1f} h"
    return f"{value / 24:.1f} days"


def hours_in(unit: str):
    """A formatter like :func:`hours` with the unit fixed (for several numbers side by side)."""
    return lambda value: hours(value, unit)


def money(value, currency_: str | None = None) -> str:
    """A cost in whole currency units with its currency: ``€12,300`` (``currency_`` or the
    session's :func:`currency`)."""
    return DASH if _missing(value) else format_money(value, currency_ or currency())


def change(current, previous, kind: str = "number") -> str | None:
    """The delta text for ``st.metric``: difference to the previous period, None if unknown."""
    if _missing(current) or _missing(previous):
        return None
    diff = current - previous
    if abs(diff) < 1e-9 or (kind == "percent" and abs(diff) < 0.0005):
        return None  # "+0.0" would still get a coloured arrow
    if kind == "percent":
        return f"{100 * diff:+.1f} pp"
    if kind == "hours":  # in the unit the current value is shown in
        sign = "+" if diff >= 0 else "-"
        return sign + hours(abs(diff), hours_unit(current))
    if kind == "money":
        return format_money(diff, currency(), sign=True)
    return f"{diff:+,.2f}"
