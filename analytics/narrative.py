"""One honest sentence per statistical result, for the pages, the report and the notebook.

Sentences say what was found *and* how sure we are: "not significant" is said out loud, p-values
and sample sizes are always shown, and small samples carry a warning.
"""

from __future__ import annotations

import datetime as dt
import re

from analytics.stats import (
    ALPHA,
    BeforeAfter,
    CabVsDelegated,
    ChangePoint,
    Correlation,
    Trend,
    WhatIf,
)

SMALL_WEEKS = 12  # fewer weeks than this: warn
SMALL_DEPLOYMENTS = 30  # fewer deployments than this per comparison: warn
SMALL_TEAMS = 5


def fmt_p(p: float | None) -> str:
    """``p = 0.04`` / ``p < 0.001`` (two significant figures)."""
    if p is None:
        return "p n/a"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


def fmt_pct(rate: float | None) -> str:
    """A fraction as a whole percentage: 0.123 -> ``12 %``."""
    return "n/a" if rate is None else f"{rate * 100:.0f} %"


def fmt_num(value: float | None, digits: int = 2) -> str:
    """A number with up to ``digits`` decimals, or ``n/a``."""
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def _duration(hours: float) -> str:
    """Hours as ``5.0 hours`` or, from two days, ``4.2 days``."""
    return f"{hours / 24:.1f} days" if abs(hours) >= 48 else f"{hours:.1f} hours"


def count(n: int, noun: str) -> str:
    """``n`` with its noun, singular for one: ``count(1, "whole weeks") == "1 whole week"``.

    The noun is given in the plural; its first word ending in "s" loses it for a count of one.
    """
    if n == 1:
        noun = re.sub(r"^(.*?\w)s\b", r"\1", noun, count=1)
    return f"{n:,} {noun}"


def caution(n: int, unit: str, threshold: int) -> str:
    """`` — only 6 weeks of data, treat with caution`` when ``n`` is below ``threshold``."""
    if n >= threshold:
        return ""
    return f" — only {count(n, unit)}, treat with caution"


def _lag_phrase(lag: int) -> str:
    if lag == 0:
        return "in the same week"
    return "one week later" if lag == 1 else f"{lag} weeks later"


def _sentence(text: str, warning: str = "") -> str:
    return f"{text}{warning}."


def correlation_sentence(row: dict | Correlation, lag: int = 0, subject: str | None = None) -> str:
    """One lag of :func:`analytics.stats.lagged_spearman` (or a :class:`Correlation`)."""
    if isinstance(row, Correlation):
        row = row.to_dict()
    lag = row.get("lag_weeks", lag)
    subject = subject or f"releases and incidents {_lag_phrase(lag)}"
    n, r, p = row["n"], row["spearman_r"], row["p_value"]
    if r is None:
        return _sentence(f"No correlation between {subject} can be computed: {row['reason']}")
    stats = f"(Spearman r = {r:.2f}, {fmt_p(p)}, {n} weeks)"
    if p is not None and p < ALPHA:
        direction = "more" if r > 0 else "fewer"
        text = f"Weeks with more releases see {direction} incidents {_lag_phrase(lag)} {stats}"
    else:
        text = f"No significant link between {subject} {stats}"
    return _sentence(text, caution(n, "weeks of data", SMALL_WEEKS))


def lagged_correlation_sentence(rows: list[dict]) -> str:
    """The strongest lag of a lagged Spearman table, Bonferroni-corrected for the lags tested."""
    defined = [r for r in rows if r["p_value"] is not None]
    if not defined:
        reason = rows[0]["reason"] if rows else "no weeks in the window"
        return _sentence(f"No link between releases and incidents can be computed: {reason}")
    best = min(defined, key=lambda r: r["p_value"])
    tested = len(defined)
    lags = f"{min(r['lag_weeks'] for r in defined)} to {max(r['lag_weeks'] for r in defined)}"
    r, p, n, lag = best["spearman_r"], best["p_value"], best["n"], best["lag_weeks"]
    stats = f"Spearman r = {r:.2f}, {fmt_p(p)}, {n} weeks"
    warn = caution(n, "weeks of data", SMALL_WEEKS)
    if p < ALPHA / tested:
        direction = "more" if r > 0 else "fewer"
        return _sentence(
            f"Weeks with more releases see {direction} incidents {_lag_phrase(lag)} "
            f"({stats}; significant even after correcting for {tested} lags)",
            warn,
        )
    if p < ALPHA:
        return _sentence(
            f"The link between releases and incidents {_lag_phrase(lag)} ({stats}) is not "
            f"significant once the {tested} lags tested are accounted for (Bonferroni)",
            warn,
        )
    return _sentence(
        f"No significant link between releases and incidents at any lag from {lags} weeks "
        f"(strongest {_lag_phrase(lag)}: {stats})",
        warn,
    )


