"""Change schedule: the sprint calendar, the planned change windows, what was actually
implemented and the incidents that followed, on one zoomable timeline; then the changes a change
manager wants to look at."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from analytics import charts, schedule
from analytics import improvements as imp
from ui import components as ui
from ui import format as fmt
from ui.context import page_context
from ui.data import fetch

ui.header(
    "Change schedule",
    "What was planned, what actually went live when, and which changes need a second look?",
)
ctx = page_context()
# Above this many changes or incidents the chart shows them per service and day, per week in
# windows over 120 days: a few thousand markers take Plotly a second or more to draw.
MAX_POINTS, WEEKLY_AFTER_DAYS = 800, 120

timeline = fetch(schedule.timeline, ctx.flt, MAX_POINTS, WEEKLY_AFTER_DAYS)
if timeline.sprints.empty and not timeline.n_changes and not timeline.n_incidents:
    ui.empty(
        "No sprints, changes or incidents in this window — widen the dates or clear the filters."
    )
    st.stop()

# --- the timeline -------------------------------------------------------------------------------
# Streamlit does not tell the server the screen's width: the reader picks the phone view
compact = st.toggle(
    "Compact view",
    key="sched_compact",
    help="A per-week summary (changes by approval path, incidents) that reads on a phone, "
    "instead of the timeline with one lane per team and service.",
)
register = fetch(imp.improvements_frame, ctx.flt)
if compact:
    # a long window's timeline already holds these weekly counts: no second run of their SQL
    weekly = timeline.unit == "week"
    week_changes = (
        timeline.changes
        if weekly and timeline.changes_per_day
        else fetch(schedule.change_days, ctx.flt, "week")
    )
    week_incidents = (
        timeline.incidents
        if weekly and timeline.incidents_per_day
        else fetch(schedule.incident_days, ctx.flt, "week")
    )
    # the weeks the window cuts (it starts after a Monday or ends before a Sunday)
    first_monday = ctx.flt.start - dt.timedelta(days=ctx.flt.start.weekday())
    last_monday = ctx.flt.end - dt.timedelta(days=ctx.flt.end.weekday())
    cut_weeks = [first_monday] * (ctx.flt.start.weekday() != 0) + [last_monday] * (
        ctx.flt.end.weekday() != 6
    )
    fig = charts.schedule_week_summary(week_changes, week_incidents, partial=cut_weeks)
    charts.add_improvement_markers(fig, register)
    ui.chart(
        fig, week_changes, "change-schedule-weekly", caption=charts.improvement_caption(register)
    )
    st.caption(
        "Compact view: bars = changes implemented per week (Monday to Sunday), stacked by "
        "approval path; line = incidents opened per week. Faded bars and open markers: a week "
        "the date window cuts, so it holds fewer days. Switch it off for the timeline with "
        "sprints, planned windows and single changes."
    )
else:
    fig = charts.schedule_timeline(
        timeline.sprints, timeline.changes, timeline.incidents,
        changes_per_day=timeline.changes_per_day, incidents_per_day=timeline.incidents_per_day,
        title="Sprints per team; changes and incidents per service",
        window=(ctx.flt.start, ctx.flt.end), unit=timeline.unit, team_colors=ui.team_colors(),
    )  # fmt: skip
    charts.add_improvement_markers(fig, register)
    ui.chart(fig, timeline.changes, "change-schedule", caption=charts.improvement_caption(register))
    summary = timeline.changes_per_day or timeline.incidents_per_day
    st.caption(
        "Sprints: bars per team, every other sprint lighter; hover for the changes released from "
        "it. Changes: grey bar = planned window, marker = implementation (colour: approval path; "
        "● successful, ✕ failed, ▼ rolled back). Incidents: diamonds by priority. "
        + (
            f"Over {MAX_POINTS:,} changes or incidents: shown per service and {timeline.unit}, "
            "marker size = count; narrow the dates for single records. "
            if summary
            else ""
        )
        + "Drag to zoom, double-click to reset. On a phone, switch on Compact view (above) for "
        "a per-week summary."
    )

# --- flags ---------------------------------------------------------------------------------------
st.subheader("For the change manager")
left, right = st.columns(2)
review_days = left.number_input(
    "Review week: last days of a sprint", 1, 10, schedule.REVIEW_DAYS, key="sched_review_days",
    help="At most half the sprint (rounded up), so a one-week sprint's review week is 3 days.",
)  # fmt: skip
min_changes = right.number_input(
    "Cluster: changes on one service on one day", 2, 50, schedule.MIN_CLUSTER,
    key="sched_min_cluster",
)  # fmt: skip
flags = {
    "Implemented outside the planned window": fetch(schedule.implemented_outside_window, ctx.flt),
    "Planned change without a sprint while the team was in one": fetch(
        schedule.changes_without_sprint, ctx.flt
    ),
    "Emergency change in a sprint's review week": fetch(
        schedule.emergency_changes_in_review_week, ctx.flt, int(review_days)
    ),
    "Cluster of changes on one service on one day": fetch(
        schedule.change_clusters, ctx.flt, int(min_changes)
    ),
}
WHEN = "YYYY-MM-DD HH:mm"
FLAG_COLUMNS = {
    "change_id": "Change", "team": "Team", "service": "Service", "approval": "Approval",
    "change_type": "Type", "running_sprint": "Sprint running", "sprint_id": "Sprint",
    "planned_start": st.column_config.DatetimeColumn("Planned from", format=WHEN),
    "planned_end": st.column_config.DatetimeColumn("Planned to", format=WHEN),
    "implemented_at": st.column_config.DatetimeColumn("Implemented", format=WHEN),
    "hours_off": st.column_config.NumberColumn(
        "Hours off plan", format="%+.1f", help="Negative: before the window, positive: after it"
    ),
    "sprint_end": st.column_config.DateColumn("Sprint ends", format="YYYY-MM-DD"),
    "days_before_review": st.column_config.NumberColumn("Days before review", format="%d"),
    "day": st.column_config.DateColumn("Day", format="YYYY-MM-DD"),
    "changes": st.column_config.NumberColumn("Changes", format="%d"),
    "failed": st.column_config.NumberColumn("Failed", format="%d"),
    "teams": "Teams", "change_ids": "Changes (ids)",
}  # fmt: skip
cards = st.columns(len(flags))
SHORT = ["Outside planned window", "No sprint link", "Emergency in review week", "Clusters"]
for card, short, (label, frame) in zip(cards, SHORT, flags.items(), strict=True):
    card.metric(short, f"{len(frame):,}", help=label)
tabs = st.tabs([f"{label} ({len(frame):,})" for label, frame in flags.items()])
for tab, (label, frame) in zip(tabs, flags.items(), strict=True):
    with tab:
        if frame.empty:
            st.caption("Nothing to flag in this window.")
        else:
            ui.table(
                frame, hide_index=True, height=min(400, 40 + 35 * len(frame)),
                column_config=FLAG_COLUMNS,
            )  # fmt: skip
            ui.download(frame, f"flag-{label}")

# --- reading -------------------------------------------------------------------------------------
counts = fetch(schedule.planned_window_counts, ctx.flt)
no_sprint = flags["Planned change without a sprint while the team was in one"]
emergency = flags["Emergency change in a sprint's review week"]
clusters = flags["Cluster of changes on one service on one day"]
flagged = sum(len(frame) for frame in flags.values())
if not timeline.n_changes:
    verdict = "No change went live in this window, so there is nothing to check against the plan."
elif flagged:
    verdict = (
        f"{flagged:,} findings need a second look: {counts['outside_window']:,} changes outside "
        f"their planned window, {len(no_sprint):,} without a sprint link, {len(emergency):,} "
        f"emergency changes in a review week and {len(clusters):,} busy service-days."
    )
else:
    verdict = f"All {timeline.n_changes:,} changes of this window went live as planned."
sentences = [verdict]
if counts["with_window"]:
    sentences.append(
        f"{counts['outside_window']:,} of {counts['with_window']:,} changes with a planned window "
        f"were implemented outside it "
        f"({fmt.percent(counts['outside_window'] / counts['with_window'])}); "
        f"{counts['implemented'] - counts['with_window']:,} had no planned window."
    )
elif counts["implemented"]:
    sentences.append("No change in this window has a planned window (planned_start/planned_end).")
if timeline.n_changes:
    sentences.append(
        f"{len(no_sprint):,} standard or normal changes went live without a sprint while their "
        "team was running one: unplanned work, or a missing sprint link in the export."
    )
    sentences.append(
        f"{len(emergency):,} emergency changes landed in a sprint's review week (last "
        f"{int(review_days)} days), when the team is busiest with its release."
    )
if not clusters.empty:
    top = clusters.iloc[0]
    sentences.append(
        f"{len(clusters):,} service-days had {int(min_changes)} or more changes; the busiest: "
        f"{top['changes']} on {top['service']} on {top['day']} ({top['failed']} failed)."
    )
ui.reading(sentences)
