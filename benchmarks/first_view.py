"""First view of each dashboard page in a new browser tab (no browser cache, new session).

Starts ``streamlit run app.py`` on a copy of the demo database, warms the server once (imports,
database, cached queries for the default filter), then for each round and page opens a new
browser context (a new tab with an empty cache, as a colleague opening a shared link) and times:

- ``html``: navigation start to DOMContentLoaded (the HTML and the frontend bundle),
- ``script``: until the page's title and closing section are in the DOM and nothing is stale,
- ``rendered``: until, in addition, every Plotly chart in the first screen has drawn its SVG
  (seconds).

Usage: ``.venv/bin/python benchmarks/first_view.py [--rounds 3] [--width 1280]``; prints a
Markdown table of medians (best round in brackets). Needs /usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from tests.test_browser import (  # noqa: E402
    CHROMIUM,
    LAST_SECTION,
    PAGES,
    RENDERED,
    _free_port,
    _wait_until_up,
    serve,
)

# Charts below the fold are drawn lazily (when scrolled to): the first view needs those on screen.
CHARTS_DRAWN = """() => !document.querySelector('[data-testid="stSkeleton"]') &&
    [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
        .filter(c => c.getBoundingClientRect().top < window.innerHeight)
        .every(c => c.querySelector('.main-svg'))"""


def measure(
    url: str, browser, path: str, heading: str, width: int, chunks: bool = False
) -> dict[str, float]:
    """Seconds from navigation start to DOMContentLoaded and to the rendered page."""
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    loaded: list[str] = []
    page.on("requestfinished", lambda r: loaded.append(r.url.rsplit("/", 1)[-1]))
    try:
        start = time.perf_counter()
        page.goto(f"{url}/{path}", wait_until="domcontentloaded")
        html = time.perf_counter() - start
        page.wait_for_function(RENDERED, arg=[heading, LAST_SECTION], timeout=60_000)
        script = time.perf_counter() - start
        page.wait_for_function(CHARTS_DRAWN, timeout=60_000)
        rendered = time.perf_counter() - start
        if chunks:
            names = sorted(n.split(".")[0] for n in loaded if n.endswith(".js"))
            print(f"{heading}: {len(names)} JS files: {', '.join(names)}", file=sys.stderr)
        return {"html": html, "script": script, "rendered": rendered}
    except PlaywrightTimeout:
        state = page.evaluate(
            "() => [document.querySelectorAll('[data-stale=\"true\"]').length,"
            " document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length,"
            " document.querySelectorAll('.main-svg').length]"
        )
        print(f"{heading}: not rendered (stale, charts, svgs: {state})", file=sys.stderr)
        return {"html": float("nan"), "script": float("nan"), "rendered": float("nan")}
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--pages", default=None, help="url paths, comma-separated (overview: '')")
    parser.add_argument("--chunks", action="store_true", help="list the JS chunks each loads")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from analytics.loader import build_demo_database

    tmp = Path(tempfile.mkdtemp(prefix="cadence-first-view-"))
    db = tmp / "cadence.duckdb"
    demo = ROOT / "data" / "cadence.duckdb"
    if demo.exists():
        shutil.copy(demo, db)
    else:
        build_demo_database(db)
    port = _free_port()
    log = open(tmp / "streamlit.log", "w")  # noqa: SIM115
    proc = serve(db, port, log)
    url = f"http://127.0.0.1:{port}"
    pages = PAGES if args.pages is None else {p: PAGES[p] for p in args.pages.split(",")}
    results: dict[str, list[dict[str, float]]] = {p: [] for p in pages}
    try:
        _wait_until_up(url, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM),
                args=[
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking",
                ],
            )  # fmt: skip
            for path, heading in pages.items():  # warm the server's caches, not measured
                measure(url, browser, path, heading, args.width, args.chunks)
            for _ in range(args.rounds):
                for path, heading in pages.items():
                    results[path].append(measure(url, browser, path, heading, args.width))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"| page | HTML + bundle | script run shown | charts drawn | (load {load:.1f}) |")
    print("|---|---|---|---|---|")
    for path, runs in results.items():
        cells = []
        for key in ("html", "script", "rendered"):
            values = [r[key] for r in runs if r[key] == r[key]]  # NaN: not rendered in 60 s
            failed = f", {len(runs) - len(values)} timed out" if len(values) < len(runs) else ""
            cells.append(
                f"{statistics.median(values):.2f} ({min(values):.2f}) s{failed}"
                if values
                else "timed out"
            )
        print(f"| {PAGES[path]} | " + " | ".join(cells) + " | |")


if __name__ == "__main__":
    main()
