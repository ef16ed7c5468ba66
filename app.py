"""Cadence dashboard: ``streamlit run app.py``. The frame around every page: page config,
sign-in, navigation, the shared sidebar (period, teams, services, dataset, account), and the
guard that turns an unexpected error into a plain message (the traceback goes to the log)."""

from __future__ import annotations

import logging

import streamlit as st

st.set_page_config(page_title="Cadence", page_icon=":material/speed:", layout="wide")

from analytics.access import VIEW  # noqa: E402  (after set_page_config, which must come first)
from ui import auth  # noqa: E402

principal = auth.current()
if not principal.may(VIEW):
    auth.sign_in_page(principal)  # signing in is all a visitor without a role can do
    st.stop()

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

from ui import data  # noqa: E402
from ui.sidebar import filters  # noqa: E402

st.sidebar.title("Cadence")
try:
    problem = data.problem()
    if problem is None:
        st.session_state["filter"] = filters()
    auth.account_box(principal)
    if problem is None or page.title == "Data":
        page.run()  # the Data page shows what happened to the database and how to recover
    else:
        data.problem_notice(problem)
except Exception:
    # The browser gets a sentence; the traceback (paths, SQL) stays in the server's log.
    logging.getLogger("cadence").exception("page %r failed", page.title)
    st.error(
        "This page could not be shown because of an unexpected error. It was written to the "
        "server's log; other pages may still work. If it persists, tell whoever runs Cadence.",
        icon=":material/error:",
    )
    if auth.under_app_test():
        raise  # under AppTest the error must still fail the test that caused it
