"""One honest sentence per statistical result, for the pages, the report and the notebook.

Sentences say what was found *and* how sure we are: "not significant" is said out loud, p-values
and sample sizes are always shown, and small samples carry a warning.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from analytics.stats import (
    ALPHA,
    EQUIVALENCE_MARGIN,
    BeforeAfter,
    CabVsDelegated,
    ChangePoint,
    Correlation,
    Trend,
    TrendTurn,
    WhatIf,
    cab_failure_verdict,
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
    stats = f"(Spearman ρ = {r:.2f}, {fmt_p(p)}, {n} weeks)"
    if row.get("q_value") is not None:  # one lag of several: judged on its BH q-value
        p = row["q_value"]
        stats = f"(Spearman ρ = {r:.2f}, q = {p:.2g}, {n} weeks)"
    if p is not None and p < ALPHA:
        direction = "more" if r > 0 else "fewer"
        text = f"Weeks with more releases see {direction} incidents {_lag_phrase(lag)} {stats}"
    else:
        text = f"No significant link between {subject} {stats}"
    return _sentence(text, caution(n, "weeks of data", SMALL_WEEKS))


def _lag_qvalues(defined: list[dict]) -> list[float]:
    """The rows' Benjamini–Hochberg q-values (computed here for rows built without them)."""
    if all(r.get("q_value") is not None for r in defined):
        return [r["q_value"] for r in defined]
    from analytics.timeseries import bh_qvalues

    return [float(q) for q in bh_qvalues([r["p_value"] for r in defined])]


def lagged_correlation_sentence(rows: list[dict]) -> str:
    """The verdict on a lagged Spearman table (:func:`analytics.stats.lagged_spearman`): the
    lag with the smallest Benjamini–Hochberg q-value is named only when q < ALPHA. Plain words,
    association only; the statistics are in :func:`lagged_correlation_how`."""
    defined = [r for r in rows if r["p_value"] is not None]
    if not defined:
        reason = rows[0]["reason"] if rows else "no weeks in the window"
        return _sentence(f"No link between releases and incidents can be computed: {reason}")
    q = _lag_qvalues(defined)
    best_q, best = min(zip(q, defined, strict=True), key=lambda t: (t[0], t[1]["p_value"]))
    lags = f"{min(r['lag_weeks'] for r in defined)} to {max(r['lag_weeks'] for r in defined)}"
    warn = caution(best["n"], "weeks of data", SMALL_WEEKS)
    if best_q < ALPHA:
        direction = "more" if best["spearman_r"] > 0 else "fewer"
        return _sentence(
            f"Weeks with more releases went with {direction} incidents "
            f"{_lag_phrase(best['lag_weeks'])}",
            warn,
        )
    return _sentence(
        f"Releases and incidents did not move together at any lag from {lags} weeks beyond "
        f"what chance and the weeks' own rhythm explain",
        warn,
    )


def lagged_correlation_how(rows: list[dict]) -> list[str]:
    """The statistics behind :func:`lagged_correlation_sentence`, one line each."""
    defined = [r for r in rows if r["p_value"] is not None]
    if not defined:
        return []
    q = _lag_qvalues(defined)
    best_q, best = min(zip(q, defined, strict=True), key=lambda t: (t[0], t[1]["p_value"]))
    method = best.get("method") or "Spearman"
    lines = [
        f"{method[0].upper()}{method[1:]} between weekly deployments and weekly incidents 0 to "
        f"{max(r['lag_weeks'] for r in defined)} weeks later, over whole weeks only "
        f"({count(defined[0]['n'], 'weeks')} paired at lag 0).",
        f"Strongest lag: {_lag_phrase(best['lag_weeks'])}, Spearman ρ = "
        f"{best['spearman_r']:.2f}, {fmt_p(best['p_value'])}, q = {best_q:.2g} "
        f"({count(best['n'], 'weeks')}).",
        "Weekly counts follow their own rhythm (a busy week follows a busy week), which makes "
        "chance correlations common: each series is filtered with its own autoregressive model "
        "before correlating (prewhitening; Haugh 1976), what rhythm is left widens the test "
        "(Bartlett 1935), and the p-values of "
        f"the {len(defined)} lags are adjusted with Benjamini–Hochberg; a lag is named only when "
        f"its q-value is below {ALPHA}.",
    ]
    return lines