def cfr_interval_sentence(rate: float | None, ci: tuple | list | None, deployments: int) -> str:
    """The change failure rate with its Wilson 95 % interval."""
    if not deployments or ci is None:
        return "No deployments in this window, so no change failure rate."
    return _sentence(
        f"Change failure rate {fmt_pct(rate)} (95 % CI {fmt_pct(ci[0])} to {fmt_pct(ci[1])}, "
        f"{deployments} deployments)",
        caution(deployments, "deployments", SMALL_DEPLOYMENTS),
    )


def cab_sentence(result: CabVsDelegated) -> str:
    """CAB versus delegated approval: failure rates (Fisher) and lead times (Mann-Whitney)."""
    f, lt = result.failure, result.lead_time_hours
    if f.reason:
        missing = "CAB-approved" if not f.a_total else "delegated"
        return f"No comparison of approval routes: there are no {missing} deployments."
    rates = f"{fmt_pct(f.a_rate)} vs {fmt_pct(f.b_rate)}, Fisher {fmt_p(f.fisher_p)}"
    if f.fisher_p is not None and f.fisher_p < ALPHA:
        how = "more" if f.a_rate > f.b_rate else "less"
        fail = f"CAB-approved changes fail {how} often than delegated ones ({rates})"
    else:
        fail = f"CAB-approved changes fail about as often as delegated ones ({rates})"
    if lt.p_value is None or lt.a_median is None or lt.b_median is None:
        wait = ""
    else:
        diff = lt.a_median - lt.b_median
        lead_p = f"median lead time, Mann–Whitney {fmt_p(lt.p_value)}"
        if lt.p_value < ALPHA:
            word = "longer" if diff > 0 else "less"
            wait = f" and wait {_duration(abs(diff))} {word} ({lead_p})"
        else:
            wait = (
                f"; their lead times do not differ significantly ({_duration(lt.a_median)} vs "
                f"{_duration(lt.b_median)}, {lead_p})"
            )
    return _sentence(fail + wait, caution(min(f.a_total, f.b_total), "deployments", 10))


def trend_sentence(trend: Trend, what: str = "incidents", unit: str = "week") -> str:
    """Theil-Sen slope with its 95 % interval: rising, falling, or no clear trend."""
    if trend.slope is None:
        return _sentence(f"No trend in weekly {what} can be computed: {trend.reason}")
    ci = f"95 % CI {fmt_num(trend.low)} to {fmt_num(trend.high)}"
    warn = caution(trend.n, "weeks of data", SMALL_WEEKS)
    if trend.low is not None and trend.low > 0:
        text = f"Weekly {what} are rising by {fmt_num(trend.slope)} per {unit}"
    elif trend.high is not None and trend.high < 0:
        text = f"Weekly {what} are falling by {fmt_num(-trend.slope)} per {unit}"
    else:
        return _sentence(
            f"No clear trend in weekly {what} (Theil–Sen slope {fmt_num(trend.slope)} per "
            f"{unit}, {ci}, {trend.n} weeks)",
            warn,
        )
    return _sentence(f"{text} (Theil–Sen, {ci}, {trend.n} weeks)", warn)


