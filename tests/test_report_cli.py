"""``python -m analytics report`` on a tiny database (the ``org`` data set of test_metrics)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys

import duckdb
import pytest
from test_metrics import build_org

from analytics.cli import main
from analytics.filters import Filter
from analytics.metrics import report
from analytics.schema import KINDS
from analytics.store import PROJECT_ROOT, connect

REPORT_KEYS = {
    "from",
    "to",
    "teams",
    "services",
    "hourly_rate",
    "window_days",
    "deployments",
    "deployments_per_week",
    "lead_time_hours_median",
    "failed_deployments",
    "change_failure_rate",
    "rework_rate",
    "incidents",
    "requests",
    "time_to_restore_hours_median",
    "failed_deployment_recovery_hours_median",
    "support_hours",
    "support_cost",
    "sprints",
    "sprint_length_days_median",
    "velocity_points_median",
    "say_do_ratio",
    "warranty_share",
    "by_approval",
    "dora",
    "attribution",
}


@pytest.fixture(scope="module")
def org_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "org.duckdb"
    con = connect(path)
    build_org(con)
    con.close()
    return str(path)


def run(capsys, *argv) -> tuple[int, str, str]:
    status = main(["report", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_json_has_every_report_key(org_db, capsys):
    status, out, err = run(
        capsys, "--db", org_db, "--from", "2026-01-05", "--to", "2026-01-18", "--format", "json"
    )
    assert status == 0 and err == ""
    data = json.loads(out)
    # every metric key; the statistics (analytics.insights) add their own keys to the JSON
    assert set(data) >= REPORT_KEYS
    assert set(data["dora"]) == {
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "failed_deployment_recovery",
    }
    assert set(data["attribution"]) == {
        "mode",
        "window_hours",
        "incidents_linked_explicitly",
        "incidents_linked_by_window",
        "incidents_unattributed",
        "placebo_links",
        "excess_links",
        "placebo_after_links",
        "p_value",
    }
    # the hand-computed values of test_metrics: 6 deployments, 4 failed, lead times median 30 h
    assert (data["deployments"], data["failed_deployments"]) == (6, 4)
    assert data["lead_time_hours_median"] == pytest.approx(30.0)
    assert data["support_cost"] == pytest.approx(24.5 * 75)


def test_report_dict_has_exactly_the_metric_keys(org_db):
    con = connect(org_db, read_only=True)
    try:
        data = report(con, Filter(dt.date(2026, 1, 5), dt.date(2026, 1, 18)))
    finally:
        con.close()
    assert set(data) == REPORT_KEYS
    json.dumps(data, allow_nan=False)  # JSON-ready: no numpy scalars, no NaN


def test_options_reach_the_report(org_db, capsys):
    status, out, _ = run(
        capsys,
        "--db", org_db, "--from", "2026-01-05", "--to", "2026-01-18", "--team", "alpha",
        "--hourly-rate", "100", "--attribution", "window", "--window-hours", "2",
        "--format", "json",
    )  # fmt: skip
    data = json.loads(out)
    assert status == 0
    assert data["teams"] == ["alpha"] and data["hourly_rate"] == 100.0
    assert data["support_cost"] == pytest.approx(700.0)  # alpha's 7 h at 100
    # alpha: C1 C2 C9 deployed; C2 failed, C9 caused I9, C1 is 1 h before I5 on web
    assert data["failed_deployments"] == 3
    assert data["attribution"]["mode"] == "window"
    assert data["attribution"]["incidents_linked_by_window"] == 1  # I5


def test_dates_default_to_the_data_range(org_db, capsys):
    status, out, _ = run(capsys, "--db", org_db, "--format", "json")
    data = json.loads(out)
    assert status == 0
    assert (data["from"], data["to"]) == ("2026-01-05", "2026-03-01")  # first go-live, last ticket
    assert data["deployments"] == 7  # C1 C2 C3 C4 C7 C8 C9


def test_table_output(org_db, capsys):
    status, out, _ = run(capsys, "--db", org_db, "--from", "2026-01-05", "--to", "2026-01-18")
    assert status == 0
    assert "2026-01-05 .. 2026-01-18 (14 days)" in out
    lines = {line.split("  ")[1].strip(): line for line in out.splitlines() if line[:2] == "  "}
    assert "66.7 %" in lines["Change failure rate"]  # 4 / 6
    assert "[low]" in lines["Change failure rate"]
    assert "30.0 h" in lines["Lead time, median"]
    assert "1,837.50" in lines["Support cost"]  # 24.5 h x 75
    assert "n/a" not in lines["Warranty share"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "2026-02-30"], "--from '2026-02-30' is not a date"),
        (["--to", "18.01.2026"], "--to '18.01.2026' is not a date"),
        (["--from", "2026-01-18", "--to", "2026-01-05"], "is after --to"),
        (["--from", "2027-01-01"], "2027-01-01 is after the last day with data (2026-03-01)"),
        (["--to", "2025-01-01"], "--to 2025-01-01 is before the first day with data (2026-01-05)"),
        (["--attribution", "window"], "needs --window-hours"),
        (["--window-hours", "3"], "only applies with --attribution window"),
        (["--attribution", "window", "--window-hours", "-1"], "--window-hours must be"),
        (["--hourly-rate", "-5"], "--hourly-rate must be"),
        (["--hourly-rate", "nan"], "--hourly-rate must be at least 0, not nan"),
        (["--team", "Alpha"], "unknown team 'Alpha' (known: alpha, beta)"),
        (["--service", "www"], "unknown service 'www' (known: api, db, web)"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(org_db, capsys, argv, message):
    status, out, err = run(capsys, "--db", org_db, *argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert message in err


def test_missing_database(tmp_path, capsys):
    status, _, err = run(capsys, "--db", str(tmp_path / "nope.duckdb"))
    assert status == 2
    assert err.count("\n") == 1 and "database not found" in err


def test_files_that_are_not_cadence_databases(tmp_path, capsys):
    text = tmp_path / "notes.duckdb"
    text.write_text("hello\n")
    status, _, err = run(capsys, "--db", str(text))
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"error: cannot open database {text}: ")
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE x (a INTEGER)")
    con.close()
    status, _, err = run(capsys, "--db", str(other))
    assert (status, err) == (2, f"error: {other} is not a Cadence database (no table changes)\n")


def test_reads_a_database_without_later_tables(tmp_path, capsys):
    """Read-only, nothing is migrated: a file without the tables added after v1 still reports."""
    path = tmp_path / "old.duckdb"
    con = connect(path)
    build_org(con)
    extra = set(KINDS) - {"sprints", "work_items", "changes", "incidents"}
    for table in extra:
        con.execute(f"DROP TABLE {table}")
    con.close()
    status, out, _ = run(
        capsys, "--db", str(path), "--from", "2026-01-05", "--to", "2026-01-18", "--format", "json"
    )
    assert status == 0 and json.loads(out)["deployments"] == 6


def test_empty_window_table_shows_na(org_db, capsys):
    status, out, _ = run(capsys, "--db", org_db, "--from", "2025-06-01", "--to", "2025-06-30")
    assert status == 0
    lines = {line.split("  ")[1].strip(): line for line in out.splitlines() if line[:2] == "  "}
    assert lines["Deployments"].split()[-1] == "0"
    assert lines["Change failure rate"].split()[-1] == "n/a"
    assert lines["Lead time, median"].split()[-1] == "n/a"


def test_empty_database_needs_dates(tmp_path, capsys):
    path = tmp_path / "empty.duckdb"
    connect(path).close()
    status, _, err = run(capsys, "--db", str(path))
    assert status == 2 and "holds no records" in err
    status, out, _ = run(
        capsys, "--db", str(path), "--from", "2026-01-01", "--to", "2026-01-07", "--format", "json"
    )
    assert status == 0 and json.loads(out)["deployments"] == 0


def test_real_process_exit_code(org_db):
    """The module entry point: exit status 2 and one line on stderr, no traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "analytics", "report", "--db", org_db, "--from", "nope"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --from 'nope' is not a date of the form YYYY-MM-DD"
    ]


