"""Hostile input that used to get through (issue #13, "Safe to share"): each hostile file is made
here, in tmp_path; each refusal must name the file (and the line, row and column where there is
one) and leave the database exactly as it was; loads stay one transaction.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from analytics.filters import Filter
from analytics.importers import import_paths, import_sources, inspect_bytes
from analytics.importers import source as excel
from analytics.loader import (
    MAX_COLUMNS,
    RETRY_MESSAGE,
    LoadError,
    Source,
    database_error_message,
    format_summary,
    load_paths,
)
from analytics.store import connect
from tests import builders as b
from ui.state import FilterState, parse_query, resolve

D = dt.date
RECORDS = ("sprints", "work_items", "changes", "incidents", "improvements")
LOGS = ("load_log", "rejected_rows")
INCIDENTS = "incident_id,service,team,priority,opened_at\n"
GOOD = "".join(f"I{i},web,Payments,2,2026-01-0{i + 1} 10:00\n" for i in range(5))
LOADERS = [load_paths, import_paths]


def table_rows(con, tables=RECORDS + LOGS) -> dict[str, list]:
    return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}


@pytest.fixture
def con():
    """A database that already holds data (five incidents of team Payments, one sprint)."""
    c = connect(":memory:")
    c.execute(
        "INSERT INTO incidents (incident_id, service, team, kind, priority, opened_at) "
        "SELECT 'OLD' || i, 'web', 'Payments', 'incident', 3, TIMESTAMP '2026-01-01' "
        "FROM range(5) r(i)"
    )
    c.execute(
        "INSERT INTO sprints VALUES ('S0', 'Payments', 'Sprint 0', DATE '2026-01-05', "
        "DATE '2026-01-16', 10, 8)"
    )
    yield c
    c.close()


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def refused(con, load, path: Path, pattern: str) -> str:
    """Load ``path``, expect a one-line LoadError matching ``pattern`` and no change at all."""
    before = table_rows(con)
    with pytest.raises(LoadError, match=pattern) as info:
        load(con, [path])
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert table_rows(con) == before
    return message


# --- 1. extreme dates -------------------------------------------------------------------------


@pytest.mark.parametrize("load", LOADERS)
def test_rows_dated_9999_or_0001_are_rejected_naming_row_and_column(con, tmp_path, load):
    path = write(
        tmp_path,
        "dates.csv",
        INCIDENTS
        + "I1,web,Payments,2,9999-12-31\n"  # row 2
        + "I2,web,Payments,2,0001-01-01 00:00\n"  # row 3
        + "I3,web,Payments,2,2100-12-31T23:00:00-05:00\n"  # row 4: 2101-01-01 04:00 UTC
        + "I4,web,Payments,2,1970-01-01\n",  # row 5: the first accepted day
    )
    records = table_rows(con, RECORDS)
    (summary,) = load(con, [path])
    assert (summary.inserted, summary.rejected) == (1, 3)
    reason = "is outside the accepted dates 1970-01-01 to 2100-12-31"
    assert summary.reasons == [
        f"row 2, column opened_at: '9999-12-31' {reason}",
        f"row 3, column opened_at: '0001-01-01 00:00' {reason}",
        f"row 4, column opened_at: '2100-12-31T23:00:00-05:00' {reason}",
    ]
    assert format_summary(summary).startswith(f"{path}: incidents: 1 inserted")
    stored = con.execute("SELECT opened_at FROM incidents WHERE incident_id = 'I4'").fetchall()
    assert stored == [(dt.datetime(1970, 1, 1),)]
    # Nothing but the one good row reached the records.
    con.execute("DELETE FROM incidents WHERE incident_id = 'I4'")
    assert table_rows(con, RECORDS) == records


def test_sprint_dates_out_of_range_are_rejected(con, tmp_path):
    path = write(
        tmp_path,
        "sprints.csv",
        "sprint_id,team,start_date,end_date\nS9,Payments,9999-12-30,9999-12-31\n",
    )
    before = table_rows(con, RECORDS)
    (summary,) = load_paths(con, [path])
    assert summary.rejected == 1
    assert summary.reasons == [
        "row 2, column start_date: '9999-12-30' is outside the accepted dates "
        "1970-01-01 to 2100-12-31"
    ]
    problems = con.execute(
        "SELECT file_name, line_number, column_name FROM rejected_rows ORDER BY column_name"
    ).fetchall()
    assert problems == [(str(path), 2, "end_date"), (str(path), 2, "start_date")]
    assert table_rows(con, RECORDS) == before


def test_url_to_9999_is_clamped_with_a_note():
    state = parse_query({"to": ["9999-12-31"], "from": ["0001-01-01"]})
    assert (state.preset, state.start, state.end) == ("custom", D(1970, 1, 1), D(2100, 12, 31))
    assert state.note == (
        "from 0001-01-01 is outside the dates Cadence reads (1970-01-01 to 2100-12-31); using "
        "1970-01-01; to 9999-12-31 is outside the dates Cadence reads (1970-01-01 to "
        "2100-12-31); using 2100-12-31"
    )
    flt = resolve(state, (D(2025, 1, 1), D(2026, 6, 30)), D(2026, 11, 30))
    assert flt == Filter(D(1970, 1, 1), D(2100, 12, 31))
    assert flt.end_ts == dt.datetime(2101, 1, 1)  # used to raise OverflowError
    assert flt.previous_period().start == D(1970, 1, 1) - dt.timedelta(days=flt.window_days)
    # A database loaded before the bounds may hold such dates: "All data" is clamped too.
    everything = resolve(FilterState("all"), (D(1, 1, 1), D(9999, 12, 31)), D(2026, 11, 30))
    assert everything == Filter(D(1970, 1, 1), D(2026, 11, 30))
    assert parse_query({"to": ["2026-03-31"]}).note == ""


def one_incident_db(path: Path) -> Path:
    """A database at ``path`` with one P2 incident of Payments, opened 2026-01-05; returns path."""
    c = connect(path)
    b.incident(c, "I1", "2026-01-05 00:00", team="Payments", priority=2)
    c.close()
    return path


def _sidebar_script():
    import streamlit as st

    from ui.sidebar import filters

    flt = filters()
    st.text(flt.end.isoformat())
    st.text(str(flt.end_ts))  # raised OverflowError for 9999-12-31


def test_dashboard_opens_a_link_to_9999_with_a_note(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    db = one_incident_db(tmp_path / "cadence.duckdb")
    monkeypatch.setenv("CADENCE_DB", str(db))
    at = AppTest.from_function(_sidebar_script, default_timeout=60)
    at.query_params["to"] = "9999-12-31"
    at.run()
    assert not at.exception
    assert at.text[0].value == "2100-12-31"
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "to 9999-12-31 is outside the dates Cadence reads" in captions
    assert "31 Dec 2100" in captions


def test_report_to_9999_is_clamped_with_a_note(tmp_path, capsys):
    db = one_incident_db(tmp_path / "r.duckdb")
    code = main(["report", "--db", str(db), "--to", "9999-12-31"])
    out, err = capsys.readouterr()
    assert code == 0
    assert err == (
        "note: --to 9999-12-31 is outside the dates Cadence reads (1970-01-01 to 2100-12-31); "
        "using 2100-12-31\n"
    )
    assert out.startswith("Cadence report 2026-01-05 .. 2100-12-31 (27389 days)\n")


# --- 2. UTF-8 with one bad byte past the sniffed sample ---------------------------------------

FILLER = "".join(f"F{i},Kasse Süd,Payments,3,2026-02-01\n" for i in range(9000))  # ~330 KB


def test_utf8_file_with_a_bad_byte_after_256_kb_is_refused_with_its_line(con, tmp_path):
    data = (INCIDENTS + FILLER).encode() + b"X1,caf\xe9,Payments,3,2026-02-01\n"
    assert len(data) > 256 * 1024
    path = write(tmp_path, "mixed.csv", data)
    message = refused(
        con, import_paths, path, r"is UTF-8 but for byte 0xe9 on line 9002, which is not valid"
    )
    assert message.endswith("fix that line or save the file again as CSV UTF-8")
    # The loader on its own (DuckDB reads the file) names the line as well.
    refused(con, load_paths, path, r"is not UTF-8 encoded \(near line 9002\)")


def test_windows_1252_after_256_kb_of_ascii_is_still_read_as_windows_1252(con, tmp_path):
    ascii_filler = FILLER.replace("Süd", "Sued")
    path = write(
        tmp_path, "cp1252.csv", (INCIDENTS + ascii_filler + "X1,Kasse Süd,Payments,3,2026-02-01\n")
        .encode("cp1252"),
    )  # fmt: skip
    (summary,) = import_paths(con, [path])
    assert summary.inserted == 9001
    stored = con.execute("SELECT service FROM incidents WHERE incident_id = 'X1'").fetchall()
    assert stored == [("Kasse Süd",)]


# --- 3. an over-long line; a header-only file over 64 KB --------------------------------------

BIG = 33 * 1024 * 1024  # DuckDB's buffer is 32 MB: such a line at the end vanished unnoticed


@pytest.fixture(scope="module")
def long_lines(tmp_path_factory) -> dict[str, Path]:
    """Files with a 33 MB line: last (it was dropped silently), and mid-file."""
    folder = tmp_path_factory.mktemp("long")
    huge = "IX,web,Payments,2,2026-01-01," + "x" * BIG + "\n"
    header = INCIDENTS.replace("opened_at", "opened_at,notes")
    good = GOOD.replace("\n", ",ok\n")
    lines = good.splitlines(keepends=True)
    files = {
        "last": header + good + huge,
        "middle": header + "".join(lines[:2]) + huge + "".join(lines[2:]),
    }
    out = {}
    for name, text in files.items():
        out[name] = folder / f"{name}.csv"
        out[name].write_text(text, encoding="utf-8")
    return out


@pytest.mark.parametrize("load", LOADERS)
def test_a_33_mb_last_line_is_refused_not_dropped(con, long_lines, load):
    refused(
        con, load, long_lines["last"],
        r"line 7 is 34,603,037 bytes long; lines of at most 2,000,000 bytes are read",
    )  # fmt: skip


@pytest.mark.parametrize("load", LOADERS)
def test_a_33_mb_line_mid_file_is_refused_with_its_line(con, long_lines, load):
    refused(con, load, long_lines["middle"], r"line 4 is 34,603,037 bytes long")


@pytest.mark.parametrize("load", LOADERS)
def test_a_3_mb_row_mid_file_is_refused_with_the_file_name(con, tmp_path, load):
    path = write(
        tmp_path, "mid.csv",
        INCIDENTS + GOOD + "IX,web,Payments,2,2026-01-01" + "y" * (3 << 20) + "\n" + GOOD,
    )  # fmt: skip
    refused(con, load, path, r"line 7 is 3,145,756 bytes long")


@pytest.mark.parametrize("load", LOADERS)
def test_a_header_only_file_over_64_kb_is_refused(con, tmp_path, load):
    path = write(tmp_path, "blank.csv", INCIDENTS + "\n" * 70_000)
    refused(con, load, path, r"has a header \(line 1\) but no data rows$")


@pytest.mark.parametrize("load", LOADERS)
def test_a_header_over_64_kb_is_refused(con, tmp_path, load):
    extra = ",".join(f"extra_column_{i}" for i in range(9000))  # 150 KB
    path = write(tmp_path, "wide.csv", INCIDENTS.rstrip("\n") + "," + extra + "\n")
    refused(con, load, path, r"the header \(line 1\) is longer than 64 KB; at most 500 columns")


# --- 4. Excel bombs ---------------------------------------------------------------------------

_SHEET = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<dimension ref="{dimension}"/><sheetData>'
)


def _workbook(tmp_path: Path, name: str, dimension: str, rows: int, strings: int = 0) -> Path:
    """A real workbook (made by openpyxl) whose sheet is rewritten with ``rows`` numeric rows and
    a stated ``dimension``; ``strings`` bytes of one shared string, streamed into the zip."""
    import openpyxl

    plain = tmp_path / "plain.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["incident_id", "priority", "opened_at"])
    book.active.append(["I1", "hello", 2])
    book.save(plain)
    path = tmp_path / name
    with (
        zipfile.ZipFile(plain) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out,
    ):
        for item in src.infolist():
            if item.filename == "xl/worksheets/sheet1.xml":
                with out.open(item.filename, "w") as fh:
                    fh.write(_SHEET.format(dimension=dimension).encode())
                    block = "".join(
                        f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><v>2</v></c></row>'
                        for r in range(1, rows + 1)
                    )
                    fh.write(block.encode() + b"</sheetData></worksheet>")
            else:
                out.writestr(item, src.read(item.filename))
        if strings:  # only the zip's directory is read: no content type or relation needed
            with out.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
                fh.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
                         b'main" count="1" uniqueCount="1"><si><t>')  # fmt: skip
                chunk = b"a" * (1 << 22)
                for _ in range(strings // len(chunk)):
                    fh.write(chunk)
                fh.write(b"</t></si></sst>")
    return path


@pytest.fixture(scope="module")
def string_bomb(tmp_path_factory) -> Path:
    return _workbook(tmp_path_factory.mktemp("bomb"), "bomb.xlsx", "A1:B1", 1, 300 << 20)


def test_a_300_mb_shared_string_is_refused_before_parsing(con, string_bomb):
    assert string_bomb.stat().st_size < 3 << 20  # a few MB on disk (fast compression)
    start = time.perf_counter()
    message = refused(
        con, import_paths, string_bomb,
        r"the workbook unpacks to 300 MB; at most 256 MB are read: export it as CSV",
    )  # fmt: skip
    assert "another import" not in message
    assert time.perf_counter() - start < 10  # parsing took 33 s and 2.2 GB
    # The Data page's first look at an upload refuses it the same way.
    with pytest.raises(LoadError, match=r"^up.xlsx: the workbook unpacks to 300 MB"):
        inspect_bytes("up.xlsx", string_bomb.read_bytes())


def test_shared_strings_over_64_mb_are_refused(con, tmp_path):
    path = _workbook(tmp_path, "strings.xlsx", "A1:B1", 1, 80 << 20)
    refused(con, import_paths, path, r"the workbook's text cells unpack to 80 MB; at most 64 MB")


def test_200000_rows_in_a_small_workbook_are_refused_before_parsing(con, tmp_path):
    path = _workbook(tmp_path, "rows.xlsx", "A1:B200000", 200_000)
    assert path.stat().st_size < 3 << 20
    start = time.perf_counter()
    refused(
        con, import_paths, path,
        r"the first sheet has 200,000 rows; at most 100,000 are read from Excel: export it as CSV",
    )  # fmt: skip
    assert time.perf_counter() - start < 10  # parsing took 33 s and 2.2 GB


def test_a_sheet_that_understates_its_dimension_stops_at_the_row_limit(con, tmp_path, monkeypatch):
    monkeypatch.setattr(excel, "MAX_XLSX_ROWS", 50)
    path = _workbook(tmp_path, "lies.xlsx", "A1:B2", 120)
    refused(con, import_paths, path, r"the first sheet has 51 rows; at most 50 are read")
    monkeypatch.setattr(excel, "MAX_XLSX_ROWS", 100_000)
    monkeypatch.setattr(excel, "MAX_XLSX_CELLS", 100)
    refused(con, import_paths, path, r"the first sheet has more than 100 cells \(by row 51\)")


# --- 5. the real cause of a failed write ------------------------------------------------------

DISK_FULL = (  # DuckDB 2.0's own words, from a commit on a full 2 MB tmpfs
    'TransactionContext Error: Failed to commit: Could not write file "/mnt/cadence.duckdb.wal": '
    "No space left on device"
)


def test_disk_full_is_said_as_such():
    message = database_error_message(duckdb.TransactionException(DISK_FULL))
    assert message == (
        "no space left on the disk (/mnt/cadence.duckdb.wal); free some space and retry "
        "(nothing was written)"
    )
    io_error = duckdb.IOException('IO Error: Could not write file "/d/c.duckdb": No space left')
    assert database_error_message(io_error) == (
        "no space left on the disk (/d/c.duckdb); free some space and retry (nothing was written)"
    )
    oom = duckdb.TransactionException("Failed to commit: could not allocate block of size 256KiB")
    assert database_error_message(oom) == (
        "not enough memory for the import (raise CADENCE_IMPORT_MEMORY_MB, or import fewer or "
        "smaller files at a time); nothing was written"
    )
    conflict = duckdb.TransactionException("TransactionContext Error: Conflict on tuple deletion!")
    assert database_error_message(conflict) == RETRY_MESSAGE


_IMPORT_IN_CHILD = """
import sys
from analytics.importers import import_paths
from analytics.loader import LoadError, load_paths
from analytics.store import connect
con = connect(sys.argv[1])
for load in (import_paths, load_paths):
    try:
        load(con, [sys.argv[2]])
        print("loaded")
    except LoadError as exc:
        print(exc)
