"""One database connection per process and cached query results per filter.

DuckDB connections are not thread-safe, so every call works on its own ``cursor()`` of the one
shared connection. Results are cached by (database path, function, arguments): the Filter,
CostModel and Attribution are frozen dataclasses, so they hash. Call :func:`clear` after any
import so that every page reads the new data.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import streamlit as st

from analytics.db import LOCKED, OpenProblem, classify_open_error
from analytics.store import connect, default_db_path

log = logging.getLogger("cadence.data")

T = TypeVar("T")


def db_path() -> str:
    """The active database file (``$CADENCE_DB`` or ``data/cadence.duckdb``). Never shown in
    the browser: pages show :func:`db_name`."""
    return str(default_db_path())


def db_name() -> str:
    """The database's file name without its folder (what the pages may show)."""
    return Path(db_path()).name


# An absolute path (POSIX or Windows) of two or more parts; group 1 is its last part.
_ABSOLUTE_PATH = re.compile(
    r"""(?<![\w.~:/\\])(?:[A-Za-z]:)?[\\/](?:[^\s\\/"'<>|]+[\\/])+([^\s\\/"'<>|]+)"""
)


def redact_paths(text: str) -> str:
    """``text`` with every absolute path cut to its file name, for messages that quote one
    (a database error, a loader error about the demo files)."""
    return _ABSOLUTE_PATH.sub(r"\1", str(text))


@st.cache_resource(show_spinner="Opening the database…")
def _connection(path: str) -> duckdb.DuckDBPyConnection:
    if not Path(path).exists():
        from analytics.loader import build_demo_database

        build_demo_database(path)
    return connect(path)


def cursor() -> duckdb.DuckDBPyConnection:
    """A fresh cursor on the shared connection; close it when done (or let it be collected)."""
    return _connection(db_path()).cursor()


@st.cache_data(show_spinner=False, max_entries=1024)
def _cached_call(path: str, module: str, name: str, args: tuple, kwargs: tuple) -> Any:
    function = getattr(importlib.import_module(module), name)
    con = _connection(path).cursor()
    try:
        return function(con, *args, **dict(kwargs))
    finally:
        con.close()


