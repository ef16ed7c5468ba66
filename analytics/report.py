"""The ``report`` command: every metric for a window, as an aligned table or one JSON object.

The numbers come from :func:`analytics.metrics.report` (re-exported here); this module validates
the command's arguments and formats the result.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sys
from pathlib import Path

import duckdb

from analytics.cost import CostModel
from analytics.filters import Filter, clamp_day, clamp_note
from analytics.metrics import Attribution, data_range, report
from analytics.store import connect

__all__ = ["format_table", "report", "run_report_command"]

# The tables the report reads (present since schema v1, so an older file still reports).
_RECORD_TABLES = ("sprints", "work_items", "changes", "incidents")


def _usage_error(message: str) -> Exception:
    from analytics.cli import UsageError

    return UsageError(message)


def _parse_day(value: str, option: str) -> dt.date:
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _usage_error(f"{option} {value!r} is not a date of the form YYYY-MM-DD") from None


def _attribution(args) -> Attribution:
    if args.attribution == "window":
        if args.window_hours is None:
            raise _usage_error("--attribution window needs --window-hours H")
        if not (math.isfinite(args.window_hours) and args.window_hours >= 0):
            raise _usage_error(f"--window-hours must be at least 0, not {args.window_hours:g}")
        return Attribution("window", args.window_hours)
    if args.window_hours is not None:
        raise _usage_error("--window-hours only applies with --attribution window")
    return Attribution()


def _connect(path: str) -> duckdb.DuckDBPyConnection:
    if path != ":memory:" and not Path(path).is_file():
        raise _usage_error(f"database not found: {path} (create one with 'load' or 'demo')")
    try:
        con = connect(path, read_only=True)
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _usage_error(f"cannot open database {path}: {first_line}") from None
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    missing = set(_RECORD_TABLES) - tables
    if missing:
        con.close()
        raise _usage_error(f"{path} is not a Cadence database (no table {sorted(missing)[0]})")
    return con


def _check_names(con, column: str, wanted: list[str], tables: tuple[str, ...]) -> None:
    """Refuse a --team/--service that no record has: almost always a typo (names are
    case-sensitive), and a report of zeros would hide it."""
    if not wanted:
        return
    union = " UNION ".join(f"SELECT DISTINCT {column} AS name FROM {t}" for t in tables)
    known = {r[0] for r in con.execute(union).fetchall() if r[0] is not None}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        listed = ", ".join(sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
        raise _usage_error(f"unknown {column} {unknown[0]!r} (known: {listed or 'none'})")


def _json_ready(value):
    """``value`` with every non-finite float (NaN, inf) as None: JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run_report_command(args) -> int:
    """Run ``python -m analytics report``: print the report for the arguments; exit status 0.

    Raises ``UsageError`` (one line, exit 2) for a bad date, from after to, a negative hourly
    rate, window attribution without --window-hours, or a missing database.
    """
    start = _parse_day(args.date_from, "--from") if args.date_from else None
    end = _parse_day(args.date_to, "--to") if args.date_to else None
    # A window past the plausible dates (--to 9999-12-31) is clamped to them, with a note on
    # stderr (stdout stays the report, e.g. JSON).
    for option, day in (("--from", start), ("--to", end)):
        note = clamp_note(option, day) if day else None
        if note:
            print(f"note: {note}", file=sys.stderr)
    start = clamp_day(start) if start else None
    end = clamp_day(end) if end else None
    if start and end and start > end:
        raise _usage_error(f"--from {start} is after --to {end}")
    attribution = _attribution(args)
    cost = CostModel()
    if args.hourly_rate is not None:
        if not (math.isfinite(args.hourly_rate) and args.hourly_rate >= 0):
            raise _usage_error(f"--hourly-rate must be at least 0, not {args.hourly_rate:g}")
        cost = CostModel(hourly_rate=args.hourly_rate)
    con = _connect(args.db)
    try:
        if start is None or end is None:
            extent = data_range(con)
            if extent is None:
                raise _usage_error(f"{args.db} holds no records; pass --from and --to")
            extent = (clamp_day(extent[0]), clamp_day(extent[1]))  # data loaded before bounds
            if start is None and end is None:
                start, end = extent
            elif start is None:
                start = extent[0]
                if start > end:
                    raise _usage_error(f"--to {end} is before the first day with data ({start})")
            else:
                end = extent[1]
                if start > end:
                    raise _usage_error(f"--from {start} is after the last day with data ({end})")
        _check_names(con, "team", args.team, _RECORD_TABLES)
        _check_names(con, "service", args.service, ("changes", "incidents"))
        flt = Filter(start, end, tuple(args.team), tuple(args.service))
        result = report(con, flt, cost, attribution)
        if args.format == "json":
            # the statistical keys (intervals, correlations, tests) only in the full JSON report
            from analytics.insights import statistics_for_report

            result.update(statistics_for_report(con, flt, attribution))
            # the CSI register: measured effect of the improvements started in the window
            from analytics.improvements import improvements_for_report

            result["improvements"] = improvements_for_report(con, flt)
    finally:
        con.close()
    text = json.dumps(_json_ready(result)) if args.format == "json" else format_table(result)
    try:
        print(text)
    except BrokenPipeError:
        # e.g. piped into `head`: not an error; keep Python from complaining at exit
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    return 0


