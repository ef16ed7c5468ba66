"""What every page needs from the frame: the filter, the cost model and the attribution."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from analytics.cost import CostModel
from analytics.filters import Filter
from ui.sidebar import attribution, cost_model


@dataclass(frozen=True)
class PageContext:
    flt: Filter
    cost: CostModel
    attribution: object  # analytics.metrics.Attribution


def page_context() -> PageContext:
    """The filter chosen in the sidebar (set by app.py before the page runs) and the settings."""
    return PageContext(st.session_state["filter"], cost_model(), attribution())
