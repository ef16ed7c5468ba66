"""The audit log: who changed which data, when, and how many rows.

Every change made through the dashboard (a load that appends or replaces, a reset to the
demo data, an entry of the CSI register added, edited or removed, a mapping profile saved)
writes one row per table through :func:`record`. Call it inside the change's own
transaction where the caller holds one, so that the change and its entry commit together.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import duckdb

from analytics.db import query_df

if TYPE_CHECKING:
    import pandas as pd

# The actions the log names (one wording, so the Data page and tests read the same words).
APPEND = "append"
REPLACE = "replace"
RESET = "reset to demo data"
ADD = "add"
EDIT = "edit"
DELETE = "delete"
SAVE_PROFILE = "save mapping profile"


def record(
    con: duckdb.DuckDBPyConnection,
    who: str,
    action: str,
    table: str | None,
    rows: int | None,
    detail: str | None = None,
) -> None:
    """Append one entry (time: now, naive UTC) to ``audit_log``; ``rows`` is the number of
    rows the change wrote or removed, ``detail`` a short note (a file or profile name)."""
    con.execute(
        """
        INSERT INTO audit_log (changed_at, who, action, table_name, row_count, detail)
        VALUES ($at, $who, $action, $table, $rows, $detail)
        """,
        {
            "at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            "who": who,
            "action": action,
            "table": table,
            "rows": None if rows is None else int(rows),
            "detail": detail,
        },
    )


def latest(con: duckdb.DuckDBPyConnection, limit: int = 50) -> pd.DataFrame:
    """The newest ``limit`` entries, newest first: changed_at (naive UTC), who, action,
    table_name, row_count (rows) and detail."""
    return query_df(
        con,
        """
        SELECT changed_at, who, action, table_name, row_count, detail
        FROM audit_log ORDER BY changed_at DESC, audit_id DESC LIMIT $limit
        """,
        {"limit": limit},
    )
