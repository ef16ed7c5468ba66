"""The dashboard with sign-in on and off (Streamlit AppTest, real DuckDB): a visitor sees only
the sign-in page, each role sees the controls it may use and is refused in the handler of those
it may not, every change lands in the audit log, an unreadable or locked database says how to
recover on the Data page, and no page shows a server path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from analytics.store import PROJECT_ROOT, row_counts

APP = str(PROJECT_ROOT / "app.py")
DATA_PAGE = "app_pages/data.py"
TIMEOUT = 60
# A placeholder OIDC provider: the tests never call st.login, so nothing is contacted.
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-only-cookie-secret",
    "client_id": "cadence-test",
    "client_secret": "test-only-client-secret",
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
}
ROLES = """
default = "viewer"
[users]
"ed@example.com" = "editor"
"ad@example.com" = "admin"
"""
VIEWER, EDITOR, ADMIN = "vi@example.com", "ed@example.com", "ad@example.com"
GOOD = (
    b"change_id,service,team,change_type,approval,risk,requested_at,implemented_at,outcome\n"
    b"UP-1,web,Payments,normal,cab,low,2026-11-01 10:00,2026-11-02 10:00,successful\n"
    b"UP-2,web,Payments,standard,,low,2026-11-03 10:00,2026-11-03 12:00,successful\n"
)


@pytest.fixture
def db(demo_db, tmp_path):
    """A private copy of the demo database (the app keeps a connection to it open)."""
    path = tmp_path / "cadence.duckdb"
    shutil.copy(demo_db, path)
    return path


@pytest.fixture
def roles(tmp_path, monkeypatch):
    path = tmp_path / "cadence-roles.toml"
    path.write_text(ROLES, encoding="utf-8")
    monkeypatch.setenv("CADENCE_ROLES", str(path))
    return path


def app(db: Path, monkeypatch, email: str | None = None, signed_in: bool = True) -> AppTest:
    """The app on ``db``; with ``email``, sign-in is configured and that user is signed in
    (``signed_in=False``: configured, nobody signed in). Not run yet."""
    monkeypatch.setenv("CADENCE_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if email is not None or not signed_in:
        at.secrets["auth"] = dict(AUTH)
        at.user = {"is_logged_in": signed_in, "email": email, "email_verified": True}
    return at


def on_data_page(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    at.switch_page(DATA_PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def audit_rows(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db))  # same configuration as the app's cached connection
    try:
        return con.execute(
            "SELECT who, action, table_name, row_count, detail FROM audit_log ORDER BY audit_id"
        ).fetchall()
    finally:
        con.close()


def counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db))
    try:
        return row_counts(con)
    finally:
        con.close()


def button_keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key}


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


# --- who gets in ----------------------------------------------------------------------------------


def test_without_sign_in_the_local_user_is_admin(db, monkeypatch):
    at = on_data_page(app(db, monkeypatch))
    assert "Single-user mode" in captions(at)
    assert any("Single-user mode" in c.value for c in at.sidebar.caption)
    assert at.get("file_uploader") and "reset_demo" in button_keys(at)


def test_a_visitor_sees_only_the_sign_in_page(db, roles, monkeypatch):
    at = app(db, monkeypatch, signed_in=False).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Cadence"]
    assert at.markdown[0].value == "Sign in to see the dashboard."
    # no page ran: no filters, no data, no navigation
    assert "filter" not in at.session_state
    assert not at.sidebar.children or not any(True for _ in at.sidebar.selectbox)
    assert not at.metric and not at.dataframe
    try:
        import authlib  # noqa: F401

        assert "sign_in_default" in button_keys(at)
    except ImportError:  # Streamlit's st.login needs Authlib on the server: the page says so
        assert "Authlib package" in at.error[0].value


def test_a_named_provider_gets_its_own_button(db, roles, monkeypatch):
    pytest.importorskip("authlib")
    at = app(db, monkeypatch, signed_in=False)
    at.secrets["auth"] = {**AUTH, "okta": {"client_id": "x"}}
    at.run()
    assert "sign_in_okta" in button_keys(at)


def test_a_signed_in_user_without_a_role_is_kept_out(db, tmp_path, monkeypatch):
    path = tmp_path / "only-ana.toml"
    path.write_text('default = "none"\n[users]\n"ana@example.com" = "viewer"\n', "utf-8")
    monkeypatch.setenv("CADENCE_ROLES", str(path))
    at = app(db, monkeypatch, "eve@example.com").run()
    assert not at.exception
    assert at.warning[0].value.startswith("You are signed in as eve@example.com, but this")
    assert "filter" not in at.session_state and not at.metric
    assert "sign_out" in button_keys(at)


def test_a_broken_roles_file_keeps_everyone_out(db, tmp_path, monkeypatch):
    path = tmp_path / "cadence-roles.toml"
    path.write_text('default = "owner"\n', "utf-8")
    monkeypatch.setenv("CADENCE_ROLES", str(path))
    at = app(db, monkeypatch, ADMIN).run()
    assert "roles file has a problem: cadence-roles.toml: default is 'owner'" in at.error[0].value
    assert "filter" not in at.session_state


# --- what each role may do ----------------------------------------------------------------------


def test_a_viewer_sees_the_pages_but_no_upload_or_reset(db, roles, monkeypatch):
    at = app(db, monkeypatch, VIEWER).run()
    assert not at.exception
    assert at.title[0].value == "Overview" and at.metric  # the dashboard itself
    assert any(f"Signed in as {VIEWER} · role: viewer" in c.value for c in at.sidebar.caption)
    on_data_page(at)
    assert not at.get("file_uploader")
    assert "reset_demo" not in button_keys(at)
    text = captions(at)
    assert "Uploading data needs the editor role; you are signed in as viewer." in text
    assert "Resetting to the demo data needs the admin role; you are signed in as viewer." in text
    at.switch_page("app_pages/csi_register.py").run()
    assert not at.exception
    assert "Adding, editing and removing improvements needs the editor role" in captions(at)
    assert not [b for b in at.button if b.key == "remove_button"]
    assert not at.get("form")


def _import_as_signed_in_user():
    """AppTest script: the upload handler called directly (as a forged request would)."""
    import os

    import streamlit as st

    from analytics.loader import Source
    from ui.import_ui import run_import

    replace = os.environ["CADENCE_TEST_REPLACE"] == "1"
    source = Source("new-changes.csv", os.environ["CADENCE_TEST_CSV"].encode())
    result = run_import([source], [(None, None)], replace, None)
    st.text(result.error or f"stored {sum(s.inserted for s in result.summaries)}")


def _reset_as_signed_in_user():
    """AppTest script: the reset handler called directly."""
    import streamlit as st

    from ui import data

    st.text(data.reset_action() or "not reset")


def _save_profile_as_signed_in_user():
    """AppTest script: the Save profile handler called directly."""
    import streamlit as st

    from analytics.importers.mapping import parse_profile
    from ui.import_ui import save_mapping

    columns = {"Nr": "incident_id", "Prio": "priority", "Opened": "opened_at"}
    profile = parse_profile({"kind": "incidents", "columns": columns}, "")
    path = save_mapping(profile, "team incidents")
    st.text(path.name if path else "not saved")


def handler(script, db: Path, monkeypatch, email: str, replace: bool = False) -> AppTest:
    monkeypatch.setenv("CADENCE_DB", str(db))
    monkeypatch.setenv("CADENCE_TEST_CSV", GOOD.decode())
    monkeypatch.setenv("CADENCE_TEST_REPLACE", "1" if replace else "0")
    at = AppTest.from_function(script, default_timeout=TIMEOUT)
    at.secrets["auth"] = dict(AUTH)
    at.user = {"is_logged_in": True, "email": email}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_handlers_refuse_a_viewer(db, roles, monkeypatch):
    before = counts(db)
    at = handler(_import_as_signed_in_user, db, monkeypatch, VIEWER)
    assert at.text[0].value == "Uploading data needs the editor role; you are signed in as viewer."
    at = handler(_reset_as_signed_in_user, db, monkeypatch, VIEWER)
    assert at.error[0].value.startswith("Resetting to the demo data needs the admin role")
    assert at.text[0].value == "not reset"
    assert counts(db) == before
    assert audit_rows(db) == []


def test_an_editor_uploads_but_neither_replaces_nor_resets(db, roles, monkeypatch):
    at = on_data_page(app(db, monkeypatch, EDITOR))
    assert "reset_demo" not in button_keys(at)
    assert "Resetting to the demo data needs the admin role" in captions(at)
    before = counts(db)["changes"]
    at.file_uploader(key="uploads").set_value(("new-changes.csv", GOOD, "text/csv")).run()
    assert at.radio(key="load_mode").options == [
        "Append: add new rows, update rows with a known id"
    ]
    assert "Replacing whole tables needs the admin role" in captions(at)
    at.button(key="load_button").click().run()
    assert not at.exception
    assert at.success[0].value == "Loaded 1 file(s): 2 rows stored, 0 rejected."
    assert counts(db)["changes"] == before + 2
    assert audit_rows(db) == [(EDITOR, "append", "changes", 2, "new-changes.csv")]
    # the audit log is on the Data page
    log = next(d.value for d in at.dataframe if "who" in d.value.columns)
    assert log[["who", "action", "table_name"]].values.tolist() == [[EDITOR, "append", "changes"]]
    # a forged replace or reset is refused in the handler
    at = handler(_import_as_signed_in_user, db, monkeypatch, EDITOR, replace=True)
    assert at.text[0].value.startswith("Replacing whole tables needs the admin role")
    at = handler(_reset_as_signed_in_user, db, monkeypatch, EDITOR)
    assert at.text[0].value == "not reset"
    assert counts(db)["changes"] == before + 2
    assert len(audit_rows(db)) == 1


def test_an_admin_resets_and_the_reset_is_audited(db, roles, monkeypatch):
    demo = counts(db)
    at = handler(_import_as_signed_in_user, db, monkeypatch, ADMIN, replace=True)
    assert at.text[0].value == "stored 2"
    assert counts(db)["changes"] == 2  # replaced
    at = on_data_page(app(db, monkeypatch, ADMIN))
    at.button(key="reset_demo").click().run()
    assert not at.exception
    assert at.success[-1].value.startswith("Demo data restored")
    assert counts(db) == demo
    rows = audit_rows(db)
    assert rows[0] == (
        ADMIN,
        "replace",
        "changes",
        2,
        f"new-changes.csv; {demo['changes']:,} old rows removed",
    )
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        (ADMIN, "reset to demo data", kind)
        for kind in ("sprints", "work_items", "changes", "incidents", "improvements")
    ]
    assert {r[2]: r[3] for r in rows[1:]} == demo


def test_csi_register_changes_need_an_editor_and_are_audited(db, roles, monkeypatch):
    at = app(db, monkeypatch, EDITOR).run()
    at.switch_page("app_pages/csi_register.py").run()
    assert not at.exception
    at.text_input(key="add_id").input("IMP-90")
    at.text_input(key="add_title").input("Pair on every emergency change")
    at.selectbox(key="add_target_metric").select("change_failure_rate")
    at.selectbox(key="add_expected_direction").select("down")
    next(b for b in at.button if b.label == "Add improvement").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert audit_rows(db) == [(EDITOR, "add", "improvements", 1, "IMP-90")]


# --- an unreadable or locked database -----------------------------------------------------------


def test_a_corrupt_database_points_to_the_data_page_which_recovers(tmp_path, monkeypatch):
    db = tmp_path / "cadence.duckdb"
    db.write_bytes(os.urandom(256 * 1024))
    at = app(db, monkeypatch).run()
    assert not at.exception
    assert at.error[0].value.startswith(
        "The database file cadence.duckdb is not a readable DuckDB database"
    )
    assert at.get("page_link")  # to the Data page
    at.switch_page(DATA_PAGE).run()
    assert not at.exception
    assert "is not a readable DuckDB database" in at.error[0].value
    assert any("cadence.duckdb.corrupt-" in m.value for m in at.markdown)
    at.button(key="db_recover").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.success[0].value.startswith("Demo data restored (")
    assert "The unreadable file was kept beside it as cadence.duckdb.corrupt-" in (
        at.success[0].value
    )
    assert any(s.value == "Load history" for s in at.subheader)  # the page works again
    [aside] = tmp_path.glob("cadence.duckdb.corrupt-*")
    assert aside.stat().st_size == 256 * 1024
    assert counts(db)["changes"] > 0
    rows = audit_rows(db)
    assert {r[:2] for r in rows} == {("local user", "reset to demo data")}
    assert rows[0][4] == f"unreadable database kept as {aside.name}"


def test_recovering_a_corrupt_database_needs_an_admin(tmp_path, roles, monkeypatch):
    db = tmp_path / "cadence.duckdb"
    db.write_bytes(os.urandom(4096))
    at = on_data_page(app(db, monkeypatch, EDITOR))
    assert "db_recover" not in button_keys(at)
    assert "Resetting to the demo data needs the admin role" in captions(at)
    assert db.stat().st_size == 4096


HOLD_LOCK = (
    "import sys, duckdb; con = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
    "sys.stdin.read()"
)


def test_a_locked_database_names_the_other_process_and_opens_once_it_is_closed(db, monkeypatch):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        at = app(db, monkeypatch).run()
        assert not at.exception
        assert at.error[0].value.startswith(
            f"The database file cadence.duckdb is open for writing in another program "
            f"(process {holder.pid})"
        )
        at.switch_page(DATA_PAGE).run()
        assert "Close the other program" in at.markdown[-1].value or any(
            "Close the other program" in m.value for m in at.markdown
        )
        assert "db_recover" not in button_keys(at)  # nothing is moved while another writes
    finally:
        holder.communicate("")
    at.button(key="db_retry").click().run()
    assert not at.exception
    assert not at.error
    assert any(s.value == "Load history" for s in at.subheader)


# --- nothing of the server's file system in the browser -----------------------------------------


def _protos(node):
    proto = getattr(node, "proto", None)
    if proto is not None:
        yield proto
    children = getattr(node, "children", None) or {}
    for child in children.values():
        yield from _protos(child)


def shown_bytes(at: AppTest) -> bytes:
    """Everything the browser receives for the page: every element's message, serialised."""
    return b"".join(p.SerializeToString() for p in _protos(at._tree))


