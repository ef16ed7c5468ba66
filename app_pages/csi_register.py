"""CSI register: the improvements the organisation made, and whether each one moved its target
metric the way it was meant to (weekly values before and after it started)."""

from __future__ import annotations

import streamlit as st

from analytics import charts, views
from analytics import improvements as imp
from analytics.filters import Filter
from analytics.schema import IMPROVEMENT_DIRECTIONS, IMPROVEMENT_METRICS, IMPROVEMENT_SOURCES
from analytics.series import metric_series
from ui import components as ui
from ui import data
from ui.context import page_context

ui.header(
    "CSI register", "Which improvements worked, which did not, and which is it too early to judge?"
)
ctx = page_context()
FLASH = "csi_flash"  # the notice shown after a change of the register (survives the rerun)

weeks = st.slider(
    "Weeks on each side of the start", imp.MIN_WEEKS, imp.MAX_WEEKS, imp.DEFAULT_WEEKS,
    key="csi_weeks",
    help="Whole ISO weeks before the week the improvement started and from the first Monday on "
    "or after it.",
)  # fmt: skip
measured = data.fetch(imp.measure_improvements, ctx.flt, weeks)
register = data.fetch(imp.improvements_frame)

# --- the register with its measured effect ------------------------------------------------------
if measured.empty:
    if register.empty:
        ui.empty("No improvements registered yet — add the first one below or load a CSV.")
    else:
        ui.empty(
            "No improvement started in this window — widen the dates or clear the filters "
            f"({len(register)} in the whole register)."
        )
else:
    table = measured[
        ["improvement_id", "title", "team", "service", "started_on", "target_metric",
         "expected_direction", "before", "after", "difference", "low", "high", "p_value",
         "verdict", "weeks_before", "weeks_after"]
    ]  # fmt: skip
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "improvement_id": "Id",
            "started_on": st.column_config.DateColumn("Started", format="YYYY-MM-DD"),
            "target_metric": "Target metric",
            "expected_direction": "Expected",
            "before": st.column_config.NumberColumn("Before (median)", format="%.3g"),
            "after": st.column_config.NumberColumn("After (median)", format="%.3g"),
            "difference": st.column_config.NumberColumn("Shift", format="%+.3g"),
            "low": st.column_config.NumberColumn("95 % CI low", format="%+.3g"),
            "high": st.column_config.NumberColumn("95 % CI high", format="%+.3g"),
            "p_value": st.column_config.NumberColumn("p", format="%.3f"),
            "verdict": "Verdict",
        },
        key="csi_table",
    )
    ui.download(measured.drop(columns=["sentence"]), "csi-effects", "Download effects (CSV)")

    # --- one improvement up close ---------------------------------------------------------------
    ids = measured["improvement_id"].tolist()
    pick = st.selectbox(
        "Look at", ids, key="csi_pick",
        format_func=lambda i: f"{i} — {measured.set_index('improvement_id').loc[i, 'title']}",
    )  # fmt: skip
    row = measured.set_index("improvement_id").loc[pick]
    # Missing text reads back as NaN, which is truthy: only a non-empty str counts.
    metric, team, service = (
        v if isinstance(v, str) and v else None for v in row[["target_metric", "team", "service"]]
    )
    if metric:
        around = Filter(
            row["before_from"], row["after_to"],
            teams=(team,) if team else (),
            services=(service,) if service else (),
        )  # fmt: skip
        series = data.fetch(metric_series, around, row["target_metric"], "week")
        fig = charts.improvement_effect_chart(
            series, title=f"{pick}: weekly {imp.METRIC_LABELS[row['target_metric']]}",
            y_title=imp.METRIC_LABELS[row["target_metric"]], before_from=row["before_from"],
            after_from=row["after_from"], after_to=row["after_to"], started_on=row["started_on"],
            weeks=weeks, label=f"{pick} started", percent=row["target_metric"] in imp.RATE_METRICS,
        )  # fmt: skip
        ui.chart(fig, series, f"csi-{pick}")
    st.write(row["sentence"])

if not register.empty:
    ui.download(register, "csi-register", "Download the whole register (CSV)")

