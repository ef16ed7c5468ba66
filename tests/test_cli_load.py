"""`python -m analytics load` and `demo` through `analytics.cli.main`: exit codes, output."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.cli import main
from analytics.store import connect

INCIDENTS = (
    "incident_id,service,priority,opened_at\n"
    "I1,web,1,2024-03-01T10:00:00+02:00\n"  # row 2: 08:00 UTC
    "I2,web,9,2024-03-01\n"  # row 3: rejected
    "I3,db,2,2024-03-02\n"  # row 4
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def table(db: Path, sql: str) -> list[tuple]:
    con = connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_load_prints_a_summary_per_file(tmp_path, capsys):
    db = tmp_path / "c.duckdb"
    path = write(tmp_path, "inc.csv", INCIDENTS)

    assert main(["load", "--db", str(db), str(path)]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{path}: incidents: 2 inserted, 0 updated, 1 rejected, 0 superseded",
        "  rejected row 3, column priority: 9 is outside 1-4",
    ]
    assert table(db, "SELECT incident_id, opened_at::VARCHAR FROM incidents ORDER BY 1") == [
        ("I1", "2024-03-01 08:00:00"),
        ("I3", "2024-03-02 00:00:00"),
    ]


def test_loading_again_updates(tmp_path, capsys):
    db = tmp_path / "c.duckdb"
    path = write(tmp_path, "inc.csv", INCIDENTS)
    assert main(["load", "--db", str(db), str(path)]) == 0
    assert main(["load", "--db", str(db), str(path)]) == 0
    last = capsys.readouterr().out.splitlines()[-2]
    assert last == f"{path}: incidents: 0 inserted, 2 updated, 1 rejected, 0 superseded"
    assert table(db, "SELECT count(*) FROM incidents") == [(2,)]


def test_replace_and_kind_options(tmp_path, capsys):
    db = tmp_path / "c.duckdb"
    assert main(["load", "--db", str(db), str(write(tmp_path, "a.csv", INCIDENTS))]) == 0
    other = write(tmp_path, "b.csv", "incident_id,priority,opened_at\nI7,4,2024-03-05\n")
    assert main(["load", "--db", str(db), "--kind", "incidents", "--replace", str(other)]) == 0
    out = capsys.readouterr().out.splitlines()
    # I1 and I3 were there; the file holds only I7: 1 inserted, 2 removed.
    assert out[-1] == (
        f"{other}: incidents: 1 inserted, 0 updated, 0 rejected, 0 superseded; "
        "replaced all incidents (2 old rows removed)"
    )
    assert table(db, "SELECT incident_id FROM incidents") == [("I7",)]


def test_a_bad_file_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    db = tmp_path / "c.duckdb"
    good = write(tmp_path, "inc.csv", INCIDENTS)
    bad = write(tmp_path, "chg.csv", "change_id,change_type,requested_at\nC1,normal,2024-03-01\n")

    assert main(["load", "--db", str(db), str(good), str(bad)]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: {bad}: missing required column(s) outcome for changes; "
        "found: change_id, change_type, requested_at\n"
    )
    assert table(db, "SELECT count(*) FROM incidents") == [(0,)]
    assert table(db, "SELECT count(*) FROM load_log") == [(0,)]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "the file is empty"),
        (
            "ragged.csv",
            "incident_id,priority,opened_at\nI1,1,2024-03-01\nI2,1,2024-03-01,x\n",
            "malformed CSV near line 3",
        ),
    ],
)
def test_file_problems_exit_2_without_traceback(tmp_path, capsys, name, content, message):
    path = write(tmp_path, name, content)
    assert main(["load", "--db", str(tmp_path / "c.duckdb"), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    assert main(["load", "--db", str(tmp_path / "c.duckdb"), str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"error: {missing}: cannot read the file (No such file or directory)\n"
    )


def test_demo_builds_a_database(tmp_path, capsys, monkeypatch):
    demo = tmp_path / "demo"
    demo.mkdir()
    write(demo, "sprints.csv", "sprint_id,team,start_date,end_date\nS1,red,2024-03-01,2024-03-14\n")
    write(demo, "incidents.csv", INCIDENTS)
    monkeypatch.setattr("analytics.store.DEMO_DIR", demo)
    db = tmp_path / "demo.duckdb"

    assert main(["demo", "--db", str(db)]) == 0

    # 1 sprint + 2 valid incidents = 3 rows.
    assert capsys.readouterr().out == f"Demo database ready: {db} (3 rows)\n"
    assert table(db, "SELECT count(*) FROM sprints") == [(1,)]


def test_demo_without_data_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("analytics.store.DEMO_DIR", tmp_path / "nothing-here")
    assert main(["demo", "--db", str(tmp_path / "demo.duckdb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no demo data in ") and err.count("\n") == 1
