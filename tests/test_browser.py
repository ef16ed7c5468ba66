"""End to end in a real browser: every page renders without an error, a traceback or a server
path, on a desktop (1280 px) and a phone (390 px) screen; full-page screenshots of each go to
docs/screenshots/ when CADENCE_README_SCREENSHOTS=1 (``make screenshots``), else to a temporary
folder.

Runs ``streamlit run app.py`` on a copy of the demo database and drives Debian's Chromium with
Playwright. Skipped only when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import os
import re
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
README_SHOTS = ROOT / "docs" / "screenshots"
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
def server_db(demo_db, tmp_path_factory) -> Path:
    """A private copy of the demo database, the one the dashboard serves."""
    db = tmp_path_factory.mktemp("browser") / "cadence.duckdb"
    shutil.copy(demo_db, db)
    return db


def serve(db: Path, port: int, log) -> subprocess.Popen:
    """``streamlit run app.py`` (headless, this computer only, no file watcher) on ``port``,
    serving ``db``, its output to the open file ``log``; the process."""
    return subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
            "--server.headless", "true", "--server.port", str(port),
            "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ],
        cwd=ROOT, env={**os.environ, "CADENCE_DB": str(db)}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


@pytest.fixture(scope="module")
def server(server_db):
    """URL of a dashboard served from ``server_db``."""
    port = _free_port()
    log = open(server_db.parent / "streamlit.log", "w")  # noqa: SIM115  (closed at teardown)
    proc = serve(server_db, port, log)
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


VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # an iPhone 12-15 screen in CSS pixels
LAST_SECTION = "What the numbers say"
EXCEPTION = "[data-testid='stException']"


RENDERED = """([heading, last]) => {
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main) return false;
    const title = main.querySelector('h1');
    const headings = [...main.querySelectorAll('h2, h3')].map(h => h.innerText.trim());
    return title && title.innerText.trim() === heading
        && (headings.includes(last) || main.querySelector("[data-testid='stException']"))
        && !main.querySelector('[data-stale="true"]');
}"""


def wait_until_rendered(page, heading: str, timeout_ms: int = 60_000, viewport=None) -> None:
    """Wait until the page titled ``heading`` has run to its end and its charts are drawn.

    Every page ends with the "What the numbers say" section (an exception shows instead, and
    :func:`assert_no_error` reports it); elements left from the previous page are marked stale
    until the new run replaces them.
    """
    viewport = viewport or VIEWPORT
    page.wait_for_function(RENDERED, arg=[heading, LAST_SECTION], timeout=timeout_ms)
    # Streamlit scrolls inside its main container: grow the viewport to the content so a
    # full-page screenshot shows everything; charts redraw after each resize, so repeat.
    page.set_viewport_size(viewport)
    for _ in range(4):
        page.wait_for_function(CHARTS_DRAWN, timeout=timeout_ms)
        height = page.evaluate(CONTENT_HEIGHT)
        if height <= page.viewport_size["height"]:
            break
        page.set_viewport_size({"width": viewport["width"], "height": height})
        page.wait_for_timeout(300)
    page.wait_for_timeout(500)  # Plotly's transitions


def render(page, url: str, heading: str, viewport=None) -> None:
    """Open ``url`` (a new session) and wait until the page titled ``heading`` is rendered."""
    page.goto(url, wait_until="domcontentloaded")
    wait_until_rendered(page, heading, viewport=viewport)


ERROR_BOX = "[data-testid='stAlertContentError']"  # st.error


def assert_no_error(page, name: str, secrets: tuple[str, ...] = ()) -> None:
    """No exception box, no st.error box, no traceback or Python error name in the text, and
    none of ``secrets`` (server paths: the database's folder, the temp dir, the checkout)
    anywhere in the page's HTML, collapsed expanders included (issue #13)."""
    assert page.locator(EXCEPTION).count() == 0, f"{name}: exception shown"
    assert page.locator(ERROR_BOX).count() == 0, f"{name}: error message shown"
    text = page.inner_text("body")
    assert "Traceback" not in text, f"{name}: traceback on the page"
    errors = re.findall(r"\b\w*(?:Error|Exception)\b", text)
    assert not errors, f"{name}: error text on the page: {errors}"
    html = page.content()
    leaked = [s for s in secrets if s and s in html]
    assert not leaked, f"{name}: server path on the page: {leaked}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: docs/screenshots/ on request (make screenshots), else a temp dir."""
    if os.environ.get("CADENCE_README_SCREENSHOTS"):
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        return README_SHOTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def server_paths(server_db) -> tuple[str, ...]:
    """Paths the pages must never show: the database's folder, the temp root, the checkout."""
    import tempfile

    return (str(server_db.parent), tempfile.gettempdir() + "/", str(ROOT))


def test_every_page_renders_without_error(server, browser, shots, server_paths):
    """Open the dashboard once, then visit every page through the sidebar navigation (as a user
    does): no error or server path, the URL keeps the filter, a desktop screenshot of each."""
    page = browser.new_page(viewport=VIEWPORT)
    try:
        for i, (path, heading) in enumerate(PAGES.items()):
            if i == 0:
                render(page, f"{server}/{path}?preset=all", heading)
            else:
                page.set_viewport_size(VIEWPORT)
                nav = page.locator("[data-testid='stSidebarNav']")
                nav.get_by_role("link", name=heading, exact=True).click()
                wait_until_rendered(page, heading)
            assert_no_error(page, heading, server_paths)
            assert "preset=all" in page.url, f"{heading}: the URL lost the filter"
            name = path or "overview"
            page.screenshot(path=str(shots / f"desktop-{name}.png"), full_page=True)
    finally:
        page.close()


def test_every_page_fits_a_phone(server, browser, shots, server_paths):
    """At 390 px: every page renders, nothing is wider than the screen, the active window is
    named under the page header (the sidebar is collapsed on a phone); a screenshot of each."""
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        for path, heading in PAGES.items():
            render(page, f"{server}/{path}", heading, viewport=PHONE)
            assert_no_error(page, heading, server_paths)
            main = page.locator("[data-testid='stMain']").inner_text()
            assert "Window: " in main, f"{heading}: the active window is not shown on a phone"
            wide = page.evaluate(WIDER_THAN_SCREEN, PHONE["width"])
            assert not wide, f"{heading}: wider than a phone screen: {wide}"
            name = path or "overview"
            page.screenshot(path=str(shots / f"phone-{name}.png"), full_page=True)
    finally:
        page.close()


# Charts and blocks of the main area that stick out of a phone's width (a horizontal scroll).
WIDER_THAN_SCREEN = """(width) => [...document.querySelectorAll(
    '[data-testid="stMain"] [data-testid="stPlotlyChart"], [data-testid="stMain"] h1')]
    .filter(e => e.getBoundingClientRect().right > width + 2)
    .map(e => e.innerText.slice(0, 40) || e.getAttribute('data-testid'))"""


def test_a_shared_link_opens_that_page_with_its_filters(server, browser):
    """A deep link into a page other than the first one, in a fresh session, shows the frame
    (sidebar with the link's filters) and the page."""
    page = browser.new_page(viewport=VIEWPORT)
    try:
        render(page, f"{server}/change_control?preset=last_90_days&team=Payments", "Change control")
        assert_no_error(page, "Change control")
        sidebar = page.locator("[data-testid='stSidebar']").inner_text()
        assert "(90 days)" in sidebar  # the window caption under the filters
        assert "Payments" in sidebar  # the chosen team
        assert "team=Payments" in page.url and "preset=last_90_days" in page.url
    finally:
        page.close()
