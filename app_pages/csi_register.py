"""CSI register: the improvements the organisation made, and whether each one's target metric
changed after it started the way it was meant to (weekly values in a baseline well before the
start against the weeks after it)."""

from __future__ import annotations

import streamlit as st

from analytics import audit, charts, views
from analytics import improvements as imp
from analytics.access import EDIT_REGISTER
from analytics.filters import Filter
from analytics.schema import IMPROVEMENT_DIRECTIONS, IMPROVEMENT_METRICS, IMPROVEMENT_SOURCES
from analytics.series import metric_series
from ui import auth, data
from ui import components as ui
from ui.context import page_context

ui.header(
    "CSI register",
    "Which improvements were followed by the change they aimed for, and which is it too early "
    "to judge?",
)
ctx = page_context()
FLASH = "csi_flash"  # the notice shown after a change of the register (survives the rerun)
BADGES = {
    imp.AS_EXPECTED: "green",
    imp.CHANGED: "blue",
    imp.OPPOSITE: "red",
    imp.NO_CLEAR_EFFECT: "gray",
    imp.TOO_EARLY: "orange",
    imp.NOT_MEASURED: "orange",
}


def badge(verdict: str) -> str:
    """The verdict as a coloured Streamlit badge (its label is ours, never user text)."""
    return f":{BADGES.get(verdict, 'gray')}-badge[{imp.VERDICT_LABELS.get(verdict, verdict)}]"


left, middle, right = st.columns(3)
weeks = left.slider(
    "Weeks after the start", imp.MIN_WEEKS, imp.MAX_WEEKS, imp.DEFAULT_WEEKS, key="csi_weeks",
    help="Whole ISO weeks from the first Monday on or after the start.",
)  # fmt: skip
baseline_weeks = middle.slider(
    "Baseline weeks", imp.MIN_BASELINE_WEEKS, imp.MAX_BASELINE_WEEKS, imp.DEFAULT_BASELINE_WEEKS,
    key="csi_baseline_weeks",
    help="Whole weeks of usual values to compare with, ending before the gap.",
)  # fmt: skip
gap_weeks = right.slider(
    "Gap before the start (weeks)", 0, imp.MAX_GAP_WEEKS, imp.DEFAULT_GAP_WEEKS, key="csi_gap",
    help="Whole weeks just before the start left out of the baseline: an improvement usually "
    "starts after a bad spell, which would pass by itself.",
)  # fmt: skip
measured = data.fetch(imp.measure_improvements, ctx.flt, weeks, baseline_weeks, gap_weeks)
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
    for row in measured.itertuples():
        scope = ", ".join(x for x in (row.team, row.service) if isinstance(x, str) and x)
        st.markdown(
            f"{badge(row.verdict)} **{ui.md_escape(row.improvement_id)}** "
            f"{ui.md_escape(row.title)} — {ui.md_escape(scope or 'all teams')}, "
            f"from {row.started_on}"
        )

    def unit(column: str):
        return [
            imp.format_value(m, v, signed=column != "before" and column != "after")
            for m, v in zip(measured["target_metric"], measured[column], strict=True)
        ]

    # the verdict and the values first: the scope columns can scroll off to the right
    table = measured[["improvement_id", "title"]].assign(
        verdict=[imp.VERDICT_LABELS[v] for v in measured["verdict"]],
        target_metric=[imp.METRIC_LABELS.get(m, m) for m in measured["target_metric"].fillna("")],
        baseline=unit("before"), after=unit("after"), shift=unit("difference"),
        ci=[
            f"{lo} to {hi}" if lo != "n/a" else "n/a"
            for lo, hi in zip(unit("low"), unit("high"), strict=True)
        ],
        did=unit("did_difference"), q_value=measured["q_value"], p_value=measured["p_value"],
        team=measured["team"], service=measured["service"], started_on=measured["started_on"],
        expected_direction=measured["expected_direction"],
    )  # fmt: skip
    ui.table(
        table,
        hide_index=True,
        column_config={
            "improvement_id": "Id",
            "title": "Title",
            "team": "Team",
            "service": "Service",
            "started_on": st.column_config.DateColumn("Started", format="YYYY-MM-DD"),
            "target_metric": "Target metric",
            "expected_direction": "Expected",
            "baseline": st.column_config.TextColumn(
                "Baseline", help="Median weekly value in the baseline weeks"
            ),
            "after": st.column_config.TextColumn("After", help="Median weekly value after"),
            "shift": st.column_config.TextColumn(
                "Shift",
                help="Hodges–Lehmann shift after minus baseline (restore time: within priority)",
            ),  # fmt: skip
            "ci": "95 % interval",
            "did": st.column_config.TextColumn(
                "Against other teams",
                help="Difference-in-differences: the shift of the team's "
                "weekly gap to the mean of the other teams",
            ),  # fmt: skip
            "p_value": st.column_config.NumberColumn("p", format="%.3f"),
            "q_value": st.column_config.NumberColumn(
                "q", format="%.3f", help="Benjamini–Hochberg across the improvements shown"
            ),
            "verdict": "Verdict",
        },
        key="csi_table",
    )
    ui.download(measured.drop(columns=["sentence", "details"]), "csi-effects",
                "Download effects (CSV)")  # fmt: skip

    # --- one improvement up close ---------------------------------------------------------------
    ids = measured["improvement_id"].tolist()
    by_id = measured.set_index("improvement_id")
    pick = st.selectbox(
        "Look at", ids, key="csi_pick", format_func=lambda i: f"{i} — {by_id.loc[i, 'title']}"
    )
    row = by_id.loc[pick]
    st.markdown(f"#### {ui.md_escape(pick)} — {ui.md_escape(row['title'])} {badge(row['verdict'])}")
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
            weeks=baseline_weeks, label=f"{pick} started",
            percent=row["target_metric"] in imp.RATE_METRICS,
        )  # fmt: skip
        ui.chart(fig, series, f"csi-{pick}")
    st.markdown(ui.md_escape(row["sentence"]))
    if row["details"]:
        st.caption(ui.md_escape(row["details"]))

