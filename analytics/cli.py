"""``python -m analytics``: a thin command line over the same functions the dashboard calls.

Each command is a pair ``add_<name>(subparsers)`` / ``run_<name>(args) -> exit status``.
Errors the user can fix are one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from analytics.schema import KINDS
from analytics.store import default_db_path


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=str(default_db_path()),
        help="DuckDB database file (default: $CADENCE_DB or data/cadence.duckdb)",
    )


# --- load -------------------------------------------------------------------------------------


def add_load(sub) -> None:
    from analytics.importers.presets import PRESETS

    p = sub.add_parser(
        "load",
        help="Load CSV/Excel exports (canonical, ServiceNow, Jira or mapped) into the database",
        description="Load one or more CSV or Excel files into the database in one transaction. "
        "The format (canonical kind, ServiceNow or Jira export) is detected from each header "
        "unless --kind, --preset or --mapping is given.",
    )
    _db_arg(p)
    p.add_argument("--kind", choices=list(KINDS))
    p.add_argument("--replace", action="store_true", help="replace all rows of that kind")
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="read the files as this export format (default: detected from each header)",
    )
    p.add_argument(
        "--mapping", metavar="PROFILE.json", help="map the files' columns with this profile"
    )
    p.add_argument(
        "--date-format", metavar="PATTERN", help="strptime pattern for dates, e.g. %%d/%%m/%%Y"
    )
    p.add_argument("files", nargs="+", metavar="FILE")


def run_load(args) -> int:
    import duckdb

    from analytics.importers import import_paths
    from analytics.loader import LoadError, database_error_message, format_summary
    from analytics.store import connect

    try:
        con = connect(args.db)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():  # a read-only folder or a full disk, not a busy file
            raise UsageError(f"cannot open {args.db}: {database_error_message(exc)}") from exc
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(
            f"cannot open {args.db} (in use by another process?), please retry when it is "
            f"done: {first}"
        ) from exc
    try:
        summaries = import_paths(
            con,
            args.files,
            kind=args.kind,
            replace=args.replace,
            preset=args.preset,
            mapping=args.mapping,
            date_format=args.date_format,
        )
    except LoadError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        con.close()
    for summary in summaries:
        print(format_summary(summary))
    return 0


# --- demo -------------------------------------------------------------------------------------


def demo_switches(parser: argparse.ArgumentParser) -> None:
    """The generator switches of ``demo`` and ``python -m analytics.demo`` (checked when run:
    importing the generator here would put pandas into every command's start-up)."""
    parser.add_argument("--seed", type=int, help="random seed (default: the demo's)")
    parser.add_argument(
        "--effects",
        metavar="E1,E2",
        help="planted effects to switch on, 'all' or 'none' (cab, lead, cadence, lag, trend, "
        "shift, csi, warranty, caused; default: the demo's, see docs/demo-data.md)",
    )
    parser.add_argument(
        "--no-effect", action="append", default=[], metavar="E", help="switch one effect off"
    )
    parser.add_argument(
        "--no-effects", action="store_true", help="switch every planted effect off (null data)"
    )
    parser.add_argument("--season", type=float, help="yearly swing in incidents (default 0.15)")
    parser.add_argument(
        "--ar", type=float, help="AR(1) coefficient of the weekly incident noise (default 0)"
    )


def add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="Build a database from the bundled demo data",
        description="Create (or refresh) a database from the demo CSVs in data/demo/. With "
        "--seed, --effects, --no-effect, --no-effects, --season or --ar the data are generated "
        "afresh instead (see docs/demo-data.md): e.g. --no-effects gives data without any "
        "planted effect, to check that no reading claims one.",
    )
    _db_arg(p)
    demo_switches(p)


def run_demo(args) -> int:
    from analytics.demo import spec_from_arguments, uses_switches
    from analytics.loader import LoadError, build_demo_database

    try:
        if uses_switches(args):
            summaries = _generated_demo(args.db, spec_from_arguments(args))
        else:
            summaries = build_demo_database(args.db)
    except ValueError as exc:  # an unknown effect or a bad --ar
        raise UsageError(str(exc)) from exc
    except LoadError as exc:
        raise UsageError(str(exc)) from exc
    total = sum(s.inserted + s.updated for s in summaries)
    print(f"Demo database ready: {args.db} ({total:,} rows)")
    return 0


def _generated_demo(db: str, spec) -> list:
    """Generate ``spec`` into a temporary directory and build the database at ``db`` from it,
    atomically (built next to it, then renamed over it). Returns the per-file summaries."""
    import tempfile
    from pathlib import Path

    from analytics.demo import generate
    from analytics.loader import build_demo_database

    with tempfile.TemporaryDirectory(prefix="cadence-demo-") as out:
        generate(Path(out), spec)
        return build_demo_database(db, out)


# --- report -----------------------------------------------------------------------------------


def add_report(sub) -> None:
    p = sub.add_parser(
        "report",
        help="Print the delivery and stability metrics for a window",
        description="Compute every Cadence metric for a date window and optional teams/services.",
    )
    _db_arg(p)
    p.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD")
    p.add_argument("--team", action="append", default=[], metavar="T")
    p.add_argument("--service", action="append", default=[], metavar="S")
    p.add_argument("--hourly-rate", type=float, metavar="R")
    p.add_argument("--attribution", choices=["explicit", "window"], default="explicit")
    p.add_argument("--window-hours", type=float, metavar="H")
    p.add_argument("--format", choices=["table", "json"], default="table")


def run_report(args) -> int:
    from analytics.report import run_report_command

    return run_report_command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analytics",
        description="Cadence: flexibility-vs-stability analytics over sprints, changes "
        "and incidents.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add, _run in _commands().values():
        add(sub)
    return parser


def _commands() -> dict[str, tuple[Callable, Callable]]:
    """Every command: its parser builder and its runner, found by naming convention."""
    module = sys.modules[__name__]
    names = [n[len("add_") :] for n in dir(module) if n.startswith("add_")]
    return {n: (getattr(module, f"add_{n}"), getattr(module, f"run_{n}")) for n in sorted(names)}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _add, run = _commands()[args.command]
    try:
        return run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
