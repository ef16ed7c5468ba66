"""Tiny hand-made data sets: insert single records with bound-parameter INSERTs.

Each helper takes the record's columns as keyword arguments (timestamps as 'YYYY-MM-DD HH:MM'
strings or datetimes, dates as 'YYYY-MM-DD' or dates) and fills the other required columns with
plain defaults, so a test states only what its arithmetic depends on.
"""

from __future__ import annotations

import datetime as dt

from analytics.schema import KINDS


def _value(kind: str, column: str, value):
    if not isinstance(value, str):
        return value
    sql_type = KINDS[kind].column(column).sql_type
    if sql_type == "TIMESTAMP":
        return dt.datetime.fromisoformat(value)
    if sql_type == "DATE":
        return dt.date.fromisoformat(value)
    return value


def insert(con, table: str, **values) -> None:
    """Insert one record into ``table`` (a record kind); unknown column names fail loudly."""
    known = KINDS[table].column_names
    unknown = set(values) - set(known)
    if unknown:
        raise KeyError(f"{table} has no column {sorted(unknown)}")
    columns = [c for c in known if c in values]
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('$' + c for c in columns)})"
    )
    con.execute(sql, {c: _value(table, c, values[c]) for c in columns})


def change(con, change_id: str, implemented_at, requested_at=None, **values) -> None:
    """A successful normal change by team alpha on service web; ``requested_at`` defaults to
    ``implemented_at`` (lead time 0)."""
    record = {
        "change_id": change_id,
        "service": "web",
        "team": "alpha",
        "change_type": "normal",
        "requested_at": requested_at if requested_at is not None else implemented_at,
        "implemented_at": implemented_at,
        "outcome": "successful",
    }
    record.update(values)
    insert(con, "changes", **record)


def incident(con, incident_id: str, opened_at, **values) -> None:
    """A P3 incident of team alpha on service web, unresolved unless ``resolved_at`` is given."""
    record = {
        "incident_id": incident_id,
        "service": "web",
        "team": "alpha",
        "kind": "incident",
        "priority": 3,
        "opened_at": opened_at,
    }
    record.update(values)
    insert(con, "incidents", **record)


def request(con, incident_id: str, opened_at, **values) -> None:
    """A P4 service request of team alpha on service web."""
    incident(con, incident_id, opened_at, **{"kind": "request", "priority": 4, **values})


def sprint(con, sprint_id: str, start_date, end_date, **values) -> None:
    """A sprint of team alpha."""
    record = {"sprint_id": sprint_id, "team": "alpha", "start_date": start_date}
    record.update(end_date=end_date, **values)
    insert(con, "sprints", **record)


def work_item(con, item_id: str, sprint_id: str | None, **values) -> None:
    """A story of team alpha created on 2026-01-01."""
    record = {
        "item_id": item_id,
        "team": "alpha",
        "sprint_id": sprint_id,
        "item_type": "story",
        "created_at": "2026-01-01 09:00",
    }
    record.update(values)
    insert(con, "work_items", **record)
