"""The null audit (issue 11): does every statistical reading keep its error rate on data without
the effect it looks for, and still find the effect when it is planted?

    .venv/bin/python benchmarks/audit.py                      # 40 seeds per variant
    .venv/bin/python benchmarks/audit.py --quick              # 8 seeds: a smoke run
    .venv/bin/python benchmarks/audit.py --write-docs after   # table into docs/statistics.md

For each variant of the demo generator (``analytics.demo``: every planted effect off, seasonal,
autocorrelated, one effect on, all on) and each seed, a small demo database is generated, loaded
into an in-memory DuckDB through the real loader, and read with the very functions the pages and
``python -m analytics report --format json`` use. A *claim* is what the page or the JSON states
(p or q below 0.05, a verdict word, a delta label). The audit never re-computes a statistic: it
counts claims, and knows the truth from the generator's switches.

Printed: one Markdown row per reading with its false-claim rate on the null variants and its
detection rate where its effect is planted (per cent of trials; a trial is one seed, or one
register entry of one seed for the CSI register, or one metric for the Overview deltas).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import multiprocessing
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analytics import demo  # noqa: E402

DOCS = ROOT / "docs" / "statistics.md"
RESULTS = Path(__file__).resolve().parent / "results"
ALPHA = 0.05
WINDOW_HOURS = 24.0  # the sidebar's default window attribution
WHAT_IF_SHARE = 0.5  # the Change control page's default: half of the candidates move
OVERVIEW_DAYS = 90  # the sidebar's default window: the last 90 days against the 90 before
OVERVIEW_METRICS = {  # report key -> delta kind of ui.format.change (as on the Overview page)
    "change_failure_rate": "percent",
    "time_to_restore_hours_median": "hours",
    "lead_time_hours_median": "hours",
}

# The audit's data: the demo's two years and six teams, about half the demo's volume so that
# 40 seeds x 11 variants run in minutes on two cores; half of the change-caused incidents lose
# their explicit link, as in real exports, so window attribution has something to find.
AUDIT_SPEC = dataclasses.replace(
    demo.DEFAULT_SPEC, changes=2_000, incidents=9_000, work_items=3_000, unlinked=0.5
)
QUICK_SPEC = AUDIT_SPEC  # the test suite shrinks it further itself


@dataclasses.dataclass(frozen=True)
class Variant:
    """One kind of generated data: which effects are planted, how seasonal and autocorrelated."""

    name: str
    effects: frozenset[str]
    season: float = 0.15
    noise_ar: float = 0.0
    label: str = ""

    def spec(self, seed: int, base: demo.DemoSpec = AUDIT_SPEC) -> demo.DemoSpec:
        return dataclasses.replace(
            base, seed=seed, effects=self.effects, season=self.season, noise_ar=self.noise_ar
        )


NULLS = (
    Variant("null", frozenset(), label="no effect"),
    Variant("season", frozenset(), season=0.4, label="no effect, strong season (±40 %)"),
    Variant("ar1", frozenset(), noise_ar=0.7, label="no effect, AR(1) weekly noise (φ = 0.7)"),
)
PLANTED_ALL = Variant("all", frozenset(demo.EFFECTS), label="every effect planted")

# reading -> (label, the generator effect that makes its claim true)
READINGS = {
    "cab": ("CAB vs delegated failure rate (JSON `cab_vs_delegated`)", "cab"),
    "lag": ("Lagged correlation, any lag (JSON `cadence_incident_correlation`)", "lag"),
    "lag_page": ("Lagged correlation, the page's sentence", "lag"),
    "trend": ("Incident trend rising/falling (JSON `incident_trend`)", "trend"),
    "change_point": ("Incident change point (`incident_change_point`)", "shift"),
    # no effect plants a turn: every claim is false, detection does not apply
    "trend_turn": ("Incident trend turned lately (Cadence page's sentence)", "none"),
    "cab_lead": ("CAB vs delegated lead time within strata (Change control sentence)", "lead"),
    "csi": ("CSI register “worked” (JSON `improvements`, per entry)", "csi"),
    "warranty": ("Warranty share vs P1/P2 incidents (`warranty_vs_incidents`)", "warranty"),
    "attribution": ("Window attribution excess, 24 h (JSON `attribution`)", "caused"),
    "attribution_4h": ("Window attribution excess, 4 h (JSON `attribution`)", "caused"),
    "overview": ("Overview delta labels, last 90 days (per metric)", "shift"),
    "cadence_before_after": (
        "Incidents before/after a sprint-length change (Cadence page's sentence)",
        "cadence",
    ),
}
BIASES = {
    "what_if_cfr": ("What-if projected failure rate − truth (points)", "cab"),
    "what_if_lead": ("What-if projected median lead time − truth (%)", "lead"),
}


def variants(per_effect: bool = False) -> list[Variant]:
    """The null variants and all effects planted; with ``per_effect`` also one variant per
    effect a reading looks for (that effect alone)."""
    # "none": no effect plants what the reading looks for (the trend turn)
    own = sorted({effect for _label, effect in (*READINGS.values(), *BIASES.values())} - {"none"})
    singles = [Variant(e, frozenset({e}), label=f"only “{e}” planted") for e in own]
    return [*NULLS, *(singles if per_effect else []), PLANTED_ALL]


# --- one database, every reading -------------------------------------------------------------


def build(spec: demo.DemoSpec):
    """An in-memory Cadence database of ``spec``'s data, loaded through the real loader."""
    from analytics.loader import LOAD_ORDER, load_paths
    from analytics.store import connect

    con = connect(":memory:")
    con.execute("SET threads TO 1")  # one process per core already
    with tempfile.TemporaryDirectory(prefix="cadence-audit-") as out:
        paths = demo.generate(Path(out), spec)
        for kind in LOAD_ORDER:
            load_paths(con, [paths[kind]], kind=kind)
    return con


