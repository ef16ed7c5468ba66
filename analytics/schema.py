"""The data contract: record kinds, their columns, types and allowed values.

Everything that reads or writes the store takes column names, types and enumerations from here,
so the contract is defined exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# The plausible range of every date and timestamp, both days included (UTC). A year 0001 or
# 9999 is a placeholder or a typo, and a window built from it overflows Python's dates.
DATE_MIN = date(1970, 1, 1)
DATE_MAX = date(2100, 12, 31)

# Bump when the DDL changes; ``store.migrate`` upgrades older databases step by step.
SCHEMA_VERSION = 3


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # VARCHAR, INTEGER, DOUBLE, DATE, TIMESTAMP
    required: bool = False
    enum: tuple[str, ...] | None = None  # allowed lower-case values, None = free text


@dataclass(frozen=True)
class Kind:
    name: str
    id_column: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


APPROVALS = ("pre-approved", "product-owner", "cab", "ecab")
DELEGATED_APPROVALS = ("pre-approved", "product-owner")
WARRANTY_ASPECTS = ("availability", "capacity", "security", "continuity")
FAILED_OUTCOMES = ("failed", "rolled_back")
IMPROVEMENT_SOURCES = ("retrospective", "csi", "problem")
IMPROVEMENT_DIRECTIONS = ("up", "down")
# Weekly metrics: what analytics.series.metric_series can chart and an improvement can target.
IMPROVEMENT_METRICS = (
    "deployments",
    "deployments_per_week",
    "lead_time_hours_median",
    "failed_deployments",
    "change_failure_rate",
    "rework_rate",
    "incidents",
    "incidents_p1_p2",
    "requests",
    "time_to_restore_hours_median",
    "support_hours",
    "support_cost",
)

# When a change has no approval, it follows from its type (ITIL's default routes).
DEFAULT_APPROVAL = {"standard": "pre-approved", "normal": "cab", "emergency": "ecab"}

KINDS: dict[str, Kind] = {
    "sprints": Kind(
        "sprints",
        "sprint_id",
        (
            Column("sprint_id", "VARCHAR", True),
            Column("team", "VARCHAR", True),
            Column("name", "VARCHAR"),
            Column("start_date", "DATE", True),
            Column("end_date", "DATE", True),
            Column("committed_points", "DOUBLE"),
            Column("completed_points", "DOUBLE"),
        ),
    ),
    "work_items": Kind(
        "work_items",
        "item_id",
        (
            Column("item_id", "VARCHAR", True),
            Column("team", "VARCHAR", True),
            Column("sprint_id", "VARCHAR"),
            Column("item_type", "VARCHAR"),  # open list: story, bug, task, spike, ...
            Column("requirement_type", "VARCHAR", enum=("utility", "warranty")),
            Column("warranty_aspect", "VARCHAR", enum=WARRANTY_ASPECTS),
            Column("story_points", "DOUBLE"),
            Column("status", "VARCHAR"),
            Column("created_at", "TIMESTAMP", True),
            Column("resolved_at", "TIMESTAMP"),
            Column("origin", "VARCHAR", enum=("business", "operations")),
        ),
    ),
    "changes": Kind(
        "changes",
        "change_id",
        (
            Column("change_id", "VARCHAR", True),
            Column("service", "VARCHAR"),
            Column("team", "VARCHAR"),
            Column("change_type", "VARCHAR", True, ("standard", "normal", "emergency")),
            Column("approval", "VARCHAR", enum=APPROVALS),
            Column("risk", "VARCHAR", enum=("low", "medium", "high")),
            Column("requested_at", "TIMESTAMP", True),
            Column("implemented_at", "TIMESTAMP"),  # required unless outcome is cancelled
            Column(
                "outcome", "VARCHAR", True, ("successful", "failed", "rolled_back", "cancelled")
            ),
            Column("sprint_id", "VARCHAR"),
            # schema v2: the forward schedule next to the actual record (both optional)
            Column("planned_start", "TIMESTAMP"),
            Column("planned_end", "TIMESTAMP"),
        ),
    ),
    "incidents": Kind(
        "incidents",
        "incident_id",
        (
            Column("incident_id", "VARCHAR", True),
            Column("service", "VARCHAR"),
            Column("team", "VARCHAR"),
            Column("kind", "VARCHAR", enum=("incident", "request")),
            Column("priority", "INTEGER", True),  # 1..4, 1 = critical
            Column("opened_at", "TIMESTAMP", True),
            Column("resolved_at", "TIMESTAMP"),
            Column("caused_by_change", "VARCHAR"),
            Column("resolved_by_change", "VARCHAR"),
            Column("effort_hours", "DOUBLE"),
        ),
    ),
    # schema v2: the CSI register, one row per improvement whose effect Cadence measures
    "improvements": Kind(
        "improvements",
        "improvement_id",
        (
            Column("improvement_id", "VARCHAR", True),
            Column("title", "VARCHAR", True),
            Column("started_on", "DATE", True),
            Column("team", "VARCHAR"),
            Column("service", "VARCHAR"),
            Column("category", "VARCHAR"),  # open list: change-policy, automation, warranty, ...
            Column("source", "VARCHAR", enum=IMPROVEMENT_SOURCES),
            Column("target_metric", "VARCHAR", enum=IMPROVEMENT_METRICS),
            Column("expected_direction", "VARCHAR", enum=IMPROVEMENT_DIRECTIONS),
            Column("owner", "VARCHAR"),
            Column("notes", "VARCHAR"),
        ),
    ),
}

# Bookkeeping tables: one row per imported file, every row that was refused, and the audit log
# of changes made through the dashboard (analytics.audit).
META_DDL = """
CREATE TABLE IF NOT EXISTS schema_info (version INTEGER NOT NULL);
CREATE SEQUENCE IF NOT EXISTS load_log_seq;
CREATE TABLE IF NOT EXISTS load_log (
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
CREATE TABLE IF NOT EXISTS rejected_rows (
    load_id INTEGER,
    file_name VARCHAR NOT NULL,
    line_number INTEGER,
    column_name VARCHAR,
    reason VARCHAR NOT NULL,
    raw_row VARCHAR
);
CREATE SEQUENCE IF NOT EXISTS audit_log_seq;
CREATE TABLE IF NOT EXISTS audit_log (
    audit_id INTEGER PRIMARY KEY DEFAULT nextval('audit_log_seq'),
    changed_at TIMESTAMP NOT NULL,
    who VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    table_name VARCHAR,
    row_count BIGINT,
    detail VARCHAR
);
"""


def table_ddl(kind: Kind, primary_key: bool = True) -> str:
    """CREATE TABLE statement for one record kind (id column is the primary key; without
    ``primary_key`` it is only NOT NULL, for a bulk insert that adds the key afterwards)."""
    key = " PRIMARY KEY" if primary_key else " NOT NULL"
    cols = ",\n    ".join(
        f"{c.name} {c.sql_type}"
        + (key if c.name == kind.id_column else "")
        + (" NOT NULL" if c.required and c.name != kind.id_column else "")
        for c in kind.columns
    )
    return f"CREATE TABLE IF NOT EXISTS {kind.name} (\n    {cols}\n);"


def detect_kind(header: list[str]) -> str | None:
    """Return the kind whose id column and required columns best match a header, or None."""
    names = {h.strip().lower() for h in header}
    # A work_items header also holds sprint_id (the sprints id), so score every candidate:
    # most required columns present, then most known columns; a tie is ambiguous.
    scores = sorted(
        (
            (sum(c in names for c in kind.required), sum(c in names for c in kind.column_names)),
            kind.name,
        )
        for kind in KINDS.values()
        if kind.id_column in names
    )
    if not scores or (len(scores) > 1 and scores[-1][0] == scores[-2][0]):
        return None
    return scores[-1][1]
