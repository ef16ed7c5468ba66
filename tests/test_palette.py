"""One colour system, escaped data text and money with its currency.

Acceptance (issue #12): no chart uses a colour outside the palette module. Every page of the app
runs in Streamlit's AppTest on the demo data (a team renamed ``<a href=x>P</a>`` and a service
``<b>pay</b>``, issue #13) and every colour in every Plotly figure it sends (marker, line, fill,
colour scales, shapes, annotations, template) must be in ``charts.PALETTE_COLORS``; the names
must reach the figure escaped. Every figure builder is also called directly on tiny frames.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from analytics import charts
from analytics.cost import CostModel, currency_code, format_money, money_prefix
from analytics.store import connect
from ui import format as fmt

APP = str(Path(__file__).resolve().parent.parent / "app.py")
EVIL_TEAM = "<a href=x>P</a>"
EVIL_TEAM_SHOWN = "&lt;a href=x&gt;P&lt;/a&gt;"
EVIL_SERVICE = "<b>pay</b>"
PAGES = [
    "app_pages/overview.py",
    "app_pages/flexibility.py",
    "app_pages/cadence.py",
    "app_pages/change_control.py",
    "app_pages/support_cost.py",
    "app_pages/backlog.py",
    "app_pages/change_schedule.py",
    "app_pages/csi_register.py",
]
NAMING_PAGES = {
    "app_pages/flexibility.py",
    "app_pages/cadence.py",
    "app_pages/support_cost.py",
    "app_pages/backlog.py",
    "app_pages/change_schedule.py",
}


# --- walking a figure's JSON --------------------------------------------------------------------


def colours(node, key: str = "") -> list[str]:
    """Every colour string in a figure's JSON: values under keys ending in ``color`` (marker,
    line, fill, bg, grid, font ...), ``colorway`` and ``colorscale`` (pairs of stop and colour)."""
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            found += colours(v, k)
    elif isinstance(node, list | tuple):
        for v in node:
            found += colours(v, key)
    elif isinstance(node, str) and key.lower().endswith(("color", "colorway", "colorscale")):
        found.append(node)
    return found


def strings(node) -> list[str]:
    """Every string in a figure's JSON (names, ticks, text, hover, annotations)."""
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list | tuple):
        return [s for v in node for s in strings(v)]
    return [node] if isinstance(node, str) else []


def off_palette(spec: dict) -> set[str]:
    return {c for c in colours(spec) if c.lower() not in charts.PALETTE_COLORS}


def figure_json(fig: go.Figure) -> dict:
    return json.loads(fig.to_json())


def test_the_walk_finds_colours_everywhere():
    fig = go.Figure(go.Bar(x=[1], y=[1], marker={"color": "#123456", "line": {"color": "red"}}))
    fig.add_shape(type="rect", x0=0, x1=1, y0=0, y1=1, fillcolor="#abcdef")
    fig.add_annotation(text="a", x=0, y=0, font={"color": "blue"}, bgcolor="white")
    fig.update_layout(colorscale={"sequential": [[0, "#000001"], [1, "#000002"]]})
    found = set(colours(figure_json(fig)))
    expected = {"#123456", "red", "#abcdef", "blue", "white", "#000001", "#000002"}
    assert expected <= found


# --- the palettes -------------------------------------------------------------------------------

PALETTES = {
    "teams": set(charts.TEAM_PALETTE),
    "approval paths": set(charts.APPROVAL_COLORS.values()),
    "priorities": set(charts.PRIORITY_COLORS.values()),
    "warranty aspects": set(charts.ASPECT_COLORS.values()),
}


def _lab(colour: str) -> tuple[float, float, float]:
    """CIE 1976 L*a*b* of an sRGB hex colour (D65 white; IEC 61966-2-1 gamma)."""
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = linear(r), linear(g), linear(b)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(a: str, b: str) -> float:
    """CIE76 colour difference ΔE*ab (about 2.3 is just noticeable; CIE 1976)."""
    return math.dist(_lab(a), _lab(b))