def _p(row: dict, *keys: str):
    """The first of ``keys`` present (not None) in ``row``: the new key, then the old one."""
    for key in keys:
        if row.get(key) is not None:
            return row[key]
    return None


def _significant(value) -> bool:
    return value is not None and value < ALPHA


def read_all(con, spec: demo.DemoSpec, only: set[str] | None = None) -> dict:
    """Every reading (or those in ``only``) on one database: ``{reading: [(claimed, true),
    ...]}`` plus the what-if biases ``{name: [value]}``; the claims are what the report JSON and
    the pages state."""
    from analytics import insights, narrative
    from analytics.cost import CostModel
    from analytics.filters import Filter
    from analytics.improvements import improvements_for_report
    from analytics.metrics import Attribution, data_range, report

    start, end = data_range(con)
    flt = Filter(start, end)
    truth = {name: spec.has(effect) for name, (_label, effect) in READINGS.items()}
    out: dict = defaultdict(list)

    def wanted(*names: str) -> bool:
        return only is None or bool(set(names) & only)

    if wanted("cab", "lag", "trend"):
        statistics = insights.statistics_for_report(con, flt)
        cab = statistics["cab_vs_delegated"]
        out["cab"].append((_significant(_p(cab, "p_value", "fisher_p")), truth["cab"]))
        lags = statistics["cadence_incident_correlation"]
        claimed = any(_significant(_p(r, "q_value", "p_value")) for r in lags)
        out["lag"].append((claimed, truth["lag"]))
        trend = statistics["incident_trend"]
        if "p_value" in trend:
            claimed = _significant(trend["p_value"])
        else:  # before the Mann-Kendall test: a claim when the Theil-Sen interval excludes 0
            low, high = trend["low"], trend["high"]
            claimed = low is not None and (low > 0 or high < 0)
        out["trend"].append((claimed, truth["trend"]))

    if wanted("lag_page"):
        rows = insights.cadence_incident_correlation(con, flt)
        sentence = narrative.lagged_correlation_sentence(rows)
        out["lag_page"].append((sentence.startswith("Weeks with more releases"), truth["lag"]))

    if wanted("change_point", "trend_turn"):
        both = getattr(insights, "incident_readings", None)  # the Cadence page's one query
        readings = both(con, flt) if both is not None and wanted("trend_turn") else None
        cp = readings.shift if readings else insights.incident_change_point(con, flt)
        inner = getattr(cp, "change_point", cp)
        out["change_point"].append((_significant(inner.p_value), truth["change_point"]))
        if wanted("trend_turn"):  # the page measures the recent trend from a significant shift
            since = cp.week if _significant(inner.p_value) else None
            turn = readings.turn if readings else insights.incident_trend_turn(con, flt, since)
            out["trend_turn"].append((bool(turn.turned), truth["trend_turn"]))

    if wanted("cab_lead"):
        waits = insights.cab_vs_delegated(con, flt).lead_time_stratified
        if waits is not None and waits.p_value is not None:
            out["cab_lead"].append((_significant(waits.p_value), truth["cab_lead"]))

    if wanted("csi"):
        planted = {
            i.improvement_id: demo.improvement_planted(i, spec) for i in demo.DEMO_IMPROVEMENTS
        }
        for row in improvements_for_report(con, flt):
            if row["as_expected"] is None:  # too early to tell, or not measured: no claim
                continue
            out["csi"].append((bool(row["as_expected"]), planted[row["improvement_id"]]))

    if wanted("warranty"):
        warranty = insights.warranty_vs_incidents(con, flt)
        out["warranty"].append((_warranty_claim(warranty), truth["warranty"]))

    # the sidebar's default window, and a short one nearer the hours a failed change takes
    for key, hours in (("attribution", WINDOW_HOURS), ("attribution_4h", 4.0)):
        if wanted(key):
            att = report(con, flt, CostModel(), Attribution("window", hours))["attribution"]
            out[key].append((_attribution_claim(att), truth[key]))

    if wanted("overview"):
        last = Filter(end - dt.timedelta(days=OVERVIEW_DAYS - 1), end)
        out["overview"].extend(_overview_claims(con, last, spec))

    if wanted("cadence_before_after"):
        out["cadence_before_after"].extend(_cadence_claims(con, flt, spec))

    if wanted("what_if_cfr", "what_if_lead"):
        cfr_bias, lead_bias = _what_if_bias(con, flt, spec)
        out["what_if_cfr"].append(cfr_bias)
        out["what_if_lead"].append(lead_bias)
    return dict(out)


