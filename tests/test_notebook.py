"""The analyst notebook runs top to bottom on the demo database, so it cannot rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "csi_review.ipynb"


def _texts(nb) -> str:
    """Every Markdown and plain-text output of the executed notebook, joined."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            parts.append(data.get("text/markdown") or data.get("text/plain") or "")
            parts.append(output.get("text", ""))
    return "\n".join(parts)


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.fixture
def executed(demo_db, monkeypatch):
    # the kernel inherits this environment: the notebook's default database is $CADENCE_DB
    monkeypatch.setenv("CADENCE_DB", str(demo_db))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=180,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    return nb


def test_notebook_runs_on_the_demo_database(executed, demo_db):
    text = _texts(executed)
    assert "Traceback" not in text
    assert f"`{demo_db}`" in text
    # each section printed the sentence its chart supports
    assert "Change failure rate " in text and "95 % CI" in text
    assert "Releases and incidents " in text
    assert "CAB-approved changes" in text
    assert "Delegating 50 % of" in text
    # the warranty sentences: within team (the reading), across teams (a description)
    assert "Within each team" in text and "P1/P2 incidents" in text
    assert "a description, not a test" in text
    assert "Within teams: fixed-effects slope" in text
    # the CSI register, with the same sentences as the dashboard's page
    assert "improvements changed as expected after they started" in text
    assert "IMP-01 Automated regression tests in the release pipeline" in text
    assert "On the frontier:" in text
    outputs = [o.get("data", {}) for c in executed.cells for o in c.get("outputs", [])]
    charts = [d for d in outputs if "application/vnd.plotly.v1+json" in d]
    assert len(charts) == 6  # timeline, lags, failure rates, lead times, warranty (2)
    tables = [d for d in outputs if "text/html" in d and "application/vnd.plotly.v1+json" not in d]
    assert len(tables) == 3  # headline quarter vs previous, CSI register, teams vs the frontier