def test_team_approval_priority_and_aspect_palettes_are_disjoint():
    for (a, one), (b, other) in itertools.combinations(PALETTES.items(), 2):
        assert not one & other, f"{a} and {b} share {one & other}"
    for name, palette in PALETTES.items():
        assert {c.lower() for c in palette} <= charts.PALETTE_COLORS, name
    # reserved colours belong to no palette
    for reserved in (charts.NEUTRAL, charts.IMPROVEMENT_COLOR, charts.MUTED):
        assert not any(reserved in p for p in PALETTES.values())


def test_palettes_do_not_even_look_alike():
    # the old palette had Payments (#e45756) ≈ Emergency CAB (#d64545): ΔE 6.3
    assert delta_e("#e45756", "#d64545") == pytest.approx(6.27, abs=0.01)
    for (a, one), (b, other) in itertools.combinations(PALETTES.items(), 2):
        closest = min(delta_e(x, y) for x in one for y in other)
        assert closest > 12, f"{a} and {b} have colours only ΔE {closest:.1f} apart"
    for name, palette in PALETTES.items():
        closest = min(delta_e(x, y) for x, y in itertools.combinations(palette, 2))
        assert closest > 12, f"two {name} colours are only ΔE {closest:.1f} apart"


def test_approval_paths_and_priorities_are_ordered_ramps():
    # delegated → controlled gets darker; P1 → P4 gets lighter (L* of CIE Lab)
    lightness = [_lab(charts.APPROVAL_COLORS[k])[0] for k in charts.APPROVALS]
    assert lightness == sorted(lightness, reverse=True)
    lightness = [_lab(charts.PRIORITY_COLORS[f"P{i}"])[0] for i in (1, 2, 3, 4)]
    assert lightness == sorted(lightness)


def test_teams_keep_their_colour_and_single_series_are_neutral():
    assert charts.color_map(["Search", "Payments"]) == {
        "Payments": charts.PALETTE[0],
        "Search": charts.PALETTE[1],
    }
    one = pd.DataFrame({"bucket": [dt.date(2025, 1, 1), dt.date(2025, 2, 1)], "value": [1, 2]})
    assert charts.trend_chart(one, title="t", y_title="y").data[0].line.color == charts.NEUTRAL
    bars = pd.DataFrame({"team": ["A", "B"], "v": [1, 2]})
    fig = charts.grouped_bar_chart(bars, x="team", y="v", title="t", y_title="y")
    assert fig.data[0].marker.color == charts.NEUTRAL


# --- every builder, with a team and a service name full of HTML --------------------------------

DAYS = [dt.date(2025, 1, 6) + dt.timedelta(weeks=i) for i in range(6)]