def _attribution_claim(att: dict) -> bool:
    """The window attribution claims links beyond chance: with a placebo count (and p-value) when
    the report has one, else any incident linked by the window (what the page shows)."""
    if att.get("p_value") is not None:
        return _significant(att["p_value"])
    linked = att.get("incidents_linked_by_window") or 0
    placebo = att.get("placebo_links")
    if placebo is not None:
        excess = att.get("excess_links", linked - placebo)
        low = att.get("excess_low")
        return (low > 0) if low is not None else excess > 0
    return linked > 0


def _warranty_claim(result) -> bool:
    """The Warranty reading claims a link: the within-team test when present, else Spearman
    across teams."""
    for name in ("within_team", "within"):
        inner = getattr(result, name, None)
        if inner is not None:
            p = getattr(inner, "p_value", None)
            if p is None and isinstance(inner, dict):
                p = inner.get("p_value")
            return _significant(p)
    return _significant(result.correlation.p_value)


def _cadence_claims(con, flt, spec) -> list[tuple[bool, bool]]:
    """Per lasting sprint-length change in the data (the demo has one: Search, 4- to 2-week
    sprints half-way), the Cadence page's before/after sentence at its defaults (8 weeks each
    side). The "cadence" effect raises that team's incidents for weeks after the switch, so with
    it on only a rise is a detection; without it a rise or a fall is a false claim."""
    from analytics import insights, narrative

    truth = spec.has("cadence")
    out = []
    for row in insights.sprint_length_changes(con, flt).itertuples():
        ba = insights.cadence_before_after(con, flt, row.team, 8, row.change_date)
        said = cadence_claim(narrative.before_after_sentence(ba))
        out.append(((said == "rose") if truth else said is not None, truth))
    return out


