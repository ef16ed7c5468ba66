"""Schema migrations: a database written by an older Cadence opens without losing a row.

The v1 DDL is copied here as it was shipped, because ``analytics/schema.py`` moves on.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from analytics import store
from analytics.loader import load_paths
from analytics.schema import KINDS, SCHEMA_VERSION

V1_DDL = """
CREATE TABLE schema_info (version INTEGER NOT NULL);
CREATE SEQUENCE load_log_seq;
CREATE TABLE load_log (
    load_id INTEGER PRIMARY KEY DEFAULT nextval('load_log_seq'),
    file_name VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    rows_inserted INTEGER NOT NULL,
    rows_updated INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL,
    rows_superseded INTEGER NOT NULL DEFAULT 0,
    replaced BOOLEAN NOT NULL DEFAULT FALSE,
    loaded_at TIMESTAMP NOT NULL
);
CREATE TABLE rejected_rows (
    load_id INTEGER, file_name VARCHAR NOT NULL, line_number INTEGER, column_name VARCHAR,
    reason VARCHAR NOT NULL, raw_row VARCHAR
);
CREATE TABLE sprints (
    sprint_id VARCHAR PRIMARY KEY, team VARCHAR NOT NULL, name VARCHAR,
    start_date DATE NOT NULL, end_date DATE NOT NULL,
    committed_points DOUBLE, completed_points DOUBLE
);
CREATE TABLE work_items (
    item_id VARCHAR PRIMARY KEY, team VARCHAR NOT NULL, sprint_id VARCHAR, item_type VARCHAR,
    requirement_type VARCHAR, warranty_aspect VARCHAR, story_points DOUBLE, status VARCHAR,
    created_at TIMESTAMP NOT NULL, resolved_at TIMESTAMP, origin VARCHAR
);
CREATE TABLE changes (
    change_id VARCHAR PRIMARY KEY, service VARCHAR, team VARCHAR,
    change_type VARCHAR NOT NULL, approval VARCHAR, risk VARCHAR,
    requested_at TIMESTAMP NOT NULL, implemented_at TIMESTAMP, outcome VARCHAR NOT NULL,
    sprint_id VARCHAR
);
CREATE TABLE incidents (
    incident_id VARCHAR PRIMARY KEY, service VARCHAR, team VARCHAR, kind VARCHAR,
    priority INTEGER NOT NULL, opened_at TIMESTAMP NOT NULL, resolved_at TIMESTAMP,
    caused_by_change VARCHAR, resolved_by_change VARCHAR, effort_hours DOUBLE
);
INSERT INTO schema_info VALUES (1);
"""

V1_ROWS = {
    "sprints": [
        ("S1", "Payments", "Sprint 1", dt.date(2026, 1, 5), dt.date(2026, 1, 18), 20.0, 18.0),
    ],
    "work_items": [
        ("WI-1", "Payments", "S1", "story", "utility", None, 3.0, "done",
         dt.datetime(2026, 1, 5, 9), dt.datetime(2026, 1, 9, 17), "business"),
    ],
    "changes": [
        ("CHG-1", "payments-api", "Payments", "normal", "cab", "low",
         dt.datetime(2026, 1, 6, 9), dt.datetime(2026, 1, 8, 10), "successful", "S1"),
        ("CHG-2", "payments-api", "Payments", "emergency", "ecab", "high",
         dt.datetime(2026, 1, 9, 1), None, "cancelled", None),
    ],
    "incidents": [
        ("INC-1", "payments-api", "Payments", "incident", 2, dt.datetime(2026, 1, 8, 11),
         dt.datetime(2026, 1, 8, 13), "CHG-1", None, 1.5),
    ],
}  # fmt: skip


def _v1_database(path) -> None:
    con = duckdb.connect(str(path))
    con.execute(V1_DDL)
    for table, rows in V1_ROWS.items():
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    con.execute(
        "INSERT INTO load_log (file_name, sha256, kind, rows_inserted, rows_updated, "
        "rows_rejected, loaded_at) VALUES ('changes.csv', 'abc', 'changes', 2, 0, 0, "
        "TIMESTAMP '2026-01-10 12:00:00')"
    )
    con.close()


def test_v1_database_migrates_to_current_version_without_losing_rows(tmp_path):
    path = tmp_path / "v1.duckdb"
    _v1_database(path)
    con = store.connect(path)
    try:
        assert store.schema_version(con) == SCHEMA_VERSION == 3
        for table, rows in V1_ROWS.items():
            width = len(rows[0])
            # the v1 columns come first, in their v1 order; ALTER TABLE appends new ones
            stored = con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            assert [r[:width] for r in stored] == rows, table
        planned = con.execute("SELECT planned_start, planned_end FROM changes").fetchall()
        assert planned == [(None, None), (None, None)]
        assert con.execute("SELECT count(*) FROM improvements").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM load_log").fetchone() == (1,)
        # the migrated tables have exactly the columns of a freshly created database
        for name, kind in KINDS.items():
            columns = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
            assert columns == kind.column_names, name
    finally:
        con.close()
    # opening again is a no-op: still version 3, one schema_info row
    con = store.connect(path)
    try:
        assert con.execute("SELECT version FROM schema_info").fetchall() == [(3,)]
    finally:
        con.close()


def test_migrated_database_accepts_planned_windows_and_improvements(tmp_path):
    path = tmp_path / "v1.duckdb"
    _v1_database(path)
    changes = tmp_path / "changes.csv"
    changes.write_text(
        "change_id,change_type,requested_at,implemented_at,outcome,planned_start,planned_end\n"
        "CHG-1,normal,2026-01-06 09:00,2026-01-08 10:00,successful,"
        "2026-01-08 09:00,2026-01-08 11:00\n"
    )
    register = tmp_path / "register.csv"
    register.write_text(
        "improvement_id,title,started_on,target_metric,expected_direction\n"
        "IMP-1,Automated regression tests,2026-02-01,change_failure_rate,down\n"
    )
    con = store.connect(path)
    try:
        summaries = load_paths(con, [changes, register])
        assert [(s.kind, s.inserted, s.updated, s.rejected) for s in summaries] == [
            ("changes", 0, 1, 0),
            ("improvements", 1, 0, 0),
        ]
        row = con.execute(
            "SELECT planned_start, planned_end FROM changes WHERE change_id = 'CHG-1'"
        ).fetchone()
        assert row == (dt.datetime(2026, 1, 8, 9), dt.datetime(2026, 1, 8, 11))
        assert con.execute("SELECT started_on FROM improvements").fetchone() == (
            dt.date(2026, 2, 1),
        )
    finally:
        con.close()


def test_failed_migration_leaves_the_v1_database_untouched(tmp_path):
    path = tmp_path / "v1.duckdb"
    _v1_database(path)
    con = duckdb.connect(str(path))
    # a column of that name already exists: the second statement of the step fails
    con.execute("ALTER TABLE changes ADD COLUMN planned_end TIMESTAMP")
    con.close()
    try:
        store.connect(path).close()
    except duckdb.Error:
        pass
    else:
        raise AssertionError("the migration should have failed")
    con = duckdb.connect(str(path))
    try:
        assert con.execute("SELECT version FROM schema_info").fetchone() == (1,)
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        assert "improvements" not in tables
        assert con.execute("SELECT count(*) FROM changes").fetchone() == (2,)
    finally:
        con.close()


def test_report_reads_a_v1_database_without_migrating_it(tmp_path, capsys):
    import json

    from analytics.cli import main

    path = tmp_path / "v1.duckdb"
    _v1_database(path)
    # report opens read-only: no migration, and the missing register reads as empty
    assert main(["report", "--db", str(path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["improvements"] == [] and out["deployments"] == 1
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT version FROM schema_info").fetchone() == (1,)
    finally:
        con.close()
