"""End to end in a real browser: every page renders without an error, full-page screenshots are
saved under artifacts/screenshots/ (CI keeps them).

Runs ``streamlit run app.py`` on a copy of the demo database and drives Debian's Chromium with
Playwright. Skipped only when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# url path -> a heading the page shows once it has rendered
PAGES = {
    "": "Overview",
    "flexibility": "Flexibility vs stability",
    "cadence": "Cadence vs incidents",
    "change_control": "Change control",
    "support_cost": "Support cost",
    "backlog": "Backlog & warranty",
    "change_schedule": "Change schedule",
    "csi_register": "CSI register",
    "data": "Data",
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout} s")


@pytest.fixture(scope="module")
def server(demo_db, tmp_path_factory):
    """URL of a dashboard served from a private copy of the demo database."""
    db = tmp_path_factory.mktemp("browser") / "cadence.duckdb"
    shutil.copy(demo_db, db)
    port = _free_port()
    log = open(db.parent / "streamlit.log", "w")  # noqa: SIM115  (closed at teardown)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
            "--server.headless", "true", "--server.port", str(port),
            "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ],
        cwd=ROOT, env={**os.environ, "CADENCE_DB": str(db)}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


CHARTS_DRAWN = """() => !document.querySelector('[data-testid="stSkeleton"]') &&
    [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
        .every(c => c.querySelector('.main-svg'))"""
# The tallest scrolling area (Streamlit scrolls inside its own containers, not the body).
CONTENT_HEIGHT = """() => Math.min(12000, 80 + Math.max(1000, ...[...document.querySelectorAll(
    'section, [data-testid]')].map(e => e.scrollHeight)))"""


LAST_SECTION = "What the numbers say"
EXCEPTION = "[data-testid='stException']"


def render(page, url: str, heading: str, timeout_ms: int = 45_000) -> None:
    """Open ``url`` and wait until the page has run to its end and its charts are drawn."""
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading", name=heading, exact=True).first.wait_for(timeout=timeout_ms)
    # every page ends with this section, so once it is there the script has run to the end
    # (an exception shows instead, and assert_no_error reports it)
    finished = page.get_by_role("heading", name=LAST_SECTION).or_(page.locator(EXCEPTION))
    finished.first.wait_for(timeout=timeout_ms)
    # Streamlit scrolls inside its main container: grow the viewport to the content so a
    # full-page screenshot shows everything; charts redraw after each resize, so repeat.
    for _ in range(4):
        page.wait_for_function(CHARTS_DRAWN, timeout=timeout_ms)
        height = page.evaluate(CONTENT_HEIGHT)
        if height <= page.viewport_size["height"]:
            break
        page.set_viewport_size({"width": page.viewport_size["width"], "height": height})
        page.wait_for_timeout(300)
    page.wait_for_timeout(500)  # Plotly's transitions


def assert_no_error(page, name: str) -> None:
    assert page.locator(EXCEPTION).count() == 0, f"{name}: exception shown"
    text = page.inner_text("body")
    assert "Traceback" not in text, f"{name}: traceback on the page"


@pytest.mark.parametrize("path", list(PAGES), ids=[p or "overview" for p in PAGES])
def test_page_renders_without_error(server, browser, path):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    try:
        render(page, f"{server}/{path}?preset=all", PAGES[path])
        assert_no_error(page, PAGES[path])
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{path or 'overview'}.png"), full_page=True)
    finally:
        page.close()


def test_link_keeps_filters_across_pages(server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    try:
        render(page, f"{server}/?preset=last_90_days", "Overview")
        assert "preset=last_90_days" in page.url
        page.get_by_role("link", name="Change control").click()
        page.get_by_role("heading", name="Change control", exact=True).first.wait_for()
        page.wait_for_function("() => location.search.includes('preset=last_90_days')")
        assert_no_error(page, "Change control")
    finally:
        page.close()