def cadence_claim(sentence: str) -> str | None:
    """The word "rose" or "fell" when the before/after sentence claims that weekly incidents
    changed, else None (not significant, or no comparison possible)."""
    if re.search(r"\b(no comparison|not change|no clear|within noise)", sentence, re.I):
        return None
    found = re.search(r"\b(rose|fell)\b", sentence)
    return found.group(1) if found else None


def _overview_claims(con, flt, spec) -> list[tuple[bool, bool]]:
    """Per Overview KPI: does the page label a change against the previous period? True change
    only under the "shift" effect, for the failure rate and time to restore (it steps up in the
    last 13 weeks, which the last 90 days hold). The label: the significance-tested verdict of
    ``analytics.deltas.period_deltas`` when it exists, else ``ui.format.change``'s delta text
    (shown, with its colour, whenever the numbers differ)."""
    from analytics.cost import CostModel
    from analytics.metrics import report

    try:
        from analytics.deltas import NOISE, period_deltas
    except ImportError:
        period_deltas = None
    if period_deltas is not None:
        verdicts = period_deltas(con, flt, CostModel())
        labelled = {k: verdicts[k].verdict not in (None, NOISE) for k in OVERVIEW_METRICS}
    else:
        from ui.format import change

        now = report(con, flt, CostModel())
        before = report(con, flt.previous_period(), CostModel())
        labelled = {
            k: change(now[k], before[k], kind) is not None for k, kind in OVERVIEW_METRICS.items()
        }
    return [
        (labelled[k], spec.has("shift") and k != "lead_time_hours_median") for k in OVERVIEW_METRICS
    ]


def _what_if_bias(con, flt, spec) -> tuple[float | None, float | None]:
    """The what-if projection (the page's defaults: half of the candidates move, a moved change
    fails as it did) minus the generator's truth: (failure rate in points, median lead time in
    per cent). The truth: a moved change's failure probability is divided by CAB_FAILURE when
    the "cab" effect is on, and its lead time scales from the CAB's to the product owner's
    median when the "lead" effect is on (same team factor, same noise)."""
    from analytics import insights
    from analytics.metrics import deployments_frame

    w = insights.what_if_delegation(con, flt, WHAT_IF_SHARE, "own")
    projected_cfr = w.projected_change_failure_rate
    projected_lead = w.projected_lead_time_hours_median
    if projected_cfr is None or projected_lead is None:
        return None, None
    columns = ("approval", "risk", "lead_time_hours", "failed")
    deployments = deployments_frame(con, flt, columns=columns)
    approval = deployments["approval"].astype(object)
    candidate = (approval == "cab") & deployments["risk"].astype(object).isin(["low", "medium"])
    candidate = candidate.to_numpy()
    failed = deployments["failed"].to_numpy(dtype=float)
    lead = deployments["lead_time_hours"].to_numpy(dtype=float)
    n = len(deployments)
    fail_gain = (1 / demo.CAB_FAILURE - 1) if spec.has("cab") else 0.0
    true_cfr = (failed.sum() + WHAT_IF_SHARE * failed[candidate].sum() * fail_gain) / n
    scale = demo.LEAD_HOURS[1] / demo.LEAD_HOURS[2] if spec.has("lead") else 1.0
    # weighted median of the mixture: candidates stay with weight 1 - share, move with share
    values = np.concatenate([lead, lead[candidate] * scale])
    weights = np.concatenate(
        [np.where(candidate, 1 - WHAT_IF_SHARE, 1.0), np.full(candidate.sum(), WHAT_IF_SHARE)]
    )
    keep = ~np.isnan(values)
    order = np.argsort(values[keep])
    cum = np.cumsum(weights[keep][order])
    true_lead = values[keep][order][np.searchsorted(cum, cum[-1] / 2)]
    cfr_bias = 100 * (projected_cfr - true_cfr)
    lead_bias = 100 * (projected_lead / true_lead - 1)
    return cfr_bias, lead_bias


