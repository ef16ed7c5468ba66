"""The benchmark runs end to end at a tiny scale and produces every figure, every page's
analytics calls still run, and budgets are judged right. Timings are not checked here: they
depend on the machine."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench  # noqa: E402
import worker  # noqa: E402

KINDS = ("sprints", "work_items", "changes", "incidents")
# Two pages keep the end-to-end run short; test_every_page_call_runs covers the others.
SMOKE_PAGES = ("overview", "change_control")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Run ``bench.py --scale 0.005`` once: its exit status, stdout and JSON figures."""
    out = tmp_path_factory.mktemp("bench")
    figures_path = out / "figures.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench.py"),
            "--scale",
            "0.005",
            "--repeat",
            "1",
            "--load-rounds",
            "2",
            "--out-dir",
            str(out),
            "--json",
            str(figures_path),
            "--pages",
            ",".join(SMOKE_PAGES),
            "--markdown",
            str(out / "figures.md"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    figures = json.loads(figures_path.read_text()) if figures_path.exists() else None
    return proc, figures, out


def test_bench_runs_and_writes_every_figure(smoke):
    proc, figures, out = smoke
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert figures is not None and figures["errors"] == {}
    assert all(figures["rows"][k] > 0 for k in KINDS)
    load = figures["load"]
    for key in ("seconds", "read_csv_seconds", "ratio", "peak_rss_mb", "read_csv_peak_rss_mb"):
        assert load[key] > 0, key
    # Two rounds of each; the best one counts.
    assert len(load["all_seconds"]) == len(load["all_read_csv_seconds"]) == 2
    assert load["seconds"] == min(load["all_seconds"])
    report = figures["report"]
    for key in ("cold_seconds", "warm_seconds", "warm_team_seconds", "peak_rss_mb"):
        assert report[key] > 0, key
    assert set(figures["pages"]) == set(SMOKE_PAGES)
    for name, page in figures["pages"].items():
        for key in ("cold_seconds", "warm_seconds", "peak_rss_mb"):
            assert page[key] > 0, (name, key)
    # Five load/report budgets plus a warm and a cold budget per page, each judged.
    assert len(figures["budgets"]) == 5 + 2 * len(SMOKE_PAGES)
    assert all(row["pass"] in (True, False) for row in figures["budgets"])
    # The database is removed without --keep; the generated CSVs stay as a cache.
    assert not (out / "scale-0.005" / "bench.duckdb").exists()
    assert list((out / "scale-0.005" / "csv").glob("*.csv"))


def test_bench_prints_a_verdict_per_budget(smoke):
    proc, figures, out = smoke
    verdicts = [line for line in proc.stdout.splitlines() if line.endswith((" PASS", " MISS"))]
    assert len(verdicts) == len(figures["budgets"])
    assert "load / read_csv" in proc.stdout
    markdown = (out / "figures.md").read_text()
    rows = [line for line in markdown.splitlines() if line.endswith(("| PASS |", "| **MISS** |"))]
    assert len(rows) == len(figures["budgets"])


def test_budgets_pass_at_the_limit_and_miss_above_it():
    # load 3.0 s / read_csv 1.5 s = 2.0x: exactly the budget, passes; 2.01x misses.
    figures = {
        "load": {"ratio": 3.0 / 1.5, "peak_rss_mb": 2048.0},
        "report": {"warm_seconds": 1.2, "warm_team_seconds": 0.4, "peak_rss_mb": 2049.0},
        "pages": {"overview": {"warm_seconds": 0.5, "cold_seconds": 2.5}},
    }
    verdicts = {row["budget"]: row["pass"] for row in bench.budgets(figures)}
    assert verdicts == {
        "load / read_csv": True,
        "load peak RSS": True,
        "report, whole range (warm)": False,
        "report, one team (warm)": True,
        "report peak RSS": False,
        "page overview (warm)": True,
        "page overview (cold)": False,
    }
    figures["load"]["ratio"] = 2.01
    assert bench.budgets(figures)[0]["pass"] is False


def test_a_missing_figure_is_not_judged():
    rows = bench.budgets({"load": {"ratio": 1.0}})
    assert rows[0]["pass"] is True
    assert all(row["pass"] is None for row in rows[1:])


def test_every_page_call_runs(demo_db):
    """Each page's analytics, as the benchmark calls them, run on the demo database."""
    from analytics.store import connect

    data = bench.describe_data(demo_db)
    flt = worker.filter_from(
        type("Args", (), {"start": data["default_window"][0], "end": data["default_window"][1]})
    )
    con = connect(demo_db, read_only=True)
    try:
        for page in worker.PAGES:
            calls = worker.page_calls(page, con, flt)
            assert calls, page
            for label, call in calls:
                call()  # raises if a page's analytics changed under the benchmark
                assert label
    finally:
        con.close()


def test_the_benchmark_knows_every_dashboard_page():
    # app.py lists each page as "app_pages/<name>.py"; the sidebar runs with all of them.
    listed = set(re.findall(r"app_pages/(\w+)\.py", (ROOT / "app.py").read_text()))
    assert listed and listed | {"sidebar"} == set(worker.PAGES)


def test_the_benchmark_makes_every_call_each_page_makes():
    # Each function a page passes to fetch(...) appears among the benchmark's calls for it.
    sources = {p.stem: p for p in (ROOT / "app_pages").glob("*.py")}
    sources["sidebar"] = ROOT / "ui" / "sidebar.py"
    for page in worker.PAGES:
        fetched = re.findall(r"fetch\(\s*([\w.]+)", sources[page].read_text())
        labels = " ".join(label for label, _call in worker.page_calls(page, None, None))
        missing = {name.split(".")[-1] for name in fetched} - set(re.findall(r"\w+", labels))
        assert fetched and not missing, (page, missing)
