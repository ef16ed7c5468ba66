"""Change control: how changes are approved, what each path costs in lead time and buys in
stability, and what delegating part of the CAB's work would do."""

from __future__ import annotations

import streamlit as st

from analytics import charts, insights, narrative, stats, views
from analytics.improvements import improvements_frame
from analytics.metrics import deployments_frame
from analytics.schema import APPROVALS
from ui import components as ui
from ui import format as fmt
from ui.attribution import placebo_notice
from ui.context import page_context
from ui.data import fetch

ui.header(
    "Change control",
    "What does CAB approval buy in stability, and what does it cost in lead time?",
)
ctx = page_context()
placebo_notice(ctx)  # window attribution: how many links chance alone makes

deployments = fetch(deployments_frame, ctx.flt, ctx.attribution)
if deployments.empty:
    ui.empty("No changes in this window — widen the dates or clear the filters.")
    st.stop()

LABELS = charts.APPROVAL_LABELS
COLORS = charts.APPROVAL_COLORS

# --- approval mix and emergency ratio -----------------------------------------------------------
mix = fetch(views.approval_mix, ctx.flt, ctx.attribution, "month")
emergency = fetch(views.emergency_ratio, ctx.flt, ctx.attribution, "month")
# edge months with under half their days in the window stay off the charts (totals keep them)
mix_shown, emergency_shown = mix[~mix["partial"]], emergency[~emergency["partial"]]
as_share = st.toggle("Approval mix as share of deployments", key="cc_share")
register = fetch(improvements_frame, ctx.flt)
left, right = st.columns(2)
with left:
    fig = charts.stacked_bar_chart(
        mix_shown, x="bucket", y="share" if as_share else "deployments", color="approval",
        title="Approval path of deployments per month",
        y_title="Share of deployments" if as_share else "Deployments per month",
        colors=COLORS, labels=LABELS, order=APPROVALS, percent=as_share,
    )  # fmt: skip
    charts.add_improvement_markers(fig, register)  # the CSI register's improvements
    ui.chart(fig, mix_shown, "approval-mix", caption=charts.improvement_caption(register))
with right:
    fig = charts.trend_chart(
        emergency_shown, y="emergency_ratio", title="Emergency changes per month",
        y_title="Share of deployments", percent=True,
    )  # fmt: skip
    charts.add_improvement_markers(fig, register)
    ui.chart(fig, emergency_shown, "emergency-ratio", caption=charts.improvement_caption(register))

# --- lead time and failure rate per path --------------------------------------------------------
rates = fetch(insights.approval_failure_rates, ctx.flt, ctx.attribution)
log_y = st.toggle("Lead time on a logarithmic scale", value=True, key="cc_log")
left, right = st.columns(2)
with left:
    fig = charts.box_by_category(
        deployments, category="approval", value="lead_time_hours",
        title="Lead time per approval path", y_title="Lead time (hours)",
        colors=COLORS, labels=LABELS, order=APPROVALS, log_y=log_y,
    )  # fmt: skip
    ui.chart(
        fig,
        deployments[["change_id", "team", "service", "approval", "risk", "lead_time_hours"]],
        "lead-time-per-path",
    )
with right:
    shown = rates[rates["deployments"] > 0]
    fig = charts.rate_interval_chart(
        shown, category="approval", rate="change_failure_rate", low="ci_low", high="ci_high",
        n="deployments", title="Change failure rate per approval path (95 % intervals)",
        y_title="Change failure rate", colors=COLORS, labels=LABELS, order=APPROVALS,
    )  # fmt: skip
    ui.chart(fig, rates, "failure-rate-per-path")