# --- running ----------------------------------------------------------------------------------


def run_one(job: tuple) -> tuple[str, int, dict]:
    """One (variant, seed, base spec, readings or None): (variant name, seed, readings)."""
    variant, seed, base, only = job
    spec = variant.spec(seed, base)
    con = build(spec)
    try:
        return variant.name, seed, read_all(con, spec, only)
    finally:
        con.close()


def _warm_up() -> None:
    """Import what the readings use once, before the workers fork: each would pay seconds."""
    import analytics.improvements  # noqa: F401
    import analytics.insights  # noqa: F401
    import analytics.loader  # noqa: F401
    import analytics.narrative  # noqa: F401
    import ui.format  # noqa: F401


def run(
    seeds: int,
    chosen: list[Variant] | None = None,
    base: demo.DemoSpec = AUDIT_SPEC,
    processes: int = 2,
    first_seed: int = 1,
    progress=sys.stderr,
    only: set[str] | None = None,
) -> dict:
    """Every variant x seed (the same seeds for every variant); returns ``{variant: {reading:
    [trial, ...]}}``. ``only`` restricts the readings."""
    chosen = chosen or variants()
    _warm_up()
    jobs = [(v, first_seed + s, base, only) for v in chosen for s in range(seeds)]
    results: dict = {v.name: defaultdict(list) for v in chosen}
    started = time.perf_counter()
    ctx = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    with ctx.Pool(processes) if processes > 1 else contextlib.nullcontext() as pool:
        answers = pool.imap_unordered(run_one, jobs) if pool else map(run_one, jobs)
        for done, (name, _seed, readings) in enumerate(answers, 1):
            for key, trials in readings.items():
                results[name][key].extend(trials)
            if progress is not None:
                elapsed = time.perf_counter() - started
                left = elapsed / done * (len(jobs) - done)
                print(
                    f"\r[{done}/{len(jobs)}] {elapsed:5.0f} s, about {left:4.0f} s left",
                    end="",
                    file=progress,
                    flush=True,
                )
    if progress is not None:
        print(file=progress)
    return {name: dict(r) for name, r in results.items()}


def rate(trials: list, truth: bool) -> tuple[float | None, int]:
    """Share of ``trials`` (claimed, true) with the given truth that claimed, and their count."""
    chosen = [claimed for claimed, true in trials if true == truth]
    return (sum(chosen) / len(chosen) if chosen else None), len(chosen)


def summary(results: dict) -> dict:
    """Per reading: false-claim rate per null variant, the worst of them, detection where its
    effect alone is planted and where every effect is; per bias: its mean and SD per variant."""
    out = {}
    for key, (label, effect) in READINGS.items():
        row = {"label": label, "effect": effect}
        for v in NULLS:
            row[v.name] = rate(results.get(v.name, {}).get(key, []), False)
        row["own"] = rate(results.get(effect, {}).get(key, []), True)
        row["all"] = rate(results.get("all", {}).get(key, []), True)
        # false claims where other effects are planted but not this reading's
        row["other"] = rate(results.get("all", {}).get(key, []), False)
        out[key] = row
    for key, (label, effect) in BIASES.items():
        row = {"label": label, "effect": effect}
        for name in ("null", "all"):
            values = [x for x in results.get(name, {}).get(key, []) if x is not None]
            row[name] = (float(np.mean(values)), float(np.std(values))) if values else None
        out[key] = row
    return out


def _pct(cell: tuple[float | None, int]) -> str:
    value, n = cell
    return "–" if value is None else f"{100 * value:.0f} % ({n})"