def cfr_interval_sentence(rate: float | None, ci: tuple | list | None, deployments: int) -> str:
    """The change failure rate with its Wilson 95 % interval."""
    if not deployments or ci is None:
        return "No deployments in this window, so no change failure rate."
    return _sentence(
        f"Change failure rate {fmt_pct(rate)} (95 % CI {fmt_pct(ci[0])} to {fmt_pct(ci[1])}, "
        f"{deployments} deployments)",
        caution(deployments, "deployments", SMALL_DEPLOYMENTS),
    )


def _pp(value: float) -> str:
    """A difference of fractions in percentage points: 0.012 -> ``+1.2``."""
    return f"{value * 100:+.1f}"


def cab_sentence(result: CabVsDelegated) -> str:
    """CAB versus delegated approval, compared within the same team, risk and kind (incident
    fix or planned change): failure rates
    (the verdict of :func:`analytics.stats.cab_failure_verdict`) and lead times (van Elteren).
    Association only: the sentence says how the routes differ, never that a route causes it."""
    f, lt, ve = result.failure, result.lead_time_hours, result.lead_time_stratified
    verdict = cab_failure_verdict(result)
    if verdict is None:
        missing = "CAB-approved" if not f.a_total else "delegated"
        return f"No comparison of approval routes: there are no {missing} deployments."
    rates = f"overall {fmt_pct(f.a_rate)} vs {fmt_pct(f.b_rate)} of deployments"
    # without strata (a result built from crude counts) the comparison is across all changes
    peers = "delegated ones" + (" of the same team, risk and kind" if result.stratified else "")
    if verdict in ("more", "less"):
        fail = f"CAB-approved changes failed {verdict} often than {peers} ({rates})"
    elif verdict == "same":
        fail = f"CAB-approved changes failed about as often as {peers} ({rates})"
    else:
        fail = (
            f"This data cannot tell whether CAB-approved changes fail more or less often than "
            f"{peers} ({rates})"
        )
    wait = ""
    if ve is not None and ve.p_value is not None:
        if ve.p_value < ALPHA:
            word = "longer" if ve.statistic > 0 else "shorter"
            wait = f"; within the same team, risk and kind, CAB-approved changes waited {word}"
            if lt.a_median is not None and lt.b_median is not None:
                wait += f" (median {_duration(lt.a_median)} vs {_duration(lt.b_median)})"
        else:
            wait = (
                "; within the same team, risk and kind, their lead times do not differ "
                "significantly"
            )
    elif ve is None and lt.p_value is not None:  # built without strata: the crude test
        if lt.p_value < ALPHA:
            word = "longer" if (lt.a_median or 0) > (lt.b_median or 0) else "shorter"
            wait = f"; CAB-approved changes had {word} lead times"
        else:
            wait = "; their lead times do not differ significantly"
    return _sentence(fail + wait, caution(min(f.a_total, f.b_total), "deployments", 10))


