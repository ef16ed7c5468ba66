"""The placebo check of window attribution, shown on the pages whose failure rates it changes.

With window attribution on, an incident without ``caused_by_change`` counts against the latest
deployment on its service up to H hours before it. The same hours a week earlier and a week later
find the links chance alone makes (a deployment there cannot have caused it): when the window
finds not clearly more than that, the failure rates it adds are mostly coincidence.
"""

from __future__ import annotations

import streamlit as st

from analytics.metrics import attribution_placebo
from analytics.narrative import count
from analytics.stats import ALPHA
from ui.data import fetch


def _number(value: float, signed: bool = False) -> str:
    """A count that may be a half (the mean of two placebo windows): ``2,595`` or ``+0.5``."""
    text = f"{value:{'+' if signed else ''},.1f}".removesuffix(".0")
    return "0" if text in ("+0", "-0") else text


def placebo_message(att: dict, window_hours: float) -> tuple[str, bool] | None:
    """(message, is_warning) for a placebo result of :func:`attribution_placebo`; None in
    explicit mode. A warning when the excess is small: no more window links than placebo
    links beyond them (excess <= placebo) or not significantly more (the placebo test's
    one-sided p >= ALPHA)."""
    if att.get("placebo_links") is None:
        return None
    window, placebo, excess = att["window_links"], att["placebo_links"], att["excess_links"]
    hours = f"{window_hours:g} h"
    head = (
        f"Window attribution links {count(window, 'incidents')} to a deployment in the {hours} "
        f"before them; the same {hours} a week earlier or later, where a deployment cannot be "
        f"the cause, link {_number(placebo)} on average (the placebo windows)"
    )
    p = att["p_value"]
    if excess <= placebo or p is None or p >= ALPHA:
        return (
            f"{head}. That is {_number(excess, signed=True)} beyond chance: most window links are "
            "coincidences, "
            "so the failure rates with window attribution are overstated — prefer explicit "
            "caused_by_change links.",
            True,
        )
    return f"{head}: about {_number(excess)} links beyond chance.", False


def placebo_notice(ctx) -> None:
    """The placebo count (and a warning when the window finds little beyond chance) for the
    page's filter, when the sidebar's window attribution is on."""
    attribution = ctx.attribution
    if not attribution.by_window:
        return
    att = fetch(attribution_placebo, ctx.flt, attribution)
    found = placebo_message(att, attribution.window_hours)
    if found is None:
        return
    message, warn = found
    if warn:
        st.warning(message, icon=":material/warning:")
    else:
        st.caption(f":material/info: {message}")