PAGES = sorted(f"app_pages/{p.name}" for p in (PROJECT_ROOT / "app_pages").glob("*.py"))


def test_no_page_shows_a_server_path(db, monkeypatch):
    secret = [str(db.parent).encode(), str(PROJECT_ROOT).encode()]
    at = app(db, monkeypatch).run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.message for e in at.exception])
        shown = shown_bytes(at)
        assert b"cadence.duckdb" in shown or page != DATA_PAGE  # the name is there, ...
        assert not [s for s in secret if s in shown], page  # ... its folders are not
    # the sidebar's dataset panel names the file only
    assert any(t.value == "cadence.duckdb" for t in at.sidebar.text)


def test_an_unexpected_error_shows_a_sentence_not_a_traceback(db, monkeypatch, caplog):
    con = duckdb.connect(str(db))
    con.execute("DROP TABLE incidents")  # every page's queries now fail
    con.close()
    at = app(db, monkeypatch)
    with caplog.at_level("ERROR", logger="cadence"):
        at.run()
    assert at.error[-1].value.startswith("This page could not be shown because of an unexpected")
    assert at.exception  # under AppTest the guard re-raises, so a broken page fails its test
    assert str(db.parent).encode() not in b"".join(e.proto.SerializeToString() for e in at.error)
    # the log keeps the real cause: the dropped table
    logged = [r.exc_info[1] for r in caplog.records if r.name == "cadence" and r.exc_info]
    assert logged and isinstance(logged[0], duckdb.CatalogException)
    assert "Table with name incidents does not exist" in str(logged[0])


def test_saving_a_mapping_profile_needs_an_editor_and_is_audited(db, roles, tmp_path, monkeypatch):
    folder = tmp_path / "mappings"
    monkeypatch.setenv("CADENCE_MAPPINGS_DIR", str(folder))
    at = handler(_save_profile_as_signed_in_user, db, monkeypatch, VIEWER)
    assert at.text[0].value == "not saved"
    assert at.error[0].value.startswith("Saving a mapping profile needs the editor role")
    assert not folder.exists() and audit_rows(db) == []
    at = handler(_save_profile_as_signed_in_user, db, monkeypatch, EDITOR)
    assert at.text[0].value == "team-incidents.json"
    saved = json.loads((folder / "team-incidents.json").read_text())
    columns = {"Nr": "incident_id", "Prio": "priority", "Opened": "opened_at"}
    assert saved == {"kind": "incidents", "columns": columns}  # the script's profile
    assert audit_rows(db) == [(EDITOR, "save mapping profile", None, None, "team-incidents.json")]