def test_the_json_report_imports_no_pandas(org_db, tmp_path):
    # pandas with pyarrow took 0.5 s of the report's run (#11): every query the report runs
    # returns numpy columns. A register with a team-scoped restore time and a weekly count
    # takes the CSI measurements through the team series, the DiD and the tickets too.
    path = tmp_path / "register.duckdb"
    shutil.copy(org_db, path)
    con = connect(path)
    con.execute(
        """INSERT INTO improvements (improvement_id, title, started_on, team, target_metric,
               expected_direction)
           VALUES ('IMP-1', 'Faster restores', DATE '2026-01-12', 'alpha',
                   'time_to_restore_hours_median', 'down'),
                  ('IMP-2', 'Fewer incidents', DATE '2026-01-12', 'beta', 'incidents', 'down'),
                  ('IMP-3', 'Unscoped', DATE '2026-01-12', NULL, 'deployments', 'up')"""
    )
    con.close()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "analytics", "report", "--db", str(path),
         "--format", "json", "--attribution", "window", "--window-hours", "2"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    imported = [
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    ]
    # the whole report path was imported and ran (its JSON has the register's three entries)
    assert {"analytics.insights", "analytics.improvements"} <= set(imported)
    assert [i["improvement_id"] for i in json.loads(done.stdout)["improvements"]] == [
        "IMP-1",
        "IMP-2",
        "IMP-3",
    ]
    assert [m for m in imported if m.split(".")[0] in ("pandas", "pyarrow")] == []


def test_table_names_the_placebo_test_it_ran(org_db):
    from analytics.metrics import Attribution
    from analytics.report import format_table

    con = connect(org_db, read_only=True)
    try:
        window = Attribution("window", 2.0)
        data = report(con, Filter(dt.date(2026, 1, 5), dt.date(2026, 1, 18)), attribution=window)
    finally:
        con.close()
    # the organisation has too short a deployment record for a p-value: give it one
    data["attribution"]["p_value"] = 0.0312
    rows = [line.split() for line in format_table(data).splitlines()]
    # a one-sided normal test with a cluster-robust variance, neither a sign test nor permutations
    assert ["Beyond", "chance", "0.0", "one-sided", "p", "=", "0.031"] in rows
    assert ["Placebo", "links", "0.0", "a", "week", "either", "side"] in rows