def cab_how(result: CabVsDelegated) -> list[str]:
    """The test statistics behind :func:`cab_sentence`, one line each (for "How this was
    computed")."""
    f, lt = result.failure, result.lead_time_hours
    mh, ve = result.stratified, result.lead_time_stratified
    lines = []
    if mh is not None and mh.odds_ratio is not None:
        ci = (
            f", 95 % CI {fmt_num(mh.low)} to {fmt_num(mh.high)} (Robins–Breslow–Greenland)"
            if mh.low is not None
            else ""
        )
        lines.append(
            f"Failure rates compared within {count(mh.strata, 'team × risk × kind strata')} "
            f"(kind: incident fix or planned change) that have CAB and delegated changes and both "
            f"outcomes: Mantel–Haenszel odds ratio "
            f"{fmt_num(mh.odds_ratio)}{ci}; Cochran–Mantel–Haenszel test with continuity "
            f"correction {fmt_p(mh.p_value)}."
        )
    elif mh is not None:
        lines.append(f"No stratified odds ratio: {mh.reason}.")
    if mh is not None and mh.risk_difference is not None:
        margin = f"{EQUIVALENCE_MARGIN * 100:.0f}"
        lines.append(
            f"Failure rate difference CAB − delegated, Mantel–Haenszel weighted over "
            f"{count(mh.rd_strata, 'strata')}: {_pp(mh.risk_difference)} percentage points "
            f"(95 % CI {_pp(mh.rd_low)} to {_pp(mh.rd_high)}; Newcombe's hybrid score interval "
            f'from Wilson limits at the effective sample sizes). "About as often" is said '
            f"only when the whole interval lies within ±{margin} points."
        )
    if not f.reason:
        lines.append(
            f"Ignoring team, risk and kind: {fmt_pct(f.a_rate)} of {f.a_total:,} CAB-approved vs "
            f"{fmt_pct(f.b_rate)} of {f.b_total:,} delegated deployments failed (Fisher's exact "
            f"{fmt_p(f.fisher_p)}). Teams differ in how many changes go to the CAB and in how "
            f"often changes fail, and incident fixes fail and wait differently from planned "
            f"changes, so this crude comparison is not the verdict."
        )
    if ve is not None and ve.p_value is not None:
        lines.append(
            f"Lead times within {count(ve.strata, 'team × risk × kind strata')}: van Elteren's "
            f"stratified Wilcoxon test z = {ve.statistic:.2f}, {fmt_p(ve.p_value)}; CAB minus "
            f"delegated median, averaged over the strata: {_duration(ve.median_difference)}."
        )
    if lt.p_value is not None:
        lines.append(
            f"Lead times ignoring team, risk and kind: median {_duration(lt.a_median)} (CAB) vs "
            f"{_duration(lt.b_median)} (delegated), Mann–Whitney {fmt_p(lt.p_value)}."
        )
    return lines


def _trend_direction(trend: Trend) -> int:
    """+1 rising, -1 falling, 0 no clear trend: by the Mann–Kendall p-value (< ALPHA), or by
    the interval excluding 0 for a Trend built without one."""
    if trend.slope is None:
        return 0
    if trend.p_value is not None:
        return int(np.sign(trend.slope)) if trend.p_value < ALPHA else 0
    if trend.low is not None and trend.low > 0:
        return 1
    return -1 if trend.high is not None and trend.high < 0 else 0


def trend_sentence(trend: Trend, what: str = "incidents", unit: str = "week") -> str:
    """The verdict on a :func:`analytics.stats.theil_sen` trend: rising or falling only when
    its Mann–Kendall p < ALPHA, else no clear trend. Statistics in :func:`trend_how`."""
    if trend.slope is None:
        return _sentence(f"No trend in weekly {what} can be computed: {trend.reason}")
    warn = caution(trend.n, "weeks of data", SMALL_WEEKS)
    direction = _trend_direction(trend)
    if direction > 0:
        return _sentence(f"Weekly {what} are rising by {fmt_num(trend.slope)} per {unit}", warn)
    if direction < 0:
        return _sentence(f"Weekly {what} are falling by {fmt_num(-trend.slope)} per {unit}", warn)
    return _sentence(f"No clear trend in weekly {what}", warn)


def trend_how(trend: Trend, unit: str = "week") -> list[str]:
    """The statistics behind :func:`trend_sentence`, one line each."""
    if trend.slope is None:
        return []
    lines = [
        f"Theil–Sen slope {fmt_num(trend.slope)} per {unit} (95 % CI {fmt_num(trend.low)} to "
        f"{fmt_num(trend.high)}), Mann–Kendall {fmt_p(trend.p_value)}, "
        f"{count(trend.n, 'whole weeks')}."
    ]
    if trend.method:
        lines.append(
            f"Method: {trend.method}. The variance correction allows for weeks that resemble "
            "their neighbours (Hamed & Rao 1998), and is never below the upper 95 % bound of the "
            "weeks' long-run variance (Bartlett window, Newey & West 1987), because a short series "
            "understates its own slow wander exactly when that wander looks like a trend; from "
            "two years of weeks on, a yearly season that stands out from that rhythm is removed "
            "first so it does not read as a trend."
        )
    return lines


