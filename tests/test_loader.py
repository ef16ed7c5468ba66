"""The canonical CSV loader on tiny hand-written files, against a real in-memory DuckDB."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from analytics import loader
from analytics.loader import LoadError, Source, load_paths, load_sources, load_staged
from analytics.schema import detect_kind
from analytics.store import connect

INCIDENT_HEADER = "incident_id,service,priority,opened_at,resolved_at"
CHANGE_HEADER = "change_id,change_type,approval,requested_at,implemented_at,outcome"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rows(con, table: str, order: str = "1") -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


def rejected(con) -> list[tuple]:
    """(line, column, reason) of every rejected row, in file order."""
    return con.execute(
        "SELECT line_number, column_name, reason FROM rejected_rows ORDER BY line_number, reason"
    ).fetchall()


def leftovers(con) -> list[str]:
    """Temp tables, views and session variables the loader left on the connection."""
    return [
        row[0]
        for row in con.execute(
            """
            SELECT table_name FROM duckdb_tables() WHERE temporary
            UNION ALL SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal
            UNION ALL SELECT name FROM duckdb_variables()
            """
        ).fetchall()
    ]


def everything(con) -> dict[str, list[tuple]]:
    """Full contents of every table the loader writes, to compare before and after."""
    tables = ["sprints", "work_items", "changes", "incidents", "load_log", "rejected_rows"]
    return {t: rows(con, t, "ALL") for t in tables}


# --- row-level rejections ---------------------------------------------------------------------


REJECTIONS = [
    # (file name, header, bad row, column, words the reason must contain)
    ("inc.csv", INCIDENT_HEADER, "I9,web,,2024-03-01,", "priority", ["required value is missing"]),
    ("inc.csv", INCIDENT_HEADER, "I9,web,2,yesterday,", "opened_at", ["'yesterday'", "ISO 8601"]),
    ("inc.csv", INCIDENT_HEADER, "I9,web,2,2024-02-30,", "opened_at", ["'2024-02-30'"]),
    ("inc.csv", INCIDENT_HEADER, "I9,web,9,2024-03-01,", "priority", ["9 is outside 1-4"]),
    ("inc.csv", INCIDENT_HEADER, "I9,web,0,2024-03-01,", "priority", ["0 is outside 1-4"]),
    ("inc.csv", INCIDENT_HEADER, "I9,web,2.5,2024-03-01,", "priority", ["'2.5' is not an integer"]),
    ("inc.csv", INCIDENT_HEADER, "I9,web,high,2024-03-01,", "priority", ["'high'", "integer"]),
    (
        "inc.csv",
        INCIDENT_HEADER,
        "I9,web,2,2024-03-02 10:00,2024-03-01 09:00",
        "resolved_at",
        ["'2024-03-01 09:00' is before opened_at '2024-03-02 10:00'"],
    ),
    (
        "inc.csv",
        "incident_id,priority,opened_at,effort_hours",
        "I9,2,2024-03-01,lots",
        "effort_hours",
        ["'lots' is not a number"],
    ),
    (
        "inc.csv",
        "incident_id,priority,opened_at,kind",
        "I9,2,2024-03-01,outage",
        "kind",
        ["'outage' is not one of incident, request"],
    ),
    (
        "chg.csv",
        CHANGE_HEADER,
        "C9,urgent,,2024-03-01,2024-03-02,successful",
        "change_type",
        ["'urgent' is not one of standard, normal, emergency"],
    ),
    (
        "chg.csv",
        CHANGE_HEADER,
        "C9,normal,,2024-03-02,2024-03-01,successful",
        "implemented_at",
        ["'2024-03-01' is before requested_at '2024-03-02'"],
    ),
    (
        "chg.csv",
        CHANGE_HEADER,
        "C9,normal,,2024-03-02,,failed",
        "implemented_at",
        ["missing", "cancelled"],
    ),
    (
        "chg.csv",
        "change_id,change_type,requested_at,implemented_at,outcome,planned_start,planned_end",
        "C9,normal,2024-03-01,2024-03-02,successful,2024-03-02 12:00,2024-03-02 11:00",
        "planned_end",
        ["'2024-03-02 11:00' is before planned_start '2024-03-02 12:00'"],
    ),
    (
        "wi.csv",
        "item_id,team,created_at,resolved_at",
        "W9,red,2024-03-05,2024-03-04",
        "resolved_at",
        ["'2024-03-04' is before created_at '2024-03-05'"],
    ),
    (
        "wi.csv",
        "item_id,team,created_at,story_points",
        "W9,red,2024-03-05,-3",
        "story_points",
        ["'-3' is negative"],
    ),
    (
        "sp.csv",
        "sprint_id,team,start_date,end_date",
        "S9,red,2024-03-14,2024-03-01",
        "end_date",
        ["'2024-03-01' is before start_date '2024-03-14'"],
    ),
    (
        "sp.csv",
        "sprint_id,team,start_date,end_date",
        "S9,red,2024-03-01T10:00,2024-03-14",
        "start_date",
        ["'2024-03-01T10:00' is not a date (YYYY-MM-DD)"],
    ),
    (
        "sp.csv",
        "sprint_id,team,start_date,end_date",
        "S9,,2024-03-01,2024-03-14",
        "team",
        ["required value is missing"],
    ),
]


@pytest.mark.parametrize(("name", "header", "bad", "column", "words"), REJECTIONS)
def test_a_bad_row_is_rejected_and_the_good_rows_load(
    con, tmp_path, name, header, bad, column, words
):
    good = {
        INCIDENT_HEADER: "I1,web,3,2024-03-01 10:00,2024-03-01 11:00",
        "incident_id,priority,opened_at,effort_hours": "I1,3,2024-03-01,1.5",
        "incident_id,priority,opened_at,kind": "I1,3,2024-03-01,request",
        CHANGE_HEADER: "C1,standard,,2024-03-01,2024-03-01,successful",
        "change_id,change_type,requested_at,implemented_at,outcome,planned_start,planned_end": (
            "C1,normal,2024-03-01,2024-03-02,successful,2024-03-02 10:00,2024-03-02 11:00"
        ),
        "item_id,team,created_at,resolved_at": "W1,red,2024-03-01,2024-03-02",
        "item_id,team,created_at,story_points": "W1,red,2024-03-01,3",
        "sprint_id,team,start_date,end_date": "S1,red,2024-03-01,2024-03-14",
    }[header]
    # Rows 2 and 4 are good, row 3 is bad (the header is row 1).
    good2 = good.replace("1,", "2,", 1)
    path = write(tmp_path, name, f"{header}\n{good}\n{bad}\n{good2}\n")

    [summary] = load_paths(con, [path])

    assert (summary.inserted, summary.updated, summary.rejected) == (2, 0, 1)
    table = summary.kind
    assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 2
    problems = rejected(con)
    assert [(line, col) for line, col, _ in problems] == [(3, column)]
    for word in words:
        assert word in problems[0][2]
    assert problems[0][2].startswith(f"column {column}: ")
    assert summary.reasons == [f"row 3, {problems[0][2]}"]
    load_id, raw = con.execute("SELECT load_id, raw_row FROM rejected_rows").fetchone()
    assert raw == bad
    assert load_id == con.execute("SELECT load_id FROM load_log").fetchone()[0]


def test_a_row_with_several_problems_records_each(con, tmp_path):
    path = write(tmp_path, "inc.csv", f"{INCIDENT_HEADER}\nI1,web,7,noon,\n")
    [summary] = load_paths(con, [path])
    assert summary.rejected == 1  # one row, two problems
    assert [(line, col) for line, col, _ in rejected(con)] == [
        (2, "opened_at"),
        (2, "priority"),
    ]


def test_cancelled_change_may_omit_implemented_at(con, tmp_path):
    path = write(tmp_path, "chg.csv", f"{CHANGE_HEADER}\nC1,normal,,2024-03-01,,CANCELLED\n")
    [summary] = load_paths(con, [path])
    assert (summary.inserted, summary.rejected) == (1, 0)
    assert con.execute("SELECT implemented_at, outcome FROM changes").fetchone() == (
        None,
        "cancelled",
    )


def test_formula_and_html_text_is_stored_as_given(con, tmp_path):
    text = (
        "incident_id,service,team,priority,opened_at\n"
        '"=cmd|\' /C calc\'!A0",<script>alert(1)</script>,"@SUM(1+1)",2,2024-03-01\n'
    )
    [summary] = load_paths(con, [write(tmp_path, "inc.csv", text)])
    assert summary.inserted == 1
    assert con.execute("SELECT incident_id, service, team FROM incidents").fetchone() == (
        "=cmd|' /C calc'!A0",
        "<script>alert(1)</script>",
        "@SUM(1+1)",
    )


# --- conversion, defaults and derived values -------------------------------------------------


def test_timestamps_are_normalised_to_naive_utc(con, tmp_path):
    con.execute("SET TimeZone = 'America/New_York'")  # the session zone must not matter
    text = (
        "incident_id,priority,opened_at\n"
        "I1,1,2024-03-01T10:00:00+02:00\n"  # 10:00 at +02:00 is 08:00 UTC
        "I2,1,2024-03-01T10:00:00Z\n"  # already UTC
        "I3,1,2024-03-01 10:00\n"  # no offset means UTC
        "I4,1,2024-03-01T23:30:00-05:30\n"  # 23:30 + 5:30 = 05:00 the next day
        "I5,1,2024-03-01\n"  # a date is midnight UTC
        "I6,1,2024-03-01T10:00:00.250+0100\n"  # 09:00:00.25 UTC
        "I7,1, 2024-03-01 10:00:05 \n"  # surrounding spaces are trimmed
    )
    load_paths(con, [write(tmp_path, "inc.csv", text)])
    assert rows(con, "incidents") and dict(
        con.execute("SELECT incident_id, opened_at FROM incidents").fetchall()
    ) == {
        "I1": datetime(2024, 3, 1, 8, 0),
        "I2": datetime(2024, 3, 1, 10, 0),
        "I3": datetime(2024, 3, 1, 10, 0),
        "I4": datetime(2024, 3, 2, 5, 0),
        "I5": datetime(2024, 3, 1, 0, 0),
        "I6": datetime(2024, 3, 1, 9, 0, 0, 250000),
        "I7": datetime(2024, 3, 1, 10, 0, 5),
    }


def test_offsets_out_of_range_are_rejected(con, tmp_path):
    text = "incident_id,priority,opened_at\nI1,1,2024-03-01T10:00:00+25:00\nI2,1,01/03/2024\n"
    [summary] = load_paths(con, [write(tmp_path, "inc.csv", text)])
    assert summary.rejected == 2
    assert [col for _, col, _ in rejected(con)] == ["opened_at", "opened_at"]


def test_derived_approval_and_enum_case(con, tmp_path):
    text = (
        f"{CHANGE_HEADER}\n"
        "C1,Standard,,2024-03-01,2024-03-01,successful\n"  # standard -> pre-approved
        "C2,NORMAL,,2024-03-01,2024-03-02,Failed\n"  # normal -> cab
        "C3,emergency,,2024-03-01,2024-03-01,rolled_back\n"  # emergency -> ecab
        "C4,normal,Product-Owner,2024-03-01,2024-03-01,successful\n"  # given: kept
    )
    load_paths(con, [write(tmp_path, "chg.csv", text)])
    assert con.execute(
        "SELECT change_id, change_type, approval, outcome FROM changes ORDER BY 1"
    ).fetchall() == [
        ("C1", "standard", "pre-approved", "successful"),
        ("C2", "normal", "cab", "failed"),
        ("C3", "emergency", "ecab", "rolled_back"),
        ("C4", "normal", "product-owner", "successful"),
    ]


def test_derived_requirement_type_and_defaults(con, tmp_path):
    text = (
        "item_id,team,created_at,requirement_type,warranty_aspect,origin,story_points\n"
        "W1,red,2024-03-01,,,,3\n"  # nothing set: utility, business
        "W2,red,2024-03-01,,Security,operations,\n"  # an aspect makes it warranty
        "W3,red,2024-03-01,utility,,,0.5\n"  # given: kept
    )
    load_paths(con, [write(tmp_path, "wi.csv", text)])
    assert con.execute(
        "SELECT item_id, requirement_type, warranty_aspect, origin, story_points "
        "FROM work_items ORDER BY 1"
    ).fetchall() == [
        ("W1", "utility", None, "business", 3.0),
        ("W2", "warranty", "security", "operations", None),
        ("W3", "utility", None, "business", 0.5),
    ]
    incidents = "incident_id,priority,opened_at,kind\nI1,4,2024-03-01,\nI2,4,2024-03-01,Request\n"
    load_paths(con, [write(tmp_path, "inc.csv", incidents)])
    assert rows(con, "incidents", "1") == [
        ("I1", None, None, "incident", 4, datetime(2024, 3, 1), None, None, None, None),
        ("I2", None, None, "request", 4, datetime(2024, 3, 1), None, None, None, None),
    ]


def test_sprint_dates_and_points(con, tmp_path):
    text = (
        " Sprint_ID , TEAM ,name,start_date,end_date,committed_points,completed_points\n"
        "S1,red,Sprint 1,2024-03-01,2024-03-14,20,17.5\n"
    )
    [summary] = load_paths(con, [write(tmp_path, "sp.csv", text)])
    assert summary.kind == "sprints"
    assert rows(con, "sprints") == [
        ("S1", "red", "Sprint 1", date(2024, 3, 1), date(2024, 3, 14), 20.0, 17.5)
    ]


# --- duplicates, re-loads, overlaps, replace -------------------------------------------------


def test_duplicate_ids_in_one_file_the_later_row_wins(con, tmp_path):
    text = (
        f"{INCIDENT_HEADER}\n"
        "I1,web,1,2024-03-01,\n"
        "I2,web,2,2024-03-01,\n"
        "I1,db,3,2024-03-02,\n"  # supersedes row 2
        "I1,app,4,2024-03-03,\n"  # supersedes row 4: I1 ends as app/4
    )
    [summary] = load_paths(con, [write(tmp_path, "inc.csv", text)])
    # 4 valid rows, 2 distinct ids: 2 inserted, 2 superseded.
    assert (summary.inserted, summary.updated, summary.superseded) == (2, 0, 2)
    assert con.execute(
        "SELECT incident_id, service, priority FROM incidents ORDER BY 1"
    ).fetchall() == [
        ("I1", "app", 4),
        ("I2", "web", 2),
    ]
    assert con.execute("SELECT rows_superseded FROM load_log").fetchone() == (2,)


def test_loading_the_same_file_twice_updates_and_never_duplicates(con, tmp_path):
    text = f"{INCIDENT_HEADER}\nI1,web,1,2024-03-01,\nI2,web,2,2024-03-01,\nI3,web,x,2024-03-01,\n"
    path = write(tmp_path, "inc.csv", text)
    [first] = load_paths(con, [path])
    before = rows(con, "incidents")
    [second] = load_paths(con, [path])
    assert (first.inserted, first.updated, first.rejected) == (2, 0, 1)
    assert (second.inserted, second.updated, second.rejected) == (0, 2, 1)
    assert rows(con, "incidents") == before
    assert leftovers(con) == []
    log = con.execute(
        "SELECT load_id, file_name, sha256, kind, rows_inserted, rows_updated, rows_rejected, "
        "replaced FROM load_log ORDER BY load_id"
    ).fetchall()
    import hashlib

    digest = hashlib.sha256(text.encode()).hexdigest()
    assert [row[1:] for row in log] == [
        (str(path), digest, "incidents", 2, 0, 1, False),
        (str(path), digest, "incidents", 0, 2, 1, False),
    ]
    # Each load records its own rejected row.
    assert con.execute(
        "SELECT load_id, line_number FROM rejected_rows ORDER BY load_id"
    ).fetchall() == [(log[0][0], 4), (log[1][0], 4)]


def test_an_overlapping_export_updates_by_id(con, tmp_path):
    first = write(
        tmp_path, "a.csv", f"{INCIDENT_HEADER}\nI1,web,1,2024-03-01,\nI2,web,2,2024-03-01,\n"
    )
    second = write(
        tmp_path,
        "b.csv",
        f"{INCIDENT_HEADER}\nI2,db,3,2024-03-01,2024-03-02\nI3,web,4,2024-03-02,\n",
    )
    load_paths(con, [first])
    [summary] = load_paths(con, [second])
    assert (summary.inserted, summary.updated) == (1, 1)
    assert con.execute(
        "SELECT incident_id, service, priority FROM incidents ORDER BY 1"
    ).fetchall() == [
        ("I1", "web", 1),
        ("I2", "db", 3),
        ("I3", "web", 4),
    ]


def test_replace_keeps_only_the_files_valid_rows(con, tmp_path):
    old = f"{INCIDENT_HEADER}\nI1,web,1,2024-03-01,\nI2,web,2,2024-03-01,\nI3,web,3,2024-03-01,\n"
    load_paths(con, [write(tmp_path, "old.csv", old)])
    load_paths(
        con,
        [write(tmp_path, "chg.csv", f"{CHANGE_HEADER}\nC1,normal,,2024-03-01,2024-03-01,failed\n")],
    )
    new = f"{INCIDENT_HEADER}\nI2,db,4,2024-03-01,\nI4,db,4,2024-03-01,\nI5,db,9,2024-03-01,\n"
    [summary] = load_paths(con, [write(tmp_path, "new.csv", new)], replace=True)
    # I2 existed (updated), I4 is new (inserted), I5 rejected; I1 and I3 removed.
    assert (summary.inserted, summary.updated, summary.rejected, summary.removed) == (1, 1, 1, 2)
    assert summary.replaced
    assert con.execute("SELECT incident_id, service FROM incidents ORDER BY 1").fetchall() == [
        ("I2", "db"),
        ("I4", "db"),
    ]
    assert con.execute("SELECT count(*) FROM changes").fetchone() == (1,)  # other kinds untouched
    assert con.execute("SELECT replaced FROM load_log ORDER BY load_id").fetchall() == [
        (False,),
        (False,),
        (True,),
    ]
    # The re-created table still refuses duplicate ids.
    with pytest.raises(duckdb.ConstraintException):
        con.execute(
            "INSERT INTO incidents (incident_id, priority, opened_at) VALUES ('I2', 1, now())"
        )


def test_replace_with_two_files_of_a_kind_keeps_both(con, tmp_path):
    load_paths(con, [write(tmp_path, "old.csv", f"{INCIDENT_HEADER}\nI1,web,1,2024-03-01,\n")])
    a = write(tmp_path, "a.csv", f"{INCIDENT_HEADER}\nI2,web,1,2024-03-01,\n")
    b = write(tmp_path, "b.csv", f"{INCIDENT_HEADER}\nI3,web,1,2024-03-01,\n")
    load_paths(con, [a, b], replace=True)
    assert con.execute("SELECT incident_id FROM incidents ORDER BY 1").fetchall() == [
        ("I2",),
        ("I3",),
    ]


# --- kinds and headers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("sprint_id,team,start_date,end_date", "sprints"),
        ("item_id,team,sprint_id,created_at", "work_items"),  # sprint_id does not make it a sprint
        ("change_id,change_type,requested_at,outcome,sprint_id", "changes"),
        ("incident_id,priority,opened_at,caused_by_change", "incidents"),
        ("number,short_description,opened_at", None),
    ],
)
def test_detect_kind(header, kind):
    assert detect_kind(header.split(",")) == kind


def test_unknown_columns_are_ignored_with_a_warning(con, tmp_path):
    text = "incident_id,priority,opened_at,assignee,Notes\nI1,2,2024-03-01,ann,x\n"
    [summary] = load_paths(con, [write(tmp_path, "inc.csv", text)])
    assert summary.inserted == 1
    assert summary.warnings == ["ignored unknown column(s): assignee, Notes"]


def test_kind_can_be_given(con, tmp_path):
    path = write(tmp_path, "x.csv", "item_id,team,created_at\nW1,red,2024-03-01\n")
    with pytest.raises(LoadError, match="x.csv: missing required column"):
        load_paths(con, [path], kind="incidents")
    [summary] = load_paths(con, [path], kind="work_items")
    assert summary.kind == "work_items"


# --- CSV details ------------------------------------------------------------------------------


def test_bom_crlf_quoted_newlines_and_trailing_blank_lines(con, tmp_path):
    text = (
        "\ufeffincident_id,service,priority,opened_at\r\n"
        'I1,"web, ""front""\r\nend",1,2024-03-01\r\n'  # row 2 spans two physical lines
        "I2,db,9,2024-03-01\r\n"  # row 3 (one rejection)
        "\r\n\r\n"
    )
    [summary] = load_paths(con, [write(tmp_path, "inc.csv", text)])
    assert (summary.inserted, summary.rejected) == (1, 1)
    assert con.execute("SELECT incident_id, service FROM incidents").fetchone() == (
        "I1",
        'web, "front"\r\nend',
    )
    assert rejected(con) == [(3, "priority", "column priority: 9 is outside 1-4")]


# --- file-level problems ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"bad.csv: the file is empty"),
        (b"\n\n", r"bad.csv: the file is empty"),
        (b"incident_id,priority,opened_at\n", r"bad.csv: has a header \(line 1\) but no data rows"),
        (b"\x00\x01\x02binary\x00", r"bad.csv: is not a CSV text file"),
        (b"PK\x03\x04rest-of-zip", r"bad.csv: looks like an Excel workbook"),
        ("incident_id,service\nI1,caf\u00e9\n".encode("latin-1"), r"bad.csv: is not UTF-8 encoded"),
        (
            "incident_id,priority,opened_at\n"
            + "I1,1,2024-03-01\n" * 5000
            + "I2,caf\u00e9,2024-03-01\n",
            r"bad.csv: is not UTF-8 encoded",
        ),
        (
            b"incident_id,service\nI1,web\n",
            r"bad.csv: missing required column\(s\) priority, opened_at for incidents; "
            r"found: incident_id, service$",
        ),
        (
            b"number;priority\nX;1\n",
            r"bad.csv: cannot tell the record kind .*found: number;priority",
        ),
        (
            b"incident_id,priority,opened_at\nI1,1,2024-03-01\nI2,1,2024-03-01,extra\n",
            r"bad.csv: malformed CSV near line 3: Expected Number of Columns: 3 Found: 4",
        ),
        (
            b'incident_id,priority,opened_at\nI1,1,"2024-03-01\n',
            r"bad.csv: malformed CSV",
        ),
        (b"incident_id,priority,priority,opened_at\nI1,1,1,x\n", r"column priority appears twice"),
    ],
)
def test_file_level_problems_raise_load_error(con, tmp_path, content, message):
    if isinstance(content, str):
        content = content.encode("latin-1")
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(LoadError, match=message) as info:
        load_paths(con, [path])
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)
    assert con.execute("SELECT count(*) FROM load_log").fetchone() == (0,)


def test_missing_file_and_directory(con, tmp_path):
    with pytest.raises(LoadError, match="nope.csv: cannot read the file"):
        load_paths(con, [tmp_path / "nope.csv"])
    with pytest.raises(LoadError, match="is a directory"):
        load_paths(con, [tmp_path])


def test_one_bad_file_leaves_the_database_exactly_unchanged(con, tmp_path):
    load_paths(
        con,
        [
            write(
                tmp_path,
                "seed.csv",
                f"{INCIDENT_HEADER}\nI1,web,1,2024-03-01,\nI2,web,x,2024-03-01,\n",
            )
        ],
    )
    before = everything(con)
    good_sprints = write(
        tmp_path, "sp.csv", "sprint_id,team,start_date,end_date\nS1,red,2024-03-01,2024-03-14\n"
    )
    good_incidents = write(
        tmp_path, "inc.csv", f"{INCIDENT_HEADER}\nI1,db,4,2024-03-01,\nI3,web,9,2024-03-01,\n"
    )
    bad = write(tmp_path, "chg.csv", "change_id,change_type,requested_at\nC1,normal,2024-03-01\n")
    with pytest.raises(LoadError, match="chg.csv: missing required column\\(s\\) outcome"):
        load_paths(con, [good_sprints, good_incidents, bad], replace=True)
    assert everything(con) == before
    assert leftovers(con) == []
    # The connection is usable afterwards: the transaction was rolled back, not left open.
    [summary] = load_paths(con, [good_sprints])
    assert summary.inserted == 1


# --- uploads, the staging interface, cursors --------------------------------------------------


def test_load_sources_uses_the_display_name_and_kind(con):
    sources = [
        Source("export (1).csv", b"item_id,team,created_at\nW1,red,2024-03-01\n"),
        Source(
            "odd name.txt",
            b"sprint_id,team,start_date,end_date\nS1,red,2024-03-01,2024-03-01\n",
            "sprints",
        ),
    ]
    summaries = load_sources(con, sources)
    assert [(s.file_name, s.kind, s.inserted) for s in summaries] == [
        ("export (1).csv", "work_items", 1),
        ("odd name.txt", "sprints", 1),
    ]
    with pytest.raises(LoadError, match=r"^\.\./\.\./etc/passwd: the file is empty$"):
        load_sources(con, [Source("../../etc/passwd", b"")])


def test_load_staged_is_the_importers_core(con):
    # An importer's staging table: canonical names as text, plus __line and __raw.
    con.execute(
        """
        CREATE TEMP TABLE staged AS SELECT * FROM (VALUES
            ('CHG1', 'Normal', '2024-03-01 09:00+01', '2024-03-01 12:00', 'successful', 10, 'r10'),
            ('CHG2', 'odd', '2024-03-01', '2024-03-02', 'failed', 11, 'r11'),
            ('CHG1', 'emergency', '2024-03-01', '2024-03-01', 'failed', 12, 'r12')
        ) t(change_id, change_type, requested_at, implemented_at, outcome, __line, __raw)
        """
    )
    con.execute("BEGIN")
    summary = load_staged(con, "changes", "staged", file_name="sn.xlsx", sha256="abc")
    con.execute("COMMIT")
    # CHG1 twice (line 12 wins), CHG2 rejected.
    assert (summary.inserted, summary.superseded, summary.rejected) == (1, 1, 1)
    assert summary.reasons == [
        "row 11, column change_type: 'odd' is not one of standard, normal, emergency"
    ]
    assert con.execute("SELECT change_id, change_type, approval FROM changes").fetchall() == [
        ("CHG1", "emergency", "ecab")
    ]
    assert con.execute("SELECT file_name, line_number, raw_row FROM rejected_rows").fetchall() == [
        ("sn.xlsx", 11, "r11")
    ]
    con.execute("CREATE TEMP TABLE partial AS SELECT 'X' AS change_id, 2 AS __line, '' AS __raw")
    with pytest.raises(LoadError, match="sn.xlsx: missing required column"):
        load_staged(con, "changes", "partial", file_name="sn.xlsx", sha256="abc")


def test_works_on_a_cursor(tmp_path):
    db = connect(tmp_path / "shared.duckdb")
    cursor = db.cursor()
    [summary] = load_paths(
        cursor, [write(tmp_path, "inc.csv", f"{INCIDENT_HEADER}\nI1,web,1,2024-03-01,\n")]
    )
    assert summary.inserted == 1
    assert db.cursor().execute("SELECT count(*) FROM incidents").fetchone() == (1,)
    cursor.close()
    db.close()


# --- the demo database ------------------------------------------------------------------------


def test_build_demo_database_is_atomic(tmp_path, monkeypatch):
    demo = tmp_path / "demo"
    demo.mkdir()
    write(demo, "sprints.csv", "sprint_id,team,start_date,end_date\nS1,red,2024-03-01,2024-03-14\n")
    write(demo, "incidents.csv", f"{INCIDENT_HEADER}\nI1,web,1,2024-03-01,\nI2,web,2,2024-03-02,\n")
    monkeypatch.setattr("analytics.store.DEMO_DIR", demo)
    target = tmp_path / "out" / "cadence.duckdb"

    summaries = loader.build_demo_database(target)
    assert [(s.kind, s.inserted) for s in summaries] == [("sprints", 1), ("incidents", 2)]
    check = connect(target, read_only=True)
    assert check.execute("SELECT count(*) FROM incidents").fetchone() == (2,)
    check.close()

    # A broken demo file leaves the existing database as it was, and no temp files behind.
    write(demo, "changes.csv", "change_id\nC1\n")
    with pytest.raises(LoadError, match="changes.csv: missing required column"):
        loader.build_demo_database(target)
    check = connect(target, read_only=True)
    assert check.execute("SELECT count(*) FROM incidents").fetchone() == (2,)
    check.close()
    assert sorted(p.name for p in target.parent.iterdir()) == ["cadence.duckdb"]


def test_build_demo_database_without_demo_files(tmp_path, monkeypatch):
    monkeypatch.setattr("analytics.store.DEMO_DIR", tmp_path)
    with pytest.raises(LoadError, match="no demo data"):
        loader.build_demo_database(tmp_path / "x.duckdb")


# --- templates --------------------------------------------------------------------------------

TEMPLATES = Path(__file__).resolve().parent.parent / "data" / "templates"


def test_every_kind_has_a_template_that_loads_cleanly(con):
    from analytics.schema import KINDS

    for kind in KINDS.values():
        path = TEMPLATES / f"{kind.name}.csv"
        header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
        assert header == kind.column_names, kind.name
        [summary] = load_paths(con, [path])
        assert (summary.kind, summary.inserted, summary.rejected) == (kind.name, 2, 0)
        assert summary.warnings == []