def every_figure() -> dict[str, go.Figure]:
    """One figure from each builder in analytics.charts, on tiny frames naming EVIL_TEAM."""
    teams = pd.DataFrame(
        {"team": [EVIL_TEAM, "B", "C"], "x": [1.0, 4.0, 2.0], "y": [0.3, 0.1, 0.05],
         "n": [10, 40, 20], "sprint_id": ["S<1>", "S2", "S3"]}
    )  # fmt: skip
    register = pd.DataFrame(
        {"improvement_id": ["IMP-1", "IMP-2"], "started_on": [DAYS[1], DAYS[2]],
         "title": ["<i>Faster</i> CAB", "Tests"]}
    )  # fmt: skip
    weekly = pd.DataFrame(
        {"bucket": DAYS, "deployments": [3, 5, 0, 2, 4, 1], "incidents": [1, 0, 2, 1, 0, 1],
         "incidents_p1_p2": [0, 0, 1, 0, 0, 1], "value": [1.0, 2, 3, 2, 1, 2]}
    )  # fmt: skip
    sprints = pd.DataFrame(
        {"team": [EVIL_TEAM, EVIL_TEAM], "name": ["<b>S1</b>", "S2"], "changes": [1, 0],
         "start_date": [DAYS[0], DAYS[2]], "end_date": [DAYS[1], DAYS[3]],
         "change_ids": ["C1", ""]}
    )  # fmt: skip
    changes = pd.DataFrame(
        {"change_id": ["C1", "C2"], "service": [EVIL_SERVICE, EVIL_SERVICE],
         "team": [EVIL_TEAM, "B"], "change_type": ["normal", "emergency"],
         "approval": ["cab", "ecab"], "outcome": ["failed", "rolled_back"],
         "sprint_id": ["S1", None], "incidents": [1, 0], "lead_time_hours": [10.0, 2.0],
         "implemented_at": pd.to_datetime(["2025-01-08 10:00", "2025-01-20 12:00"]),
         "planned_start": pd.to_datetime(["2025-01-08 09:00", None]),
         "planned_end": pd.to_datetime(["2025-01-08 11:00", None])}
    )  # fmt: skip
    incidents = pd.DataFrame(
        {"incident_id": ["I1", "I2"], "service": [EVIL_SERVICE, EVIL_SERVICE],
         "priority": [1, 5], "caused_by_change": ["C1", None],
         "opened_at": pd.to_datetime(["2025-01-09 08:00", "2025-01-21 08:00"])}
    )  # fmt: skip
    per_day = changes.assign(day=pd.to_datetime(["2025-01-06", "2025-01-20"]), changes=[2, 1],
                             failed=[1, 0])  # fmt: skip
    incidents_per_day = incidents.assign(day=pd.to_datetime(["2025-01-06", "2025-01-20"]),
                                         incidents=[3, 1])  # fmt: skip
    mix = pd.DataFrame(
        {"bucket": DAYS[:2] * 2, "approval": ["cab", "cab", "ecab", "pre-approved"],
         "n": [1, 2, 3, 4]}
    )  # fmt: skip
    aspects = pd.DataFrame(
        {"team": [EVIL_TEAM, "B"], "aspect": ["security", "availability"], "points": [3, 5]}
    )
    cost = pd.DataFrame(
        {"bucket": DAYS[:2] * 2, "category": ["P1", "P1", "Request", "P4"], "cost": [1, 2, 3, 4]}
    )
    rates = pd.DataFrame(
        {"approval": ["cab", "ecab"], "rate": [0.2, 0.1], "low": [0.1, 0.0], "high": [0.3, 0.3],
         "n": [20, 5]}
    )  # fmt: skip
    lags = pd.DataFrame(
        {"lag": [0, 1, 2], "rho": [0.5, -0.6, 0.1], "p_value": [0.01, 0.02, 0.6],
         "significant": [True, True, False]}
    )  # fmt: skip
    paths = teams.assign(quarter=["2025-Q1", "2025-Q2", "2025-Q1"])
    trend = pd.DataFrame(
        {"bucket": DAYS[:2] * 2, "team": [EVIL_TEAM, EVIL_TEAM, "B", "B"], "value": [1, 2, 3, 4]}
    )
    figures = {
        "trend": charts.trend_chart(trend, color="team", title="t", y_title="y"),
        "trend money": charts.trend_chart(weekly, title="t", y_title="y", money="EUR"),
        "stacked": charts.stacked_bar_chart(
            mix, x="bucket", y="n", color="approval", title="t", y_title="y",
            colors=charts.APPROVAL_COLORS, order=charts.APPROVALS,
        ),
        "aspects": charts.stacked_bar_chart(
            aspects, x="team", y="points", color="aspect", title="t", y_title="y",
            colors=charts.ASPECT_COLORS, order=charts.ASPECT_ORDER,
        ),
        "cost": charts.stacked_bar_chart(
            cost, x="bucket", y="cost", color="category", title="t", y_title="y",
            colors=charts.PRIORITY_COLORS, order=list(charts.PRIORITY_COLORS), money="CHF",
        ),
        "quadrant": charts.quadrant_scatter(
            teams, x="x", y="y", size="n", label="team", title="t", x_title="x",
            y_title="y", frontier=teams.iloc[[2, 1]], paths=paths,
            colors=charts.color_map(teams["team"]),
        ),
        "cadence": charts.cadence_timeline(
            weekly, sprints, shift_week=DAYS[2], shift_label=f"shift of {EVIL_TEAM}"
        ),
        "lags": charts.lag_correlation_chart(lags),
        "box": charts.box_by_category(
            changes, category="approval", value="lead_time_hours", title="t", y_title="h",
            colors=charts.APPROVAL_COLORS,
        ),
        "box teams": charts.box_by_category(
            changes, category="team", value="lead_time_hours", title="t", y_title="h"
        ),
        "rates": charts.rate_interval_chart(
            rates, category="approval", rate="rate", low="low", high="high", n="n", title="t",
            y_title="y", colors=charts.APPROVAL_COLORS, order=charts.APPROVALS,
        ),
        "scatter": charts.scatter_chart(
            teams, x="x", y="y", color="team", label="team", hover=["sprint_id"], title="t",
            x_title="x", y_title="y", money="USD",
        ),
        "grouped": charts.grouped_bar_chart(teams, x="team", y="y", title="t", y_title="y"),
        "effect": charts.improvement_effect_chart(
            weekly, title="t", y_title="y", before_from=DAYS[0], after_from=DAYS[3],
            after_to=DAYS[5], started_on=DAYS[3], weeks=3, label="<i>IMP</i> started",
        ),
        "schedule": charts.schedule_timeline(sprints, changes, incidents),
        "schedule per day": charts.schedule_timeline(
            sprints, per_day, incidents_per_day, changes_per_day=True, incidents_per_day=True
        ),
    }  # fmt: skip
    charts.add_improvement_markers(figures["trend"], register)
    charts.add_improvement_markers(figures["stacked"], register)
    return figures