def trend_turn_sentence(turn: TrendTurn, what: str = "incidents") -> str:
    """When the recent trend runs against the whole window's (:func:`analytics.stats.
    trend_turn`), e.g. "Weekly incidents have been rising since the week of 2026-07-06 although
    they fell over the window as a whole."; an empty string when the trend has not turned."""
    if not turn.turned or turn.recent is None:
        return ""
    since = f"the week of {turn.since_week}" if turn.since_week else f"week {turn.since + 1}"
    recent = "rising" if turn.recent.slope > 0 else "falling"
    whole = "fell" if turn.whole.slope < 0 else "rose"
    return _sentence(
        f"Weekly {what} have been {recent} since {since} although they {whole} over the "
        f"window as a whole"
    )


def trend_turn_how(turn: TrendTurn, unit: str = "week") -> list[str]:
    """The statistics behind :func:`trend_turn_sentence` (empty when it says nothing)."""
    if not turn.turned or turn.recent is None:
        return []
    r = turn.recent
    return [
        f"Recent trend ({count(r.n, 'whole weeks')} from position {turn.since + 1}): Theil–Sen "
        f"slope {fmt_num(r.slope)} per {unit}, Mann–Kendall {fmt_p(r.p_value)}; whole window "
        f"{fmt_num(turn.whole.slope)} per {unit}."
    ]


def change_point_sentence(
    cp: ChangePoint, weeks: list[dt.date] | None = None, what: str = "incidents"
) -> str:
    """The verdict on the most likely shift in the weekly mean: named only when it beats chance
    (block-permutation p < ALPHA). Statistics in :func:`change_point_how`."""
    if cp.index is None:
        return _sentence(f"No shift in weekly {what} can be tested: {cp.reason}")
    when = f"the week of {weeks[cp.index]}" if weeks is not None else f"week {cp.index + 1}"
    shift = f"{fmt_num(cp.mean_before, 1)} to {fmt_num(cp.mean_after, 1)} a week"
    warn = caution(cp.n, "weeks of data", SMALL_WEEKS)
    if cp.p_value < ALPHA:
        return _sentence(f"Weekly {what} shifted from {shift} from {when}", warn)
    return _sentence(f"No significant shift in weekly {what}", warn)


def change_point_how(cp: ChangePoint, weeks: list[dt.date] | None = None) -> list[str]:
    """The statistics behind :func:`change_point_sentence`, one line each."""
    if cp.index is None:
        return []
    when = f"the week of {weeks[cp.index]}" if weeks is not None else f"week {cp.index + 1}"
    method = cp.method or f"permutation ({cp.permutations:,} orderings)"
    return [
        f"Best single split: {when}, mean {fmt_num(cp.mean_before, 1)} before and "
        f"{fmt_num(cp.mean_after, 1)} after, {count(cp.n, 'whole weeks')}; {fmt_p(cp.p_value)} "
        f"by {method}.",
        "Blocks of neighbouring weeks are shuffled rather than single weeks, so the test keeps "
        "the weeks' own rhythm and a slow drift is not mistaken for a shift (Künsch 1989); and "
        "a shift is named only when weeks simulated with the persistence the data allow at "
        "most (an AR(1) model at its upper 95 % bound) rarely split as clearly either.",
    ]


def _team_move(ba: BeforeAfter) -> str:
    """``team alpha moved from 14-day to 7-day sprints on 2026-03-02``."""
    lengths = ""
    if ba.length_before_days is not None and ba.length_after_days is not None:
        lengths = (
            f" moved from {fmt_num(ba.length_before_days, 0)}-day to "
            f"{fmt_num(ba.length_after_days, 0)}-day sprints"
        )
    return f"team {ba.team}{lengths or ' changed its sprint length'} on {ba.change_date}"


