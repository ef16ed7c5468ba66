"""Deterministic demo data: sprints, work items, changes and incidents with built-in structure.

``generate(out_dir, spec)`` writes the four canonical CSVs. Same spec and seed, same bytes.
Everything is vectorised with numpy; the only Python loops run over teams or chunks, never rows.
Large specs (the benchmark) are generated in chunks of whole teams and appended to the CSVs, so
memory stays bounded. What the data shows on purpose is documented in ``docs/demo-data.md``.

``python -m analytics.demo [--out DIR] [--scale X]`` regenerates ``data/demo`` (or a benchmark set).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from analytics.schema import KINDS
from analytics.store import DEMO_DIR

DAY = 86_400  # seconds
HOUR = 3_600


# The effects that can be planted, each with what it does when on (off: that link is absent, the
# confounders that fool naive methods stay). docs/demo-data.md and docs/statistics.md explain each.
EFFECTS = {
    "cab": "CAB-approved changes fail less often (x CAB_FAILURE), all else equal",
    "lead": "the CAB adds days of lead time (approval paths differ in median lead time)",
    "cadence": "Search's switch to shorter sprints raises its incidents and failures for 6 weeks",
    "lag": "a team's incidents rise with its deployments LAG_WEEKS weeks earlier",
    "trend": "incidents rise steadily, TREND_RISE over the window",
    "shift": "in the last SHIFT_DAYS days incidents, failures and time to restore step up",
    "csi": "the register's improvements IMP-01..03 really work (their effect multiplies)",
    "warranty": "planned warranty work lowers the share of P1/P2 incidents",
    "caused": "failed changes cause incidents within hours of going live",
}
# The committed demo: the effects it has always carried; cab, lag, trend, shift are for audits.
DEMO_EFFECTS = frozenset({"lead", "cadence", "csi", "warranty", "caused"})
CAB_FAILURE = 0.6  # "cab": failure probability of CAB-approved changes relative to others
LAG_WEEKS, LAG_GAIN = 2, 0.6  # "lag": incidents follow deployments two weeks on
TREND_RISE = 0.5  # "trend": background incident rate +50 % from first to last day
SHIFT_DAYS, SHIFT_FACTOR = 91, 1.5  # "shift": the step in the last 13 weeks


@dataclass(frozen=True)
class DemoSpec:
    """What to generate: a date window (both days included), sizes and the random seed.

    ``sprints`` None means as many as the teams' cadences give; a number caps the total by
    dropping the oldest sprints.
    """

    start: dt.date
    end: dt.date
    teams: int
    services: int
    changes: int
    incidents: int
    sprints: int | None
    work_items: int
    seed: int
    # Which planted effects the data carries (see EFFECTS); the structure stays either way.
    effects: frozenset[str] = DEMO_EFFECTS
    season: float = 0.15  # amplitude of the yearly swing in incidents (0.15 = +-15 %)
    noise_ar: float = 0.0  # AR(1) coefficient of the weekly organisation-wide incident noise
    unlinked: float = 0.0  # share of change-caused incidents exported without caused_by_change

    def __post_init__(self) -> None:
        unknown = set(self.effects) - set(EFFECTS)
        if unknown:
            raise ValueError(f"unknown effect {sorted(unknown)[0]!r} (known: {', '.join(EFFECTS)})")
        if not -1 < self.noise_ar < 1:
            raise ValueError(f"noise_ar must lie strictly between -1 and 1, not {self.noise_ar}")

    def has(self, effect: str) -> bool:
        """Whether the planted ``effect`` (one of EFFECTS) is switched on."""
        return effect in self.effects


DEFAULT_SPEC = DemoSpec(
    start=dt.date(2024, 12, 2),
    end=dt.date(2026, 11, 29),
    teams=6,
    services=8,
    changes=3_000,
    incidents=15_000,
    sprints=None,
    work_items=6_000,
    seed=20261130,
)


def benchmark_spec(scale: float = 1.0) -> DemoSpec:
    """The benchmark's data set: at scale 1.0, 1,000,000 incidents, 200,000 changes,
    5,000 sprints and 300,000 work items over four years, with 50 teams and 67 services.

    Over four years the six team archetypes run about 103 sprints each on average, so 50 teams
    per 5,000 sprints give a few more than asked; the oldest few are dropped."""
    teams = max(6, math.ceil(50 * scale))
    return DemoSpec(
        start=dt.date(2022, 12, 5),
        end=dt.date(2026, 11, 29),
        teams=teams,
        services=max(8, round(teams * 4 / 3)),
        changes=round(200_000 * scale),
        incidents=round(1_000_000 * scale),
        sprints=round(5_000 * scale),
        work_items=round(300_000 * scale),
        seed=20261130,
    )


@dataclass(frozen=True)
class TeamProfile:
    """One team's character; the demo's structure comes from these numbers."""

    name: str
    code: str
    sprint_weeks: tuple[int, int]  # before and after the mid-window switch
    size: float  # people: scales requests and work items
    deploy_weight: float  # share of changes
    lead_factor: float  # multiplies change lead time (slow teams > 1)
    fail_rate: float  # base probability that a change fails
    warranty_share: float  # planned share of story points on warranty work
    incident_rate: float  # multiplies the background incident rate
    cab_share: float  # share of normal changes sent to the CAB (rest: product owner)
    restore_factor: float  # multiplies time to restore
    completion: float  # share of committed items done by sprint end


# Fast and stable, fast but unstable, slow and stable, the cadence switcher, slow and unstable,
# and a middle-of-the-road team: the six archetypes every larger spec cycles through.
ARCHETYPES = (
    TeamProfile("Payments", "PAY", (2, 2), 7, 1.3, 0.7, 0.05, 0.30, 0.75, 0.20, 0.8, 0.90),
    TeamProfile("Checkout", "CHK", (1, 1), 8, 1.9, 0.5, 0.19, 0.08, 1.35, 0.35, 1.0, 0.80),
    TeamProfile("Identity", "IDN", (3, 3), 5, 0.6, 1.7, 0.05, 0.27, 0.65, 0.90, 0.9, 0.92),
    TeamProfile("Search", "SRC", (4, 2), 6, 0.9, 1.0, 0.09, 0.18, 1.0, 0.60, 1.0, 0.85),
    TeamProfile("Platform", "PLT", (4, 4), 6, 0.6, 1.8, 0.17, 0.10, 1.3, 0.90, 1.4, 0.75),
    TeamProfile("Mobile", "MOB", (2, 2), 7, 1.0, 1.1, 0.09, 0.20, 0.9, 0.50, 1.1, 0.85),
)


@dataclass(frozen=True)
class DemoImprovement:
    """One entry of the demo's CSI register. From ``day`` on, ``effect`` multiplies the team's
    quantity behind ``target_metric`` (failure probability, lead time or time to restore), so an
    improvement with effect 1.0 changed nothing and one below 1.0 really worked."""

    improvement_id: str
    title: str
    team: int  # index into the spec's teams
    day: int  # start: days after the window's first day; negative: days before its last day
    category: str
    source: str
    target_metric: str
    expected_direction: str
    owner: str
    effect: float
    on_own_service: bool = False  # scoped to the team's own service as well
    lead_in: float = 1.0  # multiplies the quantity in the LEAD_IN_DAYS before: the bad spell


DEMO_IMPROVEMENTS = (
    DemoImprovement("IMP-01", "Automated regression tests in the release pipeline", 1, 560,
                    "automation", "retrospective", "change_failure_rate", "down",
                    "Checkout tech lead", 0.15, lead_in=1.8),
    DemoImprovement("IMP-02", "Standard-change catalogue for routine releases", 5, 532,
                    "change-policy", "csi", "lead_time_hours_median", "down",
                    "Change manager", 0.3, lead_in=1.5),
    DemoImprovement("IMP-03", "Runbooks and on-call automation", 0, 280, "automation",
                    "problem", "time_to_restore_hours_median", "down", "Payments SRE", 0.3,
                    on_own_service=True, lead_in=1.5),
    DemoImprovement("IMP-04", "Blameless post-incident reviews", 4, 364, "process",
                    "retrospective", "incidents", "down", "Platform lead", 1.0),
    DemoImprovement("IMP-05", "Canary releases for the mobile app", 5, 448, "automation", "csi",
                    "change_failure_rate", "down", "Mobile lead", 1.0, on_own_service=True),
    DemoImprovement("IMP-06", "CAB meets twice a week instead of weekly", 4, 500,
                    "change-policy", "csi", "lead_time_hours_median", "down", "Change manager",
                    1.0),
    DemoImprovement("IMP-07", "Warranty stories in every sprint", 3, -20, "warranty", "csi",
                    "incidents_p1_p2", "down", "Search product owner", 1.0),
)  # fmt: skip
LEAD_IN_DAYS = 70  # an improvement's "bad spell": the ten weeks that made it necessary
SERVICE_NAMES = (
    "payments-api",
    "checkout-web",
    "identity-service",
    "search-api",
    "platform-gateway",
    "mobile-app",
    "billing-batch",
    "cart-service",
)

REQUEST_SHARE = 0.45  # share of tickets that are service requests, not incidents
FIX_CHANGE_SHARE = 0.07  # share of changes raised to fix an incident (rework)
CHUNK_INCIDENTS = 400_000  # rows per chunk for large specs: bounds memory
CHANGE_TYPES = np.array(["standard", "normal", "emergency"])
APPROVALS = np.array(["pre-approved", "product-owner", "cab", "ecab"])
RISKS = np.array(["low", "medium", "high"])
OUTCOMES = np.array(["successful", "failed", "rolled_back", "cancelled"])
KINDS_OF_TICKET = np.array(["incident", "request"])
ITEM_TYPES = np.array(["story", "bug", "task", "spike"])
ASPECTS = np.array(["availability", "capacity", "security", "continuity"])
STATUSES = np.array(["done", "in progress", "to do", "backlog"])
# Median lead time request -> implementation in hours, by approval path (before team factor).
LEAD_HOURS = np.array([20.0, 30.0, 170.0, 3.0])
LEAD_HOURS_FLAT = np.array([30.0, 30.0, 30.0, 3.0])  # without the "lead" effect
# Median time to restore in hours: incidents P1..P4, then requests P1..P4.
RESTORE_HOURS = np.array([[2.5, 8.0, 30.0, 90.0], [4.0, 8.0, 24.0, 60.0]])
EFFORT_HOURS = np.array([[10.0, 5.0, 2.0, 1.0], [1.0, 1.0, 0.5, 0.5]])


# --- teams, services, sprints ------------------------------------------------------------------


def team_profiles(spec: DemoSpec) -> list[TeamProfile]:
    """The spec's teams: the six archetypes first, then jittered copies named "<name> 2", ..."""
    rng = np.random.default_rng([spec.seed, 1])
    teams = []
    for i in range(spec.teams):
        base = ARCHETYPES[i % len(ARCHETYPES)]
        if i < len(ARCHETYPES):
            teams.append(base)
            continue
        k = i // len(ARCHETYPES) + 1
        j = rng.uniform(0.8, 1.25, 8)
        teams.append(
            TeamProfile(
                f"{base.name} {k}",
                f"{base.code}{k}",
                base.sprint_weeks,
                base.size * j[0],
                base.deploy_weight * j[1],
                base.lead_factor * j[2],
                min(base.fail_rate * j[3], 0.3),
                min(base.warranty_share * j[4], 0.45),
                base.incident_rate * j[5],
                min(base.cab_share * j[6], 1.0),
                base.restore_factor * j[7],
                base.completion,
            )
        )
    return teams