@pytest.fixture(scope="module")
def figures():
    return {name: figure_json(fig) for name, fig in every_figure().items()}


def test_every_builder_uses_palette_colours_only(figures):
    for name, spec in figures.items():
        assert not off_palette(spec), f"{name}: {off_palette(spec)}"


def test_data_text_reaches_every_figure_escaped(figures):
    for name, spec in figures.items():
        text = strings(spec)
        assert not [s for s in text if EVIL_TEAM in s or EVIL_SERVICE in s], name
        assert not [s for s in text if "<i>" in s or "S<1>" in s or "<b>S1" in s], name
    # where the team is named (legend, tick, label, hover), it is there in escaped form
    for name in ("trend", "aspects", "quadrant", "box teams", "scatter", "grouped", "schedule"):
        assert any(EVIL_TEAM_SHOWN in s for s in strings(figures[name])), name
    assert any("&lt;b&gt;pay&lt;/b&gt;" in s for s in strings(figures["schedule"]))
    # hover templates keep their own markup
    assert "<br>" in figures["scatter"]["data"][0]["hovertemplate"]


def test_escape_covers_plotly_markup_and_placeholders():
    assert charts.esc("<a href=x>P</a> & co") == "&lt;a href=x&gt;P&lt;/a&gt; &amp; co"
    # a name cannot add a %{...} placeholder to a hover template
    assert charts.esc("100%{x}") == "100&#37;{x}"
    assert charts.esc_values(["<b>", 3, None]) == ["&lt;b&gt;", 3, None]


def test_every_mark_has_a_legend_entry():
    figs = every_figure()
    # improvement lines (shapes) get one legend entry
    names = [t.name for t in figs["stacked"].data]
    assert names.count(charts.IMPROVEMENT_LEGEND) == 1
    # schedule: approval paths, the outcome symbols, and every priority (P5 too) are named
    schedule = [t.name for t in figs["schedule"].data]
    assert {"CAB", "Emergency CAB", "Failed change", "Rolled back change"} <= set(schedule)
    assert {"P1 incidents", "P5 incidents"} <= set(schedule)
    assert all(t.showlegend is not False for t in figs["schedule"].data)


