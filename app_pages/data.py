"""Data: load CSV exports (same loader and rules as the CLI), see what was refused and why,
the load history, templates, and a reset to the demo data."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import audit, views
from analytics.access import RESET, UPLOAD
from analytics.export import to_safe_csv
from analytics.schema import KINDS
from analytics.store import PROJECT_ROOT
from ui import auth, data
from ui import components as ui
from ui.import_ui import import_flow
from ui.upload import K_RESULT

TEMPLATES = PROJECT_ROOT / "data" / "templates"

ui.header("Data", "Which data does the dashboard show, and how do I add my own?")
problem = data.problem()
if problem is not None:  # nothing below can be read: say what happened and how to recover
    data.problem_panel(problem)
    st.stop()
data.show_flash()
st.caption(auth.mode_sentence(auth.current()))

st.subheader("Upload")
st.caption(
    "Cadence CSV files, ServiceNow (change_request, incident) and Jira (issues, sprints) exports "
    "are recognised from their header; any other CSV or Excel file is read through a column "
    "mapping you adjust and can save as a profile. A file-level problem stops the whole load "
    "and changes nothing; bad rows are refused one by one and listed with file, line, column "
    "and reason."
)
if auth.can(UPLOAD):
    import_flow()
else:
    auth.explain(UPLOAD)

st.subheader("Load history")
history = data.fetch(views.load_history)
# The file names only: the demo files are logged with their server path, which stays there.
history = history.assign(file_name=history["file_name"].str.replace(r"^.*[\\/]", "", regex=True))
if history.empty:
    ui.empty("Nothing has been loaded into this database yet.")
else:
    ui.table(
        history,
        hide_index=True,
        height=min(38 + 35 * len(history), 400),
        column_config={
            "load_id": "Load", "loaded_at": st.column_config.DatetimeColumn("Loaded (UTC)"),
            "file_name": "File", "kind": "Kind", "rows_inserted": "Inserted",
            "rows_updated": "Updated", "rows_rejected": "Rejected",
            "rows_superseded": "Superseded", "replaced": "Replaced",
        },
    )  # fmt: skip
    ui.download(history, "load-history", "Download load history (CSV)")

st.subheader("Templates")
st.caption("One CSV per record kind with the expected columns; see the README for their meaning.")
cols = st.columns(len(KINDS))
for col, kind in zip(cols, KINDS.values(), strict=True):
    template = TEMPLATES / f"{kind.name}.csv"
    content = (
        template.read_bytes()
        if template.exists()
        else to_safe_csv(pd.DataFrame(columns=kind.column_names))
    )
    col.download_button(
        f"{kind.name}.csv", content, file_name=f"{kind.name}.csv", mime="text/csv",
        key=f"template_{kind.name}", on_click="ignore", icon=":material/description:",
    )  # fmt: skip

st.subheader("Reset")
if not auth.can(RESET):
    auth.explain(RESET)
else:
    with st.popover("Reset to the demo data", icon=":material/restart_alt:"):
        st.write(
            "Replaces all sprints, work items, changes, incidents and the CSI register with the "
            "bundled demo data."
        )
        if st.button("Yes, replace my data", type="primary", key="reset_demo"):
            restored = data.reset_action()  # checks the role again
            if restored:
                st.session_state.pop(K_RESULT, None)
                st.session_state[data.FLASH] = restored  # shown by show_flash after the rerun
                st.rerun()  # the sidebar (teams, dates, row counts) was drawn from the old data

st.subheader("Audit log")
changes = data.read(audit.latest, 50)  # not cached: a profile save changes it too
if changes.empty:
    ui.empty("No change has been made through the dashboard yet.")
else:
    st.caption("The latest 50 changes of data made through the dashboard, newest first.")
    ui.table(
        changes,
        hide_index=True,
        column_config={
            "changed_at": st.column_config.DatetimeColumn("When (UTC)"), "who": "Who",
            "action": "What", "table_name": "Table", "row_count": "Rows", "detail": "Detail",
        },
    )  # fmt: skip

ui.reading(
    [
        "Uploads go through the same loader as the command line (python -m analytics load): "
        "the same checks, the same messages.",
        "Appending updates a row whose id is already known and adds the others; replacing clears "
        "the kinds being loaded first.",
    ]
)
