"""The DuckDB store: where the database lives, creating its schema and migrating old versions."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from analytics.schema import KINDS, META_DDL, SCHEMA_VERSION, table_ddl

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = PROJECT_ROOT / "data" / "demo"
DEFAULT_DB = PROJECT_ROOT / "data" / "cadence.duckdb"


def default_db_path() -> Path:
    """The dashboard's database: ``$CADENCE_DB`` when set, else ``data/cadence.duckdb``."""
    return Path(os.environ.get("CADENCE_DB") or DEFAULT_DB)


def connect(
    path: str | os.PathLike = ":memory:", read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) a Cadence database and bring its schema up to date."""
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        ensure_schema(con)
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The stored schema version, or None for an empty database."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_info'"
    ).fetchone()[0]
    if not exists:
        return None
    row = con.execute("SELECT max(version) FROM schema_info").fetchone()
    return row[0]


# Each entry upgrades a database from version N to N + 1; later issues append here.
# The DDL is spelled out (not taken from schema.py) so a step stays what it was when written.
MIGRATIONS: dict[int, list[str]] = {
    # v2: planned windows on changes, and the CSI improvements register
    1: [
        "ALTER TABLE changes ADD COLUMN planned_start TIMESTAMP",
        "ALTER TABLE changes ADD COLUMN planned_end TIMESTAMP",
        """CREATE TABLE IF NOT EXISTS improvements (
    improvement_id VARCHAR PRIMARY KEY,
    title VARCHAR NOT NULL,
    started_on DATE NOT NULL,
    team VARCHAR,
    service VARCHAR,
    category VARCHAR,
    source VARCHAR,
    target_metric VARCHAR,
    expected_direction VARCHAR,
    owner VARCHAR,
    notes VARCHAR
);""",
    ],
    # v3: the audit log of changes made through the dashboard (analytics.audit)
    2: [
        "CREATE SEQUENCE IF NOT EXISTS audit_log_seq",
        """CREATE TABLE IF NOT EXISTS audit_log (
    audit_id INTEGER PRIMARY KEY DEFAULT nextval('audit_log_seq'),
    changed_at TIMESTAMP NOT NULL,
    who VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    table_name VARCHAR,
    row_count BIGINT,
    detail VARCHAR
);""",
    ],
}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and apply pending migrations, all in one transaction."""
    version = schema_version(con)
    con.execute("BEGIN")
    try:
        if version is None:
            con.execute(META_DDL)
            for kind in KINDS.values():
                con.execute(table_ddl(kind))
            con.execute("INSERT INTO schema_info VALUES ($v)", {"v": SCHEMA_VERSION})
        else:
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    con.execute(statement)
            if version < SCHEMA_VERSION:
                con.execute("UPDATE schema_info SET version = $v", {"v": SCHEMA_VERSION})
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Number of rows per record kind."""
    return {k: con.execute(f"SELECT count(*) FROM {k}").fetchone()[0] for k in KINDS}
