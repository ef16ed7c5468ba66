"""Property-based tests: malformed files never crash the importer and a refused file never
changes the database.

Hypothesis feeds random bytes, ragged rows, wrong types, odd quoting and huge fields under real
export headers; each import must either return summaries or raise LoadError, and after a
LoadError every table must be exactly as before.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.importers import import_sources
from analytics.importers.sniff import AmbiguousDates, detect_date_format
from analytics.loader import FileSummary, LoadError, Source
from analytics.store import connect

TABLES = ("sprints", "work_items", "changes", "incidents", "load_log", "rejected_rows")

# Real export headers, each with one valid row that the fuzzer then damages cell by cell.
HEADERS = [
    (
        ["change_id", "change_type", "requested_at", "implemented_at", "outcome"],
        ["C1", "normal", "2026-01-05 10:00", "2026-01-06 10:00", "successful"],
    ),
    (
        ["incident_id", "priority", "opened_at", "resolved_at", "effort_hours"],
        ["I1", "2", "2026-01-05 10:00", "2026-01-05 12:00", "1.5"],
    ),
    (
        ["number", "type", "risk", "state", "close_code", "cab_required", "opened_at", "work_end"],
        ["CHG0030001", "Normal", "Low", "Closed", "successful", "true", "2026-01-05 10:00:00",
         "2026-01-06 10:00:00"],
    ),
    (
        ["number", "priority", "caused_by", "opened_at", "resolved_at", "sys_updated_on"],
        ["INC1", "1 - Critical", "CHG0030001", "05.01.2026 10:00", "05.01.2026 12:00",
         "05.01.2026 12:00"],
    ),
    (
        ["Issue key", "Issue Type", "Created", "Resolved", "Sprint", "Sprint", "Labels", "Labels"],
        ["PAY-1", "Story", "12/Jan/26 3:04 PM", "", "S1", "S2", "security", ""],
    ),
    (
        ["Sprint Name", "Start Date", "End Date", "Committed"],
        ["S1", "2026-01-05", "2026-01-16", "8"],
    ),
    (["foo", "bar"], ["1", "2"]),
]  # fmt: skip
TRICKY = [
    "", "N/A", "?", "-", "NULL", "#MULTIVALUE", "2026-01-05", "2026-13-45T99:99",
    "05.01.2026 10:00", "13/01/2026", "01/13/2026", "12/Mär/26 3:04 PM", "1,5", "1.234,5",
    "-3", "1e400", "nan", "inf", "99999999999999999999", "5 - Planning", "normal",
    "successful", "unsuccessful", "Canceled", "true", '"', '""', "\n", "\r\n", ";", ",", "\t",
    "\x00", "\ufeff", "é", "😀",
]  # fmt: skip
cells = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=12),
    st.just("x" * 150_000),  # a huge field
)


def snapshot(con) -> dict[str, list]:
    return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}


@pytest.fixture(scope="module")
def fuzz_con():
    """One database for all examples (each example compares before/after itself)."""
    con = connect(":memory:")
    con.execute(
        "INSERT INTO changes (change_id, change_type, approval, requested_at, "
        "implemented_at, outcome) VALUES ('CHG0030001', 'normal', 'cab', "
        "TIMESTAMP '2026-01-01 10:00', TIMESTAMP '2026-01-02 10:00', 'successful')"
    )
    yield con
    con.close()


def check_import(con, source: Source, preset: str | None) -> None:
    """The property: a summary list, or a one-line LoadError and an unchanged database."""
    before = snapshot(con)
    try:
        result = import_sources(con, [source], preset=preset)
    except LoadError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message
        assert snapshot(con) == before
        return
    assert result and all(isinstance(s, FileSummary) for s in result)


@st.composite
def damaged_row(draw, valid: list[str]) -> list[str]:
    """The valid row with some cells replaced, and maybe cut short or extended."""
    row = [draw(cells) if draw(st.integers(0, 3)) == 0 else v for v in valid]
    if draw(st.integers(0, 4)) > 0:  # most rows keep their width
        return row
    cut = draw(st.integers(0, len(row) + 2))
    return row[:cut] if cut <= len(row) else row + [draw(cells) for _ in range(cut - len(row))]


@st.composite
def delimited_files(draw) -> bytes:
    header, valid = draw(st.sampled_from(HEADERS))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    body = draw(st.lists(damaged_row(valid), min_size=1, max_size=6))
    out = io.StringIO()
    if draw(st.booleans()):  # properly quoted
        newline = draw(st.sampled_from(["\n", "\r\n"]))
        writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(body)
    else:  # naive join: stray quotes, unbalanced fields
        out.write("\n".join(delimiter.join(r) for r in [header, *body]))
    text = out.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    return text.encode(encoding, errors="replace")


PRESET_CHOICES = st.sampled_from(
    [None, None, "servicenow-change", "servicenow-incident", "jira-issues", "jira-sprints"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=delimited_files(), preset=PRESET_CHOICES, name=st.sampled_from(["a.csv", "b.xlsx"]))
def test_malformed_text_files_never_crash(fuzz_con, data, preset, name):
    check_import(fuzz_con, Source(name, data), preset)


@settings(max_examples=30, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=3000),
        st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b),  # a broken "workbook"
        st.binary(max_size=200).map(lambda b: b"number,type\n" + b),
    ),
    name=st.sampled_from(["x.csv", "x.xlsx", "x"]),
)
def test_random_bytes_never_crash(fuzz_con, data, name):
    check_import(fuzz_con, Source(name, data), None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=25), st.sampled_from(TRICKY)), max_size=20))
def test_date_detection_answers_or_asks(values):
    try:
        fmt = detect_date_format(values)
    except AmbiguousDates as exc:
        assert "date format" in str(exc)
        return
    assert isinstance(fmt.formats, tuple)


@settings(max_examples=25, deadline=None)
@given(
    moments=st.lists(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31)),
        min_size=1,
        max_size=8,
    ),
    style=st.sampled_from(["%d.%m.%Y %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%d-%m-%Y"]),
)
def test_non_iso_dates_round_trip(fuzz_con, moments, style):
    """Whatever the convention, a date written in it is stored as the same moment, or the
    file asks for a date format (when no value proves the day/month order)."""
    moments = [m.replace(second=0, microsecond=0) for m in moments]
    if "%H" not in style and "%I" not in style:
        moments = [m.replace(hour=0, minute=0) for m in moments]
    lines = ["incident_id;priority;opened_at"]
    lines += [f"FZ-{i};3;{m.strftime(style)}" for i, m in enumerate(moments)]
    source = Source("dates.csv", ("\n".join(lines) + "\n").encode())
    fuzz_con.execute("DELETE FROM incidents WHERE incident_id LIKE 'FZ-%'")
    try:
        import_sources(fuzz_con, [source])
    except LoadError as exc:
        assert "could be day-first or month-first" in str(exc)
        return
    stored = fuzz_con.execute(
        "SELECT opened_at FROM incidents WHERE incident_id LIKE 'FZ-%' "
        "ORDER BY CAST(substr(incident_id, 4) AS INTEGER)"
    ).fetchall()
    assert [r[0] for r in stored] == moments