def service_names(spec: DemoSpec) -> list[str]:
    """Service names; beyond the eight base names, "<name>-2", "<name>-3", ..."""
    n = len(SERVICE_NAMES)
    return [
        SERVICE_NAMES[j % n] if j < n else f"{SERVICE_NAMES[j % n]}-{j // n + 1}"
        for j in range(spec.services)
    ]


def _days(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def _weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 ... Sunday = 6 for days since 1970-01-01 (a Thursday)."""
    return (days + 3) % 7


def build_sprints(spec: DemoSpec, teams: list[TeamProfile]) -> pd.DataFrame:
    """Sprints per team: start on Mondays, end on the Friday of their last week.

    Returns columns team (index), number, start_day, end_day (days since epoch), weeks and
    switch_day (first day of the shorter cadence, -1 when the team never switches).
    """
    rng = np.random.default_rng([spec.seed, 2])
    start, end = _days(spec.start), _days(spec.end)
    start -= _weekday(np.array(start)).item()  # align to a Monday
    mid = (start + end) // 2
    frames = []
    for t, team in enumerate(teams):
        before, after = team.sprint_weeks
        first = start - 7 * int(rng.integers(0, before))
        if before == after:
            starts = np.arange(first, end + 1, 7 * before)
            weeks = np.full(len(starts), before)
            switch = -1
        else:
            early = np.arange(first, mid, 7 * before)
            switch = int(early[-1] + 7 * before)
            late = np.arange(switch, end + 1, 7 * after)
            starts = np.concatenate([early, late])
            weeks = np.concatenate([np.full(len(early), before), np.full(len(late), after)])
        frames.append(
            pd.DataFrame(
                {
                    "team": t,
                    "number": np.arange(1, len(starts) + 1),
                    "start_day": starts,
                    "end_day": starts + 7 * weeks - 3,
                    "weeks": weeks,
                    "switch_day": switch,
                }
            )
        )
    sprints = pd.concat(frames, ignore_index=True)
    if spec.sprints is not None and len(sprints) > spec.sprints:
        # Keep the most recent sprints: history simply starts later for some teams.
        keep = sprints.sort_values(["start_day", "team"], kind="stable").tail(spec.sprints)
        sprints = keep.sort_values(["team", "start_day"], kind="stable").reset_index(drop=True)
    return sprints


# --- helpers -------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, cumulative: np.ndarray) -> np.ndarray:
    """One category index per row from per-row cumulative probabilities (rows x categories)."""
    u = rng.random(len(cumulative))[:, None]
    return (u > cumulative).sum(axis=1).clip(0, cumulative.shape[1] - 1)


def _lognormal_hours(rng: np.random.Generator, median: np.ndarray, sigma: float) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(len(median)))


def _sprint_at(sprints: pd.DataFrame, team: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Row index in ``sprints`` of the team's sprint running on that day (or just ended), or -1."""
    key = sprints["team"].to_numpy() * 1_000_000 + sprints["start_day"].to_numpy()
    probe = team * 1_000_000 + day
    idx = np.searchsorted(key, probe, side="right") - 1
    ok = idx >= 0
    idx_safe = np.where(ok, idx, 0)
    ok &= sprints["team"].to_numpy()[idx_safe] == team
    # Weekends after a sprint's last Friday still belong to it; longer gaps belong to none.
    ok &= day <= sprints["end_day"].to_numpy()[idx_safe] + 2
    return np.where(ok, idx_safe, -1)


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total proportionally to weights (largest remainder, deterministic)."""
    share = total * weights / weights.sum()
    out = np.floor(share).astype(np.int64)
    rest = total - out.sum()
    out[np.argsort(-(share - out), kind="stable")[:rest]] += 1
    return out


# --- one chunk of teams -------------------------------------------------------------------------


@dataclass
class _Context:
    """Everything the generators share: the spec, teams, services, sprints and derived arrays."""

    spec: DemoSpec
    teams: list[TeamProfile]
    services: list[str]
    sprints: pd.DataFrame
    sprint_ids: pd.Series  # id per sprints row
    start: int  # first day of the window (days since epoch)
    end: int  # last day
    switch_day: np.ndarray  # per team: first day of its shorter sprints, -1 if it never switches
    warranty: np.ndarray  # planned warranty share per team x calendar quarter of the window

    @property
    def team_names(self) -> list[str]:
        return [t.name for t in self.teams]

    def param(self, name: str) -> np.ndarray:
        """One TeamProfile field for every team, as an array indexed by team number."""
        return np.array([getattr(t, name) for t in self.teams], dtype=float)

    def quarter(self, day: np.ndarray) -> np.ndarray:
        """Calendar quarter of a day, counted from the window's first quarter (clipped)."""
        q = _calendar_quarter(day) - _calendar_quarter(np.array(self.start))
        return np.clip(q, 0, self.warranty.shape[1] - 1)


def _calendar_quarter(day: np.ndarray) -> np.ndarray:
    """Quarters since 1970 of days since 1970."""
    return np.asarray(day).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) // 3


