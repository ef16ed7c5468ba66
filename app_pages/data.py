"""Data: load CSV exports (same loader and rules as the CLI), see what was refused and why,
the load history, templates, and a reset to the demo data."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import views
from analytics.export import to_safe_csv
from analytics.loader import LOAD_ORDER, LoadError, load_paths
from analytics.schema import KINDS
from analytics.store import DEMO_DIR, PROJECT_ROOT
from ui import components as ui
from ui import data
from ui.import_ui import import_flow
from ui.upload import K_RESULT

TEMPLATES = PROJECT_ROOT / "data" / "templates"

ui.header("Data", "Which data does the dashboard show, and how do I add my own?")

st.subheader("Upload")
st.caption(
    "Cadence CSV files, ServiceNow (change_request, incident) and Jira (issues, sprints) exports "
    "are recognised from their header; any other CSV or Excel file is read through a column "
    "mapping you adjust and can save as a profile. A file-level problem stops the whole load "
    "and changes nothing; bad rows are refused one by one and listed with file, line, column "
    "and reason."
)
import_flow()

st.subheader("Load history")
history = data.fetch(views.load_history)
if history.empty:
    ui.empty("Nothing has been loaded into this database yet.")
else:
    st.dataframe(
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
with st.popover("Reset to the demo data", icon=":material/restart_alt:"):
    st.write(
        "Replaces all sprints, work items, changes, incidents and the CSI register with the "
        "bundled demo data."
    )
    if st.button("Yes, replace my data", type="primary", key="reset_demo"):
        con = data.cursor()
        try:
            files = [DEMO_DIR / f"{kind}.csv" for kind in LOAD_ORDER]
            summaries = load_paths(con, [f for f in files if f.exists()], replace=True)
        except LoadError as exc:
            # the loader rolled back: the user's data is untouched
            st.error(ui.md_escape(str(exc)), icon=":material/error:")
        else:
            data.clear()
            st.session_state.pop(K_RESULT, None)
            st.success(f"Demo data restored ({sum(s.inserted for s in summaries):,} rows).")
        finally:
            con.close()

ui.reading(
    [
        "Uploads go through the same loader as the command line (python -m analytics load): "
        "the same checks, the same messages.",
        "Appending updates a row whose id is already known and adds the others; replacing clears "
        "the kinds being loaded first.",
    ]
)
