"""Running SQL with named parameters: every value is bound, never pasted into the text; and
why a database could not be opened (:func:`classify_open_error`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import numpy as np

if TYPE_CHECKING:  # pandas costs 0.8 s to import and `load` needs none of it (.df() imports it)
    import pandas as pd

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def bind(sql: str, *param_sets: dict) -> dict:
    """Merge parameter dicts and keep only the names the SQL uses (DuckDB refuses extras)."""
    used = set(_PARAM.findall(sql))
    merged: dict = {}
    for params in param_sets:
        merged.update(params)
    missing = used - merged.keys()
    if missing:
        raise KeyError(f"SQL parameters without a value: {sorted(missing)}")
    return {k: v for k, v in merged.items() if k in used}


def query_df(con: duckdb.DuckDBPyConnection, sql: str, *param_sets: dict) -> pd.DataFrame:
    """Run a query with named parameters and return its result as a DataFrame."""
    return con.execute(sql, bind(sql, *param_sets)).df()


def query_columns(con: duckdb.DuckDBPyConnection, sql: str, *param_sets: dict) -> dict:
    """Run a query with named parameters and return its columns as ``{name: numpy array}``,
    without pandas (its import with pyarrow costs about 0.5 s; the report needs none, #11).

    DuckDB hands columns with nulls over as masked arrays; here a numeric one becomes floats
    with NaN for null (what ``.df()`` gives) and any other an object array with None. Dates and
    timestamps are ``datetime64[us]``, text columns object arrays."""
    raw = con.execute(sql, bind(sql, *param_sets)).fetchnumpy()
    out = {}
    for name, column in raw.items():
        if isinstance(column, np.ma.MaskedArray):
            if column.dtype.kind in "iuf":
                column = column.astype(float).filled(np.nan)
            else:
                column = np.where(np.ma.getmaskarray(column), None, column.data.astype(object))
        out[name] = column
    return out


def query_one(con: duckdb.DuckDBPyConnection, sql: str, *param_sets: dict) -> tuple:
    """Run a query with named parameters and return its single row."""
    return con.execute(sql, bind(sql, *param_sets)).fetchone()


# --- a database that cannot be opened -----------------------------------------------------------

CORRUPT, LOCKED, UNREADABLE = "corrupt", "locked", "unreadable"
_LOCK_PID = re.compile(r"Conflicting lock is held in .*?\(PID (\d+)\)")


@dataclass(frozen=True)
class OpenProblem:
    """Why the database could not be opened: ``kind`` (corrupt, locked or unreadable), the
    error's type, and the PID of the process holding the lock (locked only). It holds no path,
    so it can be shown in a browser."""

    kind: str
    error: str
    pid: int | None = None


def classify_open_error(exc: BaseException) -> OpenProblem:
    """Sort an exception raised while opening a database: another process holds its write lock
    (DuckDB allows one writing process), the file is not a DuckDB database (random bytes, a
    truncated or an empty file), or anything else (a migration that failed, no permission)."""
    text = str(exc)
    if isinstance(exc, duckdb.Error):
        if "Could not set lock" in text or "Conflicting lock" in text:
            match = _LOCK_PID.search(text)
            return OpenProblem(LOCKED, type(exc).__name__, int(match[1]) if match else None)
        if "not a valid DuckDB database" in text or isinstance(exc, duckdb.SerializationException):
            return OpenProblem(CORRUPT, type(exc).__name__)
    return OpenProblem(UNREADABLE, type(exc).__name__)