"""


def test_a_read_only_folder_is_said_as_such(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "cadence.duckdb"
    c = connect(db)
    c.execute("INSERT INTO sprints VALUES ('S0', 'Payments', 'S', DATE '2026-01-05', "
              "DATE '2026-01-16', 1, 1)")  # fmt: skip
    before = table_rows(c)
    c.close()
    csv = write(tmp_path, "inc.csv", INCIDENTS + GOOD)
    command = [sys.executable, "-c", _IMPORT_IN_CHILD, str(db), str(csv)]
    if os.geteuid() == 0:  # root writes anywhere: run the import without that capability
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv")
        caps = "-dac_override,-dac_read_search"
        command = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *command]
    folder.chmod(0o555)
    try:
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": root}
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    finally:
        folder.chmod(0o755)
    expected = (
        f"no permission to write the database's folder ({db}.wal) (a read-only folder?); "
        "nothing was written"
    )
    assert result.stdout.splitlines() == [expected, expected], result.stderr
    c = connect(db)
    try:
        assert table_rows(c) == before
    finally:
        c.close()


def test_another_import_holding_the_rows_is_told_to_retry(tmp_path):
    db = tmp_path / "shared.duckdb"
    first = connect(db)
    second = first.cursor()  # a second dashboard session on the same database
    csv = write(tmp_path, "inc.csv", INCIDENTS + GOOD)
    try:
        import_paths(first, [csv])
        before = table_rows(first)
        first.execute("BEGIN TRANSACTION")  # another import, mid-way
        first.execute("UPDATE incidents SET team = 'Other' WHERE incident_id = 'I1'")
        with pytest.raises(LoadError) as info:
            import_paths(second, [csv])
        assert str(info.value) == RETRY_MESSAGE
        first.execute("ROLLBACK")
        assert table_rows(first) == before
    finally:
        second.close()
        first.close()


# --- 6. DuckDB's own messages get the file name and a line ------------------------------------


@pytest.mark.parametrize("load", LOADERS)
def test_a_crlf_header_above_lf_rows_names_file_and_line(con, tmp_path, load):
    path = write(tmp_path, "mixed-endings.csv", INCIDENTS.replace("\n", "\r\n") + GOOD)
    refused(
        con, load, path,
        r"malformed CSV near line 2: line 2 ends with LF but line 1 with CRLF \(mixed line "
        r"endings; save the file again with one kind\)$",
    )  # fmt: skip


# --- 7. one column limit for every file -------------------------------------------------------


@pytest.mark.parametrize(
    ("load", "delimiter"), [(load_paths, ","), (import_paths, ","), (import_paths, ";")]
)
def test_more_than_500_columns_are_refused_from_the_header(con, tmp_path, load, delimiter):
    names = INCIDENTS.strip().split(",") + [f"x{i}" for i in range(600)]
    row = ["I1", "web", "Payments", "2", "2026-01-05"] + [""] * 600
    text = delimiter.join(names) + "\n" + delimiter.join(row) + "\n"
    path = write(tmp_path, "wide.csv", text)
    refused(con, load, path, rf"the header \(line 1\) has 605 columns; at most {MAX_COLUMNS} are")


def test_20000_columns_are_refused(con, tmp_path):
    names = INCIDENTS.strip().split(",") + [f"c{i}" for i in range(20_000)]
    path = write(tmp_path, "w.csv", ";".join(names) + "\n" + ";".join(["1"] * 20_005) + "\n")
    refused(con, import_paths, path, r"the header \(line 1\) has 20,005 columns; at most 500")


# --- 8. look-alike ids and names --------------------------------------------------------------


def test_invisible_and_compatibility_characters_are_normalised(con, tmp_path):
    path = write(
        tmp_path, "sprints.csv",
        "sprint_id,team,name,start_date,end_date\n"
        "S0\u200b,Pay\u200bments,\u202eSprint 0,2026-01-05,2026-01-16\n"  # ZWSP, RLO
        "\uff33\uff11,\uff30\uff41\uff59\uff4d\uff45\uff4e\uff54\uff53,Sprint\u00a01,"
        "2026-01-19,2026-01-30\n"  # full-width S1 and Payments, a no-break space
        "S2,\u3000\u200b,Sprint 2,2026-02-02,2026-02-13\n",  # a team of nothing visible
    )  # fmt: skip
    (summary,) = import_paths(con, [path])
    assert (summary.inserted, summary.updated, summary.warnings) == (1, 1, [])
    assert summary.reasons == ["row 4, column team: required value is missing"]
    stored = con.execute("SELECT sprint_id, team, name FROM sprints ORDER BY 1").fetchall()
    assert stored == [("S0", "Payments", "Sprint 0"), ("S1", "Payments", "Sprint 1")]


def test_look_alike_team_names_are_warned_about_naming_both(con, tmp_path):
    path = write(
        tmp_path, "inc.csv",
        INCIDENTS
        + "N1,web,P\u0430yments,2,2026-01-05\n"  # Cyrillic а
        + "N2,web,Paymentz,2,2026-01-05\n"  # one letter from Payments
        + "N3,web,Ops,2,2026-01-05\n"  # short names are not compared by edit distance
        + "N4,web,Opz,2,2026-01-05\n"
        + "N5,web,Squad 1,2,2026-01-05\n"  # numbered siblings are not typos
        + "N6,web,Squad 2,2,2026-01-05\n",
    )  # fmt: skip
    (summary,) = load_paths(con, [path])
    assert summary.inserted == 6
    assert summary.warnings == [
        "team 'Paymentz' and the existing team 'Payments' are one letter apart: "
        "one team under two names?",
        "team 'Pаyments' (а U+0430) and the existing team 'Payments' look alike: "
        "one team under two names?",
    ]
    assert "  warning: team 'Pаyments' (а U+0430)" in format_summary(summary)
    # Loading the same names again warns no more: they are known now.
    (again,) = load_paths(con, [path])
    assert again.warnings == []


def test_formula_and_html_text_is_stored_as_given_and_shown_neutralised(con, tmp_path):
    formula = "=cmd|' /C calc'!A0"
    path = write(
        tmp_path, "inc.csv", INCIDENTS + f'N1,"{formula}",<script>x</script>,2,2026-01-05\n'
    )
    load_paths(con, [path])
    stored = con.execute("SELECT service, team FROM incidents WHERE incident_id = 'N1'").fetchall()
    assert stored == [(formula, "<script>x</script>")]
    # shown: a CSV cell the spreadsheet reads as text, markup a page prints as characters
    from analytics.export import neutralise_formula
    from ui.components import md_escape

    assert neutralise_formula(stored[0][0]) == "'" + formula
    assert md_escape(stored[0][1]) == r"\<script\>x\</script\>"


# --- 9. tables: the toolbar's CSV download gets no formula ------------------------------------


def _table_script():
    import pandas as pd

    from ui.components import table

    table(
        pd.DataFrame(
            {"=HYPERLINK(1)": ["=cmd|' /C calc'!A0", "+1", "@SUM(A1)", "ok"], "n": [-3, 1, 2, 4]}
        ),
        hide_index=True,
    )


def test_tables_neutralise_formula_cells_for_the_toolbar_download():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_table_script, default_timeout=60).run()
    shown = at.dataframe[0].value
    assert list(shown.columns) == ["'=HYPERLINK(1)", "n"]
    assert list(shown.iloc[:, 0]) == ["'=cmd|' /C calc'!A0", "'+1", "'@SUM(A1)", "ok"]
    assert list(shown["n"]) == [-3, 1, 2, 4]  # numbers stay numbers


def test_every_table_goes_through_the_helper():
    root = Path(__file__).resolve().parent.parent
    sources = [*root.glob("app_pages/*.py"), *root.glob("ui/*.py"), root / "app.py"]
    direct = [
        str(p.relative_to(root))
        for p in sources
        if "st.dataframe(" in p.read_text(encoding="utf-8") and p.name != "components.py"
    ]
    assert direct == []


def test_import_sources_refuses_like_import_paths(con):
    before = table_rows(con)
    data = (INCIDENTS + "I1,web,Payments,2,2026-01-05\n").replace("\n", "\r\n", 1) + GOOD
    with pytest.raises(LoadError, match=r"^up.csv: malformed CSV near line 2"):
        import_sources(con, [Source("up.csv", data.encode())])
    assert table_rows(con) == before