def fetch(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(con, *args, **kwargs)`` on the active database, cached until :func:`clear`.

    ``function`` must be a module-level analytics function taking the connection first and
    only hashable arguments after it (Filter, CostModel, Attribution, str, int, ...).
    """
    return _cached_call(
        db_path(), function.__module__, function.__name__, args, tuple(sorted(kwargs.items()))
    )


def read(function: Callable[..., T], *args: Any) -> T:
    """``function(con, *args)`` on the active database, not cached (for small, changing
    tables such as the audit log)."""
    con = cursor()
    try:
        return function(con, *args)
    finally:
        con.close()


def clear() -> None:
    """Forget every cached result (after an import or a reset, the data has changed)."""
    _cached_call.clear()


# --- a database that cannot be opened -----------------------------------------------------------


def problem() -> OpenProblem | None:
    """None when the database opens (the connection is then cached); otherwise why it does
    not. The error, which names the path, goes to the server log only."""
    try:
        _connection(db_path())
    except Exception as exc:
        log.warning("cannot open the database: %s", exc)
        return classify_open_error(exc)
    return None


def move_aside(path: Path, now: dt.datetime | None = None) -> Path:
    """Rename an unreadable database (and its write-ahead log) to ``<name>.corrupt-<UTC time>``
    beside it, so a fresh one can take its place; returns the new path."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    os.replace(path, aside)
    wal = Path(f"{path}.wal")
    if wal.exists():
        os.replace(wal, Path(f"{aside}.wal"))
    return aside


def _record_reset(con: duckdb.DuckDBPyConnection, who: str, summaries, detail: str | None):
    from analytics import audit

    con.execute("BEGIN TRANSACTION")
    try:
        for s in summaries:
            audit.record(con, who, audit.RESET, s.kind, s.inserted + s.updated, detail)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def reset_to_demo(who: str) -> str:
    """Replace the data with the bundled demo data and log it as ``who``; returns the sentence
    to show. A database that cannot be opened is first moved aside (:func:`move_aside`) and a
    fresh one built; a locked one is left alone. Raises ``LoadError`` (data unchanged)."""
    from analytics.loader import LOAD_ORDER, LoadError, build_demo_database, load_paths
    from analytics.store import DEMO_DIR

    now = problem()
    if now is None:
        files = [DEMO_DIR / f"{kind}.csv" for kind in LOAD_ORDER]
        con = cursor()
        try:
            # The loader commits its own transaction; the audit entries follow in the next one.
            summaries = load_paths(con, [f for f in files if f.exists()], replace=True)
            _record_reset(con, who, summaries, None)
        finally:
            con.close()
        note = ""
    elif now.kind == LOCKED:
        raise LoadError(
            "another program holds the database open for writing; close it, then try again"
        )
    else:
        aside = move_aside(Path(db_path()))
        summaries = build_demo_database(db_path())
        _connection.clear()
        con = cursor()
        try:
            _record_reset(con, who, summaries, f"unreadable database kept as {aside.name}")
        finally:
            con.close()
        note = f" The unreadable file was kept beside it as {aside.name}."
    clear()
    stored = sum(s.inserted + s.updated for s in summaries)
    return f"Demo data restored ({stored:,} rows).{note}"


def reset_action() -> str | None:
    """The handler of every Reset button: checks the role again (the button may be stale or
    forged), resets, and returns the sentence to show; None (after showing why) when refused
    or when the reset failed."""
    from analytics.access import RESET
    from analytics.loader import LoadError
    from ui import auth
    from ui.components import md_escape

    principal = auth.permit(RESET)
    if principal is None:
        return None
    try:
        return reset_to_demo(principal.who)
    except (LoadError, OSError, duckdb.Error) as exc:
        log.warning("reset to the demo data failed: %s", exc)
        # the loader rolled back: the user's data is untouched
        st.error(md_escape(redact_paths(str(exc))), icon=":material/error:")
        return None


FLASH = "data_flash"  # a notice that survives the rerun after a recovery


def show_flash() -> None:
    """Show (once) the notice a recovery left for the next run."""
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH), icon=":material/check_circle:")


_WHAT = {
    "corrupt": "is not a readable DuckDB database: it was damaged, cut short or overwritten",
    "locked": "is open for writing in another program{pid}, and DuckDB lets only one program "
    "write to a database at a time",
    "unreadable": "could not be opened ({error}); the details are in the server log",
}


def _what(p: OpenProblem) -> str:
    pid = f" (process {p.pid})" if p.pid else ""
    return f"The database file {db_name()} " + _WHAT[p.kind].format(pid=pid, error=p.error)


def problem_notice(p: OpenProblem) -> None:
    """What every page but Data shows while the database cannot be opened."""
    st.error(f"{_what(p)}. Nothing can be shown until it is fixed.", icon=":material/error:")
    st.page_link("app_pages/data.py", label="The Data page says how to recover", icon="➡️")


def problem_panel(p: OpenProblem) -> None:
    """The Data page while the database cannot be opened: what happened and how to recover."""
    from analytics.access import RESET
    from ui import auth

    st.error(f"{_what(p)}.", icon=":material/error:")
    if p.kind == LOCKED:
        st.markdown(
            "Close the other program (a notebook, a `python -m analytics load` that is still "
            "running, or another Cadence on the same file), then try again. Nothing was lost."
        )
    else:
        st.markdown(
            "To recover, reset to the demo data: the unreadable file is kept beside the new "
            f"one as {db_name()}.corrupt-<date and time> (for a backup restore or a support "
            "case), and a fresh database with the demo data takes its place. Then upload your "
            "exports again, or restore a backup of the file while Cadence is stopped."
        )
    if st.button("Try again", key="db_retry", icon=":material/refresh:"):
        st.rerun()
    if p.kind == LOCKED:
        return
    if not auth.can(RESET):
        auth.explain(RESET)
    elif st.button("Reset to the demo data", type="primary", key="db_recover"):
        message = reset_action()
        if message:
            st.session_state[FLASH] = message
            st.rerun()  # the whole app was drawn without a database: draw it again