def change_point_sentence(
    cp: ChangePoint, weeks: list[dt.date] | None = None, what: str = "incidents"
) -> str:
    """The most likely shift in the weekly mean and whether it beats chance (permutation p)."""
    if cp.index is None:
        return _sentence(f"No shift in weekly {what} can be tested: {cp.reason}")
    when = f"the week of {weeks[cp.index]}" if weeks is not None else f"week {cp.index + 1}"
    shift = f"{fmt_num(cp.mean_before, 1)} to {fmt_num(cp.mean_after, 1)} a week"
    warn = caution(cp.n, "weeks of data", SMALL_WEEKS)
    if cp.p_value < ALPHA:
        return _sentence(
            f"Weekly {what} shifted from {shift} from {when} "
            f"(permutation {fmt_p(cp.p_value)}, {cp.n} weeks)",
            warn,
        )
    return _sentence(
        f"No significant shift in weekly {what} (best candidate {when}: {shift}, "
        f"permutation {fmt_p(cp.p_value)}, {cp.n} weeks)",
        warn,
    )


def before_after_sentence(ba: BeforeAfter) -> str:
    """A team's weekly incidents in equal windows before and after its sprint length changed."""
    lengths = ""
    if ba.length_before_days is not None and ba.length_after_days is not None:
        lengths = (
            f" moved from {fmt_num(ba.length_before_days, 0)}-day to "
            f"{fmt_num(ba.length_after_days, 0)}-day sprints"
        )
    head = f"After team {ba.team}{lengths or ' changed its sprint length'} on {ba.change_date}"
    inc = ba.incidents
    if ba.reason or inc.p_value is None:
        return _sentence(f"{head}, no comparison is possible: {ba.reason or inc.reason}")
    stats = (
        f"mean {fmt_num(inc.a_mean, 1)} vs {fmt_num(inc.b_mean, 1)} a week, "
        f"Mann–Whitney {fmt_p(inc.p_value)}, {ba.weeks} weeks each side"
    )
    if inc.p_value < ALPHA:
        how = "rose" if (inc.b_mean or 0) > (inc.a_mean or 0) else "fell"
        text = f"{head}, its weekly incidents {how} ({stats})"
    else:
        text = f"{head}, its weekly incidents did not change significantly ({stats})"
    return _sentence(text, caution(ba.weeks, "weeks each side", 6))


def what_if_sentence(w: WhatIf) -> str:
    """The projected lead time and failure rate after delegating a share of CAB approvals."""
    share = f"{w.share * 100:.0f} %"
    if w.reason and w.projected_lead_time_hours_median is None:
        return _sentence(f"Delegating {share} of CAB approvals cannot be projected: {w.reason}")
    if w.moved == 0:
        return _sentence(f"Delegating {share} of CAB approvals moves no change ({w.reason})")
    lead_ci, cfr_ci = w.projected_lead_time_ci95, w.projected_change_failure_rate_ci95
    return _sentence(
        f"Delegating {share} of low/medium-risk CAB approvals ({w.moved} of {w.candidates} "
        f"changes) would take the median lead time from "
        f"{_duration(w.baseline_lead_time_hours_median)} to "
        f"{_duration(w.projected_lead_time_hours_median)} (95 % CI "
        f"{_duration(lead_ci[0])} to {_duration(lead_ci[1])}) and the change failure rate from "
        f"{fmt_pct(w.baseline_change_failure_rate)} to "
        f"{fmt_pct(w.projected_change_failure_rate)} ({fmt_pct(cfr_ci[0])} to "
        f"{fmt_pct(cfr_ci[1])}), assuming {w.assumptions[-1][0].lower()}{w.assumptions[-1][1:-1]}"
    )


def warranty_sentence(corr: Correlation) -> str:
    """Across teams: warranty share of sprint work versus P1/P2 incidents per week."""
    if corr.spearman_r is None:
        return _sentence(f"No link between warranty work and incidents can be computed: "
                         f"{corr.reason}")  # fmt: skip
    stats = f"(Spearman r = {corr.spearman_r:.2f}, {fmt_p(corr.p_value)}, {corr.n} teams)"
    warn = caution(corr.n, "teams", SMALL_TEAMS)
    if corr.p_value is not None and corr.p_value < ALPHA:
        direction = "more" if corr.spearman_r > 0 else "fewer"
        return _sentence(
            f"Teams that spend a larger share of sprint work on warranty have {direction} "
            f"P1/P2 incidents per week {stats}",
            warn,
        )
    return _sentence(
        f"No significant link between a team's warranty share and its P1/P2 incidents "
        f"per week {stats}",
        warn,
    )