def markdown(table: dict, seeds: int, when: str, first_seed: int = 1) -> str:
    """The audit table as Markdown (rates in per cent, trials in brackets); the seeds are
    named when they do not start at 1 (an extended run)."""
    # the per-effect column only when per-effect variants ran (--per-effect)
    own = any(row.get("own", (None,))[0] is not None for row in table.values())
    which = "" if first_seed == 1 else f" (seeds {first_seed}-{first_seed + seeds - 1})"
    lines = [
        f"{seeds} seeds per variant{which}, {when}. False claims: share of trials claiming an "
        "effect that the data do not have (target ≤ 7 %); detection: share finding a planted one.",
        "",
        "| Reading | Null | Season | AR(1) | Worst null | "
        + ("Detection (own effect alone) | " if own else "")
        + "Detection (all effects) | False claims, other effects on |",
        "|---|---|---|---|---|---|---|" + ("---|" if own else ""),
    ]
    for key, row in table.items():
        if key in BIASES:
            continue
        nulls = [row[v.name][0] for v in NULLS if row[v.name][0] is not None]
        worst = max(nulls) if nulls else None
        mark = "" if worst is None or worst <= 0.07 else " ✗"
        lines.append(
            f"| {row['label']} | {_pct(row['null'])} | {_pct(row['season'])} | "
            f"{_pct(row['ar1'])} | {'–' if worst is None else f'{100 * worst:.0f} %'}{mark} | "
            + (f"{_pct(row['own'])} | " if own else "")
            + f"{_pct(row['all'])} | {_pct(row['other'])} |"
        )
    lines += [
        "",
        "What-if projection (the page's defaults: half of the CAB's low/medium-risk changes "
        "move, a moved change fails as it did) minus the generator's truth:",
        "",
        "| Projection | Mean (SD), no effect | Mean (SD), every effect planted |",
        "|---|---|---|",
    ]
    for key in BIASES:
        row = table[key]

        def cell(v):
            return "–" if v is None else f"{v[0]:+.1f} ({v[1]:.1f})"

        lines.append(f"| {row['label']} | {cell(row['null'])} | {cell(row['all'])} |")
    return "\n".join(lines)


def write_docs(text: str, name: str, path: Path = DOCS) -> None:
    """Put ``text`` between ``<!-- audit:NAME -->`` and ``<!-- /audit:NAME -->`` in ``path``."""
    doc = path.read_text()
    start, end = f"<!-- audit:{name} -->", f"<!-- /audit:{name} -->"
    if start not in doc or end not in doc:
        raise SystemExit(f"{path} has no {start} ... {end} markers")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    path.write_text(pattern.sub(lambda _m: f"{start}\n{text}\n{end}", doc))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=40, help="seeds per variant (default 40)")
    parser.add_argument("--quick", action="store_true", help="8 seeds per variant")
    parser.add_argument(
        "--first-seed", type=int, default=1, help="first seed (default 1): to extend a run"
    )
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--per-effect",
        action="store_true",
        help="also one variant per effect alone (detection without the other effects)",
    )
    parser.add_argument(
        "--only", help="comma-separated variants to run (default: all)", default=None
    )
    parser.add_argument(
        "--readings", help="comma-separated readings to compute (default: all)", default=None
    )
    parser.add_argument(
        "--write-docs",
        metavar="NAME",
        nargs="?",
        const="after",
        help="write the table into docs/statistics.md between the audit:NAME markers",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    seeds = 8 if args.quick else args.seeds
    chosen = variants(args.per_effect)
    if args.only:
        names = set(args.only.split(","))
        if names - {v.name for v in chosen}:  # a misspelt name would silently run nothing
            parser.error(f"--only: no variant {sorted(names - {v.name for v in chosen})}")
        chosen = [v for v in chosen if v.name in names]
    only = set(args.readings.split(",")) if args.readings else None
    if only and only - READINGS.keys() - BIASES.keys():
        parser.error(f"--readings: no reading {sorted(only - READINGS.keys() - BIASES.keys())}")
    started = time.perf_counter()
    results = run(seeds, chosen, processes=args.processes, only=only, first_seed=args.first_seed)
    table = summary(results)
    when = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {time.perf_counter() - started:.0f} s"
    text = markdown(table, seeds, when, args.first_seed)
    print(text)
    if args.json:
        raw = {"seeds": seeds, "first_seed": args.first_seed, "summary": table}
        args.json.write_text(json.dumps(raw, indent=1, default=str))
    if args.write_docs:
        write_docs(text, args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
