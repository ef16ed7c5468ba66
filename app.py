"""Cadence dashboard: ``streamlit run app.py``. The frame around every page: page config,
navigation and the shared sidebar (period, teams, services, dataset)."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Cadence", page_icon=":material/speed:", layout="wide")

PAGES = {
    "Insights": [
        st.Page(
            "app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True
        ),
        st.Page(
            "app_pages/flexibility.py", title="Flexibility vs stability", icon=":material/balance:"
        ),
        st.Page("app_pages/cadence.py", title="Cadence vs incidents", icon=":material/timeline:"),
        st.Page("app_pages/change_control.py", title="Change control", icon=":material/verified:"),
        st.Page("app_pages/support_cost.py", title="Support cost", icon=":material/payments:"),
        st.Page("app_pages/backlog.py", title="Backlog & warranty", icon=":material/checklist:"),
        st.Page(
            "app_pages/change_schedule.py", title="Change schedule", icon=":material/event_note:"
        ),
        st.Page("app_pages/csi_register.py", title="CSI register", icon=":material/trending_up:"),
    ],
    "Data": [
        st.Page("app_pages/data.py", title="Data", icon=":material/upload_file:"),
    ],
}

page = st.navigation(PAGES)

from ui.sidebar import filters  # noqa: E402  (after set_page_config, which must come first)

st.sidebar.title("Cadence")
st.session_state["filter"] = filters()
page.run()
