"""One measured step of the benchmark, run in its own process by ``bench.py``.

``python benchmarks/worker.py STEP --db PATH [...]`` prints one JSON object on its last stdout
line: the timings in seconds and ``peak_rss_mb`` (VmHWM of this process). Each step runs in a
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


# --- the default filter -------------------------------------------------------------------------


def whole_range_filter(con, teams: tuple[str, ...] = ()):
    """A Filter over every day that has data (sprints, work items, changes, incidents)."""
    from analytics.filters import Filter

    lo, hi = con.execute(
        """
        SELECT min(d)::DATE, max(d)::DATE FROM (
            SELECT min(start_date) AS d FROM sprints UNION ALL SELECT max(end_date) FROM sprints
            UNION ALL SELECT min(created_at) FROM work_items
            UNION ALL SELECT max(created_at) FROM work_items
            UNION ALL SELECT min(requested_at) FROM changes
            UNION ALL SELECT max(requested_at) FROM changes
            UNION ALL SELECT min(opened_at) FROM incidents
            UNION ALL SELECT max(opened_at) FROM incidents
        )
        """
    ).fetchone()
    return Filter(lo, hi, teams=teams)


def default_filter(con):
    """The filter a dashboard page opens with: the app's own default when it has one."""
    try:
        from analytics.filters import default_filter as app_default
    except ImportError:
        return whole_range_filter(con)
    return app_default(con)


def busiest_team(con) -> str:
    """The team with most changes: the team filter of the benchmark."""
    return con.execute(
        "SELECT team FROM changes WHERE team IS NOT NULL GROUP BY team ORDER BY count(*) DESC, "
        "team LIMIT 1"
    ).fetchone()[0]


# --- report -------------------------------------------------------------------------------------


def step_report(args) -> dict:
    """The full report over the whole range and for one team: cold, then the median warm."""
    from analytics.metrics import report
    from analytics.store import connect

    started = time.perf_counter()
    con = connect(args.db, read_only=True)
    flt = whole_range_filter(con)
    report(con, flt)
    cold = time.perf_counter() - started
    warm = statistics.median(timed(lambda: report(con, flt)) for _ in range(args.repeat))
    team_flt = whole_range_filter(con, teams=(busiest_team(con),))
    report(con, team_flt)
    warm_team = statistics.median(timed(lambda: report(con, team_flt)) for _ in range(args.repeat))
    return {"cold": cold, "warm": warm, "warm_team": warm_team}


# --- pages --------------------------------------------------------------------------------------


# The dashboard pages, in navigation order; page_calls has one entry for each.
PAGES = ("overview",)


def page_calls(con, flt) -> dict[str, Callable[[], object]]:
    """The analytics each dashboard page calls for its default view, one callable per page."""
    from analytics import metrics

    def overview():
        metrics.report(con, flt)
        metrics.metric_series(con, flt, freq="month")

    return {"overview": overview}


def step_page(args) -> dict:
    """One page's analytics: connect + first call in this new process (cold), then warm."""
    from analytics.store import connect

    started = time.perf_counter()
    con = connect(args.db, read_only=True)
    flt = default_filter(con)
    run = page_calls(con, flt)[args.page]
    run()
    cold = time.perf_counter() - started
    warm = statistics.median(timed(run) for _ in range(args.repeat))
    return {"cold": cold, "warm": warm}


STEPS = {"floor": step_floor, "report": step_report, "page": step_page}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--db", default=":memory:")
    parser.add_argument("--page")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("files", nargs="*")
    args = parser.parse_intermixed_args(argv)
    result = STEPS[args.step](args)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
