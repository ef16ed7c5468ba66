"""Overview: the six headline numbers, their change and their DORA tier, and monthly trends."""

from __future__ import annotations

import streamlit as st

from analytics import charts, deltas, narrative, views
from analytics.dora import missing_inputs
from analytics.improvements import improvements_frame
from analytics.metrics import report
from analytics.series import metrics_series
from ui import components as ui
from ui import format as fmt
from ui.attribution import placebo_notice
from ui.context import page_context
from ui.data import fetch

ui.header(
    "Overview", "Where do we stand on speed and stability in this window, and is it improving?"
)

ctx = page_context()
placebo_notice(ctx)  # window attribution: how many links chance alone makes
now = fetch(report, ctx.flt, ctx.cost, ctx.attribution)
before = fetch(report, ctx.flt.previous_period(), ctx.cost, ctx.attribution)
# Without any record in the previous period, "changes" against it would be meaningless.
has_before = bool(before["deployments"] or before["incidents"] or before["requests"])
# each change is tested against noise; only a significant one is an improvement/deterioration
verdicts = fetch(deltas.period_deltas, ctx.flt, ctx.cost, ctx.attribution) if has_before else {}
BEYOND_NOISE = (deltas.IMPROVEMENT, deltas.DETERIORATION)

# (report key, series metric, label, formatter, delta kind, lower is better, DORA key, help)
KPIS = [
    ("deployments_per_week", "deployments_per_week", "Deployments per week", fmt.number,
     "number", False, "deployment_frequency",
     "Changes implemented (not cancelled) per 7 days of the window."),
    ("lead_time_hours_median", "lead_time_hours_median", "Lead time (median)", fmt.hours,
     "hours", True, "lead_time", "From change request to implementation, median over deployments."),
    ("change_failure_rate", "change_failure_rate", "Change failure rate", fmt.percent,
     "percent", True, "change_failure_rate",
     "Share of deployments that failed, were rolled back or caused an incident."),
    ("time_to_restore_hours_median", "time_to_restore_hours_median", "Time to restore (median)",
     fmt.hours, "hours", True, "failed_deployment_recovery",
     "From an incident being opened to being resolved, median over incidents. The DORA badge "
     "rates the recovery from failed deployments."),
    ("rework_rate", "rework_rate", "Rework rate", fmt.percent, "percent", True, None,
     "Share of deployments made to resolve an incident (unplanned work)."),
    ("support_cost", "support_cost", "Support cost", fmt.money, "money", True, None,
     "Hours spent on incidents and requests times the hourly rate (Support cost page)."),
]  # fmt: skip

if not now["deployments"] and not now["incidents"] and not now["requests"]:
    ui.empty("No changes or incidents in this window — widen the dates or clear the filters.")
    st.stop()

# the six monthly series in one query (one per metric ran the monthly aggregate six times)
monthly = fetch(
    metrics_series, ctx.flt, tuple(metric for _key, metric, *_ in KPIS), "month", None, ctx.cost,
    ctx.attribution,
)  # fmt: skip