def _context(spec: DemoSpec) -> _Context:
    teams = team_profiles(spec)
    sprints = build_sprints(spec, teams)
    start, end = _days(spec.start), _days(spec.end)
    switch_day = (
        sprints.groupby("team")["switch_day"]
        .first()
        .reindex(range(len(teams)), fill_value=-1)
        .to_numpy()
    )
    sprint_ids = (
        pd.Series([t.code for t in teams])[sprints["team"]].reset_index(drop=True)
        + "-"
        + sprints["number"].astype(str).str.zfill(3)
    )
    n_quarters = int(_calendar_quarter(np.array(end)) - _calendar_quarter(np.array(start))) + 1
    rng = np.random.default_rng([spec.seed, 3])
    # Each team's warranty planning drifts from quarter to quarter around its usual share.
    drift = rng.normal(0, 0.08, (len(teams), n_quarters))
    planned = np.array([t.warranty_share for t in teams])[:, None] + drift
    return _Context(
        spec=spec,
        teams=teams,
        services=service_names(spec),
        sprints=sprints,
        sprint_ids=sprint_ids,
        start=start,
        end=end,
        switch_day=switch_day,
        warranty=np.clip(planned, 0.02, 0.6),
    )


def _improvement_start(ctx: _Context, imp: DemoImprovement) -> int:
    """The day (since epoch) an improvement of the register started."""
    return ctx.start + imp.day if imp.day >= 0 else ctx.end + imp.day


def improvement_planted(imp: DemoImprovement, spec: DemoSpec) -> bool:
    """Whether the register entry really changed its target metric in data of ``spec``."""
    return spec.has("csi") and imp.effect != 1.0


def _improvement_factor(ctx: _Context, metric: str, team: np.ndarray, day: np.ndarray):
    """Per event: the product of the effects of the improvements on ``metric`` that its team
    had started by ``day``, and of their lead-in in the LEAD_IN_DAYS before (1.0 elsewhere)."""
    factor = np.ones(len(team))
    for imp in DEMO_IMPROVEMENTS:  # a handful of register entries, not rows
        if imp.target_metric == metric and imp.team < len(ctx.teams):
            start = _improvement_start(ctx, imp)
            after = (team == imp.team) & (day >= start)
            lead_in = (team == imp.team) & (day < start) & (day >= start - LEAD_IN_DAYS)
            effect = imp.effect if ctx.spec.has("csi") else 1.0  # the bad spell stays either way
            factor = np.where(after, factor * effect, factor)
            factor = np.where(lead_in, factor * imp.lead_in, factor)
    return factor


def _shift_factor(ctx: _Context, day: np.ndarray) -> np.ndarray:
    """SHIFT_FACTOR in the window's last SHIFT_DAYS days when the "shift" effect is on, else 1."""
    on = ctx.spec.has("shift") & (np.asarray(day) > ctx.end - SHIFT_DAYS)
    return np.where(on, SHIFT_FACTOR, 1.0)


def _org_noise(ctx: _Context, rng: np.random.Generator, n_weeks: int) -> np.ndarray:
    """Organisation-wide busy weeks: a multiplier per week, mean 1, SD about 0.22; independent
    from week to week, or AR(1) on the log scale when ``spec.noise_ar`` is set."""
    noise = rng.gamma(20, 1 / 20, n_weeks)
    phi = ctx.spec.noise_ar
    if phi == 0:
        return noise
    # own stream: the default data keep their draws
    shocks = np.random.default_rng([ctx.spec.seed, 8]).standard_normal(n_weeks)
    z = np.empty(n_weeks)
    z[0] = shocks[0]
    for w in range(1, n_weeks):  # weeks, not rows: about a hundred
        z[w] = phi * z[w - 1] + math.sqrt(1 - phi**2) * shocks[w]
    sd = math.sqrt(1 / 20)
    return np.exp(sd * z - sd**2 / 2)


