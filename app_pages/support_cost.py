"""Support cost: what incidents and requests cost, per month and priority, per deployment and
story point, how much of it changes caused, and how it relates to release speed."""

from __future__ import annotations

import streamlit as st

from analytics import charts, views
from analytics.metrics import per_team, report, sprints_frame
from ui import components as ui
from ui import format as fmt
from ui.context import page_context
from ui.data import fetch
from ui.sidebar import cost_model_editor

ui.header(
    "Support cost",
    "What does keeping the services running cost us, and does releasing faster make it dearer?",
)

with st.expander("Cost model — applies to every page", expanded=False, icon=":material/tune:"):
    st.caption(
        "A ticket's own effort_hours is used when recorded; otherwise the default hours for its "
        "priority (or for a request). Cost = hours × hourly rate."
    )
    cost_model_editor()
    ui.currency_picker()
ctx = page_context()

totals = fetch(views.cost_breakdown, ctx.flt, ctx.cost)
if not totals["cost"]:
    ui.empty("No incidents or requests in this window — widen the dates or clear the filters.")
    st.stop()
rep = fetch(report, ctx.flt, ctx.cost, ctx.attribution)
sprints = fetch(sprints_frame, ctx.flt)
points = float(sprints["velocity_points"].sum()) if not sprints.empty else 0.0

per_deployment = totals["cost"] / rep["deployments"] if rep["deployments"] else None
per_point = totals["cost"] / points if points else None
caused_share = (
    totals["change_caused_cost"] / totals["incident_cost"] if totals["incident_cost"] else None
)

cards = st.columns(4)
cards[0].metric(
    "Support cost", fmt.money(totals["cost"]), help=f"{fmt.number(rep['support_hours'], 0)} hours"
)
cards[1].metric(
    "Per deployment", fmt.money(per_deployment), help=f"{rep['deployments']:,} deployments"
)
cards[2].metric(
    "Per story point delivered", fmt.money(per_point), help=f"{points:,.0f} points completed"
)
cards[3].metric(
    "Caused by changes", fmt.money(totals["change_caused_cost"]),
    help=f"{totals['change_caused_incidents']:,} incidents linked to a change "
    f"({fmt.percent(caused_share)} of incident cost)",
)  # fmt: skip

monthly = fetch(views.cost_by_month, ctx.flt, ctx.cost)
# an edge month with a day or two in the window would look like a collapse in cost
monthly_shown = views.buckets_mostly_inside(monthly, ctx.flt, "month")
fig = charts.stacked_bar_chart(
    monthly_shown, x="bucket", y="cost", color="category",
    title="Support cost per month by priority", y_title=fmt.money_label("Cost"),
    colors=charts.PRIORITY_COLORS, order=list(charts.PRIORITY_COLORS), money=fmt.currency(),
)  # fmt: skip
ui.chart(fig, monthly_shown, "cost-per-month")
cut = monthly["bucket"].nunique() - monthly_shown["bucket"].nunique()
if cut:
    st.caption(
        f"{cut} month(s) with fewer than half their days inside the window are left off the "
        "chart; the totals above include them."
    )

teams = fetch(per_team, ctx.flt, ctx.cost, ctx.attribution)
teams = teams[teams["support_cost"] > 0].copy()
weeks = ctx.flt.window_days / 7
teams["support_cost_per_week"] = teams["support_cost"] / weeks
has_changes = bool(fetch(views.dataset_info)["row_counts"]["changes"])
deployed = has_changes and bool(teams["deployments"].sum())
fig = None if not deployed else charts.scatter_chart(
    teams, x="deployments_per_week", y="support_cost_per_week", color="team",
    colors=ui.team_colors(), label="team",
    title="Support cost against release speed, per team",
    x_title="Deployments per week", y_title=fmt.money_label("Support cost per week"),
    hover=["deployments", "incidents"], money=fmt.currency(),
)  # fmt: skip
if fig is not None:
    ui.chart(fig, teams, "cost-vs-speed")
else:  # every team at zero deployments would pile up on the y axis
    st.caption(
        "Support cost against release speed: no deployments "
        + ("in this window." if has_changes else "loaded (no change file imported).")
    )

# --- reading ------------------------------------------------------------------------------------
top = monthly.groupby("category")["cost"].sum().sort_values(ascending=False)
sentences = [
    f"Keeping the services running cost {fmt.money(totals['cost'])} in "
    f"{ctx.flt.window_days} days, most of it on {top.index[0]} tickets "
    f"({fmt.percent(top.iloc[0] / top.sum())}).",
    f"At {fmt.money(ctx.cost.hourly_rate)} an hour: {fmt.money(totals['incident_cost'])} for "
    f"incidents and {fmt.money(totals['request_cost'])} for requests.",
]
if per_deployment is not None:
    sentences.append(
        f"Each deployment carries {fmt.money(per_deployment)} of support cost"
        + (
            f" and each story point delivered {fmt.money(per_point)}."
            if per_point is not None
            else " (no story points were delivered in this window)."
        )
    )
elif per_point is not None:
    sentences.append(f"Each story point delivered carries {fmt.money(per_point)} of support cost.")
if has_changes and totals["incident_cost"]:
    sentences.append(
        f"Incidents linked to a change cost {fmt.money(totals['change_caused_cost'])}, "
        f"{fmt.percent(caused_share)} of incident cost: the price of failed changes."
    )
elif not has_changes:
    sentences.append("No changes are loaded, so no cost can be tied to deployments.")
how = [
    "Cost = hours × hourly rate; a ticket's own effort_hours when recorded, else the default "
    "hours for its priority (or for a request)."
]
if deployed and len(teams) >= 3:
    rho = (
        teams[["deployments_per_week", "support_cost_per_week"]].corr(method="spearman").iloc[0, 1]
    )
    if rho == rho:
        direction = "higher" if rho > 0 else "lower"
        sentences.append(
            f"Across {len(teams)} teams, faster-releasing teams tend to have {direction} support "
            "cost per week (descriptive only, not a cause)."
        )
        how.append(
            f"Spearman rank correlation between deployments per week and support cost per week "
            f"across {len(teams)} teams: ρ = {rho:.2f} (Spearman 1904), descriptive only."
        )
ui.reading(sentences, ui.small_sample_caveat({"teams": len(teams)}, threshold=5), how=how)
