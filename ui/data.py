"""One database connection per process and cached query results per filter.

DuckDB connections are not thread-safe, so every call works on its own ``cursor()`` of the one
shared connection. Results are cached by (database path, function, arguments): the Filter,
CostModel and Attribution are frozen dataclasses, so they hash. Call :func:`clear` after any
import so that every page reads the new data.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import streamlit as st

from analytics.store import connect, default_db_path

T = TypeVar("T")


def db_path() -> str:
    """The active database file (``$CADENCE_DB`` or ``data/cadence.duckdb``)."""
    return str(default_db_path())


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


def clear() -> None:
    """Forget every cached result (after an import or a reset, the data has changed)."""
    _cached_call.clear()