# --- add, edit, remove --------------------------------------------------------------------------
st.subheader("Keep the register")
choices = data.fetch(views.filter_choices)
teams = ["", *choices["teams"]]
services = ["", *choices["services"]]
sources = ["", *IMPROVEMENT_SOURCES]
metrics = ["", *IMPROVEMENT_METRICS]
directions = ["", *IMPROVEMENT_DIRECTIONS]


def _choice(box, label: str, options: list[str], current: dict, column: str, prefix: str):
    """A selectbox on ``options`` preset to the current value, which is offered even when no
    record has it (so saving an edit never drops a team or service the data lacks)."""
    value = current.get(column) or ""
    if value not in options:
        options = [*options, value]
    return box.selectbox(label, options, options.index(value), key=f"{prefix}_{column}")


def _fields(prefix: str, current: dict) -> dict:
    """The form's inputs (keys ``<prefix>_<column>``), prefilled from ``current``."""
    left, right = st.columns(2)
    return {
        "title": left.text_input("Title", current.get("title") or "", key=f"{prefix}_title"),
        "started_on": right.date_input(
            "Started on", current.get("started_on") or ctx.flt.end, key=f"{prefix}_started_on",
            format="YYYY-MM-DD",
        ),
        "team": _choice(left, "Team", teams, current, "team", prefix),
        "service": _choice(right, "Service", services, current, "service", prefix),
        "target_metric": _choice(left, "Target metric", metrics, current, "target_metric", prefix),
        "expected_direction": _choice(
            right, "Expected direction", directions, current, "expected_direction", prefix
        ),
        "category": left.text_input("Category (change-policy, automation, warranty, process, …)",
                                    current.get("category") or "", key=f"{prefix}_category"),
        "source": _choice(right, "Source", sources, current, "source", prefix),
        "owner": left.text_input("Owner", current.get("owner") or "", key=f"{prefix}_owner"),
        "notes": right.text_input("Notes", current.get("notes") or "", key=f"{prefix}_notes"),
    }  # fmt: skip


def _write(done: str, action, *args, forget: str | None = None) -> None:
    """Run one register change on the shared connection, then rerun with ``done`` as a notice;
    a one-line error for bad input. ``forget``: prefix of form keys to clear after success."""
    con = data.cursor()
    try:
        result = action(con, *args)
    except imp.ImprovementError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    finally:
        con.close()
    data.clear()
    if forget:
        for key in [k for k in st.session_state if str(k).startswith(forget)]:
            del st.session_state[key]
    st.session_state[FLASH] = done.format(result=result)
    st.rerun()


if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH), icon=":material/check_circle:")
add_tab, edit_tab, remove_tab = st.tabs(["Add", "Edit", "Remove"])
with add_tab, st.form("csi_add", clear_on_submit=False):
    new_id = st.text_input("Id (empty: next free IMP-NN)", key="add_id")
    record = _fields("add", {})
    if st.form_submit_button("Add improvement", type="primary"):
        record["improvement_id"] = new_id
        _write("Added {result} to the register.", imp.add_improvement, record, forget="add_")

with edit_tab:
    if register.empty:
        st.caption("Nothing to edit yet.")
    else:
        edit_id = st.selectbox("Improvement", register["improvement_id"].tolist(), key="edit_pick")
        current = register.set_index("improvement_id").loc[edit_id].to_dict()
        with st.form("csi_edit"):
            changes = _fields(f"edit_{edit_id}", current)
            if st.form_submit_button("Save changes", type="primary"):
                _write(f"Saved {edit_id}.", imp.update_improvement, edit_id, changes)

with remove_tab:
    if register.empty:
        st.caption("Nothing to remove.")
    else:
        remove_id = st.selectbox(
            "Improvement", register["improvement_id"].tolist(), key="remove_pick"
        )
        sure = st.checkbox(f"Yes, remove {remove_id} from the register", key="remove_sure")
        if st.button("Remove", disabled=not sure, key="remove_button"):
            _write(f"Removed {remove_id}.", imp.delete_improvement, remove_id, forget="remove_")

# --- reading ------------------------------------------------------------------------------------
ui.reading(
    measured["sentence"].tolist() if not measured.empty else [],
    "Before and after are medians of weekly values for the improvement's team and service; the "
    "shift is the Hodges–Lehmann estimate with its 95 % interval and the Mann–Whitney test. "
    "Other changes in the same weeks can move a metric too: an effect is a hint, not a proof.",
)