def test_improvement_labels_are_staggered_unboxed_with_the_title_on_hover():
    day = dt.date(2025, 1, 1)
    days = [day, day + dt.timedelta(days=2), day + dt.timedelta(days=4), day + dt.timedelta(40)]
    # span 100 days: labels closer than 13 days take the next row; 40 days later row 0 is free
    assert charts.stagger_rows(days, 100) == [0, 1, 2, 0]
    assert charts.stagger_rows(days, 100, gap=0.01) == [0, 0, 0, 0]
    # "IMP-06" at 11 px (7 px a character + 10 px) on a 380 px half-width plot: 13.7 %
    assert charts.label_gap(["IMP-6", "IMP-06"]) == pytest.approx(52 / 380)
    fig = every_figure()["trend"]
    notes = [a for a in fig.layout.annotations if a.hovertext]
    assert [a.text for a in notes] == ["IMP-1", "IMP-2"]
    assert [a.hovertext for a in notes] == ["&lt;i&gt;Faster&lt;/i&gt; CAB", "Tests"]
    assert all(a.bgcolor is None for a in notes)  # no box over the data
    # a week apart on a 2-week axis (13.7 % of it: 1.9 days): both on the top row
    assert [a.y for a in notes] == pytest.approx([1.0, 1.0])
    # a day apart on a 5-week axis (4.8 days): the second label goes one row down
    close = pd.DataFrame(
        {"improvement_id": ["A", "B"], "started_on": [DAYS[2], DAYS[2] + dt.timedelta(days=1)],
         "title": ["a", "b"]}
    )  # fmt: skip
    weekly = pd.DataFrame({"bucket": DAYS, "value": range(6)})
    fig = charts.add_improvement_markers(charts.trend_chart(weekly, title="t", y_title="y"), close)
    assert [a.y for a in fig.layout.annotations] == pytest.approx([1.0, 0.935])
    caption = charts.improvement_caption(pd.DataFrame(
        {"improvement_id": ["IMP-2", "IMP-1"], "started_on": [DAYS[2], DAYS[1]],
         "title": ["Tests", "Faster CAB"]}
    ))  # fmt: skip
    assert caption.endswith("IMP-1 Faster CAB; IMP-2 Tests.")
    assert charts.improvement_caption(pd.DataFrame()) is None


def test_figures_are_transparent_with_the_theme_text_colour():
    fig = every_figure()["grouped"]
    assert fig.layout.paper_bgcolor == fig.layout.plot_bgcolor == charts.TRANSPARENT
    # no text colour of our own: Streamlit fills in the light or dark theme's
    assert fig.layout.font.color is None and fig.layout.title.font.color is None


# --- labels and money -------------------------------------------------------------------------


def test_one_label_for_tables_and_charts():
    assert charts.label("ecab") == "Emergency CAB"
    assert charts.label("change_failure_rate") == "Change failure rate"
    assert charts.label("Payments") == "Payments"
    assert fmt.column_labels(["team", "change_failure_rate", "odd"], team="Squad") == {
        "team": "Squad",
        "change_failure_rate": "Change failure rate",
    }
    rates = pd.DataFrame({"approval": ["ecab"], "r": [0.1], "lo": [0.0], "hi": [0.2], "n": [3]})
    fig = charts.rate_interval_chart(
        rates, category="approval", rate="r", low="lo", high="hi", n="n", title="t", y_title="y"
    )
    assert list(fig.data[0].x) == ["Emergency CAB"]


def test_money_carries_its_currency():
    assert format_money(12300, "EUR") == "€12,300"
    assert format_money(12300.4, "chf") == "CHF 12,300"
    assert format_money(-40, "GBP") == "-£40"
    assert format_money(1199.5, "USD", sign=True) == "+$1,200"
    assert format_money(None) == "—"
    assert currency_code("usd") == "USD" and currency_code("€uro") == "EUR"
    assert money_prefix("SEK") == "SEK "
    assert CostModel().currency == "EUR"
    # outside a Streamlit run: the cost model's default currency
    assert fmt.money(12300) == "€12,300"
    assert fmt.money(12300, "CHF") == "CHF 12,300"
    assert fmt.change(1500.0, 300.0, "money") == "+€1,200"
    fig = charts.trend_chart(
        pd.DataFrame({"bucket": DAYS[:2], "value": [1.0, 2.0]}), title="t", y_title="y",
        money="EUR",
    )  # fmt: skip
    assert fig.layout.yaxis.tickprefix == "€"
    assert "€%{y:,.0f}" in fig.data[0].hovertemplate


