"""Importing real exports: ServiceNow, Jira and mapped CSV/Excel files, file quirks, safety.

Each fixture in tests/data/imports is tiny and written in its tool's real export format; the
expected rows below are worked out by hand from the fixture (see the comments).
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from analytics.importers import detect_preset, import_paths, import_sources, inspect_file
from analytics.importers.mapping import (
    ProfileError,
    list_profiles,
    load_profile,
    parse_profile,
    save_profile,
)
from analytics.importers.sniff import (
    AmbiguousDates,
    detect_date_format,
    sniff_delimiter,
    sniff_encoding,
)
from analytics.loader import LoadError, Source
from analytics.store import connect

DATA = Path(__file__).parent / "data" / "imports"
MAPPINGS = Path(__file__).parent.parent / "data" / "mappings"


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def snapshot(con) -> dict[str, list[tuple]]:
    tables = ["sprints", "work_items", "changes", "incidents", "load_log", "rejected_rows"]
    return {t: sorted(map(repr, rows(con, f"SELECT * FROM {t}"))) for t in tables}


# --- ServiceNow -------------------------------------------------------------------------------


def test_servicenow_change_csv_maps_outcome_approval_risk_and_dates(con):
    (summary,) = import_paths(con, [DATA / "servicenow_change_request.csv"])
    # 7 data rows (+1 separators-only row dropped); CHG0030006 is still in Implement: no outcome.
    assert (summary.kind, summary.inserted, summary.rejected) == ("changes", 6, 1)
    assert summary.reasons == ["row 7, column outcome: required value is missing"]
    assert (
        "1 change(s) without a close code or cancellation (still open?) are rejected"
        in (summary.warnings[0])
    )
    got = rows(
        con,
        "SELECT change_id, service, team, change_type, approval, risk, requested_at, "
        "implemented_at, outcome FROM changes ORDER BY change_id",
    )
    assert got == [
        # cab_required=true -> cab; Moderate -> medium; implemented = work_end
        ("CHG0030001", "Payments", "Pay Team", "normal", "cab", "medium",
         ts("2026-01-05 09:00"), ts("2026-01-12 23:30"), "successful"),
        # successful_issues -> successful; no business_service -> cmdb_ci; no work_end -> work_start
        ("CHG0030002", "web01", "Web Ops", "standard", "pre-approved", "low",
         ts("2026-01-06 10:00"), ts("2026-01-07 20:00"), "successful"),
        # close notes "backed out" -> rolled_back; no CAB info -> default route for emergency
        ("CHG0030003", "Payments", "DBA", "emergency", "ecab", "high",
         ts("2026-01-08 01:00"), ts("2026-01-08 02:10"), "rolled_back"),
        # "No backout needed" is not a back-out: unsuccessful -> failed; normal without CAB
        ("CHG0030004", "Search", "Web Ops", "normal", "product-owner", "high",
         ts("2026-01-09 09:00"), ts("2026-01-10 21:45"), "failed"),
        # Canceled -> cancelled, closed_at is not an implementation time
        ("CHG0030005", "Network", "NetOps", "normal", "cab", "low",
         ts("2026-01-09 11:00"), None, "cancelled"),
        # quoted newline in close_notes; "3 - Moderate" -> medium; N/A cab_required -> default
        ("CHG0030007", "Search", "Web Ops", "normal", "cab", "medium",
         ts("2026-01-11 08:00"), ts("2026-01-15 19:00"), "successful"),
    ]  # fmt: skip
    assert rows(con, "SELECT line_number, column_name FROM rejected_rows") == [(7, "outcome")]
    # start_date / end_date are the planned window
    assert rows(
        con, "SELECT planned_start, planned_end FROM changes WHERE change_id = 'CHG0030001'"
    ) == [(ts("2026-01-12 22:00"), ts("2026-01-13 00:00"))]


def test_servicenow_change_excel_with_labels(con, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(
        ["Number", "Type", "Risk", "State", "Close code", "CAB required", "Service",
         "Configuration item", "Assignment group", "Opened", "Actual start", "Actual end"]
    )  # fmt: skip
    sheet.append(
        ["CHG1", "Normal", "Low", "Closed", "Successful with issues", True, None, "db01",
         "DBA", datetime(2026, 3, 2, 9, 30), datetime(2026, 3, 4, 20, 0),
         datetime(2026, 3, 4, 21, 15)]
    )  # fmt: skip
    sheet.append(
        ["CHG2", "Emergency", "High", "Closed", "Unsuccessful", False, "Payments", None,
         "Pay Team", datetime(2026, 3, 5, 1, 0), None, datetime(2026, 3, 5, 2, 0)]
    )  # fmt: skip
    sheet.append([None] * 12)  # Excel's "used range" often includes blank rows
    path = tmp_path / "change_request.xlsx"
    book.save(path)

    assert inspect_file(path).preset == "servicenow-change"
    (summary,) = import_paths(con, [path])
    assert (summary.inserted, summary.rejected) == (2, 0)
    assert rows(
        con,
        "SELECT change_id, service, team, change_type, approval, risk, requested_at, "
        "implemented_at, outcome FROM changes ORDER BY 1",
    ) == [
        # Excel booleans: CAB required TRUE -> cab; "Successful with issues" -> successful
        ("CHG1", "db01", "DBA", "normal", "cab", "low", ts("2026-03-02 09:30"),
         ts("2026-03-04 21:15"), "successful"),
        # emergency without CAB -> ecab; Unsuccessful -> failed
        ("CHG2", "Payments", "Pay Team", "emergency", "ecab", "high", ts("2026-03-05 01:00"),
         ts("2026-03-05 02:00"), "failed"),
    ]  # fmt: skip


def test_servicenow_incident_event_log_keeps_latest_state(con):
    (summary,) = import_paths(con, [DATA / "servicenow_incident_eventlog.csv"])
    # 8 rows: INC0010001 three times, INC0010005 twice -> 3 earlier rows skipped; 9 - Unknown
    # is outside 1-4 and rejected.
    assert (summary.inserted, summary.rejected) == (4, 1)
    assert any("event log: 3 earlier row(s)" in w for w in summary.warnings)
    assert "dates read as DD-MM-YYYY" in summary.warnings  # 13-01-2026: first field > 12
    assert rows(
        con,
        "SELECT incident_id, service, team, kind, priority, opened_at, resolved_at, "
        "caused_by_change, resolved_by_change FROM incidents ORDER BY 1",
    ) == [
        ("INC0010001", "Payments", "Pay Team", "incident", 2, ts("2026-01-13 09:00"),
         ts("2026-01-13 11:15"), "CHG0030001", "CHG0030008"),
        # no resolved_at -> closed_at; no business_service -> cmdb_ci
        ("INC0010002", "core-sw1", "NetOps", "incident", 1, ts("2026-01-14 22:00"),
         ts("2026-01-15 01:00"), None, None),
        # the resolved row is latest by sys_updated_on although it comes first in the file
        ("INC0010005", "Search", "Web Ops", "incident", 4, ts("2026-02-05 08:00"),
         ts("2026-02-05 12:00"), None, None),
        # RITM number / category request -> request; 5 - Planning -> 4
        ("RITM0010003", "Search", "Web Ops", "request", 4, ts("2026-02-02 10:00"),
         ts("2026-02-03 10:00"), None, None),
    ]  # fmt: skip


# --- generic mapping profiles -----------------------------------------------------------------


def test_mapping_semicolon_bom_dotted_dates_and_value_maps(con):
    (summary,) = import_paths(
        con, [DATA / "aenderungen_de.csv"], mapping=MAPPINGS / "changes-de.json"
    )
    # 5 rows (+2 empty rows dropped); 31.02.2026 does not exist -> rejected, value quoted.
    assert (summary.inserted, summary.rejected) == (4, 1)
    assert summary.reasons == [
        "row 6, column requested_at: '31.02.2026 11:00' is not an ISO 8601 timestamp"
    ]
    assert "columns not in the mapping, ignored: Bemerkung" in summary.warnings
    assert rows(
        con,
        "SELECT change_id, service, team, change_type, approval, risk, requested_at, "
        "implemented_at, outcome FROM changes ORDER BY 1",
    ) == [
        ("C-100", "Zahlungen", "Team Pay", "normal", "cab", "medium", ts("2026-01-05 09:00"),
         ts("2026-01-12 23:30"), "successful"),
        # "-" is a placeholder: approval derived from the type
        ("C-101", "Suche", "Team Web", "standard", "pre-approved", "low", ts("2026-01-06 10:00"),
         ts("2026-01-07 20:00"), "successful"),
        # the quoted remark spans two lines and holds a semicolon
        ("C-102", "Zahlungen", "Team DB", "emergency", "ecab", "high", ts("2026-01-08 01:00"),
         ts("2026-01-08 02:10"), "rolled_back"),
        ("C-103", "Netz", "Team Net", "normal", "cab", "low", ts("2026-01-09 11:00"), None,
         "cancelled"),
    ]  # fmt: skip


def test_mapping_cp1252_decimal_comma_detected_dates(con):
    (summary,) = import_paths(
        con, [DATA / "stoerungen_de.csv"], mapping=MAPPINGS / "incidents-de.json"
    )
    assert (summary.inserted, summary.rejected) == (3, 0)
    assert "numbers read with a decimal comma" in summary.warnings
    assert rows(
        con,
        "SELECT incident_id, kind, priority, service, opened_at, resolved_at, effort_hours, "
        "caused_by_change FROM incidents ORDER BY 1",
    ) == [
        ("S-1", "incident", 1, "Zahlungen", ts("2026-01-13 09:00"), ts("2026-01-13 11:15"), 2.5,
         "C-100"),
        # date-only values; 1.234,5 = 1234.5
        ("S-2", "request", 3, "Suche", ts("2026-01-14 00:00"), ts("2026-01-15 00:00"), 1234.5,
         None),
        # "?" is a placeholder
        ("S-3", "incident", 2, "Netz", ts("2026-01-20 08:00"), None, None, None),
    ]  # fmt: skip


def test_mapping_on_excel_with_date_format(con, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["Sprint", "Team", "Von", "Bis", "Zugesagt"])
    book.active.append(["S1", "Blue", "02/03/2026", "13/03/2026", 20])
    book.active.append(["S2", "Blue", "16/03/2026", "27/03/2026", 18.5])
    path = tmp_path / "sprints.xlsx"
    book.save(path)
    profile = {
        "kind": "sprints",
        "columns": {
            "Sprint": "sprint_id",
            "Team": "team",
            "Von": "start_date",
            "Bis": "end_date",
            "Zugesagt": "committed_points",
        },
        "date_format": "%d/%m/%Y",
    }
    (summary,) = import_paths(con, [path], mapping=profile)
    assert summary.inserted == 2
    assert rows(con, "SELECT sprint_id, start_date, end_date, committed_points FROM sprints") == [
        ("S1", date(2026, 3, 2), date(2026, 3, 13), 20.0),
        ("S2", date(2026, 3, 16), date(2026, 3, 27), 18.5),
    ]


def test_excel_rows_reach_duckdb_in_chunks_with_their_sheet_lines(con, tmp_path, monkeypatch):
    from analytics.importers import source

    openpyxl = pytest.importorskip("openpyxl")
    monkeypatch.setattr(source, "EXCEL_CHUNK_ROWS", 2)  # 5 rows: chunks of 2, 2 and 1
    book = openpyxl.Workbook()
    book.active.append(["incident_id", "service", "priority", "opened_at"])
    for i in range(1, 6):
        # I3's priority 9 is outside 1-4: it lands in the second chunk, on sheet row 4
        book.active.append([f"I{i}", "web", 9 if i == 3 else 2, f"2026-01-0{i} 10:00"])
    path = tmp_path / "incidents.xlsx"
    book.save(path)
    (summary,) = import_paths(con, [path], kind="incidents")
    assert (summary.inserted, summary.rejected) == (4, 1)
    assert summary.reasons == ["row 4, column priority: 9 is outside 1-4"]
    assert rows(con, "SELECT incident_id FROM incidents ORDER BY 1") == [
        ("I1",), ("I2",), ("I4",), ("I5",)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"kind": "tickets", "columns": {"a": "b"}}, "unknown kind 'tickets'"),
        (
            {"kind": "changes", "columns": {"Nr": "change_id", "X": "colour"}},
            "unknown changes column(s) 'X': 'colour'",
        ),
        ({"kind": "incidents", "columns": {"Nr": "incident_id"}}, "not mapped: priority"),
        (
            {"kind": "sprints", "columns": {"a": "sprint_id"}, "values": {"size": {}}},
            "required sprints column(s) not mapped",
        ),
    ],
)
def test_profile_validation_names_the_problem(doc, message):
    with pytest.raises(ProfileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_profile(doc)


def test_example_profiles_are_valid_and_profiles_round_trip(tmp_path):
    examples = list_profiles(MAPPINGS)
    assert set(examples) >= {"changes-de", "incidents-de"}
    for path in examples.values():
        load_profile(path)
    profile = load_profile(examples["changes-de"])
    # a profile name never becomes a path outside the chosen directory
    saved = save_profile(profile, tmp_path, "../../Änderungen DE")
    assert saved == tmp_path / "Änderungen-DE.json"
    assert load_profile(saved) == replace(profile, name="Änderungen-DE")


def test_mapping_source_column_missing_from_file(con):
    before = snapshot(con)
    profile = json.loads((MAPPINGS / "changes-de.json").read_text(encoding="utf-8"))
    profile["columns"]["Umsetzungsdatum"] = profile["columns"].pop("Umgesetzt")
    with pytest.raises(LoadError, match=r"aenderungen_de.csv: column\(s\) 'Umsetzungsdatum'"):
        import_paths(con, [DATA / "aenderungen_de.csv"], mapping=profile)
    assert snapshot(con) == before


# --- Jira -------------------------------------------------------------------------------------


def test_jira_repeated_sprint_and_label_columns_and_derived_sprints(con):
    derived, items = import_paths(con, [DATA / "jira_issues.csv"])
    assert (derived.kind, derived.inserted) == ("sprints", 2)
    assert "sprint dates derived from issue dates" in derived.warnings[0]
    assert (items.kind, items.inserted, items.rejected) == ("work_items", 4, 1)
    assert items.reasons == ["row 6, column created_at: 'not a date' is not an ISO 8601 timestamp"]
    assert rows(
        con,
        "SELECT item_id, team, sprint_id, item_type, requirement_type, warranty_aspect, "
        "story_points, status, created_at, resolved_at FROM work_items ORDER BY 1",
    ) == [
        ("PAY-1", "PAY", "pay-pay-sprint-1", "story", "utility", None, 3.0, "Done",
         ts("2026-01-05 09:15"), ts("2026-01-14 16:30")),
        # in Sprint 1 and Sprint 2: the last one counts; labels security + nfr -> warranty
        ("PAY-2", "PAY", "pay-pay-sprint-2", "bug", "warranty", "security", 5.0, "Done",
         ts("2026-01-06 10:00"), ts("2026-01-22 11:00")),
        ("PAY-3", "PAY", "pay-pay-sprint-2", "story", "warranty", "availability", 2.0,
         "In Progress", ts("2026-01-12 14:00"), None),
        # label in the second Labels column
        ("PAY-4", "PAY", None, "task", "warranty", "capacity", None, "Done",
         ts("2026-01-13 15:04"), ts("2026-01-13 17:00")),
    ]  # fmt: skip
    assert rows(con, "SELECT * FROM sprints ORDER BY 1") == [
        # Sprint 1: PAY-1 only: created 5 Jan .. resolved 14 Jan; 3 points, all resolved
        ("pay-pay-sprint-1", "PAY", "PAY Sprint 1", date(2026, 1, 5), date(2026, 1, 14), 3.0, 3.0),
        # Sprint 2: PAY-2 (6 Jan .. 22 Jan, 5 points) + PAY-3 (12 Jan, open, 2 points)
        ("pay-pay-sprint-2", "PAY", "PAY Sprint 2", date(2026, 1, 6), date(2026, 1, 22), 7.0, 5.0),
    ]


def test_jira_derived_sprints_never_overwrite_known_sprints(con, tmp_path):
    sprints = tmp_path / "sprints.csv"
    sprints.write_text("Sprint,Team,Start Date,End Date\nPAY Sprint 1,PAY,2026-01-05,2026-01-16\n")
    import_paths(con, [sprints])
    summaries = import_paths(con, [DATA / "jira_issues.csv"])
    # only Sprint 2 is derived; Sprint 1 keeps its real end date (16 Jan, not 14 Jan)
    assert [(s.kind, s.inserted) for s in summaries] == [("sprints", 1), ("work_items", 4)]
    assert rows(con, "SELECT sprint_id, end_date FROM sprints ORDER BY 1") == [
        ("pay-pay-sprint-1", date(2026, 1, 16)),
        ("pay-pay-sprint-2", date(2026, 1, 22)),
    ]
    # replacing derives every sprint again (the old rows are being removed)
    summaries = import_paths(con, [DATA / "jira_issues.csv"], replace=True)
    assert [(s.kind, s.inserted, s.updated) for s in summaries] == [
        ("sprints", 0, 2),
        ("work_items", 0, 4),
    ]
    assert rows(con, "SELECT sprint_id, end_date FROM sprints ORDER BY 1") == [
        ("pay-pay-sprint-1", date(2026, 1, 14)),
        ("pay-pay-sprint-2", date(2026, 1, 22)),
    ]


def test_jira_german_months_with_a_sprints_file_without_team(con):
    summaries = import_paths(con, [DATA / "jira_issues_de.csv", DATA / "jira_sprints.csv"])
    assert [(s.kind, s.inserted) for s in summaries] == [
        ("sprints", 1),  # Falcon 9 is in no sprints file: derived
        ("work_items", 3),
        ("sprints", 2),
    ]
    assert "Falcon 9" in summaries[0].warnings[0]
    assert rows(con, "SELECT item_id, sprint_id, created_at, resolved_at FROM work_items") == [
        ("DE-1", "falcon-falcon-7", ts("2026-03-12 15:04"), ts("2026-05-03 10:00")),  # Mär, Mai
        ("DE-2", "falcon-falcon-8", ts("2026-10-01 09:00"), ts("2026-12-15 11:30")),  # Okt, Dez
        ("DE-3", "falcon-falcon-9", ts("2026-10-02 09:00"), None),
    ]
    assert rows(con, "SELECT * FROM sprints ORDER BY 1") == [
        # team from the issues; ISO and 28/09/2026 (day-first) dates in one file
        ("falcon-falcon-7", "Falcon", "Falcon 7", date(2026, 3, 9), date(2026, 3, 20), 10.0, 8.0),
        ("falcon-falcon-8", "Falcon", "Falcon 8", date(2026, 9, 28), date(2026, 10, 9), 5.0, 1.0),
        ("falcon-falcon-9", "Falcon", "Falcon 9", date(2026, 10, 2), date(2026, 10, 2), 0.0, 0.0),
    ]


def test_jira_german_export_headers_dotted_two_digit_years_decimal_comma(con):
    derived, items = import_paths(con, [DATA / "jira_issues_de_headers.csv"])
    assert "dates read as DD.MM.YY" in items.warnings
    assert rows(
        con,
        "SELECT item_id, team, sprint_id, item_type, requirement_type, warranty_aspect, "
        "story_points, created_at, resolved_at FROM work_items ORDER BY 1",
    ) == [
        # Stichwörter continuity -> warranty; 2,5 story points; 12.03.26 15:04
        ("KA-1", "KA", "ka-ka-sprint-3", "story", "warranty", "continuity", 2.5,
         ts("2026-03-12 15:04"), ts("2026-03-20 09:30")),
        ("KA-2", "KA", "ka-ka-sprint-3", "aufgabe", "utility", None, None,
         ts("2026-03-13 08:00"), None),
    ]  # fmt: skip
    # derived: 12 Mar .. 20 Mar; committed 2.5, completed 2.5 (KA-2 has no points)
    assert rows(con, "SELECT * FROM sprints") == [
        ("ka-ka-sprint-3", "KA", "KA Sprint 3", date(2026, 3, 12), date(2026, 3, 20), 2.5, 2.5)
    ]


# --- sniffing and date detection --------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "label", "first_format"),
    [
        (["2026-01-05 10:00:00+01:00"], "ISO", None),
        (["05.01.2026 10:00", "06.01.2026"], "DD.MM.YYYY", "%d.%m.%Y %H:%M:%S"),
        (["05/01/2026", "25/12/2026"], "DD/MM/YYYY", "%d/%m/%Y %H:%M:%S"),
        (["12/25/2026 3:04 PM", "01/02/2026"], "MM/DD/YYYY", "%m/%d/%Y %H:%M:%S"),
        (["13-01-2026 10:00"], "DD-MM-YYYY", "%d-%m-%Y %H:%M:%S"),
        (["12.03.26 15:04"], "DD.MM.YY", "%d.%m.%y %H:%M:%S"),
        (["12/Jan/26 3:04 PM", "12/Mär/26 3:04 PM"], "DD/Mon/YY", "%d/%b/%y %H:%M:%S"),
    ],
)
def test_detect_date_format(values, label, first_format):
    fmt = detect_date_format(values)
    assert fmt.label == label
    assert (fmt.formats[0] if fmt.formats else None) == first_format


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["05/01/2026", "06/02/2026"], "could be day-first or month-first"),
        (["25/01/2026", "01/25/2026"], "mix day-first and month-first"),
    ],
)
def test_ambiguous_dates_are_never_guessed(values, message):
    with pytest.raises(AmbiguousDates, match=message):
        detect_date_format(values)


def test_ambiguous_file_refused_then_loaded_with_date_format(con, tmp_path):
    path = tmp_path / "changes.csv"
    path.write_text(
        "change_id\tchange_type\trequested_at\timplemented_at\toutcome\n"
        "C1\tnormal\t03/04/2026 10:00\t03/05/2026 10:00\tsuccessful\n",
        encoding="utf-8",
    )
    with pytest.raises(LoadError, match="changes.csv: dates such as '03/04/2026 10:00'"):
        import_paths(con, [path])
    assert rows(con, "SELECT count(*) FROM changes") == [(0,)]
    import_paths(con, [path], date_format="%m/%d/%Y %H:%M")
    # month first: 3 March and 5 March
    assert rows(con, "SELECT requested_at, implemented_at FROM changes") == [
        (ts("2026-03-04 10:00"), ts("2026-03-05 10:00"))
    ]


def test_sniffing_delimiters_and_encodings():
    assert sniff_delimiter('a;b;c\n1;"x;y";3\n') == ";"
    assert sniff_delimiter("a\tb\n1\t2\n") == "\t"
    assert sniff_delimiter('a,b\n1,"2;3"\n') == ","
    assert sniff_encoding("Störung".encode(), complete=True) == "utf-8"
    assert sniff_encoding("Störung".encode()[:2], complete=False) == "utf-8"  # cut mid-char
    assert sniff_encoding("Störung €".encode("cp1252"), complete=True) == "cp1252"


@pytest.mark.parametrize(
    ("header", "preset"),
    [
        (["number", "type", "close_code", "opened_at"], "servicenow-change"),
        (["Number", "Type", "Risk", "Close code", "Actual end"], "servicenow-change"),
        (["number", "priority", "caused_by", "opened_at", "resolved_at"], "servicenow-incident"),
        (["Issue key", "Issue Type", "Sprint", "Sprint", "Created"], "jira-issues"),
        (["Sprint Name", "Start Date", "End Date"], "jira-sprints"),
        (["change_id", "change_type", "requested_at", "outcome"], None),  # canonical
        (["foo", "bar"], None),
    ],
)
def test_detect_preset(header, preset):
    assert detect_preset(header) == preset


# --- canonical files, atomicity, safety -------------------------------------------------------

CANONICAL = (
    "change_id,change_type,requested_at,implemented_at,outcome\n"
    "C1,normal,2026-01-05T10:00:00+01:00,2026-01-06 10:00,successful\n"
    "C2,standard,2026-01-05,,failed\n"
)


def test_canonical_csv_goes_through_the_loader_unchanged(con, tmp_path):
    path = tmp_path / "changes.csv"
    path.write_text(CANONICAL, encoding="utf-8")
    (summary,) = import_paths(con, [path])
    # C2 lacks implemented_at (only cancelled changes may): the loader's own rule and wording
    assert summary.reasons == [
        "row 3, column implemented_at: required value is missing "
        "(only cancelled changes may omit it)"
    ]
    # +01:00 offset converted to UTC by the loader
    assert rows(con, "SELECT change_id, requested_at, approval FROM changes") == [
        ("C1", ts("2026-01-05 09:00"), "cab")
    ]


def test_canonical_header_with_semicolons_and_cp1252(con, tmp_path):
    path = tmp_path / "incidents.csv"
    path.write_bytes(
        "incident_id;priority;opened_at;service;effort_hours\r\n"
        "I1;2;24.12.2026 18:00;Kasse Süd;0,5\r\n".encode("cp1252")
    )
    (summary,) = import_paths(con, [path])
    assert summary.inserted == 1
    assert rows(
        con, "SELECT incident_id, priority, opened_at, service, effort_hours FROM incidents"
    ) == [("I1", 2, ts("2026-12-24 18:00"), "Kasse Süd", 0.5)]


def test_a_refused_file_rolls_back_the_whole_call(con):
    import_paths(con, [DATA / "servicenow_incident_eventlog.csv"])
    before = snapshot(con)
    with pytest.raises(LoadError, match=r"stoerungen_de.csv: cannot tell what the file holds"):
        import_paths(con, [DATA / "jira_issues.csv", DATA / "stoerungen_de.csv"])
    assert snapshot(con) == before


def test_forced_preset_that_does_not_fit(con):
    with pytest.raises(LoadError, match="not a Jira issues export: no column issue key"):
        import_paths(con, [DATA / "servicenow_change_request.csv"], preset="jira-issues")


def test_upload_size_limit_from_environment(con, monkeypatch):
    monkeypatch.setenv("CADENCE_MAX_UPLOAD_MB", "1")
    big = Source("big.csv", CANONICAL.encode() + b"x" * 1_200_000)  # 1.15 MB
    with pytest.raises(LoadError, match=r"big.csv: 1.1 MB is over the upload limit of 1 MB"):
        import_sources(con, [big])
    assert rows(con, "SELECT count(*) FROM load_log") == [(0,)]


def test_upload_names_are_labels_not_paths(con, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "../../evil/changes.csv"
    data = (DATA / "servicenow_change_request.csv").read_bytes()
    (summary,) = import_sources(con, [Source(name, data)])
    assert summary.inserted == 6
    assert rows(con, "SELECT DISTINCT file_name FROM load_log") == [(name,)]
    assert not (tmp_path.parent.parent / "evil").exists()
    assert list(tmp_path.iterdir()) == []


def test_concurrent_import_is_told_to_retry(tmp_path):
    db = tmp_path / "shared.duckdb"
    first = connect(db)
    second = first.cursor()  # a second session on the same database, as in the web app
    try:
        import_paths(first, [DATA / "servicenow_change_request.csv"])
        # Another import is mid-way: its open transaction has rewritten CHG0030001.
        first.execute("BEGIN TRANSACTION")
        first.execute("UPDATE changes SET team = 'Other' WHERE change_id = 'CHG0030001'")
        with pytest.raises(LoadError, match="another import is running, please retry"):
            import_paths(second, [DATA / "servicenow_change_request.csv"])
        first.execute("COMMIT")
        # Nothing of the refused import was written (one load_log row: the first import).
        assert rows(first, "SELECT count(*) FROM load_log") == [(1,)]
        assert rows(first, "SELECT team FROM changes WHERE change_id = 'CHG0030001'") == [
            ("Other",)
        ]
        (summary,) = import_paths(second, [DATA / "servicenow_change_request.csv"])
        assert (summary.inserted, summary.updated) == (0, 6)
        assert rows(first, "SELECT team FROM changes WHERE change_id = 'CHG0030001'") == [
            ("Pay Team",)
        ]
    finally:
        second.close()
        first.close()


def test_parallel_imports_both_succeed_or_retry(tmp_path):
    db = tmp_path / "shared.duckdb"
    base = connect(db)
    # file -> (tables it fills, load_log rows it writes)
    files = {
        DATA / "servicenow_incident_eventlog.csv": ({"incidents": 4}, 1),
        DATA / "jira_issues.csv": ({"work_items": 4, "sprints": 2}, 2),
    }
    outcomes: dict[Path, str] = {}

    def run(path: Path) -> None:
        cur = base.cursor()
        try:
            import_paths(cur, [path])
            outcomes[path] = "ok"
        except LoadError as exc:
            outcomes[path] = str(exc)
        finally:
            cur.close()

    threads = [threading.Thread(target=run, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert set(outcomes.values()) <= {"ok", "another import is running, please retry"}
        log_rows = 0
        for path, (tables, logged) in files.items():
            ok = outcomes[path] == "ok"
            log_rows += logged if ok else 0
            for table, count in tables.items():
                assert rows(base, f"SELECT count(*) FROM {table}") == [(count if ok else 0,)]
        assert rows(base, "SELECT count(*) FROM load_log") == [(log_rows,)]
    finally:
        base.close()


def test_progress_names_every_step_of_every_file_in_order(con, tmp_path):
    canonical = tmp_path / "incidents.csv"
    canonical.write_text(
        "incident_id,service,priority,opened_at\nI-1,web,2,2026-11-02 08:00\n", encoding="utf-8"
    )
    change_file = DATA / "servicenow_change_request.csv"
    seen: list[tuple[float, str]] = []
    import_paths(con, [change_file, canonical], progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and seen[-1] == (1.0, "done")
    first: dict[str, float] = {}
    for fraction, message in seen:
        first.setdefault(message, fraction)
    # Reading and converting take 0-0.6 of the bar, 0.3 per file; in a file's share checking
    # starts at 0, reading at 0.15, converting at 0.7 (0.045 and 0.21 of the bar). Validating
    # and writing takes 0.6-1.0, 0.2 per file. The canonical file is read lazily by the loader
    # while it validates: no reading or converting step of its own.
    assert list(first) == [
        "starting",
        f"checking {change_file}",
        f"reading {change_file}",
        f"converting {change_file}",
        f"checking {canonical}",
        f"validating and writing {change_file}",
        f"reading, validating and writing {canonical}",
        "done",
    ]
    assert list(first.values()) == pytest.approx([0.0, 0.0, 0.045, 0.21, 0.3, 0.6, 0.8, 1.0])


def test_query_share_moves_with_each_query_and_stays_below_the_end():
    from analytics.importers import _query_share

    # One expected query: it fills the step. Four: the first fills 1/4, the second 1/4 of
    # the remaining 3/4 (0.25 + 0.1875 = 0.4375), half-way through the third:
    # 0.4375 + 0.5 * (0.5625 / 4) = 0.5078125.
    assert _query_share(0, 1, 0.5) == 0.5
    assert _query_share(0, 4, 1.0) == 0.25
    assert _query_share(2, 4, 0.0) == pytest.approx(0.4375)
    assert _query_share(2, 4, 0.5) == pytest.approx(0.5078125)
    assert _query_share(50, 4, 1.0) < 1.0


def test_imports_run_under_the_import_memory_limit_then_restore_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CADENCE_IMPORT_MEMORY_MB", "100")
    con = connect(tmp_path / "limits.duckdb")
    setting = "SELECT current_setting('memory_limit')"
    try:
        before = rows(con, setting)
        during: list[str] = []

        def progress(fraction: float, message: str) -> None:
            if message.startswith("checking"):  # the calling thread, while the worker imports
                cur = con.cursor()
                during.append(cur.execute(setting).fetchone()[0])
                cur.close()

        (summary,) = import_paths(con, [DATA / "servicenow_change_request.csv"], progress=progress)
        assert summary.inserted == 6
        assert during == ["95.3 MiB"]  # 100 MB = 100,000,000 bytes = 95.37 MiB
        assert rows(con, setting) == before
    finally:
        con.close()


# --- CLI --------------------------------------------------------------------------------------


def test_cli_load_with_preset_mapping_and_detection(tmp_path, capsys):
    db = str(tmp_path / "cli.duckdb")
    change_file = str(DATA / "servicenow_change_request.csv")
    assert main(["load", "--db", db, "--preset", "servicenow-change", change_file]) == 0
    mapping = str(MAPPINGS / "incidents-de.json")
    assert main(["load", "--db", db, "--mapping", mapping, str(DATA / "stoerungen_de.csv")]) == 0
    assert main(["load", "--db", db, str(DATA / "jira_issues.csv")]) == 0
    out = capsys.readouterr().out
    assert "servicenow_change_request.csv: changes: 6 inserted" in out
    assert "stoerungen_de.csv: incidents: 3 inserted" in out
    assert "jira_issues.csv: work_items: 4 inserted" in out
    con = duckdb.connect(db, read_only=True)
    assert rows(con, "SELECT count(*) FROM changes") == [(6,)]
    con.close()


def test_cli_errors_are_one_line(tmp_path, capsys):
    db = str(tmp_path / "cli.duckdb")
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "changes", "columns": {"A": "nope"}}', encoding="utf-8")
    assert main(["load", "--db", db, "--mapping", str(bad), str(DATA / "jira_issues.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: mapping bad: unknown changes column(s) 'A': 'nope'")
    assert err.count("\n") == 1


# --- Data page import form (Streamlit AppTest) ------------------------------------------------


def _import_form_app():
    """AppTest script: the import form over two fixture files (uploads cannot be simulated)."""
    import os
    from pathlib import Path

    import streamlit as st

    from analytics.loader import Source
    from ui.import_ui import import_form
    from ui.upload import K_RESULT, show_result

    folder = Path(os.environ["CADENCE_TEST_IMPORTS"])
    names = ["servicenow_change_request.csv", "stoerungen_de.csv"]
    import_form([Source(n, (folder / n).read_bytes()) for n in names])
    if st.session_state.get(K_RESULT) is not None:
        show_result(st.session_state[K_RESULT])


def test_import_form_offers_detected_preset_and_a_mapping(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "ui.duckdb"
    connect(db).close()  # an existing (empty) database: the app does not build the demo
    monkeypatch.setenv("CADENCE_DB", str(db))
    monkeypatch.setenv("CADENCE_TEST_IMPORTS", str(DATA))
    monkeypatch.setenv("CADENCE_MAPPINGS_DIR", str(MAPPINGS))
    at = AppTest.from_function(_import_form_app, default_timeout=60).run()
    assert not at.exception
    # The ServiceNow file is recognised; the German file is not.
    assert at.selectbox(key="imp_as_0").value == "servicenow-change"
    assert at.selectbox(key="imp_as_1").value == "detect"
    assert at.caption[1].value.startswith("Not recognised from the header")
    # The user reads it with a mapping: the draft from its header names is shown ...
    at.selectbox(key="imp_as_1").select("mapping").run()
    assert at.selectbox(key="imp_kind_1_(new mapping)").value == "incidents"  # guessed
    editor = next(d.value for d in at.dataframe if "maps to" in d.value.columns)
    draft = dict(zip(editor["source column"], editor["maps to"], strict=True))
    assert draft["Störung"] == "incident_id" and draft["Aufwand (h)"] == "effort_hours"
    assert draft["Art"] == ""  # not a known name: the user maps it (or picks a profile)
    # ... and picks the saved German profile (it maps Art with a value map).
    at.selectbox(key="imp_profile_1").select("incidents-de").run()
    assert at.selectbox(key="imp_kind_1_incidents-de").value == "incidents"
    at.button(key="load_button").click().run()
    assert not at.exception
    assert not at.error
    # 6 changes + 3 incidents stored, CHG0030006 (no outcome) rejected
    assert at.warning[0].value == "Loaded 2 file(s): 9 rows stored, 1 rejected."
    con = duckdb.connect(str(db))  # same configuration as the app's cached connection
    try:
        assert rows(con, "SELECT count(*) FROM changes") == [(6,)]
        assert rows(con, "SELECT incident_id, kind, effort_hours FROM incidents ORDER BY 1") == [
            ("S-1", "incident", 2.5),
            ("S-2", "request", 1234.5),
            ("S-3", "incident", None),
        ]
    finally:
        con.close()


def test_data_page_imports_an_uploaded_excel_export(demo_db, tmp_path, monkeypatch):
    import shutil

    from streamlit.testing.v1 import AppTest

    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["Number", "Priority", "Opened", "Resolved", "Service", "Caused by Change"])
    book.active.append(["INC9000001", "2 - High", datetime(2026, 11, 2, 8, 0), None, "web", None])
    upload = tmp_path / "incidents.xlsx"
    book.save(upload)
    db = tmp_path / "cadence.duckdb"
    shutil.copy(demo_db, db)
    monkeypatch.setenv("CADENCE_DB", str(db))
    app = str(Path(__file__).resolve().parent.parent / "app.py")
    at = AppTest.from_file(app, default_timeout=60).run()
    at.switch_page("app_pages/data.py").run()
    at.file_uploader(key="uploads").set_value(
        ("incidents.xlsx", upload.read_bytes(), "application/vnd.ms-excel")
    ).run()
    assert not at.exception
    assert at.selectbox(key="imp_as_0").value == "servicenow-incident"  # detected from labels
    at.button(key="load_button").click().run()
    assert not at.exception
    assert at.success[0].value == "Loaded 1 file(s): 1 rows stored, 0 rejected."
    con = duckdb.connect(str(db))
    try:
        sql = "SELECT priority, opened_at, service FROM incidents WHERE incident_id = 'INC9000001'"
        assert rows(con, sql) == [(2, ts("2026-11-02 08:00"), "web")]
    finally:
        con.close()


def test_an_import_out_of_memory_under_the_import_limit_is_run_again_without_it(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CADENCE_IMPORT_MEMORY_MB", "1")  # far too little: DuckDB runs out
    con = connect(tmp_path / "oom.duckdb")
    try:
        before = rows(con, "SELECT current_setting('memory_limit')")
        (summary,) = import_paths(con, [DATA / "servicenow_change_request.csv"])
        assert (summary.inserted, summary.rejected) == (6, 1)  # as without a limit
        assert rows(con, "SELECT count(*) FROM load_log") == [(1,)]  # the failed try wrote nothing
        assert rows(con, "SELECT current_setting('memory_limit')") == before
    finally:
        con.close()


def test_out_of_memory_is_not_mistaken_for_a_concurrent_import():
    from analytics.importers import RETRY_MESSAGE, _duckdb_message

    commit = duckdb.TransactionException(
        "TransactionContext Error: Failed to commit: could not allocate block of size 256.0 KiB"
    )
    conflict = duckdb.TransactionException("TransactionContext Error: Conflict on tuple deletion!")
    assert _duckdb_message(commit).startswith("not enough memory for the import")
    assert _duckdb_message(duckdb.OutOfMemoryException("x")).startswith("not enough memory")
    assert _duckdb_message(conflict) == RETRY_MESSAGE


def test_rejected_preview_keeps_the_first_rows_of_a_load(con, tmp_path):
    from analytics.importers import rejected_preview

    path = tmp_path / "incidents.csv"
    path.write_text(
        "incident_id,service,priority,opened_at\n"
        "I1,web,9,2026-01-05\n"  # row 2: priority outside 1-4
        "I2,web,1,2026-01-05\n"  # row 3: fine
        "I3,web,0,2026-01-05\n"  # row 4: priority outside 1-4
        "I4,web,7,2026-01-05\n",  # row 5: priority outside 1-4
        encoding="utf-8",
    )
    (summary,) = import_paths(con, [path])
    assert summary.rejected == 3
    (load_id,) = rows(con, "SELECT max(load_id) FROM load_log")[0]
    shown = rejected_preview(con, [load_id], limit=2)
    assert list(shown["line_number"]) == [2, 4]
    assert list(shown["column_name"]) == ["priority", "priority"]
    assert list(shown["raw_row"]) == ["I1,web,9,2026-01-05", "I3,web,0,2026-01-05"]


def test_a_second_process_is_told_to_retry_while_the_database_is_open(tmp_path, capsys):
    import subprocess
    import sys

    db = tmp_path / "shared.duckdb"
    connect(db).close()
    change_file = str(DATA / "servicenow_change_request.csv")
    holder = subprocess.Popen(  # another process with the database open (a dashboard, a load)
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
         "print('open', flush=True); sys.stdin.read()", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "open"
        assert main(["load", "--db", str(db), change_file]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            f"error: cannot open {db} (in use by another process?), please retry when it is done"
        )
        assert err.count("\n") == 1
    finally:
        holder.communicate("")
    # Nothing was half-written; once the other process is gone the load succeeds.
    assert main(["load", "--db", str(db), change_file]) == 0
    assert "changes: 6 inserted" in capsys.readouterr().out


# --- Data page: file text shown escaped, the upload limit -------------------------------------

INJECTION = "<script>alert(1)</script>**bold**[link](http://x)"


def _data_page(demo_db, tmp_path, monkeypatch):
    import shutil

    from streamlit.testing.v1 import AppTest

    db = tmp_path / "cadence.duckdb"
    shutil.copy(demo_db, db)
    monkeypatch.setenv("CADENCE_DB", str(db))
    app = str(Path(__file__).resolve().parent.parent / "app.py")
    at = AppTest.from_file(app, default_timeout=60).run()
    at.switch_page("app_pages/data.py").run()
    return at


def _markdown_shown(at) -> list[str]:
    """Every text the page renders as markdown (alerts, captions, markdown, headers)."""
    kinds = ("markdown", "caption", "error", "warning", "success", "info", "title", "subheader")
    return [e.value for kind in kinds for e in at.get(kind)]


def test_data_page_shows_file_names_and_headers_escaped(demo_db, tmp_path, monkeypatch):
    at = _data_page(demo_db, tmp_path, monkeypatch)
    name = f"{INJECTION}.csv"
    content = f"{INJECTION},**b2**,[l2](http://y)\n1,2,3\n".encode()
    at.file_uploader(key="uploads").set_value((name, content, "text/csv")).run()
    assert not at.exception
    assert f"{name} · {len(content):,} bytes" in [t.value for t in at.text]  # st.text: plain
    at.button(key="load_button").click().run()
    assert not at.exception
    # Not recognised: the refusal names the file and quotes its header, every markdown
    # character escaped.
    (error,) = at.error
    escaped = r"\<script\>alert\(1\)\</script\>\*\*bold\*\*\[link\]\(http://x\)"
    assert error.value.startswith(f"Nothing was loaded: {escaped}.csv: cannot tell what")
    assert rf"found: {escaped}, \*\*b2\*\*, \[l2\]\(http://y\)" in error.value
    for shown in _markdown_shown(at):
        assert "<script>" not in shown and "**bold**" not in shown and "**b2**" not in shown
        assert "](http://x)" not in shown and "](http://y)" not in shown


def test_data_page_refuses_an_oversized_upload_with_cadences_message(
    demo_db, tmp_path, monkeypatch
):
    import tomllib

    from analytics.importers import DEFAULT_MAX_UPLOAD_MB

    # Streamlit's own cap is above Cadence's default, so an oversized file reaches Cadence.
    config = Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml"
    server = tomllib.loads(config.read_text(encoding="utf-8"))["server"]
    assert server["maxUploadSize"] > DEFAULT_MAX_UPLOAD_MB
    monkeypatch.setenv("CADENCE_MAX_UPLOAD_MB", "1")
    at = _data_page(demo_db, tmp_path, monkeypatch)
    assert "Up to 1 MB per file (CADENCE_MAX_UPLOAD_MB)." in [c.value for c in at.caption]
    assert not at.warning  # Streamlit's 400 MB cap is above Cadence's 1 MB
    big = CANONICAL.encode() + b"x" * 1_200_000  # 1.15 MB
    at.file_uploader(key="uploads").set_value(("[big](http://x).csv", big, "text/csv")).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        r"\[big\]\(http://x\).csv: 1.1 MB is over the upload limit of 1 MB "
        r"\(set CADENCE\_MAX\_UPLOAD\_MB to change it\)"
    ]
    assert at.button(key="load_button").disabled
    # Raised above Streamlit's cap, the page says which setting to raise as well.
    monkeypatch.setenv("CADENCE_MAX_UPLOAD_MB", "500")
    at.run()
    assert at.warning[0].value.startswith(
        "Streamlit's server.maxUploadSize (400 MB) is not above CADENCE_MAX_UPLOAD_MB (500 MB)"
    )


def test_required_columns_are_checked_as_the_loader_reads_the_header():
    from analytics.importers import FileInfo
    from ui.import_ui import lacks_required

    def info(*header: str, kind: str = "incidents") -> FileInfo:
        return FileInfo(header, None, kind, ",", "utf-8")

    # the BPIC 2014 log: an incident id column alone; priority and opened_at are missing
    assert lacks_required(info("Incident_ID", "Open_Time")) == ["priority", "opened_at"]
    # a byte-order mark and doubled or padded spaces are no missing column to the loader
    assert lacks_required(info("\ufeffincident_id", " Priority ", "opened_at")) == []
    assert lacks_required(info("incident_id", "priority", kind=None)) == []  # unknown file
