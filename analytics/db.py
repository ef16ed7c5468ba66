"""Running SQL with named parameters: every value is bound, never pasted into the text."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import duckdb

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


def query_one(con: duckdb.DuckDBPyConnection, sql: str, *param_sets: dict) -> tuple:
    """Run a query with named parameters and return its single row."""
    return con.execute(sql, bind(sql, *param_sets)).fetchone()
