"""Shared fixtures. Each test module builds its own tiny database; the demo database is built
once per test session because several suites (pages, notebook, report) read it."""

from __future__ import annotations

import pytest

from analytics.store import connect


@pytest.fixture
def con():
    """An empty in-memory Cadence database with the current schema."""
    connection = connect(":memory:")
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    """Path of a database built from the bundled demo CSVs (built once per session)."""
    from analytics.loader import build_demo_database

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build_demo_database(path)
    return path