def test_durations_compared_share_one_unit():
    # 170 h and 20.3 h side by side: both in days (7.1 and 0.8), not "7.1 days" vs "20.3 h"
    unit = fmt.hours_unit(170, 20.3)
    assert unit == "days"
    assert [fmt.hours_in(unit)(v) for v in (170, 20.3)] == ["7.1 days", "0.8 days"]
    assert fmt.hours_unit(0.5, 30) == "h" and fmt.hours_unit(0.5, None) == "min"
    assert fmt.hours(20.3) == "20.3 h" and fmt.hours(170) == "7.1 days"
    # a KPI card's delta in the unit of its value: 20 h now, 170 h before → "-150.0 h"
    assert fmt.change(20.0, 170.0, "hours") == "-150.0 h"
    assert fmt.change(170.0, 20.0, "hours") == "+6.2 days"


# --- every page of the app ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def evil_db(demo_db, tmp_path_factory):
    """The demo data with team Payments renamed EVIL_TEAM and service payments-api EVIL_SERVICE."""
    path = tmp_path_factory.mktemp("palette") / "cadence.duckdb"
    shutil.copy(demo_db, path)
    con = connect(str(path))
    for column, old, new in (("team", "Payments", EVIL_TEAM), ("service", "payments-api",
                                                                 EVIL_SERVICE)):  # fmt: skip
        tables = con.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = $c "
            "AND table_schema = 'main' AND table_name IN "
            "(SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE')",
            {"c": column},
        ).fetchall()
        for (table,) in tables:
            con.execute(f"UPDATE {table} SET {column} = $new WHERE {column} = $old",
                        {"new": new, "old": old})  # fmt: skip
    con.close()
    return path


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


@pytest.mark.parametrize("page", PAGES)
def test_no_chart_on_any_page_uses_a_colour_outside_the_palette(evil_db, monkeypatch, page):
    monkeypatch.setenv("CADENCE_DB", str(evil_db))
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    specs = plotly_specs(at)
    if page == "app_pages/flexibility.py":  # the quarter points and paths too
        at.toggle(key="flex_quarters").set_value(True)
        at.toggle(key="flex_paths").set_value(True).run()
        specs += plotly_specs(at)
    assert specs, f"{page} drew no chart"
    for spec in specs:
        assert not off_palette(spec), (spec["layout"]["title"]["text"], off_palette(spec))
        text = strings(spec)
        assert not [s for s in text if EVIL_TEAM in s or EVIL_SERVICE in s]
    if page in NAMING_PAGES:  # pages whose charts name teams or services
        assert any(
            EVIL_TEAM_SHOWN in s or "&lt;b&gt;pay&lt;/b&gt;" in s for sp in specs
            for s in strings(sp)
        )  # fmt: skip


def test_currency_chosen_on_support_cost_applies_to_every_page(demo_db, tmp_path, monkeypatch):
    path = tmp_path / "cadence.duckdb"
    shutil.copy(demo_db, path)
    monkeypatch.setenv("CADENCE_DB", str(path))
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page("app_pages/support_cost.py").run()
    assert next(m.value for m in at.metric if m.label == "Support cost").startswith("€")
    at.selectbox(key="currency_choice").set_value("CHF").run()
    assert not at.exception
    assert next(m.value for m in at.metric if m.label == "Support cost").startswith("CHF ")
    cost_axis = plotly_specs(at)[0]["layout"]
    assert cost_axis["yaxis"]["tickprefix"] == "CHF " and "(CHF)" in str(cost_axis["yaxis"])
    at.switch_page("app_pages/overview.py").run()
    assert next(m.value for m in at.metric if m.label == "Support cost").startswith("CHF ")


def test_currency_travels_in_the_url(demo_db, tmp_path, monkeypatch):
    path = tmp_path / "cadence.duckdb"
    shutil.copy(demo_db, path)
    monkeypatch.setenv("CADENCE_DB", str(path))
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["currency"] = "chf"
    at.run()
    assert not at.exception
    assert next(m.value for m in at.metric if m.label == "Support cost").startswith("CHF ")
    assert at.query_params["currency"] == "CHF"  # kept, cleaned, in the link the page writes
    at.switch_page("app_pages/support_cost.py").run()
    assert at.number_input(key="cost_hourly_rate").label == "Hourly rate (CHF)"
