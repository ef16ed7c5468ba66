"""Backlog & warranty: how much sprint work goes to warranty (availability, capacity, security,
continuity) and to operations, whether a sprint with more warranty work than its team's usual is
followed by fewer serious incidents, and how reliably teams deliver what they commit to."""

from __future__ import annotations

import streamlit as st

from analytics import charts, insights, narrative, views
from analytics.metrics import per_team_sprints, sprints_frame
from ui import components as ui
from ui import format as fmt
from ui.context import page_context
from ui.data import fetch

ui.header(
    "Backlog & warranty",
    "When a team invests more sprint capacity in warranty work, do fewer serious incidents follow?",
)
ctx = page_context()

sprints = fetch(sprints_frame, ctx.flt)
if sprints.empty:
    ui.empty("No sprints end in this window — widen the dates or clear the team filter.")
    st.stop()

teams = fetch(per_team_sprints, ctx.flt)
aspects = fetch(views.warranty_aspects, ctx.flt)
colors = ui.team_colors()
weeks = st.columns([1, 2])[0].slider(
    "Count incidents in this many weeks after each sprint", 1, 8, insights.WARRANTY_WEEKS,
    key="bw_weeks",
)  # fmt: skip
warranty = fetch(insights.warranty_vs_incidents, ctx.flt, weeks)

left, right = st.columns(2)
with left:
    per_team = warranty.per_team.dropna(subset=["warranty_share"])
    fig = charts.scatter_chart(
        per_team, x="warranty_share", y="incidents_p1_p2_per_week", color="team",
        colors=colors, title="Per team (a description, not a test)",
        x_title="Warranty share of sprint story points", y_title="P1–P2 incidents per week",
        percent_x=True, label="team",
    )  # fmt: skip
    ui.chart(fig, warranty.per_team, "warranty-vs-incidents")
with right:
    # each sprint against its own team's usual: team size and systems cannot make the link
    fig = charts.scatter_chart(
        warranty.per_sprint, x="warranty_centred", y="incidents_centred", color="team",
        colors=colors,
        title=f"Within each team: sprints against the team's usual, P1–P2 incidents in the next "
        f"{weeks} weeks",
        x_title="Warranty share above the team's and quarter's usual (points)",
        y_title="P1–P2 incidents above the team's and quarter's usual", percent_x=True,
        hover=["sprint_id", "end_date"],
    )  # fmt: skip
    ui.chart(fig, warranty.per_sprint, "warranty-within-team")

left, right = st.columns(2)
with left:
    if aspects.empty:
        ui.empty("No warranty work items in these sprints.")
    else:
        fig = charts.stacked_bar_chart(
            aspects, x="team", y="points", color="aspect",
            title="Warranty work by aspect", y_title="Story points",
            colors=charts.ASPECT_COLORS, order=charts.ASPECT_ORDER,
        )  # fmt: skip
        ui.chart(fig, aspects, "warranty-aspects")
with right:
    ops = sprints.groupby("team", as_index=False)[["operations_items", "items"]].sum()
    ops["operations_share"] = ops["operations_items"] / ops["items"].where(ops["items"] > 0)
    fig = charts.grouped_bar_chart(
        ops, x="team", y="operations_share", title="Backlog items from operations",
        y_title="Share of sprint items", percent=True,
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
    )  # fmt: skip
    fig.add_hline(y=1, line={"color": charts.MUTED, "dash": "dash", "width": 1})
    ui.chart(fig, teams, "say-do")

# --- reading ------------------------------------------------------------------------------------


total_ops = ops["operations_items"].sum() / ops["items"].sum() if ops["items"].sum() else None
say_do = teams.dropna(subset=["say_do_ratio"]).sort_values("say_do_ratio")
sentences = [
    narrative.warranty_sentence(warranty),
    narrative.warranty_between_sentence(warranty.correlation),
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
    ui.small_sample_caveat({"sprints": len(warranty.per_sprint)}),
    how=narrative.warranty_how(warranty),
)