# --- the table --------------------------------------------------------------------------------


def _number(value, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "n/a"
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.{digits}f}"
    return f"{text} {unit}".rstrip()


def _percent(value) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _p(value) -> str:
    # the placebo test's p: a normal test with a cluster-robust variance, not a permutation
    return "" if value is None else f"one-sided p = {value:.2g}"


def _money(value) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def format_table(r: dict) -> str:
    """The report dict as aligned plain text: sections, one metric a line, units spelled out."""
    scope = []
    if r["teams"]:
        scope.append("teams " + ", ".join(r["teams"]))
    if r["services"]:
        scope.append("services " + ", ".join(r["services"]))
    header = f"Cadence report {r['from']} .. {r['to']} ({r['window_days']} days)"
    if scope:
        header += " — " + "; ".join(scope)
    tiers = r["dora"]
    att = r["attribution"]

    def tier(name: str) -> str:
        return f"[{tiers[name]}]" if tiers[name] else ""

    sections = [
        (
            "Delivery",
            [
                ("Deployments", _number(r["deployments"]), ""),
                (
                    "Deployments per week",
                    _number(r["deployments_per_week"], 2),
                    tier("deployment_frequency"),
                ),
                (
                    "Lead time, median",
                    _number(r["lead_time_hours_median"], 1, "h"),
                    tier("lead_time"),
                ),
                ("Failed deployments", _number(r["failed_deployments"]), ""),
                (
                    "Change failure rate",
                    _percent(r["change_failure_rate"]),
                    tier("change_failure_rate"),
                ),
                ("Rework rate", _percent(r["rework_rate"]), ""),
            ],
        ),
        (
            "Stability",
            [
                ("Incidents", _number(r["incidents"]), ""),
                ("Requests", _number(r["requests"]), ""),
                ("Time to restore, median", _number(r["time_to_restore_hours_median"], 1, "h"), ""),
                (
                    "Failed deployment recovery, median",
                    _number(r["failed_deployment_recovery_hours_median"], 1, "h"),
                    tier("failed_deployment_recovery"),
                ),
            ],
        ),
        (
            "Incident attribution: "
            + (
                f"explicit links and deployments up to {att['window_hours']:g} h before"
                if att["window_hours"] is not None
                else "explicit caused_by_change links only"
            ),
            [
                ("Linked explicitly", _number(att["incidents_linked_explicitly"]), ""),
                ("Linked by window", _number(att["incidents_linked_by_window"]), ""),
                ("Unattributed", _number(att["incidents_unattributed"]), ""),
                *(
                    [
                        # chance links: the same hours a week earlier and later
                        ("Placebo links", _number(att["placebo_links"]), "a week either side"),
                        ("Straight after", _number(att["placebo_after_links"]), "not used"),
                        ("Beyond chance", _number(att["excess_links"]), _p(att["p_value"])),
                    ]
                    if att.get("placebo_links") is not None
                    else []
                ),
            ],
        ),
        (
            "Support",
            [
                ("Support effort", _number(r["support_hours"], 1, "h"), ""),
                ("Support cost", _money(r["support_cost"]), f"at {r['hourly_rate']:g} per hour"),
            ],
        ),
        (
            "Sprints",
            [
                ("Sprints ended", _number(r["sprints"]), ""),
                ("Sprint length, median", _number(r["sprint_length_days_median"], 1, "days"), ""),
                ("Velocity, median", _number(r["velocity_points_median"], 1, "points"), ""),
                ("Say/do ratio", _percent(r["say_do_ratio"]), ""),
                ("Warranty share", _percent(r["warranty_share"]), ""),
            ],
        ),
    ]
    label_width = max(len(label) for _, rows in sections for label, _, _ in rows)
    value_width = max(len(value) for _, rows in sections for _, value, _ in rows)
    lines = [header, ""]
    for title, rows in sections:
        lines.append(title)
        for label, value, note in rows:
            lines.append(f"  {label:<{label_width}}  {value:>{value_width}}  {note}".rstrip())
        lines.append("")
    lines.append("By approval path")
    headings = ("approval", "deployments", "failure rate", "lead time (h)")
    rows = [
        (
            path,
            _number(v["deployments"]),
            _percent(v["change_failure_rate"]),
            _number(v["lead_time_hours_median"], 1),
        )
        for path, v in r["by_approval"].items()
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(headings, *rows, strict=False)]
    for row in [headings, *rows]:
        first = f"  {row[0]:<{widths[0]}}"
        rest = "".join(f"  {cell:>{w}}" for cell, w in zip(row[1:], widths[1:], strict=True))
        lines.append(first + rest)
    lines.append("")
    lines.append(
        "DORA tiers (State of DevOps 2023): "
        + ", ".join(f"{name.replace('_', ' ')} {value or 'n/a'}" for name, value in tiers.items())
    )
    return "\n".join(lines)