def before_after_sentence(ba: BeforeAfter) -> str:
    """Verdict first: did a team's weekly incidents rise or fall after its sprint length changed,
    beyond what the other teams' weeks would have brought (``ba.did``, the difference-in-
    differences of :func:`analytics.insights.cadence_before_after`)? An association in time, not
    a cause. Results without ``did`` are read as before, from the equal windows' Mann–Whitney."""
    move = _team_move(ba)
    did = getattr(ba, "did", None)
    if did is None:
        return _equal_windows_sentence(ba, move)
    if ba.reason or did.p_value is None:
        return _sentence(f"No comparison is possible after {move}: {ba.reason or did.reason}")
    if did.other_teams:
        against = f"{fmt_num(did.expected_after, 1)} expected from the other teams' weeks"
    else:
        against = f"{fmt_num(did.team_before, 1)} a week in its baseline"
    stats = (
        f"{fmt_num(did.team_after, 1)} a week in the {count(did.weeks_after, 'weeks')} after, "
        f"against {against} ({_signed(did.difference)} a week; relative change "
        f"{_percent(did.relative)}, 95 % interval {_percent(did.low)} to {_percent(did.high)}, "
        f"{fmt_p(did.p_value)})"
    )
    if did.p_value < ALPHA and did.relative:
        how = "rose" if did.relative > 0 else "fell"
        text = f"Weekly incidents {how} after {move}: {stats}"
    else:
        text = f"No clear change in weekly incidents after {move}: {stats}"
    return _sentence(text, caution(did.weeks_after, "weeks after the change", 6))


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}"


def _percent(fraction: float | None) -> str:
    """A signed fraction as whole per cent: ``+87 %``."""
    return "n/a" if fraction is None else f"{100 * fraction:+.0f} %"


def _equal_windows_sentence(ba: BeforeAfter, move: str) -> str:
    """The reading of a :class:`BeforeAfter` without a difference-in-differences: Mann–Whitney
    on the equal windows (weeks taken as independent)."""
    head = f"After {move}"
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


def before_after_how(ba: BeforeAfter) -> list[str]:
    """The statistics behind :func:`before_after_sentence`, one line each."""
    did = getattr(ba, "did", None)
    if did is None or ba.reason or did.p_value is None:
        return []
    lines = [
        f"Incidents around {ba.team}'s sprint-length change: a baseline of "
        f"{count(did.weeks_before, 'whole weeks')} ({did.baseline_from} to {did.baseline_to}, "
        "ending some weeks before the change, so that a bad spell that prompted it is not its "
        f"“before”) against {count(did.weeks_after, 'whole weeks')} from {did.after_from}.",
    ]
    if did.other_teams:
        lines.append(
            f"Expected after: the team's baseline {fmt_num(did.team_before, 1)} a week moved as "
            f"the other {count(did.other_teams, 'teams')} did ({fmt_num(did.others_before, 1)} → "
            f"{fmt_num(did.others_after, 1)} a week per team): difference-in-differences (Card & "
            "Krueger 1994), which takes out seasons and organisation-wide busy weeks."
        )
    lines.append(
        "Test: each week's count over that expectation, after the change against the baseline, "
        f"a t-test whose variance is inflated ×{fmt_num(did.long_run_ratio, 2)} for "
        "autocorrelation (long-run variance of an AR fit), so neighbouring weeks count for less "
        f"than independent ones; {fmt_p(did.p_value)}."
    )
    inc = ba.incidents
    if inc.p_value is not None:
        lines.append(
            f"For comparison, {ba.weeks} weeks right before against {ba.weeks} after, weeks taken "
            f"as independent: mean {fmt_num(inc.a_mean, 1)} vs {fmt_num(inc.b_mean, 1)} a week, "
            f"Mann–Whitney {fmt_p(inc.p_value)}; not the reading, it takes seasons and busy "
            "spells for changes (null audit, #11)."
        )
    return lines


