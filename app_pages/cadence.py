"""Cadence vs incidents (continual service improvement): do release rhythm and sprint length go
with more or fewer incidents, and did a change of sprint length make a difference?"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import charts, insights, narrative
from analytics.improvements import improvements_frame
from analytics.metrics import data_range, sprints_frame
from analytics.series import whole_weeks_mask
from analytics.stats import ALPHA
from ui import components as ui
from ui import format as fmt
from ui.context import page_context
from ui.data import fetch

ui.header(
    "Cadence vs incidents",
    "Do weeks with more releases bring more incidents, now or a few weeks later?",
)
ctx = page_context()

weekly = fetch(insights.weekly_series, ctx.flt, ctx.attribution)
sprints = fetch(sprints_frame, ctx.flt)
if weekly.empty or not weekly["deployments"].sum() and not weekly["incidents"].sum():
    ui.empty("No changes or incidents in this window — widen the dates or clear the filters.")
    st.stop()

# trend, shift and whether the trend turned since a significant shift (else over the last third
# of the weeks): one weekly query for the three
readings = fetch(insights.incident_readings, ctx.flt)
trend, shift, turn = readings.trend, readings.shift, readings.turn
cp = shift.change_point
significant_shift = cp.p_value is not None and cp.p_value < ALPHA

# --- weekly timeline with sprint boundaries -----------------------------------------------------
teams_with_sprints = sorted(sprints["team"].dropna().unique())
changes = fetch(insights.sprint_length_changes, ctx.flt)
# Default: the one team chosen in the sidebar, else a team whose sprint length changed.
preferred = [t for t in (*ctx.flt.teams, *changes["team"][::-1]) if t in teams_with_sprints]
options = ["(none)", *teams_with_sprints]
shade_team = st.selectbox(
    "Shade the sprints of",
    options,
    index=options.index(preferred[0]) if preferred else min(1, len(options) - 1),
    key="cadence_team",
)
team_sprints = sprints[sprints["team"] == shade_team] if shade_team != "(none)" else None
# every weekly statistic reads whole weeks only; the chart marks the weeks cut by window or data
# (from the weekly series above and the data's extent: no second run of the weekly query)
is_whole = whole_weeks_mask(weekly["week"], weekly["days"], fetch(data_range))
full_weeks, partial_weeks = weekly["week"][is_whole].tolist(), weekly["week"][~is_whole].tolist()
fig = charts.cadence_timeline(
    weekly.rename(columns={"week": "bucket"}),
    team_sprints,
    title="Deployments and incidents per week",
    shift_week=shift.week if significant_shift else None,
    shift_label=f"shift: {fmt.number(cp.mean_before)} → {fmt.number(cp.mean_after)} incidents/week",
    partial=partial_weeks,
)
register = fetch(improvements_frame, ctx.flt)
charts.add_improvement_markers(fig, register)  # the CSI register
partial_note = (
    f"Hatched bars and open markers: {len(partial_weeks)} partial week"
    f"{'s' if len(partial_weeks) != 1 else ''} cut by the window or the start or end of the "
    "data, left out of every statistic on this page."
    if partial_weeks
    else None
)
# in the caption, not the title: a long title is cut off on a phone
band_note = f"Grey bands: every other sprint of {shade_team}." if team_sprints is not None else None
improvement_note = charts.improvement_caption(register)
ui.chart(
    fig,
    weekly.assign(whole_week=is_whole),
    "weekly-deployments-incidents",
    caption=" ".join(n for n in (band_note, partial_note, improvement_note) if n) or None,
)
cards = st.columns(3)
cards[0].metric(
    "Incident trend (Theil–Sen)",
    f"{fmt.number(trend.slope, 2)} / week" if trend.slope is not None else fmt.DASH,
    help="Change in weekly incidents per week over the whole weeks of the window and the data, "
    f"with its 95 % interval {fmt.number(trend.low, 2)} to {fmt.number(trend.high, 2)}; "
    f"Mann–Kendall p = {fmt.number(trend.p_value, 3)}, allowing for autocorrelation. Rising or "
    f"falling only when p < {ALPHA}."
    if trend.slope is not None
    else trend.reason,
)
cards[1].metric(
    "Most likely shift in weekly incidents",
    f"{fmt.number(cp.mean_before)} → {fmt.number(cp.mean_after)}" if cp.index is not None
    else fmt.DASH,
    help=f"From the week of {shift.week}; p = {fmt.number(cp.p_value, 3)} (the larger of a "
    "block permutation and an AR(1) bootstrap)"
    if cp.index is not None else cp.reason,
)  # fmt: skip
cards[2].metric(
    "Shift significant?",
    ("yes" if significant_shift else "no") if cp.index is not None else fmt.DASH,
    help=f"p < {ALPHA} both against {cp.permutations:,} reorderings of blocks of "
    f"{cp.block_length or 1} neighbouring weeks (keeping the weeks' own rhythm) and against "
    "weeks simulated with the most persistence the data allow (AR(1) at its upper bound)",
)

# --- sprint length ------------------------------------------------------------------------------
left, right = st.columns(2)
with left:
    if sprints.empty:
        ui.empty("No sprints end in this window — widen the dates.")
    else:
        fig = charts.trend_chart(
            sprints,
            x="start_date",
            y="length_days",
            color="team",
            colors=ui.team_colors(),
            title="Sprint length over time",
            y_title="Sprint length (days)",
            x_title="Sprint start",
        )
        fig.update_traces(line_shape="hv")
        ui.chart(fig, sprints[["team", "sprint_id", "start_date", "length_days"]], "sprint-length")

# --- lagged correlation -------------------------------------------------------------------------
lags = pd.DataFrame(fetch(insights.cadence_incident_correlation, ctx.flt, 8, ctx.attribution))
# a lag counts only when its Benjamini-Hochberg q-value across the 9 lags is below ALPHA
lags["significant"] = lags["q_value"].astype(float).lt(ALPHA)
with right:
    if lags["spearman_r"].isna().all():
        ui.empty("Too few whole weeks in this window to correlate — widen the dates.")
    else:
        fig = charts.lag_correlation_chart(
            lags.astype({"spearman_r": float, "p_value": float}).fillna({"spearman_r": 0.0}),
            lag="lag_weeks",
            rho="spearman_r",
            title="Weekly deployments vs incidents k weeks later",
        )
        ui.chart(fig, lags, "lagged-correlation")
        st.caption(
            "Bars: Spearman ρ between deployments in a week and incidents k weeks later, after "
            "filtering out each series' week-to-week rhythm (prewhitening). Coloured bars have "
            f"q < {ALPHA} after correcting for the 9 lags tested (red: more incidents)."
        )

# --- before / after a change of sprint length ---------------------------------------------------
st.subheader("Before and after a change of sprint length")
ba = None
if changes.empty:
    ui.empty("No team changed its sprint length for good in this window.")
else:
    options = list(changes.index)

    def _label(i: int) -> str:
        row = changes.loc[i]
        return (
            f"{row['team']}: {row['length_before_days']:.0f} → {row['length_after_days']:.0f} "
            f"days on {row['change_date']}"
        )

    pick, span = st.columns([2, 1])
    choice = pick.selectbox("Change", options, format_func=_label, index=len(options) - 1)
    weeks = span.slider("Weeks after the change", 4, 16, 8, key="cadence_weeks")
    row = changes.loc[choice]
    ba = fetch(
        insights.cadence_before_after, ctx.flt, row["team"], weeks, row["change_date"],
        ctx.attribution,
    )  # fmt: skip
    did = ba.did
    if ba.reason or did is None or did.p_value is None:
        ui.empty(f"No comparison possible: {ba.reason or (did.reason if did else None)}.")
    else:
        fail = ba.failure
        incidents_changed = did.p_value < ALPHA
        failures_changed = fail.fisher_p is not None and fail.fisher_p < ALPHA
        cards = st.columns(4)
        cards[0].metric(
            "Incidents/week, baseline",
            fmt.number(did.team_before),
            help=f"{did.weeks_before} whole weeks from {did.baseline_from} to {did.baseline_to}, "
            "ending some weeks before the change",
        )
        # a coloured delta only for a change the test supports, against the expected level
        cards[1].metric(
            "Incidents/week after",
            fmt.number(did.team_after),
            f"{100 * did.relative:+.0f} % vs expected" if incidents_changed else None,
            delta_color="inverse",
            help=f"{did.weeks_after} whole weeks from {did.after_from}; expected from the other "
            f"teams' weeks: {fmt.number(did.expected_after)} a week",
        )
        cards[2].metric(f"Failure rate, {ba.weeks} weeks before", fmt.percent(fail.a_rate))
        cards[3].metric(
            f"Failure rate, {ba.weeks} weeks after",
            fmt.percent(fail.b_rate),
            fmt.change(fail.b_rate, fail.a_rate, "percent") if failures_changed else None,
            delta_color="inverse",
            help=f"Fisher's exact test p = {fmt.number(fail.fisher_p, 3)}; a delta only when "
            f"p < {ALPHA}",
        )
        rates = pd.DataFrame(
            {
                "period": [f"{ba.weeks} weeks before", f"{ba.weeks} weeks after"],
                "rate": [fail.a_rate, fail.b_rate],
                "low": [(fail.a_ci95 or (None, None))[0], (fail.b_ci95 or (None, None))[0]],
                "high": [(fail.a_ci95 or (None, None))[1], (fail.b_ci95 or (None, None))[1]],
                "deployments": [fail.a_total, fail.b_total],
            }
        ).astype({"rate": float, "low": float, "high": float})
        fig = charts.rate_interval_chart(
            rates, category="period", rate="rate", low="low", high="high", n="deployments",
            title=f"{ba.team}: change failure rate around the change (95 % intervals)",
            y_title="Change failure rate",
            colors={rates["period"][0]: charts.SERIES_COLORS["neutral"],
                    rates["period"][1]: charts.SERIES_COLORS["deployments"]},
        )  # fmt: skip
        ui.chart(fig, rates, "before-after")

# --- reading ------------------------------------------------------------------------------------
lag_rows = lags.drop(columns="significant").to_dict("records")
cp_weeks = full_weeks if cp.index is not None else None
sentences = [
    narrative.lagged_correlation_sentence(lag_rows),
    narrative.trend_sentence(trend),
    narrative.trend_turn_sentence(turn),
    narrative.change_point_sentence(cp, cp_weeks),
]
if ba is not None:
    sentences.append(narrative.before_after_sentence(ba))
sentences.append(
    "Correlation is not causation: busy weeks may simply be weeks with more work of every kind."
)
how = [
    *narrative.lagged_correlation_how(lag_rows),
    *narrative.trend_how(trend),
    *narrative.trend_turn_how(turn),
    *narrative.change_point_how(cp, cp_weeks),
    *(narrative.before_after_how(ba) if ba is not None else []),
    "Only whole weeks count: a week cut by the window or by the start or end of the data would "
    "look like a quiet week.",
]
ui.reading(
    sentences,
    ui.small_sample_caveat({"whole weeks": len(full_weeks)}, threshold=12),
    how=how,
)