if not register.empty:
    ui.download(register, "csi-register", "Download the whole register (CSV)")

# --- reading ------------------------------------------------------------------------------------
ui.reading(
    [imp.register_verdict(measured), *measured["sentence"]] if not measured.empty else [],
    "The metric changed after the start: other changes in the same weeks can move it too, so a "
    "verdict is a hint, not a proof of cause.",
    how=[
        f"Baseline: {baseline_weeks} whole weeks ending {gap_weeks} whole weeks before the week "
        f"of the start; after: {weeks} whole weeks from the first Monday on or after it; only "
        "weeks lying entirely inside the data count.",
        "Shift: Hodges–Lehmann estimate with Moses' 95 % interval, two-sided Mann–Whitney U "
        "test; time to restore is compared within each priority (van Elteren's stratified "
        "test) so that a change in the priority mix does not read as an effect.",
        "A verdict needs a Benjamini–Hochberg q-value below 0.05 across the improvements "
        "shown (Benjamini & Hochberg 1995).",
        "Against other teams: difference-in-differences of the weekly gap between the team and "
        "the mean of the other teams (assumes they would have moved in parallel).",
        *(measured["details"] if not measured.empty else []),
    ],
)

# --- add, edit, remove --------------------------------------------------------------------------
st.subheader("Keep the register")
if not auth.can(EDIT_REGISTER):
    auth.explain(EDIT_REGISTER)
    st.stop()  # the rest of the page is the register's forms
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


AUDITED = {
    imp.add_improvement: audit.ADD,
    imp.update_improvement: audit.EDIT,
    imp.delete_improvement: audit.DELETE,
}


def _write(done: str, action, *args, forget: str | None = None) -> None:
    """Run one register change on the shared connection, then rerun with ``done`` as a notice;
    a one-line error for bad input. ``forget``: prefix of form keys to clear after success.
    The role is checked again here, and the change and its audit entry commit together."""
    principal = auth.permit(EDIT_REGISTER)
    if principal is None:
        return
    con = data.cursor()
    con.execute("BEGIN TRANSACTION")
    try:
        result = action(con, *args)
        entry = result if isinstance(result, str) else args[0]  # add returns the new id
        rows = int(result is not False)  # delete returns False when there was no such entry
        audit.record(con, principal.who, AUDITED[action], "improvements", rows, entry)
        con.execute("COMMIT")
    except imp.ImprovementError as exc:
        con.execute("ROLLBACK")
        st.error(ui.md_escape(str(exc)), icon=":material/error:")
        return
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    data.clear()
    if forget:
        # the inputs' keys go, so the next run draws them empty: the form clears after success
        for key in [k for k in st.session_state if str(k).startswith(forget)]:
            del st.session_state[key]
    # replace, not format: an id in the notice may hold braces
    st.session_state[FLASH] = done.replace("{result}", ui.md_escape(result))
    st.rerun()


if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH), icon=":material/check_circle:")

with st.expander("Add an improvement", key="csi_add_open"), st.form("csi_add"):
    new_id = st.text_input("Id (empty: next free IMP-NN)", key="add_id")
    record = _fields("add", {})
    if st.form_submit_button("Add improvement", type="primary"):
        record["improvement_id"] = new_id
        _write("Added {result} to the register.", imp.add_improvement, record, forget="add_")

# A keyed control, not tabs: whichever the user picked stays picked on every rerun.
action = st.segmented_control(
    "Change an entry", ["Edit", "Remove"], default="Edit", key="csi_keep", required=True
)
if register.empty:
    st.caption("Nothing to edit or remove yet.")
elif action == "Edit":
    edit_id = st.selectbox("Improvement", register["improvement_id"].tolist(), key="edit_pick")
    current = register.set_index("improvement_id").loc[edit_id].to_dict()
    with st.form("csi_edit"):
        changes = _fields(f"edit_{edit_id}", current)
        if st.form_submit_button("Save changes", type="primary"):
            _write(f"Saved {ui.md_escape(edit_id)}.", imp.update_improvement, edit_id, changes)
else:
    remove_id = st.selectbox("Improvement", register["improvement_id"].tolist(), key="remove_pick")
    sure = st.checkbox(
        f"Yes, remove {ui.md_escape(remove_id)} from the register", key="remove_sure"
    )
    if st.button("Remove", disabled=not sure, key="remove_button"):
        _write(f"Removed {ui.md_escape(remove_id)}.", imp.delete_improvement, remove_id,
               forget="remove_")  # fmt: skip