def _lag_factor(ctx: _Context, changes: pd.DataFrame, team_ids: np.ndarray) -> np.ndarray | None:
    """Per chunk team x week of the window: 1 + LAG_GAIN x (the team's deployments LAG_WEEKS
    weeks earlier / its mean - 1), at least 0.2; None without the "lag" effect."""
    if not ctx.spec.has("lag"):
        return None
    n_weeks = (ctx.end - ctx.start) // 7 + 1
    deployed = changes["outcome"].to_numpy() != 3
    day = changes["implemented"].to_numpy()[deployed] // DAY
    week = np.clip((day - ctx.start) // 7, 0, n_weeks - 1)
    slot = np.searchsorted(team_ids, changes["team"].to_numpy()[deployed])
    counts = np.zeros((len(team_ids), n_weeks))
    np.add.at(counts, (slot, week), 1)
    mean = np.maximum(counts.mean(axis=1, keepdims=True), 1e-9)
    earlier = np.ones_like(counts) * mean
    earlier[:, LAG_WEEKS:] = counts[:, :-LAG_WEEKS]
    return np.maximum(1 + LAG_GAIN * (earlier / mean - 1), 0.2)


def _service_for(ctx: _Context, rng: np.random.Generator, team: np.ndarray) -> np.ndarray:
    """Each team works mostly on its own service, sometimes its second one or a neighbour's."""
    n_teams, n_services = len(ctx.teams), len(ctx.services)
    service = team % n_services
    u = rng.random(len(team))
    second = team + n_teams
    service = np.where((second < n_services) & (u < 0.35), second, service)
    other = rng.integers(0, n_services, len(team))
    return np.where(u > 0.93, other, service)


def _weekday_time(
    rng: np.random.Generator, day: np.ndarray, first: int | None = None, last: int | None = None
) -> np.ndarray:
    """Seconds since epoch on working days between 08:00 and 18:00 (weekends -> Friday),
    with the day clipped to [first, last]."""
    wd = _weekday(day)
    day = np.where(wd >= 5, day - (wd - 4), day).clip(first, last)
    return day * DAY + rng.integers(8 * HOUR, 18 * HOUR, len(day))


def _office_hours_before(rng, seconds: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """A random office-hours moment (Monday-Friday 08:00-18:00) on the day of ``seconds``
    (weekends: the Friday before), at least 15 minutes before ``limit``."""
    moved = _weekday_time(rng, seconds // DAY)
    latest = limit - 15 * 60
    # Too late that day: shortly before the limit, but not before 08:00 when possible.
    early = np.maximum(
        (latest // DAY) * DAY + 8 * HOUR, latest - rng.integers(0, 3 * HOUR, len(limit))
    )
    return np.where(moved <= latest, moved, np.minimum(early, latest))


def _regular_changes(ctx: _Context, rng: np.random.Generator, team_ids: np.ndarray, n: int):
    """Planned and emergency changes of the chunk's teams (not the incident fixes)."""
    start, end = ctx.start, ctx.end
    team = rng.choice(
        team_ids,
        n,
        p=ctx.param("deploy_weight")[team_ids] / ctx.param("deploy_weight")[team_ids].sum(),
    )
    fail_base = ctx.param("fail_rate")[team]
    # Unstable teams need more emergency changes.
    p_emergency = 0.03 + 0.3 * fail_base
    # Fast teams ship more pre-approved standard changes; slow teams route more through approval.
    p_standard = np.clip(0.66 - 0.2 * ctx.param("lead_factor")[team], 0.2, 0.7)
    ctype = _pick(rng, np.column_stack([p_standard, 1 - p_emergency, np.ones(n)]))
    to_cab = rng.random(n) < ctx.param("cab_share")[team]
    approval = np.select([ctype == 0, ctype == 2, to_cab], [0, 3, 2], 1)
    risk_cum = np.array([[0.70, 1.0, 1.0], [0.45, 0.90, 1.0], [0.10, 0.50, 1.0]])
    risk = _pick(rng, risk_cum[ctype])

    # Releases cluster on the last two working days of a sprint (the sprint review).
    sprints = ctx.sprints
    in_window = (sprints["end_day"] >= start) & (sprints["end_day"] <= end)
    team_sprints = sprints[in_window]
    first_row = np.searchsorted(team_sprints["team"].to_numpy(), np.arange(len(ctx.teams)))
    count = np.bincount(team_sprints["team"].to_numpy(), minlength=len(ctx.teams))
    has_sprints = count[team] > 0
    pick = first_row[team] + np.floor(rng.random(n) * np.maximum(count[team], 1)).astype(int)
    pick = np.minimum(pick, max(len(team_sprints) - 1, 0))
    sprint_end = team_sprints["end_day"].to_numpy()[pick] if len(team_sprints) else np.zeros(n)
    review_day = sprint_end - rng.choice([0, 0, 0, 1, 1, 3], n)
    uniform_day = rng.integers(start, end + 1, n)
    clustered = (rng.random(n) < 0.6) & has_sprints & (ctype != 2)
    day = np.where(clustered, review_day, uniform_day)
    # Change freeze over the year end: planned changes move to the second week of January.
    doy = pd.to_datetime(day, unit="D")
    frozen = ((doy.month == 12) & (doy.day >= 20)) | ((doy.month == 1) & (doy.day <= 4))
    next_jan = (
        pd.to_datetime({"year": doy.year + (doy.month == 12), "month": 1, "day": 5})
        .to_numpy()
        .astype("datetime64[D]")
        .astype(np.int64)
    )
    day = np.where(frozen & (ctype != 2), next_jan + rng.integers(0, 10, n), day).clip(start, end)
    implemented = np.where(
        ctype == 2,
        day * DAY + rng.integers(0, DAY, n),
        _weekday_time(rng, day, start, end),
    )
    lead_hours = LEAD_HOURS if ctx.spec.has("lead") else LEAD_HOURS_FLAT
    lead = _lognormal_hours(rng, lead_hours[approval], 0.6)
    lead = np.where(approval == 3, lead, lead * ctx.param("lead_factor")[team])
    lead = lead * _improvement_factor(ctx, "lead_time_hours_median", team, day)
    requested = implemented - (lead * HOUR).astype(np.int64)
    # People raise changes in office hours; only emergency requests come at any time.
    requested = np.where(ctype == 2, requested, _office_hours_before(rng, requested, implemented))

    # Outcome: failure depends on team, risk and emergency, never on the approval path.
    switch = ctx.switch_day[team]
    after_switch = (switch >= 0) & (day >= switch) & (day < switch + 42)
    after_switch &= ctx.spec.has("cadence")
    p_fail = fail_base * np.array([0.7, 1.0, 2.0])[risk] * np.where(ctype == 2, 2.0, 1.0)
    p_fail = p_fail * _improvement_factor(ctx, "change_failure_rate", team, day)
    if ctx.spec.has("cab"):
        p_fail = p_fail * np.where(approval == 2, CAB_FAILURE, 1.0)
    p_fail = p_fail * _shift_factor(ctx, day)
    p_fail = np.minimum(p_fail * np.where(after_switch, 2.0, 1.0), 0.85)
    p_cancel = np.array([0.01, 0.03, 0.09, 0.01])[approval]
    u = rng.random(n)
    # p_fail is the failure rate among *deployed* changes: drawn after the cancellation, so the
    # CAB's higher cancel rate does not leak into its failure rate when no effect is planted.
    kept = np.maximum(1.0 - p_cancel, 1e-9)
    outcome = np.where(u < p_cancel, 3, np.where((u - p_cancel) / kept < p_fail, 1, 0))
    outcome = np.where((outcome == 1) & (rng.random(n) < 0.45), 2, outcome)
    return pd.DataFrame(
        {
            "team": team,
            "service": _service_for(ctx, rng, team),
            "change_type": ctype,
            "approval": approval,
            "risk": risk,
            "requested": requested,
            "implemented": implemented,
            "outcome": outcome,
        }
    )


def _ticket_priority(rng, kind: np.ndarray, p12: np.ndarray) -> np.ndarray:
    """Priority 1..4: incidents P1/P2 with probability p12 (1:3), else P3/P4 evenly;
    requests mostly P4."""
    u = rng.random(len(kind))
    v = rng.random(len(kind))
    incident = np.where(u < p12, np.where(v < 0.25, 1, 2), np.where(v < 0.5, 3, 4))
    request = np.where(u < 0.03, 2, np.where(u < 0.33, 3, 4))
    return np.where(kind == 0, incident, request)


def _background_tickets(
    ctx: _Context, rng, team_ids: np.ndarray, n_incidents: int, n_requests, lag_factor=None
):
    """Incidents and requests not caused by a change, spread over team x day with weekly noise.

    ``lag_factor`` (team x week, from :func:`_lag_factor`) multiplies the incident rate."""
    start, end = ctx.start, ctx.end
    days = np.arange(start, end + 1)
    wd = _weekday(days)
    weeks = (days - start) // 7
    n_weeks = weeks.max() + 1
    season = 1 + ctx.spec.season * np.sin(2 * np.pi * (days - start) / 365.25)
    if ctx.spec.has("trend"):
        season = season * (1 + TREND_RISE * (days - start) / max(end - start, 1))
    season = season * _shift_factor(ctx, days)
    org_noise = _org_noise(ctx, rng, n_weeks)[weeks]
    frames = []
    for kind, total in ((0, n_incidents), (1, n_requests)):
        if total <= 0:
            continue
        if kind == 0:
            rate = ctx.param("incident_rate")[team_ids][:, None]
            daily = np.where(wd >= 5, 0.55, 1.0) * season * org_noise
        else:
            rate = ctx.param("size")[team_ids][:, None]
            daily = np.where(wd >= 5, 0.12, 1.0) * org_noise
        team_noise = rng.gamma(10, 1 / 10, (len(team_ids), n_weeks))[:, weeks]
        lam = rate * daily[None, :] * team_noise
        if kind == 0 and ctx.spec.has("cadence"):
            switch = ctx.switch_day[team_ids][:, None]
            since = days[None, :] - switch
            bump = np.where((switch >= 0) & (since >= 0) & (since < 63), 2.0, 0.0)
            lam = lam * (1 + bump * np.exp(-np.clip(since, 0, None) / 14))
        if kind == 0 and lag_factor is not None:
            lam = lam * lag_factor[:, weeks]
        counts = rng.multinomial(total, (lam / lam.sum()).ravel())
        cell = np.repeat(np.arange(counts.size), counts)
        team = team_ids[cell // len(days)]
        day = days[cell % len(days)]
        if kind == 0:
            # A quarter of incidents arrive at any hour, the rest in working hours.
            at_night = rng.random(len(day)) < 0.25
            second = np.where(
                at_night,
                rng.integers(0, DAY, len(day)),
                rng.integers(8 * HOUR, 19 * HOUR, len(day)),
            )
        else:
            second = rng.integers(8 * HOUR, 18 * HOUR, len(day))
        frames.append(pd.DataFrame({"team": team, "kind": kind, "opened": day * DAY + second}))
    return pd.concat(frames, ignore_index=True)


def _fix_outcome(ctx: _Context, rng, team: np.ndarray, emergency: np.ndarray) -> np.ndarray:
    """Fixes fail like other changes of their type (emergency 1.5x the team's base rate);
    a failed fix is rolled back and the incident is resolved some other way."""
    p_fail = ctx.param("fail_rate")[team] * np.where(emergency, 1.5, 1.0)
    return np.where(rng.random(len(team)) < p_fail, 2, 0)


def _chunk(ctx: _Context, rng, team_ids: np.ndarray, n_changes: int, n_tickets: int):
    """Changes and tickets of one chunk of teams, before ids are assigned."""
    end_s = (ctx.end + 1) * DAY - 1
    n_fix = round(FIX_CHANGE_SHARE * n_changes)
    changes = _regular_changes(ctx, rng, team_ids, n_changes - n_fix)

    # Failed changes cause incidents shortly after they go live.
    failed = changes["outcome"].isin([1, 2]).to_numpy()
    p_cause = np.where(changes["outcome"].to_numpy() == 1, 0.85, 0.6)
    causes = failed & (rng.random(len(changes)) < p_cause) & ctx.spec.has("caused")
    cause_idx = np.flatnonzero(causes)
    delay = (rng.exponential(1.5, len(cause_idx)) * HOUR).astype(np.int64) + 300
    caused = pd.DataFrame(
        {
            "team": changes["team"].to_numpy()[cause_idx],
            "service": changes["service"].to_numpy()[cause_idx],
            "kind": 0,
            "opened": changes["implemented"].to_numpy()[cause_idx] + delay,
            "caused_by": cause_idx,
        }
    )
    caused = caused[caused["opened"] <= end_s]
    n_requests = round(REQUEST_SHARE * n_tickets)
    n_incidents = n_tickets - n_requests
    caused = caused.head(n_incidents)
    background = _background_tickets(
        ctx,
        rng,
        team_ids,
        n_incidents - len(caused),
        n_requests,
        _lag_factor(ctx, changes, team_ids),
    )
    background["service"] = _service_for(ctx, rng, background["team"].to_numpy())
    background["caused_by"] = -1
    tickets = pd.concat([caused, background], ignore_index=True)
    n = len(tickets)
    team = tickets["team"].to_numpy()
    kind = tickets["kind"].to_numpy()
    opened = tickets["opened"].to_numpy()

    # Planned warranty work lowers the share of P1/P2 incidents (per team and quarter).
    p12 = 0.14 * np.exp(-7 * (ctx.warranty[team, ctx.quarter(opened // DAY)] - 0.2))
    p12 = np.clip(p12, 0.02, 0.5) if ctx.spec.has("warranty") else np.full(n, 0.14)
    p12 = np.where(tickets["caused_by"].to_numpy() >= 0, 0.45, p12)
    priority = _ticket_priority(rng, kind, p12)
    restore = _lognormal_hours(
        rng, RESTORE_HOURS[kind, priority - 1] * ctx.param("restore_factor")[team], 0.8
    )
    restore = restore * _improvement_factor(
        ctx, "time_to_restore_hours_median", team, opened // DAY
    )
    restore = restore * _shift_factor(ctx, opened // DAY)
    resolved = opened + (restore * HOUR).astype(np.int64) + 60

    # Rework: some incidents (mostly P1/P2) are resolved by a change of the owning team.
    weight = np.where(kind == 0, np.array([0.5, 0.3, 0.05, 0.01])[priority - 1], 0.0)
    weight = np.where(opened < end_s - 3 * DAY, weight, 0.0)
    n_fix = min(n_fix, int((weight > 0).sum()))
    keys = rng.exponential(1.0, n) / np.where(weight > 0, weight, np.nan)
    fixed = np.argsort(np.nan_to_num(keys, nan=np.inf), kind="stable")[:n_fix]
    f_team = team[fixed]
    f_prio = priority[fixed]
    emergency = f_prio <= 2
    to_cab = rng.random(n_fix) < ctx.param("cab_share")[f_team]
    f_approval = np.where(emergency, 3, np.where(to_cab, 2, 1))
    f_requested = (
        opened[fixed] + np.minimum((0.3 * restore[fixed] * HOUR).astype(np.int64), DAY) + 600
    )
    # Fixes wait by approval path only when the "lead" effect is planted, like planned changes.
    f_hours = LEAD_HOURS if ctx.spec.has("lead") else LEAD_HOURS_FLAT
    f_lead = _lognormal_hours(rng, f_hours[f_approval] * np.where(emergency, 0.7, 0.5), 0.5)
    f_implemented = f_requested + (f_lead * HOUR).astype(np.int64)
    late = f_implemented > end_s - 60
    f_implemented = np.where(
        late,
        f_requested + ((end_s - 60 - f_requested) * rng.random(n_fix)).astype(np.int64),
        f_implemented,
    )
    resolved[fixed] = np.minimum(
        f_implemented + (rng.exponential(0.5, n_fix) * HOUR).astype(np.int64) + 60, end_s
    )
    fixes = pd.DataFrame(
        {
            "team": f_team,
            "service": tickets["service"].to_numpy()[fixed],
            "change_type": np.where(emergency, 2, 1),
            "approval": f_approval,
            "risk": np.where(emergency, _pick(rng, np.tile([[0.0, 0.6, 1.0]], (n_fix, 1))), 0),
            "requested": f_requested,
            "implemented": f_implemented,
            "outcome": _fix_outcome(ctx, rng, f_team, emergency),
        }
    )
    resolved_by = np.full(n, -1)
    resolved_by[fixed] = len(changes) + np.arange(n_fix)
    changes = pd.concat([changes, fixes], ignore_index=True)

    effort = _lognormal_hours(rng, EFFORT_HOURS[kind, priority - 1], 0.7)
    effort = np.maximum(np.round(effort * 2) / 2, 0.5)
    effort = np.where(rng.random(n) < 0.12, np.nan, effort)  # not every ticket logs time
    if ctx.spec.unlinked > 0:
        # Real exports lose links: own stream, so the default data keep their draws.
        lose = np.random.default_rng([ctx.spec.seed, 9, int(team_ids[0])]).random(n)
        tickets["caused_by"] = np.where(lose < ctx.spec.unlinked, -1, tickets["caused_by"])
    tickets = tickets.assign(
        priority=priority,
        resolved=np.where(resolved <= end_s, resolved, -1),  # still open at the export
        resolved_by=resolved_by,
        effort=effort,
        has_team=rng.random(n) >= 0.03,  # a few tickets were never assigned to a team
    )
    return changes, tickets


def _work_items(ctx: _Context, rng, team_ids: np.ndarray, n: int) -> pd.DataFrame:
    """Work items in the chunk's sprints (plus 10% unplanned backlog), points and statuses."""
    sprints = ctx.sprints
    rows = np.flatnonzero(np.isin(sprints["team"].to_numpy(), team_ids))
    n_backlog = n // 10
    n_sprint = n - n_backlog
    length = sprints["weeks"].to_numpy()[rows]
    size = ctx.param("size")[sprints["team"].to_numpy()[rows]]
    base = min(3, n_sprint // max(len(rows), 1))  # every sprint gets a few items
    counts = base + rng.multinomial(
        n_sprint - base * len(rows), length * size / (length * size).sum()
    )
    sprint_row = np.repeat(rows, counts)
    team = np.concatenate([sprints["team"].to_numpy()[sprint_row], rng.choice(team_ids, n_backlog)])
    s_start = sprints["start_day"].to_numpy()[sprint_row]
    s_end = sprints["end_day"].to_numpy()[sprint_row]
    backlog_day = rng.integers(ctx.start, ctx.end + 1, n_backlog)
    plan_day = np.concatenate([s_start, backlog_day])
    in_sprint = np.arange(n) < n_sprint

    # Backlogs hold proportionally more warranty work than gets planned.
    p_warranty = ctx.warranty[team, ctx.quarter(plan_day)] * np.where(in_sprint, 1.0, 1.5)
    warranty = rng.random(n) < p_warranty
    item_type = _pick(rng, np.tile([[0.55, 0.75, 0.95, 1.0]], (n, 1)))
    aspect = rng.choice(4, n, p=[0.4, 0.25, 0.25, 0.1])
    origin_ops = rng.random(n) < np.where(warranty, 0.45, 0.06)
    points = rng.choice([1, 2, 3, 5, 8, 13], n, p=[0.12, 0.22, 0.27, 0.23, 0.12, 0.04])
    points = np.where(in_sprint | (rng.random(n) < 0.6), points, -1)  # unrefined backlog items

    created = (plan_day - rng.integers(1, 45, n)) * DAY + rng.integers(8 * HOUR, 18 * HOUR, n)
    finished = np.concatenate([s_end, np.full(n_backlog, ctx.end + 10)]) < ctx.end
    ongoing = in_sprint & ~finished
    done = in_sprint & (rng.random(n) < ctx.param("completion")[team])
    done &= finished | (rng.random(n) < 0.4)
    status = np.select([done, ongoing & (rng.random(n) < 0.5), in_sprint], [0, 1, 2], 3)
    s_end_all = np.concatenate([s_end, backlog_day])
    done_day = plan_day + np.floor(rng.random(n) * (s_end_all - plan_day + 1)).astype(int)
    done_day = np.minimum(done_day, ctx.end)
    resolved = _weekday_time(rng, done_day, ctx.start - 60, ctx.end)
    resolved = np.where(done, np.maximum(resolved, created + HOUR), -1)
    return pd.DataFrame(
        {
            "team": team,
            "sprint": np.concatenate([sprint_row, np.full(n_backlog, -1)]),
            "item_type": item_type,
            "warranty": warranty,
            "aspect": aspect,
            "points": points,
            "status": status,
            "created": created,
            "resolved": resolved,
            "origin_ops": origin_ops,
        }
    )


# --- writing ------------------------------------------------------------------------------------


def _timestamps(seconds: np.ndarray) -> np.ndarray:
    """Seconds since epoch (-1 = missing) as datetime64[s] with NaT."""
    out = np.asarray(seconds).astype("datetime64[s]")
    out[np.asarray(seconds) < 0] = np.datetime64("NaT")
    return out


def _category(codes, labels) -> pd.Categorical:
    """Labels from integer codes (-1 = missing); DuckDB writes them as plain text."""
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=list(labels))


def _ids(prefix, numbers: np.ndarray, width: int) -> pd.Series:
    """Ids such as CHG-000042 from numbers (-1 = missing); prefix may be an array."""
    text = pd.Series(np.maximum(numbers, 0), dtype="int64").astype(str).str.zfill(width)
    return (prefix + text).where(pd.Series(numbers) >= 0)


def _width(total: int, least: int) -> int:
    return max(least, len(str(total)))


class _CsvWriter:
    """Appends DataFrames to one CSV file through DuckDB (header once, fixed formats)."""

    def __init__(self, path: Path, kind: str):
        self.path = path
        self.columns = KINDS[kind].column_names
        self.part = path.with_suffix(".part")
        self.first = True
        self.con = duckdb.connect()

    def write(self, df: pd.DataFrame) -> None:
        self.con.from_df(df[self.columns]).write_csv(
            str(self.part),
            header=self.first,
            date_format="%Y-%m-%d",
            timestamp_format="%Y-%m-%d %H:%M:%S",
        )
        with self.path.open("wb" if self.first else "ab") as out, self.part.open("rb") as part:
            shutil.copyfileobj(part, out)
        self.part.unlink()
        self.first = False

    def close(self) -> None:
        self.part.unlink(missing_ok=True)  # left over only when writing failed
        self.con.close()


def _change_rows(ctx: _Context, rng, changes: pd.DataFrame, number: np.ndarray) -> pd.DataFrame:
    """Canonical changes rows; ``number`` is each change's id number."""
    team = changes["team"].to_numpy()
    sprint = _sprint_at(ctx.sprints, team, changes["implemented"].to_numpy() // DAY)
    # Emergency changes and some others are not tied to a sprint.
    planned = changes["change_type"].to_numpy() != 2
    sprint = np.where(planned & (rng.random(len(changes)) < 0.85), sprint, -1)
    cancelled = changes["outcome"].to_numpy() == 3
    planned_start, planned_end = _planned_windows(ctx, changes, number)
    return pd.DataFrame(
        {
            "change_id": _ids("CHG-", number, _width(ctx.spec.changes, 6)),
            "service": _category(changes["service"], ctx.services),
            "team": _category(team, ctx.team_names),
            "change_type": _category(changes["change_type"], CHANGE_TYPES),
            "approval": _category(changes["approval"], APPROVALS),
            "risk": _category(changes["risk"], RISKS),
            "requested_at": _timestamps(changes["requested"].to_numpy()),
            "implemented_at": _timestamps(np.where(cancelled, -1, changes["implemented"])),
            "outcome": _category(changes["outcome"], OUTCOMES),
            "sprint_id": _category(sprint, ctx.sprint_ids),
            "planned_start": _timestamps(planned_start),
            "planned_end": _timestamps(planned_end),
        }
    )


def _planned_windows(ctx: _Context, changes: pd.DataFrame, number: np.ndarray):
    """Planned start and end (seconds since epoch, -1 = none) of each change.

    Most standard and normal changes book a window of 1-4 hours that holds their implementation;
    about 4 % are implemented a day or more outside it; emergency changes mostly book none. Own
    random stream, so the other columns do not change with it.
    """
    rng = np.random.default_rng([ctx.spec.seed, 7, int(number.min(initial=0))])
    n = len(changes)
    implemented = changes["implemented"].to_numpy()
    hour = implemented // HOUR * HOUR
    start = hour - rng.integers(0, 2, n) * HOUR
    end = start + rng.integers(2, 5, n) * HOUR  # at least an hour past the implementation
    outside = rng.random(n) < 0.04
    shift = np.where(rng.random(n) < 0.5, -1, 1) * rng.integers(1, 4, n) * DAY
    start, end = np.where(outside, start + shift, start), np.where(outside, end + shift, end)
    emergency = changes["change_type"].to_numpy() == 2
    booked = rng.random(n) < np.where(emergency, 0.1, 0.92)
    return np.where(booked, start, -1), np.where(booked, end, -1)


def _improvement_rows(ctx: _Context) -> pd.DataFrame:
    """Canonical improvements rows: the register entries whose team the spec has."""
    register = [imp for imp in DEMO_IMPROVEMENTS if imp.team < len(ctx.teams)]
    days = np.array([_improvement_start(ctx, imp) for imp in register], dtype=np.int64)
    return pd.DataFrame(
        {
            "improvement_id": [imp.improvement_id for imp in register],
            "title": [imp.title for imp in register],
            "started_on": np.datetime_as_string(days.astype("M8[D]")),
            "team": [ctx.team_names[imp.team] for imp in register],
            "service": [
                ctx.services[imp.team % len(ctx.services)] if imp.on_own_service else None
                for imp in register
            ],
            "category": [imp.category for imp in register],
            "source": [imp.source for imp in register],
            "target_metric": [imp.target_metric for imp in register],
            "expected_direction": [imp.expected_direction for imp in register],
            "owner": [imp.owner for imp in register],
            "notes": [
                "Demo: built into the data"
                if imp.effect != 1.0 and ctx.spec.has("csi")
                else "Demo: no effect in the data"
                for imp in register
            ],
        }
    )


def _ticket_rows(
    ctx: _Context, tickets: pd.DataFrame, first: int, change_number: np.ndarray
) -> pd.DataFrame:
    """Canonical incidents rows numbered from ``first``; change links become change ids."""
    kind = tickets["kind"].to_numpy()
    caused = tickets["caused_by"].to_numpy()
    fixed = tickets["resolved_by"].to_numpy()
    change_width = _width(ctx.spec.changes, 6)
    return pd.DataFrame(
        {
            "incident_id": _ids(
                np.where(kind == 0, "INC-", "REQ-"),
                first + np.arange(len(tickets)),
                _width(ctx.spec.incidents, 6),
            ),
            "service": _category(tickets["service"], ctx.services),
            "team": _category(np.where(tickets["has_team"], tickets["team"], -1), ctx.team_names),
            "kind": _category(kind, KINDS_OF_TICKET),
            "priority": tickets["priority"].to_numpy(dtype=np.int64),
            "opened_at": _timestamps(tickets["opened"].to_numpy()),
            "resolved_at": _timestamps(tickets["resolved"].to_numpy()),
            "caused_by_change": _ids(
                "CHG-", np.where(caused >= 0, change_number[caused], -1), change_width
            ),
            "resolved_by_change": _ids(
                "CHG-", np.where(fixed >= 0, change_number[fixed], -1), change_width
            ),
            "effort_hours": pd.Series(tickets["effort"].to_numpy(), dtype="Float64"),
        }
    )


def _item_rows(ctx: _Context, items: pd.DataFrame, first: int) -> pd.DataFrame:
    """Canonical work_items rows numbered from ``first``."""
    points = items["points"].to_numpy()
    warranty = items["warranty"].to_numpy()
    return pd.DataFrame(
        {
            "item_id": _ids("WI-", first + np.arange(len(items)), _width(ctx.spec.work_items, 5)),
            "team": _category(items["team"], ctx.team_names),
            "sprint_id": _category(items["sprint"], ctx.sprint_ids),
            "item_type": _category(items["item_type"], ITEM_TYPES),
            "requirement_type": _category(warranty.astype(int), ["utility", "warranty"]),
            "warranty_aspect": _category(np.where(warranty, items["aspect"], -1), ASPECTS),
            "story_points": pd.Series(points, dtype="Int64").where(points >= 0),
            "status": _category(items["status"], STATUSES),
            "created_at": _timestamps(items["created"].to_numpy()),
            "resolved_at": _timestamps(items["resolved"].to_numpy()),
            "origin": _category(items["origin_ops"].astype(int), ["business", "operations"]),
        }
    )


def _sprint_rows(ctx: _Context, items: pd.DataFrame) -> pd.DataFrame:
    """Canonical sprints rows; committed/completed points are sums over their work items."""
    sprints = ctx.sprints
    items = items[(items["sprint"] >= 0) & (items["points"] >= 0)]
    index = np.arange(len(sprints))
    committed = items.groupby("sprint")["points"].sum().reindex(index).to_numpy()
    done = items[items["status"] == 0]
    completed = done.groupby("sprint")["points"].sum().reindex(index, fill_value=0).to_numpy()
    rng = np.random.default_rng([ctx.spec.seed, 4])
    closed = sprints["end_day"].to_numpy() < ctx.end
    # A few sprints were never closed properly in the tracker: no completed points.
    completed = np.where(closed & (rng.random(len(sprints)) >= 0.04), completed, np.nan)
    team_names = pd.Series(ctx.team_names)[sprints["team"]].reset_index(drop=True)
    return pd.DataFrame(
        {
            "sprint_id": ctx.sprint_ids,
            "team": _category(sprints["team"], ctx.team_names),
            "name": team_names + " Sprint " + sprints["number"].astype(str),
            "start_date": np.datetime_as_string(sprints["start_day"].to_numpy().astype("M8[D]")),
            "end_date": np.datetime_as_string(sprints["end_day"].to_numpy().astype("M8[D]")),
            "committed_points": pd.Series(committed, dtype="Float64").astype("Int64"),
            "completed_points": pd.Series(completed, dtype="Float64").astype("Int64"),
        }
    )


def _chunks(ctx: _Context) -> list[tuple[np.ndarray, int, int, int]]:
    """Groups of whole teams of at most about CHUNK_INCIDENTS tickets, with their shares of the
    spec's changes, tickets and work items (shares proportional to the teams' weights)."""
    spec = ctx.spec
    n_chunks = min(max(1, math.ceil(spec.incidents / CHUNK_INCIDENTS)), len(ctx.teams))
    groups = np.array_split(np.arange(len(ctx.teams)), n_chunks)
    weights = {
        "changes": ctx.param("deploy_weight"),
        "tickets": ctx.param("incident_rate") + ctx.param("size") / 7,
        "items": ctx.param("size"),
    }

    def shares(total: int, weight: np.ndarray) -> np.ndarray:
        return _allocate(total, np.array([weight[g].sum() for g in groups]))

    changes = shares(spec.changes, weights["changes"])
    tickets = shares(spec.incidents, weights["tickets"])
    items = shares(spec.work_items, weights["items"])
    return [(g, int(changes[i]), int(tickets[i]), int(items[i])) for i, g in enumerate(groups)]


def generate(out_dir: Path, spec: DemoSpec = DEFAULT_SPEC) -> dict[str, Path]:
    """Write sprints.csv, work_items.csv, changes.csv and incidents.csv into ``out_dir``.

    Returns the path of each file by kind. Identical spec, identical bytes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = _context(spec)
    paths = {kind: out_dir / f"{kind}.csv" for kind in KINDS}
    writers = {kind: _CsvWriter(path, kind) for kind, path in paths.items()}
    try:
        done = {"changes": 0, "tickets": 0, "items": 0}
        item_points = []
        for i, (team_ids, n_changes, n_tickets, n_items) in enumerate(_chunks(ctx)):
            rng = np.random.default_rng([spec.seed, 100 + i])
            changes, tickets = _chunk(ctx, rng, team_ids, n_changes, n_tickets)
            items = _work_items(ctx, rng, team_ids, n_items)

            # Ids follow time order within a chunk; links follow the reordering.
            order = np.lexsort((changes["team"], changes["requested"]))
            number = np.empty(len(changes), dtype=np.int64)
            number[order] = done["changes"] + 1 + np.arange(len(changes))
            changes = changes.iloc[order].reset_index(drop=True)
            writers["changes"].write(_change_rows(ctx, rng, changes, number[order]))

            order = np.lexsort((tickets["team"], tickets["opened"]))
            tickets = tickets.iloc[order].reset_index(drop=True)
            writers["incidents"].write(_ticket_rows(ctx, tickets, done["tickets"] + 1, number))

            order = np.lexsort((items["team"], items["created"]))
            items = items.iloc[order].reset_index(drop=True)
            writers["work_items"].write(_item_rows(ctx, items, done["items"] + 1))
            item_points.append(items[["sprint", "points", "status"]])
            done["changes"] += len(changes)
            done["tickets"] += len(tickets)
            done["items"] += len(items)

        writers["sprints"].write(_sprint_rows(ctx, pd.concat(item_points, ignore_index=True)))
        writers["improvements"].write(_improvement_rows(ctx))
    finally:
        for writer in writers.values():
            writer.close()
    return paths


def chosen_effects(
    effects: str | None = None, no_effect: list[str] | None = None, no_effects: bool = False
) -> frozenset[str]:
    """The effects a command line asks for: ``effects`` ("cab,lag" or "all"; "" or "none" for
    none) replaces the demo's set, ``no_effects`` empties it, ``no_effect`` names are removed.
    Raises ValueError naming an unknown effect."""
    if no_effects:
        chosen = frozenset()
    elif effects is not None:
        names = {n.strip() for n in effects.split(",") if n.strip()}
        chosen = frozenset(EFFECTS) if names == {"all"} else frozenset(names - {"none"})
    else:
        chosen = DEMO_EFFECTS
    for name in [*(no_effect or []), *chosen]:
        if name not in EFFECTS:
            raise ValueError(f"unknown effect {name!r} (known: {', '.join(EFFECTS)})")
    return chosen - set(no_effect or [])


def spec_from_arguments(args, spec: DemoSpec = DEFAULT_SPEC) -> DemoSpec:
    """``spec`` with the switches of :func:`analytics.cli.demo_switches` applied (ValueError
    when one is invalid)."""
    changes: dict = {
        "effects": chosen_effects(args.effects, args.no_effect, args.no_effects),
    }
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.season is not None:
        changes["season"] = args.season
    if args.ar is not None:
        changes["noise_ar"] = args.ar
    return dataclasses.replace(spec, **changes)


def uses_switches(args) -> bool:
    """Whether any generator switch was given (else the committed demo files are used)."""
    return (
        args.seed is not None
        or args.effects is not None
        or bool(args.no_effect)
        or args.no_effects
        or args.season is not None
        or args.ar is not None
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analytics.demo", description="Generate the deterministic demo CSVs."
    )
    parser.add_argument("--out", default=None, help="output directory (default: data/demo)")
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="benchmark size instead of the demo (1.0 = 1M incidents)",
    )
    from analytics.cli import demo_switches

    demo_switches(parser)
    args = parser.parse_args(argv)
    if args.scale is not None and args.scale <= 0:
        print("error: --scale must be positive", file=sys.stderr)
        return 2
    spec = DEFAULT_SPEC if args.scale is None else benchmark_spec(args.scale)
    try:
        spec = spec_from_arguments(args, spec)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else DEMO_DIR
    try:
        paths = generate(out, spec)
    except (OSError, duckdb.IOException) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        print(f"error: cannot write to {out}: {reason}", file=sys.stderr)
        return 2
    for kind, path in paths.items():
        print(f"{kind}: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