def what_if_sentence(w: WhatIf) -> str:
    """The projected lead time and failure rate after delegating a share of CAB approvals, said
    as a projection under its assumptions (each moved change takes the lead time of a delegated
    change of its own team)."""
    share = f"{w.share * 100:.0f} %"
    if w.reason and w.projected_lead_time_hours_median is None:
        return _sentence(f"Delegating {share} of CAB approvals cannot be projected: {w.reason}")
    if w.moved == 0:
        return _sentence(f"Delegating {share} of CAB approvals moves no change ({w.reason})")
    lead_ci, cfr_ci = w.projected_lead_time_ci95, w.projected_change_failure_rate_ci95
    outcome = f"{w.assumptions[-1][0].lower()}{w.assumptions[-1][1:-1]}"
    pooled = ""
    if w.pooled_candidates:
        pooled = (
            f"; {count(w.pooled_candidates, 'candidates')} of teams without any delegated "
            f"change took the lead time of a delegated change of any team"
        )
    return _sentence(
        f"Delegating {share} of low/medium-risk CAB approvals ({w.moved} of {w.candidates} "
        f"changes) would take the median lead time from "
        f"{_duration(w.baseline_lead_time_hours_median)} to "
        f"{_duration(w.projected_lead_time_hours_median)} (95 % CI "
        f"{_duration(lead_ci[0])} to {_duration(lead_ci[1])}) and the change failure rate from "
        f"{fmt_pct(w.baseline_change_failure_rate)} to "
        f"{fmt_pct(w.projected_change_failure_rate)} ({fmt_pct(cfr_ci[0])} to "
        f"{fmt_pct(cfr_ci[1])}), projected under these assumptions: each moved change takes the "
        f"lead time of a delegated change of its own team; {outcome}{pooled}"
    )


def warranty_sentence(result) -> str:
    """The warranty reading. Given :func:`analytics.insights.warranty_vs_incidents`'s result
    (or its ``within_team`` part): within each team, were sprints with more warranty work than
    the team's usual followed by fewer P1/P2 incidents? This is the claimable reading. Given a
    :class:`Correlation`: the between-team description (:func:`warranty_between_sentence`)."""
    if isinstance(result, Correlation):
        return warranty_between_sentence(result)
    w = getattr(result, "within_team", result)
    if w is None or w.slope is None:
        reason = w.reason if w is not None else "no sprints"
        return _sentence(f"Within teams, no link between warranty work and P1/P2 incidents can "
                         f"be computed: {reason}")  # fmt: skip
    after = f"in the {count(w.weeks, 'weeks')} after it"
    if w.p_value is not None and w.p_value < ALPHA:
        direction = "fewer" if w.slope < 0 else "more"
        return _sentence(
            f"Within each team, sprints with more warranty work than the team's usual were "
            f"followed by {direction} P1/P2 incidents {after}"
        )
    return _sentence(
        f"Within each team, a sprint's warranty share and the team's P1/P2 incidents {after} "
        "did not move together beyond chance"
    )


def warranty_between_sentence(corr: Correlation) -> str:
    """Across teams, descriptive: warranty share of sprint work against P1/P2 incidents per
    week, one point a team — a description, never a test (a handful of teams that differ in
    size, systems and much else)."""
    if corr.spearman_r is None:
        return _sentence(f"Across teams, warranty work and P1/P2 incidents cannot be set side "
                         f"by side: {corr.reason}")  # fmt: skip
    if corr.spearman_r == 0:
        found = "show no ordering between warranty work and P1/P2 incidents per week"
    else:
        direction = "more" if corr.spearman_r > 0 else "fewer"
        found = f"teams that plan more warranty work had {direction} P1/P2 incidents per week"
    return _sentence(f"Across the {count(corr.n, 'teams')}, {found} — a description, not a test")


def warranty_how(result) -> list[str]:
    """The statistics behind the warranty sentences, for "How this was computed"."""
    w, corr = result.within_team, result.correlation
    lines = []
    if w is not None and w.slope is not None:
        lines.append(
            f"Within teams: fixed-effects slope {w.slope:+.2f} P1/P2 incidents per 10 points of "
            f"warranty share above the team's usual, permutation test within teams "
            f"{fmt_p(w.p_value)} ({w.permutations:,} shuffles), {count(w.sprints, 'sprints')} "
            f"of {count(w.teams, 'teams')}; Spearman ρ of the centred values "
            f"{w.spearman_r:.2f}; incidents counted in the {count(w.weeks, 'weeks')} after each "
            "sprint's last day."
        )
    if corr.spearman_r is not None:
        lines.append(
            f"Across teams: Spearman ρ = {corr.spearman_r:.2f} over {count(corr.n, 'teams')} "
            "(descriptive only: teams differ in many ways besides warranty work)."
        )
    return lines