loaded = fetch(views.dataset_info)["row_counts"]  # record kinds loaded: DORA badges, reading
missing = missing_inputs(loaded)
rows = [st.columns(3), st.columns(3)]
for i, (key, _metric, label, show, kind, lower, dora_key, help_text) in enumerate(KPIS):
    with rows[i // 3][i % 3]:
        ui.kpi(
            label,
            show(now[key]),
            fmt.change(now[key], before[key], kind) if has_before else None,
            lower_is_better=lower,
            # no badge for what was not loaded ("no deployments loaded", not "DORA low")
            tier=(missing.get(dora_key) or now["dora"].get(dora_key)) if dora_key else None,
            help=help_text,
            within_noise=has_before and verdicts[key].verdict not in BEYOND_NOISE,
        )
st.caption(
    (
        f"Changes are against the previous {ctx.flt.window_days} days "
        f"({before['from']} – {before['to']}); grey changes are within noise (not significant "
        "at 5 %, see How this was computed)."
        if has_before
        else f"No data in the previous {ctx.flt.window_days} days to compare with."
    )
    + " Badges: DORA 2023 performance tiers."
)

st.subheader("Monthly trends")
monthly_shown = views.months_mostly_inside(monthly, ctx.flt)
cut = len(monthly) - len(monthly_shown)
if cut:
    st.caption(
        f"{cut} month(s) with only a few days inside the window left out: their medians and "
        "rates would rest on a handful of events."
    )
PERCENT = {"change_failure_rate", "rework_rate"}
UNITS = {
    "deployments_per_week": "Deployments per week",
    "lead_time_hours_median": "Hours",
    "change_failure_rate": "Share of deployments",
    "time_to_restore_hours_median": "Hours",
    "rework_rate": "Share of deployments",
    "support_cost": fmt.money_label("Cost"),
}
cols = st.columns(2)
register = fetch(improvements_frame, ctx.flt)
for i, (_key, metric, label, *_rest) in enumerate(KPIS):
    series = monthly_shown[["bucket", metric]].rename(columns={metric: "value"})
    with cols[i % 2]:
        fig = charts.trend_chart(
            series, title=label, y_title=UNITS[metric], percent=metric in PERCENT,
            money=fmt.currency() if metric == "support_cost" else None,
        )  # fmt: skip
        fig.update_layout(height=300)
        # the CSI register's improvements that target this metric
        targeted = register[register["target_metric"] == metric]
        charts.add_improvement_markers(fig, targeted)
        ui.chart(
            fig, series.rename(columns={"bucket": "month", "value": metric}), label,
            caption=charts.improvement_caption(targeted),
        )  # fmt: skip


def _versus(key: str, show, lower_is_better: bool) -> str:
    """'up from X, an improvement' style comparison with the previous period."""
    a, b = now[key], before[key]
    if not has_before or a is None or b is None:
        return ""
    if show(a) == show(b):
        return f", the same as in the previous period ({show(b)})"
    word = "up" if a > b else "down"
    verdict = verdicts[key].verdict
    reading = {deltas.IMPROVEMENT: "an improvement", deltas.DETERIORATION: "a deterioration"}.get(
        verdict, "within noise"
    )
    return f", {word} from {show(b)} in the previous period ({reading})"


def _how() -> list[str]:
    """The test behind each change's label."""
    if not has_before:
        return []
    lines = [
        "A change against the previous period is called an improvement or a deterioration only "
        "when its test is significant at 5 %; otherwise it is within noise."
    ]
    for key, _metric, label, *_rest in KPIS:
        v = verdicts[key]
        result = v.verdict or f"not tested ({v.reason})"
        p = f", {narrative.fmt_p(v.p_value)}" if v.p_value is not None else ""
        lines.append(f"{label}: {v.method}{p} — {result}.")
    return lines


def _hours(key: str):
    """One unit for this and the previous period's duration (never "2.1 days" vs "20.3 h")."""
    return fmt.hours_in(fmt.hours_unit(now[key], before[key] if has_before else None))


lead, restore = _hours("lead_time_hours_median"), _hours("time_to_restore_hours_median")
tiers = now["dora"]
has_changes, has_tickets = bool(loaded["changes"]), bool(loaded["incidents"])


def _tier(dora_key: str) -> str:
    return f"DORA {tiers[dora_key]}" if tiers.get(dora_key) else "no DORA tier"


better = [
    label
    for key, _m, label, *_r in KPIS
    if has_before and verdicts[key].verdict == deltas.IMPROVEMENT
]
worse = [
    label
    for key, _m, label, *_r in KPIS
    if has_before and verdicts[key].verdict == deltas.DETERIORATION
]
trend = (
    f"against the previous {ctx.flt.window_days} days {len(better)} of the six numbers improved "
    f"and {len(worse)} deteriorated beyond noise"
    if has_before
    else "there is no previous period to compare with"
)
if has_changes and now["deployments"]:
    verdict = (
        f"Speed is at {_tier('deployment_frequency')} for deployment frequency and stability at "
        f"{_tier('change_failure_rate')} for change failures; {trend}."
    )
elif has_changes:
    verdict = (
        f"No change went live in this window, so speed and stability cannot be rated; {trend}."
    )
else:
    verdict = (
        "No changes are loaded, so speed and the DORA tiers cannot be rated: this window shows "
        f"incidents and requests only; {trend}."
    )
sentences = [verdict]
if has_changes and now["deployments"]:
    sentences.append(
        f"The selected teams deployed {fmt.number(now['deployments_per_week'])} times a week "
        f"({now['deployments']:,} deployments){_versus('deployments_per_week', fmt.number, False)}."
    )
    if now["lead_time_hours_median"] is not None:
        sentences.append(
            f"A change took a median {lead(now['lead_time_hours_median'])} from request to "
            f"production{_versus('lead_time_hours_median', lead, True)}."
        )
    if now["change_failure_rate"] is not None:
        sentences.append(
            f"{fmt.percent(now['change_failure_rate'])} of deployments failed "
            f"({now['failed_deployments']:,}){_versus('change_failure_rate', fmt.percent, True)}."
        )
if not has_tickets:
    sentences.append("No incidents are loaded, so time to restore and support cost are not known.")
elif now["incidents"] or now["requests"]:
    restored = (
        f"Incidents took a median {restore(now['time_to_restore_hours_median'])} to restore"
        f"{_versus('time_to_restore_hours_median', restore, True)}; support"
        if now["time_to_restore_hours_median"] is not None
        else "No incident of this window was resolved yet; support"
    )
    sentences.append(
        f"{restored} cost {fmt.money(now['support_cost'])} "
        f"({fmt.number(now['support_hours'], 0)} hours for {now['incidents']:,} incidents and "
        f"{now['requests']:,} requests)."
    )
ui.reading(
    sentences,
    ui.small_sample_caveat({"deployments": now["deployments"], "incidents": now["incidents"]}),
    how=_how(),
)