# --- CAB versus delegated -----------------------------------------------------------------------
st.subheader("What CAB approval buys")
cab = fetch(insights.cab_vs_delegated, ctx.flt, ctx.attribution)
f, lt = cab.failure, cab.lead_time_hours
cards = st.columns(4)
cards[0].metric("Failure rate, CAB", fmt.percent(f.a_rate), help=f"{f.a_total:,} deployments")
cards[1].metric("Failure rate, delegated", fmt.percent(f.b_rate), help=f"{f.b_total:,} deployments")
lead = fmt.hours_in(fmt.hours_unit(lt.a_median, lt.b_median))  # one unit for both cards
cards[2].metric("Median lead time, CAB", lead(lt.a_median))
cards[3].metric("Median lead time, delegated", lead(lt.b_median))
st.caption(
    "Delegated = pre-approved standard changes and product-owner approval. Emergency changes "
    "belong to neither group. The cards are crude totals; the reading below compares CAB and "
    "delegated changes of the same team, risk and kind (incident fix or planned change), "
    "because teams differ both in how many changes they send to the CAB and in how often their "
    "changes fail, and fixes fail and wait differently from planned changes."
)

# --- what-if ------------------------------------------------------------------------------------
st.subheader("What if the product owner approved more changes?")
left, right = st.columns([2, 1])
share = left.slider(
    "Move this share of CAB-approved low/medium-risk changes to product-owner approval",
    0, 100, 50, step=10, format="%d %%", key="cc_share_moved",
)  # fmt: skip
assumption = right.radio(
    "A moved change fails…",
    ["own", "delegated"],
    format_func={
        "own": "as it actually did",
        "delegated": "at the delegated failure rate",
    }.get,
    key="cc_assumption",
)
w = fetch(insights.what_if_delegation, ctx.flt, share / 100, assumption, ctx.attribution)
cards = st.columns(3)
cards[0].metric("Changes moved", f"{w.moved:,} of {w.candidates:,}")
if w.projected_lead_time_hours_median is not None:
    lead_ci = w.projected_lead_time_ci95 or (None, None)
    cfr_ci = w.projected_change_failure_rate_ci95 or (None, None)
    # the interval and today's value in the unit of the card's value
    same = fmt.hours_in(fmt.hours_unit(w.projected_lead_time_hours_median))
    cards[1].metric(
        "Median lead time",
        fmt.hours(w.projected_lead_time_hours_median),
        fmt.change(w.projected_lead_time_hours_median, w.baseline_lead_time_hours_median, "hours"),
        delta_color="inverse",
        help=f"95 % interval {same(lead_ci[0])} – {same(lead_ci[1])}; "
        f"today {same(w.baseline_lead_time_hours_median)}",
    )
    cards[2].metric(
        "Change failure rate",
        fmt.percent(w.projected_change_failure_rate),
        fmt.change(w.projected_change_failure_rate, w.baseline_change_failure_rate, "percent"),
        delta_color="inverse",
        help=f"95 % interval {fmt.percent(cfr_ci[0])} – {fmt.percent(cfr_ci[1])}; "
        f"today {fmt.percent(w.baseline_change_failure_rate)}",
    )
with st.expander("Assumptions of this projection", expanded=True):
    for line in w.assumptions:
        st.markdown(f"- {ui.md_escape(line)}")
    pooled = (
        f" {w.pooled_candidates:,} of the {w.candidates:,} candidates belong to teams without "
        "any delegated change and draw from all teams' delegated changes."
        if w.pooled_candidates
        else ""
    )
    st.caption(f"{w.bootstraps:,} bootstrap runs with a fixed seed; intervals are 95 %.{pooled}")

# --- reading ------------------------------------------------------------------------------------
total = rates["deployments"].sum()
ecab_share = emergency["emergency"].sum() / total if total else None
sentences = [
    narrative.cab_sentence(cab),
    f"{fmt.percent(ecab_share)} of deployments were emergency changes"
    + (
        " — a high share suggests the normal path is too slow for urgent work."
        if ecab_share is not None and ecab_share > 0.1
        else "."
    ),
    narrative.what_if_sentence(w),
]
if stats.cab_failure_verdict(cab) in ("same", "more"):
    sentences.append(
        "Since CAB-approved changes do not fail less often than delegated ones of the same team, "
        "risk and kind, the board's review is not visibly buying stability in this window."
    )
ui.reading(
    sentences,
    ui.small_sample_caveat(
        {"CAB-approved deployments": f.a_total, "delegated deployments": f.b_total}
    ),
    how=narrative.cab_how(cab),
)
