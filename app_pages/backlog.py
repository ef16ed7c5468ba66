"""Backlog & warranty: how much sprint work goes to warranty (availability, capacity, security,
continuity) and to operations, whether that goes with fewer serious incidents, and how reliably
teams deliver what they commit to."""

from __future__ import annotations

import streamlit as st

from analytics import charts, insights, narrative, stats, views
from analytics.metrics import per_team_sprints, sprints_frame
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

teams = fetch(per_team_sprints, ctx.flt)
warranty = fetch(insights.warranty_vs_incidents, ctx.flt)
aspects = fetch(views.warranty_aspects, ctx.flt)
colors = ui.team_colors()
weeks = st.columns([1, 2])[0].slider(
    "Count incidents in this many weeks after each sprint", 1, 8, 4, key="bw_weeks"
)

left, right = st.columns(2)
with left:
    per_team = warranty.per_team.dropna(subset=["warranty_share"])
    fig = charts.scatter_chart(
        per_team, x="warranty_share", y="incidents_p1_p2_per_week", color="team",
        colors=colors, title="Warranty share against serious incidents, per team",
        x_title="Warranty share of sprint story points", y_title="P1–P2 incidents per week",
        percent_x=True, label="team",
    )  # fmt: skip
    ui.chart(fig, warranty.per_team, "warranty-vs-incidents")
with right:
    following = fetch(views.warranty_vs_following_incidents, ctx.flt, weeks)
    complete = following[following["window_complete"]].dropna(subset=["warranty_share"])
    fig = charts.scatter_chart(
        complete, x="warranty_share", y="incidents_p1_p2_after", color="team", colors=colors,
        title=f"Each sprint's warranty share against P1–P2 incidents in the next {weeks} weeks",
        x_title="Warranty share of the sprint's story points",
        y_title=f"P1–P2 incidents in the {weeks} weeks after", percent_x=True,
        hover=["sprint_id", "end_date"],
    )  # fmt: skip
    ui.chart(fig, following, "warranty-vs-following-incidents")
    per_sprint = stats.spearman(complete["warranty_share"], complete["incidents_p1_p2_after"])

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


def _per_sprint_sentence(corr, weeks: int) -> str:
    if corr.spearman_r is None:
        return f"Per sprint, no correlation can be computed: {corr.reason}."
    found = (
        f"sprints with more warranty work are followed by "
        f"{'more' if corr.spearman_r > 0 else 'fewer'} P1–P2 incidents"
        if corr.p_value is not None and corr.p_value < stats.ALPHA
        else "no significant link between a sprint's warranty share and P1–P2 incidents"
    )
    return (
        f"Per sprint, {found} in the {weeks} weeks after it (Spearman ρ = "
        f"{corr.spearman_r:.2f}, {narrative.fmt_p(corr.p_value)}, {corr.n} sprints); teams "
        "differ in many ways, so the per-team and per-sprint views can disagree."
    )


total_ops = ops["operations_items"].sum() / ops["items"].sum() if ops["items"].sum() else None
say_do = teams.dropna(subset=["say_do_ratio"]).sort_values("say_do_ratio")
sentences = [
    narrative.warranty_sentence(warranty.correlation),
    _per_sprint_sentence(per_sprint, weeks),
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
