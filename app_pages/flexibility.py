"""Flexibility vs stability: each team's release speed against its stability, with quadrants at
the medians, the Pareto frontier and each team's path over quarters."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import charts, views
from analytics.metrics import per_team, per_team_quarter
from analytics.stats import frontier_rows
from ui import components as ui
from ui import format as fmt
from ui.attribution import placebo_notice
from ui.context import page_context
from ui.data import fetch

ui.header(
    "Flexibility vs stability",
    "Which teams release often without breaking things, and which trade one for the other?",
)
ctx = page_context()
placebo_notice(ctx)  # window attribution: how many links chance alone makes

STABILITY = {
    "change_failure_rate": ("Change failure rate", True, fmt.percent),
    "lead_time_hours_median": ("Lead time (median hours)", False, fmt.hours),
    "time_to_restore_hours_median": ("Time to restore (median hours)", False, fmt.hours),
}
left, mid, right = st.columns([3, 1, 1], vertical_alignment="bottom")
y_metric = (
    left.segmented_control(
        "Stability measure (lower is better)",
        list(STABILITY),
        format_func=lambda k: STABILITY[k][0].split(" (")[0],
        default="change_failure_rate",
        key="flex_y",
    )
    or "change_failure_rate"
)
per_quarter = mid.toggle(
    "Team-quarters", key="flex_quarters", help="One point per team and quarter"
)
show_paths = right.toggle(
    "Paths over time", key="flex_paths", help="Each team's quarters, joined in time order"
)
y_title, y_percent, y_show = STABILITY[y_metric]
X, X_TITLE = "deployments_per_week", "Deployments per week"

teams = fetch(per_team, ctx.flt, ctx.cost, ctx.attribution)
quarters = fetch(per_team_quarter, ctx.flt, ctx.cost, ctx.attribution)
teams = teams[teams["deployments"] > 0]
quarters = quarters[quarters["deployments"] > 0].copy()

if teams.empty:
    ui.empty("No changes in this window — widen the dates or clear the team filter.")
    st.stop()

if per_quarter:
    points = quarters.assign(label=quarters["team"] + " " + quarters["quarter"])
    # each team-quarter point in its team's colour (the team names colour the trails)
    colors = ui.team_colors() | {
        f"{t} {q}": c for t, c in ui.team_colors().items() for q in quarters["quarter"].unique()
    }
else:
    points = teams.assign(label=teams["team"])
    colors = ui.team_colors()

plotted = points.dropna(subset=[X, y_metric])
frontier = frontier_rows(plotted, X, y_metric)
paths = quarters.assign(label=quarters["team"]) if show_paths else None
fig = charts.quadrant_scatter(
    plotted,
    x=X,
    y=y_metric,
    size="deployments",
    label="label",
    title=f"{X_TITLE} against {y_title.lower()}",
    x_title=X_TITLE,
    y_title=y_title,
    percent_y=y_percent,
    frontier=frontier,
    paths=paths,
    path_order="quarter_start",
    colors=colors,
)
ui.chart(fig, plotted.drop(columns=["label"]), f"flexibility-{y_metric}")
st.caption(
    "Dashed lines: medians of the points shown. Bottom right = faster and more stable than the "
    "median team. Dotted grey line: the Pareto frontier (no other point is both faster and more "
    "stable). Dotted trails: each team's quarters in time order. Bubble size: deployments."
)

st.subheader("Per team" if not per_quarter else "Per team and quarter")
table = (quarters if per_quarter else teams).copy()
# rates shown as percentages with one decimal ("percent" drops trailing zeros: 8 %, 19.36 %),
# hours and costs rounded so that "localized" adds thousands separators
shown = table.assign(
    change_failure_rate=100 * table["change_failure_rate"],
    rework_rate=100 * table["rework_rate"],
    support_hours=table["support_hours"].round(0),
    support_cost=table["support_cost"].round(0),
)
ui.table(
    shown,
    hide_index=True,
    column_config={
        "team": "Team",
        "quarter": "Quarter",
        "deployments": st.column_config.NumberColumn("Deployments", format="localized"),
        "failed_deployments": st.column_config.NumberColumn(
            fmt.label("failed_deployments"), format="localized"
        ),
        "incidents": st.column_config.NumberColumn("Incidents", format="localized"),
        # the charts' names (one label map), the currency on the cost
        "deployments_per_week": st.column_config.NumberColumn(X_TITLE, format="%.2f"),
        "lead_time_hours_median": st.column_config.NumberColumn(
            fmt.label("lead_time_hours_median"), format="%.1f"
        ),
        "change_failure_rate": st.column_config.NumberColumn(
            "Change failure rate", format="%.1f %%"
        ),
        "rework_rate": st.column_config.NumberColumn("Rework rate", format="%.1f %%"),
        "time_to_restore_hours_median": st.column_config.NumberColumn(
            fmt.label("time_to_restore_hours_median"), format="%.1f"
        ),
        "support_hours": st.column_config.NumberColumn(
            fmt.label("support_hours"), format="localized"
        ),
        "support_cost": fmt.money_column(),
        "quarter_start": None,
    },
)
ui.download(table, "flexibility-table", "Download table (CSV)")

# --- reading ------------------------------------------------------------------------------------
x_median, y_median = plotted[X].median(), plotted[y_metric].median()
# a team is faster or more stable only beyond noise: hairline differences are "about the median"
placed = views.compare_to_median(plotted, X, y_metric)
fast_stable = placed[
    (placed["speed_vs_median"] == "faster") & (placed["stability_vs_median"] == "more stable")
]["label"]
slow_unstable = placed[
    (placed["speed_vs_median"] == "slower") & (placed["stability_vs_median"] == "less stable")
]["label"]
about = placed[
    (placed["speed_vs_median"] == views.ABOUT) & (placed["stability_vs_median"] == views.ABOUT)
]["label"]


def _names(values: pd.Series) -> str:
    names = list(values)
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


unit = "team-quarters" if per_quarter else "teams"
if len(fast_stable) or len(slow_unstable):
    verdict = (
        f"{len(fast_stable)} of {len(placed)} {unit} release faster and more stably than the "
        f"median beyond noise, and {len(slow_unstable)} slower and less stably."
    )
else:
    verdict = (
        f"No {unit[:-1]} is both faster and more stable (or both slower and less stable) than "
        "the median beyond noise: the differences on the chart are within what chance makes."
    )
sentences = [
    verdict,
    f"The median point deploys {fmt.number(x_median, 2)} times a week with a "
    f"{y_title.lower()} of {y_show(y_median)}.",
    f"On the Pareto frontier (nobody is both faster and more stable): {_names(frontier['label'])}."
    if len(frontier)
    else "",
    f"Faster and more stable than the median: {_names(fast_stable)}." if len(fast_stable) else "",
    f"Slower and less stable than the median: {_names(slow_unstable)}; the first candidates to "
    "learn from the frontier teams."
    if len(slow_unstable)
    else "",
    f"About the median on both: {_names(about)}." if len(about) else "",
]
stability_rule = (
    "change failure rate: the Wilson score interval of each point's rate (Wilson 1927)"
    if y_metric == "change_failure_rate"
    else f"{y_title.lower()}: within 10 % of the median point (per-team medians carry no interval)"
)
how = [
    "A point is faster or slower, more or less stable than the median only when the median "
    "lies outside its 95 % interval; otherwise it is about the median. Speed: the exact Poisson "
    f"interval of its deployment count per week (Garwood 1936); {stability_rule}."
]
if len(plotted) >= 3:
    rho = plotted[[X, y_metric]].corr(method="spearman").iloc[0, 1]
    if pd.notna(rho):
        trade = "more often tend to be less stable" if rho > 0 else "more often are not less stable"
        sentences.append(
            f"Across the points, teams that deploy {trade}; speed and stability are not a forced "
            "trade-off when the two barely move together."
        )
        how.append(
            f"Spearman rank correlation of deployments per week and {y_title.lower()} across "
            f"{len(plotted)} points: ρ = {rho:.2f} (Spearman 1904)."
        )
ui.reading(
    sentences,
    ui.small_sample_caveat({"points": len(plotted)}, threshold=5)
    or ui.small_sample_caveat({"deployments": int(plotted["deployments"].sum())}),
    how=how,
)
