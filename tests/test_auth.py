"""Roles, the audit log and the database-problem plumbing, without the dashboard: who gets
which role, what each role may do, the audit table (and its migration), and how an
unreadable or locked database file is recognised and moved aside."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import duckdb
import pytest

from analytics import access, audit, store
from analytics.access import (
    ADMIN,
    EDIT_REGISTER,
    EDITOR,
    REPLACE,
    RESET,
    SAVE_MAPPING,
    UPLOAD,
    VIEW,
    VIEWER,
    AccessDenied,
    Principal,
    RoleConfig,
    RolesError,
    load_roles,
    parse_roles,
    resolve_role,
)
from analytics.db import CORRUPT, LOCKED, UNREADABLE, classify_open_error

CONFIG = parse_roles(
    {
        "default": "viewer",
        "users": {"Ana@Example.com": "admin", "ben@example.com": "Editor"},
    }
)


# --- roles -------------------------------------------------------------------------------------


def test_roles_are_read_case_insensitively():
    expected = {"ana@example.com": "admin", "ben@example.com": "editor"}
    assert (CONFIG.default, CONFIG.users) == ("viewer", expected)


@pytest.mark.parametrize(
    ("email", "verified", "role"),
    [
        ("ana@example.com", None, ADMIN),
        ("  ANA@example.COM ", True, ADMIN),  # as the provider may spell it
        ("ben@example.com", None, EDITOR),
        ("cleo@example.com", None, VIEWER),  # not listed: the default
        (None, None, VIEWER),  # no e-mail claim at all: the default
        ("ana@example.com", False, VIEWER),  # an unverified address is not trusted
    ],
)
def test_role_resolution(email, verified, role):
    assert resolve_role(CONFIG, email, verified) == role


def test_default_none_lets_only_listed_users_in():
    config = parse_roles({"default": "none", "users": {"ana@example.com": "viewer"}})
    assert resolve_role(config, "ana@example.com") == VIEWER
    assert resolve_role(config, "eve@example.com") is None
    assert not access.allows(None, VIEW)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"default": "owner"}, "default is 'owner'"),
        ({"users": {"ana@example.com": "superuser"}}, "'ana@example.com' is 'superuser'"),
        ({"users": {"ana": "admin"}}, "'ana' in [users] is not an e-mail address"),
        ({"admins": ["ana@example.com"]}, "unknown key(s) ['admins']"),
        ({"users": ["ana@example.com"]}, "[users] must map e-mail addresses to roles"),
    ],
)
def test_a_bad_roles_document_is_refused_with_the_reason(doc, message):
    with pytest.raises(RolesError) as caught:
        parse_roles(doc, "cadence-roles.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("cadence-roles.toml: ")


def test_roles_file(tmp_path):
    assert load_roles(tmp_path / "missing.toml") == RoleConfig()  # everyone a viewer
    path = tmp_path / "cadence-roles.toml"
    path.write_text('default = "none"\n[users]\n"ana@example.com" = "admin"\n', encoding="utf-8")
    assert load_roles(path) == RoleConfig("none", {"ana@example.com": "admin"})
    path.write_text('default = "viewer"\n[users\n', encoding="utf-8")
    with pytest.raises(RolesError) as caught:
        load_roles(path)
    # the message names the file, never its folder (it may be shown in the browser)
    assert str(caught.value).startswith("cadence-roles.toml: cannot be read")
    assert str(tmp_path) not in str(caught.value)


# What each role may do, written out by hand from the brief: viewer sees, editor uploads and
# keeps the register and mapping profiles, admin also replaces tables and resets.
ALLOWED = {
    VIEWER: {VIEW},
    EDITOR: {VIEW, UPLOAD, EDIT_REGISTER, SAVE_MAPPING},
    ADMIN: {VIEW, UPLOAD, EDIT_REGISTER, SAVE_MAPPING, REPLACE, RESET},
    None: set(),
}


@pytest.mark.parametrize("role", list(ALLOWED))
def test_what_each_role_may_do(role):
    assert {a for a in access.NEEDS if access.allows(role, a)} == ALLOWED[role]


def test_a_refusal_says_which_role_is_needed():
    viewer = Principal("cleo@example.com", VIEWER, signed_in=True)
    assert viewer.refusal(UPLOAD) == (
        "Uploading data needs the editor role; you are signed in as viewer."
    )
    with pytest.raises(AccessDenied, match="Resetting to the demo data needs the admin role"):
        viewer.require(RESET)
    Principal("ana@example.com", ADMIN, signed_in=True).require(RESET)  # no exception


def test_single_user_mode_is_the_local_admin():
    assert access.LOCAL.who == "local user"
    assert access.LOCAL.single_user and not access.LOCAL.signed_in
    assert all(access.LOCAL.may(a) for a in access.NEEDS)


# --- audit log ---------------------------------------------------------------------------------


def test_audit_entries_newest_first(con):
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    audit.record(con, "ana@example.com", audit.APPEND, "changes", 2, "new-changes.csv")
    audit.record(con, "local user", audit.SAVE_PROFILE, None, None, "incidents-de.json")
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    log = audit.latest(con)
    assert log[["who", "action", "table_name", "detail"]].fillna("-").values.tolist() == [
        ["local user", "save mapping profile", "-", "incidents-de.json"],
        ["ana@example.com", "append", "changes", "new-changes.csv"],
    ]
    assert log["row_count"].isna().tolist() == [True, False]
    assert int(log["row_count"].iloc[1]) == 2
    assert all(before <= t.to_pydatetime() <= after for t in log["changed_at"])  # UTC
    assert len(audit.latest(con, limit=1)) == 1


def test_an_audit_entry_rolls_back_with_its_change(con):
    con.execute("BEGIN TRANSACTION")
    audit.record(con, "ana@example.com", audit.DELETE, "improvements", 1, "IMP-01")
    con.execute("ROLLBACK")
    assert audit.latest(con).empty


def test_a_v2_database_gains_the_audit_log(tmp_path):
    path = tmp_path / "v2.duckdb"
    con = store.connect(path)
    # what a v2 database looked like: no audit table, no sequence
    con.execute("DROP TABLE audit_log")
    con.execute("DROP SEQUENCE audit_log_seq")
    con.execute("UPDATE schema_info SET version = 2")
    con.close()
    con = store.connect(path)
    try:
        assert store.schema_version(con) == 3
        audit.record(con, "local user", audit.RESET, "changes", 10)
        assert audit.latest(con)["row_count"].tolist() == [10]
    finally:
        con.close()


# --- a database that cannot be opened ----------------------------------------------------------


def test_random_bytes_are_recognised_as_a_corrupt_database(tmp_path):
    path = tmp_path / "cadence.duckdb"
    path.write_bytes(os.urandom(64 * 1024))
    with pytest.raises(duckdb.Error) as caught:
        store.connect(path)
    problem = classify_open_error(caught.value)
    assert (problem.kind, problem.pid) == (CORRUPT, None)
    assert str(tmp_path) not in repr(problem)


HOLD_LOCK = (
    "import sys, duckdb; con = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
    "sys.stdin.read()"
)


def test_a_database_locked_by_another_process_names_that_process(tmp_path):
    path = tmp_path / "cadence.duckdb"
    store.connect(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(duckdb.Error) as caught:
            store.connect(path)
        problem = classify_open_error(caught.value)
        assert (problem.kind, problem.pid) == (LOCKED, holder.pid)
    finally:
        holder.communicate("")  # end of input: the holder exits and releases the lock
    store.connect(path).close()  # and the file opens again


def test_any_other_failure_is_unreadable():
    assert classify_open_error(KeyError(7)).kind == UNREADABLE
    assert classify_open_error(PermissionError("denied")).error == "PermissionError"


def test_move_aside_keeps_the_file_and_its_log(tmp_path):
    from ui.data import move_aside

    path = tmp_path / "cadence.duckdb"
    path.write_bytes(b"junk")
    (tmp_path / "cadence.duckdb.wal").write_bytes(b"log")
    aside = move_aside(path, dt.datetime(2026, 12, 2, 13, 5, 9, tzinfo=dt.UTC))
    assert aside.name == "cadence.duckdb.corrupt-20261202T130509Z"
    assert aside.read_bytes() == b"junk"
    assert (tmp_path / "cadence.duckdb.corrupt-20261202T130509Z.wal").read_bytes() == b"log"
    assert not path.exists() and not (tmp_path / "cadence.duckdb.wal").exists()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            'IO Error: Could not set lock on file "/srv/cadence/data/cadence.duckdb": '
            "Conflicting lock is held in /usr/bin/python3.11 (PID 42).",
            'IO Error: Could not set lock on file "cadence.duckdb": '
            "Conflicting lock is held in python3.11 (PID 42).",
        ),
        (r"C:\Users\ana\cadence\cadence.duckdb is damaged", "cadence.duckdb is damaged"),
        ("no demo data in /opt/cadence/data/demo", "no demo data in demo"),
        # not paths: dates, relative names and web addresses stay as they are
        ("01/02/2026 in data/demo, see https://duckdb.org/docs/x", None),
    ],
)
def test_messages_lose_their_server_paths(text, shown):
    from ui.data import redact_paths

    assert redact_paths(text) == (text if shown is None else shown)


@pytest.mark.parametrize(
    ("address", "local"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("", False), ("0.0.0.0", False)],
)
def test_which_server_addresses_are_this_computer_only(address, local):
    from ui.auth import _loopback

    assert _loopback(address) is local


@pytest.mark.parametrize(
    ("env", "address"), [({}, "127.0.0.1"), ({"CADENCE_ADDRESS": "0.0.0.0"}, "0.0.0.0")]
)
def test_make_run_listens_on_this_computer_unless_told_otherwise(env, address):
    environ = {k: v for k, v in os.environ.items() if k != "CADENCE_ADDRESS"} | env
    commands = subprocess.run(
        ["make", "-n", "run"], cwd=store.PROJECT_ROOT, env=environ, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    assert f"--server.address {address}" in commands
