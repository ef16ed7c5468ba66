"""One measured step of the benchmark, run in its own process by ``bench.py``.

``python benchmarks/worker.py STEP --db PATH [...]`` prints one JSON object on its last stdout
line: the timings in seconds and ``peak_rss_mb`` (VmHWM of this process: the rusage of a child
would also count the parent's memory at fork). ``worker.py cli ARGS`` runs
``python -m analytics ARGS`` and reports its peak RSS the same way. Each step runs in a
fresh process so that "cold" really means a new process with a new connection.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], object]) -> float:
    """Wall-clock seconds one call of ``fn`` takes."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


# --- floor: DuckDB's own read_csv ---------------------------------------------------------------


def step_floor(args) -> dict:
    """DuckDB's bare ``read_csv`` of the same files into plain tables of a new database file."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(args.db)
    for i, path in enumerate(args.files):
        # The table name comes from our own counter, the file name is a bound parameter.
        con.execute(f"CREATE TABLE t{i} AS SELECT * FROM read_csv($path)", {"path": path})
    con.close()
    return {"seconds": time.perf_counter() - started}


# --- filters: chosen by bench.py once, passed in so that nothing touches the db before timing ---


def filter_from(args, teams: tuple[str, ...] = ()):
    """The Filter given on the command line (``--start``/``--end``, ISO days)."""
    import datetime as dt

    from analytics.filters import Filter

    return Filter(dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end), teams)


# --- report -------------------------------------------------------------------------------------


def step_report(args) -> dict:
    """The full report for the given range and for one team: cold, then the median warm."""
    from analytics.metrics import report
    from analytics.store import connect

    flt = filter_from(args)
    team_flt = filter_from(args, teams=(args.team,))
    started = time.perf_counter()
    con = connect(args.db, read_only=True)
    report(con, flt)  # cold: a new process and connection, modules already imported
    cold = time.perf_counter() - started
    warm = statistics.median(timed(lambda: report(con, flt)) for _ in range(args.repeat))
    report(con, team_flt)
    warm_team = statistics.median(timed(lambda: report(con, team_flt)) for _ in range(args.repeat))
    return {"cold": cold, "warm": warm, "warm_team": warm_team}


# --- pages --------------------------------------------------------------------------------------

# The sidebar (run with every page), then the dashboard pages in navigation order.
PAGES = (
    "sidebar",
    "overview",
    "flexibility",
    "cadence",
    "change_control",
    "support_cost",
    "backlog",
    "change_schedule",
    "csi_register",
    "data",
)

# The metrics whose monthly series the Overview page draws under its KPI cards.
OVERVIEW_SERIES = (
    "deployments_per_week",
    "lead_time_hours_median",
    "change_failure_rate",
    "time_to_restore_hours_median",
    "rework_rate",
    "support_cost",
)


def page_calls(name: str, con, flt) -> list[tuple[str, Callable[[], object]]]:
    """The analytics calls one page makes for its default view, in order, each with a label
    (they mirror the page's ``fetch`` calls with the sidebar's default settings)."""
    from analytics import deltas, improvements, insights, metrics, schedule, series, views
    from analytics.cost import DEFAULT_COST_MODEL as cost
    from analytics.filters import Filter
    from analytics.metrics import EXPLICIT as attribution

    def before_after():
        changes = insights.sprint_length_changes(con, flt)
        if not changes.empty:  # the page preselects the latest change, 8 weeks each side
            last = changes.iloc[-1]
            insights.cadence_before_after(
                con, flt, last["team"], 8, last["change_date"], attribution
            )

    def improvement_series():
        measured = improvements.measure_improvements(con, flt, improvements.DEFAULT_WEEKS)
        if measured.empty:
            return
        row = measured.iloc[0]  # the page shows the first improvement up close
        metric, team, service = (
            v if isinstance(v, str) and v else None
            for v in row[["target_metric", "team", "service"]]
        )
        if metric:
            around = Filter(
                row["before_from"], row["after_to"],
                teams=(team,) if team else (), services=(service,) if service else (),
            )  # fmt: skip
            series.metric_series(con, around, metric, "week")

    calls = {
        "sidebar": [
            ("data_range", lambda: metrics.data_range(con)),
            ("filter_choices", lambda: views.filter_choices(con)),
            ("dataset_info", lambda: views.dataset_info(con)),
        ],
        "overview": [
            ("report", lambda: metrics.report(con, flt, cost, attribution)),
            (
                "report previous period",
                lambda: metrics.report(con, flt.previous_period(), cost, attribution),
            ),
            (
                "metrics_series (the six monthly KPI series, one query)",
                lambda: series.metrics_series(
                    con, flt, OVERVIEW_SERIES, "month", None, cost, attribution
                ),
            ),
            ("improvements_frame", lambda: improvements.improvements_frame(con, flt)),
            ("deltas.period_deltas", lambda: deltas.period_deltas(con, flt, cost, attribution)),
            ("views.dataset_info", lambda: views.dataset_info(con)),
        ],
        "flexibility": [
            ("per_team", lambda: metrics.per_team(con, flt, cost, attribution)),
            ("per_team_quarter", lambda: metrics.per_team_quarter(con, flt, cost, attribution)),
        ],
        "cadence": [
            ("weekly_series", lambda: insights.weekly_series(con, flt, attribution)),
            ("sprints_frame", lambda: metrics.sprints_frame(con, flt)),
            ("improvements_frame", lambda: improvements.improvements_frame(con, flt)),
            # trend, change point and the turn since a significant one: one weekly query
            ("incident_readings", lambda: insights.incident_readings(con, flt)),
            ("data_range (whole weeks of the timeline)", lambda: metrics.data_range(con)),
            (
                "cadence_incident_correlation",
                lambda: insights.cadence_incident_correlation(con, flt, 8, attribution),
            ),
            ("sprint_length_changes + cadence_before_after", before_after),
        ],
        "change_control": [
            ("deployments_frame", lambda: metrics.deployments_frame(con, flt, attribution)),
            ("approval_mix", lambda: views.approval_mix(con, flt, attribution, "month")),
            ("emergency_ratio", lambda: views.emergency_ratio(con, flt, attribution, "month")),
            ("improvements_frame", lambda: improvements.improvements_frame(con, flt)),
            (
                "approval_failure_rates",
                lambda: insights.approval_failure_rates(con, flt, attribution),
            ),
            ("cab_vs_delegated", lambda: insights.cab_vs_delegated(con, flt, attribution)),
            (
                "what_if_delegation",
                lambda: insights.what_if_delegation(con, flt, 0.5, "own", attribution),
            ),
        ],
        "support_cost": [
            ("cost_breakdown", lambda: views.cost_breakdown(con, flt, cost)),
            ("report", lambda: metrics.report(con, flt, cost, attribution)),
            ("sprints_frame", lambda: metrics.sprints_frame(con, flt)),
            ("cost_by_month", lambda: views.cost_by_month(con, flt, cost)),
            ("per_team", lambda: metrics.per_team(con, flt, cost, attribution)),
            ("views.dataset_info", lambda: views.dataset_info(con)),
        ],
        "backlog": [
            ("sprints_frame", lambda: metrics.sprints_frame(con, flt)),
            ("per_team_sprints", lambda: metrics.per_team_sprints(con, flt)),
            ("warranty_aspects", lambda: views.warranty_aspects(con, flt)),
            ("warranty_vs_incidents", lambda: insights.warranty_vs_incidents(con, flt)),
            (
                "warranty_vs_following_incidents",
                lambda: views.warranty_vs_following_incidents(con, flt, 4),  # the slider's default
            ),
        ],
        "change_schedule": [
            ("timeline", lambda: schedule.timeline(con, flt)),
            ("change_days (compact view)", lambda: schedule.change_days(con, flt, "week")),
            ("incident_days (compact view)", lambda: schedule.incident_days(con, flt, "week")),
            ("improvements_frame", lambda: improvements.improvements_frame(con, flt)),
            (
                "implemented_outside_window",
                lambda: schedule.implemented_outside_window(con, flt),
            ),
            ("changes_without_sprint", lambda: schedule.changes_without_sprint(con, flt)),
            (
                "emergency_changes_in_review_week",
                lambda: schedule.emergency_changes_in_review_week(con, flt, schedule.REVIEW_DAYS),
            ),
            ("change_clusters", lambda: schedule.change_clusters(con, flt, schedule.MIN_CLUSTER)),
            ("planned_window_counts", lambda: schedule.planned_window_counts(con, flt)),
        ],
        "csi_register": [
            ("measure_improvements + metric_series of the first", improvement_series),
            ("improvements_frame", lambda: improvements.improvements_frame(con)),
            ("filter_choices", lambda: views.filter_choices(con)),
        ],
        "data": [
            ("load_history", lambda: views.load_history(con)),
        ],
    }
    assert set(calls) == set(PAGES)
    return calls[name]


def step_page(args) -> dict:
    """One page's analytics: connect + first call in this new process (cold), then warm.

    Modules are imported before the clock starts (a running dashboard has them loaded already);
    the import time is reported on its own. ``calls`` has the median warm time of each call."""
    started = time.perf_counter()
    import analytics.improvements  # noqa: F401
    import analytics.insights  # noqa: F401
    import analytics.schedule  # noqa: F401
    import analytics.series  # noqa: F401
    import analytics.views  # noqa: F401
    from analytics.store import connect

    imports = time.perf_counter() - started
    flt = filter_from(args)
    started = time.perf_counter()
    # Like the dashboard (ui/data.py): one read-write connection, schema checked on open.
    con = connect(args.db)
    calls = page_calls(args.page, con, flt)
    for _label, call in calls:
        call()
    cold = time.perf_counter() - started
    runs = [{label: timed(call) for label, call in calls} for _ in range(args.repeat)]
    con.close()
    return {
        "cold": cold,
        "warm": statistics.median(sum(run.values()) for run in runs),
        "imports": imports,
        "calls": {label: statistics.median(run[label] for run in runs) for label, _ in calls},
    }


def step_cli(args) -> dict:
    """``python -m analytics ARGS`` in this process, so that its own peak RSS can be read."""
    from analytics.cli import main as cli_main

    status = cli_main(args.files)
    if status:
        sys.exit(status)
    return {}


STEPS = {"floor": step_floor, "report": step_report, "page": step_page, "cli": step_cli}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--db", default=":memory:")
    parser.add_argument("--page", choices=PAGES)
    parser.add_argument("--start", help="first day of the filter (ISO)")
    parser.add_argument("--end", help="last day of the filter (ISO)")
    parser.add_argument("--team", help="the team of the team-filtered report")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("files", nargs="*", help="CSV files (floor) or CLI arguments (cli)")
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["cli"]:  # everything after "cli" belongs to python -m analytics
        args = argparse.Namespace(step="cli", files=argv[1:])
    else:
        args = parser.parse_intermixed_args(argv)
    result = STEPS[args.step](args)
    result["peak_rss_mb"] = peak_rss_mb()
    result["cpu_seconds"] = cpu_seconds()
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
