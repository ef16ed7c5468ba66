"""Backlog & warranty: how much sprint work goes to warranty (availability, capacity, security,
continuity) and to operations, whether that goes with fewer serious incidents, and how reliably
teams deliver what they commit to."""

from __future__ import annotations

import streamlit as st

from analytics import charts, insights, narrative, views
from analytics.metrics import sprints_frame
from ui import components as ui
from ui import format as fmt
from ui.context import page_context
from ui.data import fetch

ui.header(
    "Backlog & warranty",
    "Do teams that invest sprint capacity in warranty work suffer fewer serious incidents?",
)
ctx = page_context()

sprints = fetch(sprints_frame, ctx.flt)
if sprints.empty:
    ui.empty("No sprints end in this window — widen the dates or clear the team filter.")
    st.stop()

teams = fetch(views.sprint_summary_per_team, ctx.flt)
warranty = fetch(insights.warranty_vs_incidents, ctx.flt)
aspects = fetch(views.warranty_aspects, ctx.flt)
colors = ui.team_colors()

left, right = st.columns(2)
with left:
    per_team = warranty.per_team.dropna(subset=["warranty_share"])
    fig = charts.scatter_chart(
        per_team, x="warranty_share", y="incidents_p1_p2_per_week", color="team",
        colors=colors, title="Warranty share against serious incidents, per team",
        x_title="Warranty share of sprint story points", y_title="P1–P2 incidents per week",
        percent_x=True,
    )  # fmt: skip
    ui.chart(fig, warranty.per_team, "warranty-vs-incidents")
with right:
    fig = charts.trend_chart(
        sprints.dropna(subset=["warranty_share"]), x="end_date", y="warranty_share",
        color="team", colors=colors, title="Warranty share per sprint",
        y_title="Share of story points", x_title="Sprint end", percent=True,
    )  # fmt: skip
    ui.chart(
        fig, sprints[["team", "sprint_id", "end_date", "warranty_share"]], "warranty-per-sprint"
    )

left, right = st.columns(2)
with left:
    if aspects.empty:
        ui.empty("No warranty work items in these sprints.")
    else:
        fig = charts.stacked_bar_chart(
            aspects, x="team", y="points", color="aspect",
            title="Warranty work by aspect", y_title="Story points",
            colors={"availability": "#4c78a8", "capacity": "#72b7b2", "security": "#e45756",
                    "continuity": "#eeca3b", "unspecified": "#bab0ac"},
            order=["availability", "capacity", "security", "continuity", "unspecified"],
        )  # fmt: skip
        ui.chart(fig, aspects, "warranty-aspects")
with right:
    ops = sprints.groupby("team", as_index=False)[["operations_items", "items"]].sum()
    ops["operations_share"] = ops["operations_items"] / ops["items"].where(ops["items"] > 0)
    fig = charts.grouped_bar_chart(
        ops, x="team", y="operations_share", title="Backlog items from operations",
        y_title="Share of sprint items", percent=True,
        single_color=charts.SERIES_COLORS["incidents"],
    )  # fmt: skip
    ui.chart(fig, ops, "operations-share")

st.subheader("Delivery per team")
left, right = st.columns(2)
with left:
    fig = charts.grouped_bar_chart(
        teams, x="team", y="velocity_points_median", title="Velocity (median per sprint)",
        y_title="Story points per sprint",
    )  # fmt: skip
    ui.chart(fig, teams, "velocity")
with right:
    fig = charts.grouped_bar_chart(
        teams, x="team", y="say_do_ratio", title="Say/do ratio (completed ÷ committed points)",
        y_title="Completed share of committed points", percent=True,
        single_color=charts.SERIES_COLORS["positive"],
    )  # fmt: skip
    fig.add_hline(y=1, line={"color": charts.MUTED, "dash": "dash", "width": 1})
    ui.chart(fig, teams, "say-do")

# --- reading ------------------------------------------------------------------------------------
total_ops = ops["operations_items"].sum() / ops["items"].sum() if ops["items"].sum() else None
say_do = teams.dropna(subset=["say_do_ratio"]).sort_values("say_do_ratio")
sentences = [
    narrative.warranty_sentence(warranty.correlation),
    f"{fmt.percent(total_ops)} of the items in these sprints came from operations (incidents, "
    "problems, requests) rather than from the business.",
]
if len(say_do):
    sentences.append(
        f"Say/do ranges from {fmt.percent(say_do['say_do_ratio'].iloc[0])} "
        f"({say_do['team'].iloc[0]}) to {fmt.percent(say_do['say_do_ratio'].iloc[-1])} "
        f"({say_do['team'].iloc[-1]}): a low ratio means commitments are not a reliable forecast."
    )
ui.reading(
    sentences,
    ui.small_sample_caveat({"teams": len(per_team)}, threshold=5)
    or ui.small_sample_caveat({"sprints": len(sprints)}),
)
