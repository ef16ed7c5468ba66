"""Plotly figure builders for the dashboard: DataFrames in, ``go.Figure`` out (no Streamlit).

One colour system: teams, approval paths, priorities and warranty aspects each have their own
palette (no colour in two of them), single-series charts are a neutral slate, and every colour a
figure uses is in :data:`PALETTE_COLORS`. Figures have transparent backgrounds and take their
text colour from the page, so they read in Streamlit's light and dark themes. Text from the data
(team, service, sprint names) is HTML-escaped with :func:`esc`: Plotly renders a subset of HTML
in labels, legends and hover text. Rates are fractions (0.12) shown as percentages; durations
are hours or days as the axis titles say; money carries its currency (``money=`` arguments).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go

from analytics.cost import money_prefix
from analytics.schema import APPROVALS

FONT = '"Source Sans", "Source Sans 3", "Source Sans Pro", Helvetica, Arial, sans-serif'

# --- the palette module: every colour a figure may use ------------------------------------------
# Neutrals, readable on a white and on a near-black page (text itself follows the page's theme).
NEUTRAL = "#64748b"  # single-series charts (slate)
NEUTRAL_LIGHT = "#cbd5e1"  # the "before"/not-significant side of a comparison
MUTED = "#94a3b8"  # reference lines, medians, error bars, corner notes
GRID = "rgba(148,163,184,0.3)"
BAND = "rgba(148,163,184,0.18)"  # shaded sprints
PLANNED = "rgba(148,163,184,0.45)"  # planned change windows
OUTLINE = "#ffffff"  # bubble outlines
TRANSPARENT = "rgba(0,0,0,0)"
GOOD = "#2a9d8f"  # a significant move in the good direction (fewer incidents)
IMPROVEMENT_COLOR = "#c026d3"  # the CSI register's improvements (fuchsia: no palette uses it)
# Qualitative team colours after Tableau 10/20, without the reds, oranges, yellows (priorities),
# purples (approval paths) and teals (warranty aspects); colour-blind friendly in order.
PALETTE = (
    "#4e79a7",  # blue
    "#59a14f",  # green
    "#d37295",  # rose
    "#9c755f",  # brown
    "#a0cbe8",  # light blue
    "#79706e",  # warm grey (sixth: unlike every colour before it)
    "#8cd17d",  # light green
    "#fabfd2",  # light pink
)
TEAM_PALETTE = PALETTE
# Approval paths: one purple ramp from the most delegated (light) to the most controlled (dark),
# after ColorBrewer Purples.
APPROVAL_COLORS = {
    "pre-approved": "#cbc9e2",
    "product-owner": "#9e9ac8",
    "cab": "#756bb1",
    "ecab": "#54278f",
}
# Priorities: one red-orange-yellow ramp from the most severe (dark red) down, after ColorBrewer
# YlOrRd; requests in sand, apart from the ramp.
PRIORITY_COLORS = {
    "P1": "#bd0026",
    "P2": "#f03b20",
    "P3": "#fd8d3c",
    "P4": "#fecc5c",
    "Request": "#d7b5a6",
}
# Warranty aspects: one teal ramp (the four are one kind of work), unspecified in blue-grey.
ASPECT_COLORS = {
    "availability": "#1b7f79",
    "capacity": "#3fa59c",
    "security": "#7fcbc1",
    "continuity": "#b9e4dc",
    "unspecified": "#cfd8dc",
}
ASPECT_ORDER = tuple(ASPECT_COLORS)
SERIES_COLORS = {
    "deployments": NEUTRAL,
    "incidents": PRIORITY_COLORS["P3"],
    "incidents_p1_p2": PRIORITY_COLORS["P1"],
    "positive": GOOD,
    "negative": PRIORITY_COLORS["P1"],
    "neutral": NEUTRAL_LIGHT,
    "before": NEUTRAL_LIGHT,
    "after": NEUTRAL,
}
PALETTE_COLORS = frozenset(
    c.lower()
    for c in (
        NEUTRAL, NEUTRAL_LIGHT, MUTED, GRID, BAND, PLANNED, OUTLINE, TRANSPARENT, GOOD,
        IMPROVEMENT_COLOR, *PALETTE, *APPROVAL_COLORS.values(), *PRIORITY_COLORS.values(),
        *ASPECT_COLORS.values(), *SERIES_COLORS.values(),
    )
)  # fmt: skip

# --- one label per key, for chart axes, legends and table headers -------------------------------
APPROVAL_LABELS = {
    "pre-approved": "Pre-approved",
    "product-owner": "Product owner",
    "cab": "CAB",
    "ecab": "Emergency CAB",
}
ASPECT_LABELS = {
    "availability": "Availability",
    "capacity": "Capacity",
    "security": "Security",
    "continuity": "Continuity",
    "unspecified": "Unspecified",
}
METRIC_LABELS = {
    "deployments": "Deployments",
    "deployments_per_week": "Deployments per week",
    "failed_deployments": "Failed deployments",
    "change_failure_rate": "Change failure rate",
    "lead_time_hours": "Lead time (hours)",
    "lead_time_hours_median": "Lead time (median hours)",
    "time_to_restore_hours_median": "Time to restore (median hours)",
    "rework_rate": "Rework rate",
    "emergency_ratio": "Emergency change share",
    "incidents": "Incidents",
    "incidents_p1_p2": "P1–P2 incidents",
    "support_cost": "Support cost",
    "support_hours": "Support hours",
    "warranty_share": "Warranty share",
    "say_do_ratio": "Say/do ratio",
    "velocity_points_median": "Velocity (median points)",
    "operations_share": "Operations share",
    "spearman_r": "Spearman ρ",
    "rho": "Spearman ρ",
    "p_value": "p",
    "team": "Team",
    "service": "Service",
    "approval": "Approval path",
    "priority": "Priority",
    "aspect": "Aspect",
}
LABELS = {**METRIC_LABELS, **APPROVAL_LABELS, **ASPECT_LABELS}


def label(key) -> str:
    """The display label of a key (``ecab`` → "Emergency CAB"), else the key itself."""
    return LABELS.get(str(key), str(key))


def esc(text) -> str:
    """``text`` safe to show in a Plotly label, legend, tick or hover: ``&``, ``<`` and ``>``
    escaped (Plotly renders a subset of HTML such as ``<a>`` and ``<b>`` in text), and ``%``
    too, so that a name put into a hover template cannot insert a ``%{…}`` placeholder."""
    return html.escape(str(text), quote=False).replace("%", "&#37;")


def esc_values(values: Iterable):
    """:func:`esc` of every string in ``values``; numbers, dates and missing values unchanged
    (a Series of numbers or dates is returned as it is)."""
    if isinstance(values, pd.Series) and not (
        values.dtype == object or pd.api.types.is_string_dtype(values)
    ):
        return values
    return [esc(v) if isinstance(v, str) else v for v in values]


def color_map(values: Iterable[str]) -> dict[str, str]:
    """Stable colour per distinct value: sorted names take the team palette's colours in turn."""
    names = sorted({str(v) for v in values if v is not None and not pd.isna(v)})
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


# Our own template, built from palette colours only (plotly_white's look: no background panel,
# light grid, no ticks); any trace left without a colour is neutral.
_AXIS = {
    "gridcolor": GRID, "linecolor": GRID, "zerolinecolor": GRID, "ticks": "",
    "automargin": True, "title": {"standoff": 15},
}  # fmt: skip
TEMPLATE = go.layout.Template(
    layout={
        "colorway": [NEUTRAL], "hovermode": "closest", "hoverlabel": {"align": "left"},
        "paper_bgcolor": TRANSPARENT, "plot_bgcolor": TRANSPARENT, "xaxis": _AXIS, "yaxis": _AXIS,
    },
    data={
        "bar": [go.Bar(marker={"line": {"width": 0}}, error_y={"color": MUTED})],
        "scatter": [go.Scatter()],
    },
)  # fmt: skip


def _style(fig: go.Figure, title: str, x_title: str = "", y_title: str = "") -> go.Figure:
    """Shared look: transparent background (the page's colour shows through, light or dark),
    text in the page's text colour, legend above the plot, unified margins; titles escaped."""
    fig.update_layout(
        template=TEMPLATE,
        title={
            "text": esc(title),
            "x": 0,
            "xanchor": "left",
            "y": 0.985,
            "yref": "container",
            "yanchor": "top",
            "font": {"size": 16},
        },
        # no font colour: Streamlit fills in its theme's text colour (light or dark)
        font={"family": FONT, "size": 13},
        paper_bgcolor=TRANSPARENT,
        plot_bgcolor=TRANSPARENT,
        # room for the title and up to two rows of legend above the plot
        margin={"l": 10, "r": 10, "t": 92, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        hoverlabel={"font": {"family": FONT, "size": 13}},
        height=380,
        # every figure here has one x and one y axis (one call: update_xaxes costs ~4 ms)
        xaxis={"title": {"text": esc(x_title)}, "gridcolor": GRID, "zeroline": False},
        yaxis={"title": {"text": esc(y_title)}, "gridcolor": GRID, "zeroline": False},
    )
    return fig


def _legend(fig: go.Figure, shown: bool) -> None:
    """Show or hide the legend; without one the plot takes the room reserved for it."""
    fig.update_layout(showlegend=shown)
    if not shown:
        fig.update_layout(margin_t=56)


def _y_format(fig: go.Figure, percent: bool, money: str | None = None) -> None:
    if percent:
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    elif money:
        fig.update_yaxes(tickprefix=esc(money_prefix(money)), tickformat=",.0f")


def _value_fmt(percent: bool, digits: int = 1) -> str:
    return ":.1%" if percent else f":,.{digits}f"


def _hover_value(axis: str, percent: bool, digits: int = 1, money: str | None = None) -> str:
    """The hover template of an axis value: ``%{y:.1%}``, ``€%{y:,.0f}`` or ``%{y:,.1f}``."""
    if money and not percent:
        return esc(money_prefix(money)) + f"%{{{axis}:,.0f}}"
    return f"%{{{axis}{_value_fmt(percent, digits)}}}"


def label_positions(
    xs: Iterable[float],
    ys: Iterable[float],
    *,
    near_x: float = 0.2,
    near_y: float = 0.07,
    inward: bool = False,
) -> list[str]:
    """Plotly ``textposition`` per point: "middle right", unless another point sits just to
    the right at about the same height (within ``near_x`` / ``near_y`` of the axis spans), where
    the two labels would overlap; then the label goes above the point (below, for the lower one
    of the pair). ``inward``: points in the right half of the x range write their label on the
    left ("middle left", crowded by a neighbour just to the left), so that no label runs off
    the plot's right edge on a narrow (phone) screen."""
    x = pd.Series(list(xs), dtype="float64")
    y = pd.Series(list(ys), dtype="float64")
    x_span = float(x.max() - x.min()) or 1.0
    y_span = float(y.max() - y.min()) or 1.0
    u, v = (x - x.min()) / x_span, (y - y.min()) / y_span
    positions = []
    for i in range(len(x)):
        dx, dy = u - u.iloc[i], v - v.iloc[i]
        left = inward and u.iloc[i] > 0.5
        ahead = (dx <= 0) & (dx > -near_x) if left else (dx >= 0) & (dx < near_x)
        crowded = ahead & (dy.abs() < near_y) & (x.index != i)
        if not crowded.any():
            positions.append("middle left" if left else "middle right")
        else:
            positions.append("bottom center" if (dy[crowded] > 0).all() else "top center")
    return positions


def trend_chart(
    df: pd.DataFrame,
    *,
    title: str,
    y_title: str,
    x: str = "bucket",
    y: str = "value",
    color: str | None = None,
    colors: dict[str, str] | None = None,
    percent: bool = False,
    mode: str = "lines+markers",
    x_title: str = "",
    money: str | None = None,
) -> go.Figure:
    """Line chart of ``y`` over time (one line per ``color`` value when given; a single line is
    neutral). ``money`` (a currency code) writes the values as amounts of that currency."""
    fig = go.Figure()
    value = _hover_value("y", percent, money=money)
    groups = [(None, df)] if color is None else list(df.groupby(color, sort=True))
    palette = colors or (color_map(df[color]) if color else {})
    for name, part in groups:
        part = part.sort_values(x)
        shown = esc(y_title if name is None else name)
        fig.add_trace(
            go.Scatter(
                x=part[x],
                y=part[y],
                name=shown,
                mode=mode,
                line={"color": palette.get(str(name), NEUTRAL), "width": 2},
                hovertemplate=f"%{{x|%d %b %Y}}<br>{shown}: {value}<extra></extra>",
            )
        )
    _style(fig, title, x_title, y_title)
    _y_format(fig, percent, money)
    _legend(fig, color is not None)
    _one_date(fig, df[x])
    return fig


def _one_date(fig: go.Figure, values: pd.Series, bar_days: float = 24) -> None:
    """With a single date on the x axis, Plotly's automatic ticks zoom into milliseconds: show
    20 days either side, one tick naming the day, bars ``bar_days`` wide, the y axis from 0."""
    if not (pd.api.types.is_datetime64_any_dtype(values) or values.map(type).isin(
            [dt.date, dt.datetime, pd.Timestamp]).all()) or values.nunique() != 1:  # fmt: skip
        return
    day = pd.Timestamp(values.dropna().iloc[0])
    fig.update_xaxes(
        range=[day - pd.Timedelta(days=20), day + pd.Timedelta(days=20)],
        tickvals=[day], ticktext=[f"{day:%d %b %Y}"],
    )  # fmt: skip
    fig.update_yaxes(rangemode="tozero")
    fig.update_traces(width=bar_days * _DAY_MS, selector={"type": "bar"})


def stacked_bar_chart(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    color: str,
    title: str,
    y_title: str,
    colors: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    order: Iterable[str] | None = None,
    percent: bool = False,
    x_title: str = "",
    money: str | None = None,
) -> go.Figure:
    """Bars of ``y`` per ``x`` stacked by ``color``; ``order`` fixes the stacking order, names
    come from ``labels`` else :data:`LABELS`; ``money`` (a currency code) for amounts."""
    fig = go.Figure()
    present = [str(v) for v in df[color].dropna().unique()]
    keys = [k for k in (order or sorted(present)) if k in present]
    palette = colors or color_map(present)
    value = _hover_value("y", percent, money=money)
    for key in keys:
        part = df[df[color].astype(str) == key].sort_values(x)
        name = esc((labels or {}).get(key) or label(key))
        fig.add_trace(
            go.Bar(
                x=esc_values(part[x]),
                y=part[y],
                name=name,
                marker_color=palette.get(key, NEUTRAL),
                hovertemplate=f"%{{x}}<br>{name}: {value}<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack", bargap=0.15, legend_traceorder="normal")
    _style(fig, title, x_title, y_title)
    _y_format(fig, percent, money)
    _one_date(fig, df[x])
    return fig


def quadrant_scatter(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    size: str,
    label: str,
    title: str,
    x_title: str,
    y_title: str,
    percent_y: bool = False,
    frontier: pd.DataFrame | None = None,
    paths: pd.DataFrame | None = None,
    path_order: str = "quarter",
    colors: dict[str, str] | None = None,
) -> go.Figure:
    """Flexibility (x, higher is faster) against stability (y, lower is better), one point per row.

    Dashed lines at the medians of x and y split the plane into quadrants; the bottom-right one is
    fast and stable. ``frontier`` (columns ``x``/``y`` names as in ``df``) is drawn as a line,
    ``paths`` (same columns plus ``label`` and ``path_order``) as one faint trail per label.
    """
    fig = go.Figure()
    data = df.dropna(subset=[x, y])
    palette = colors or color_map(data[label])
    yfmt = _value_fmt(percent_y)
    x_text, y_text = esc(x_title), esc(y_title)
    if paths is not None and not paths.empty:
        for name, trail in paths.dropna(subset=[x, y]).groupby(label, sort=True):
            trail = trail.sort_values(path_order)
            shown = esc(name)
            fig.add_trace(
                go.Scatter(
                    x=trail[x],
                    y=trail[y],
                    mode="lines+markers",
                    name=f"{shown} over time",
                    legendgroup=shown,
                    showlegend=False,
                    line={"color": palette.get(str(name), NEUTRAL), "width": 1, "dash": "dot"},
                    marker={"size": 5, "opacity": 0.5},
                    opacity=0.6,
                    customdata=[[esc(v)] for v in trail[path_order].astype(str)],
                    hovertemplate=(
                        f"<b>{shown}</b> %{{customdata[0]}}<br>{x_text}: %{{x:.2f}}"
                        f"<br>{y_text}: %{{y{yfmt}}}<extra></extra>"
                    ),
                )
            )
    # drawn before the points so that their labels stay on top
    if frontier is not None and len(frontier) > 1:
        front = frontier.sort_values(x)
        fig.add_trace(
            go.Scatter(
                x=front[x],
                y=front[y],
                mode="lines",
                name="Pareto frontier",
                line={"color": NEUTRAL, "width": 2.5, "dash": "dot", "shape": "hv"},
                hoverinfo="skip",
            )
        )
    sizes = data[size].fillna(0).astype(float)
    scale = sizes.max() if len(sizes) and sizes.max() > 0 else 1.0
    # labels point inward (left of the right half's points): at 390 px a label written to
    # the right of the right-most point ran off the plot
    places = label_positions(data[x], data[y], inward=True)
    for (_, row), s, place in zip(data.iterrows(), sizes, places, strict=True):
        key = str(row[label])
        name = esc(key)
        fig.add_trace(
            go.Scatter(
                x=[row[x]],
                y=[row[y]],
                mode="markers+text",
                name=name,
                legendgroup=name,
                text=[name],
                textposition=place,
                marker={
                    "size": 14 + 36 * (s / scale) ** 0.5,
                    "color": palette.get(key, NEUTRAL),
                    "line": {"color": OUTLINE, "width": 1},
                    "opacity": 0.85,
                },
                customdata=[[s]],
                hovertemplate=(
                    f"<b>{name}</b><br>{x_text}: %{{x:.2f}}<br>{y_text}: %{{y{yfmt}}}"
                    "<br>Deployments: %{customdata[0]:,.0f}<extra></extra>"
                ),
            )
        )
    if len(data):
        x_median, y_median = float(data[x].median()), float(data[y].median())
        span = float(data[x].max() - data[x].min()) or 1.0
        # room on both sides for the outer bubbles (the labels point inward)
        fig.update_xaxes(range=[data[x].min() - 0.1 * span, data[x].max() + 0.1 * span])
        fig.add_vline(x=x_median, line={"color": MUTED, "dash": "dash", "width": 1})
        fig.add_hline(y=y_median, line={"color": MUTED, "dash": "dash", "width": 1})
        corner = {"showarrow": False, "font": {"color": MUTED, "size": 12}}
        fig.add_annotation(
            text="fast & stable", x=1, y=0, xref="x domain", yref="y domain", **corner
        )
    _style(fig, title, x_title, y_title)
    _y_format(fig, percent_y)
    fig.update_layout(height=520)
    _legend(fig, False)
    return fig


def cadence_timeline(
    weekly: pd.DataFrame,
    sprints: pd.DataFrame | None = None,
    *,
    title: str = "Deployments and incidents per week",
    shift_week=None,
    shift_label: str = "",
    partial: Iterable | None = None,
) -> go.Figure:
    """Weekly deployments (bars) with incidents and P1–P2 incidents (lines) on one time axis.

    ``weekly`` has ``bucket`` (week start), ``deployments``, ``incidents``, ``incidents_p1_p2``;
    every other sprint in ``sprints`` (``start_date``, ``end_date``) is shaded, so sprint
    boundaries show as band edges. ``shift_week`` marks a change point with a labelled line.
    ``partial`` names the weeks (Mondays) cut by the window or the data: their deployments are
    hatched light bars and their incidents open markers off the lines, under one legend entry
    "Partial week", so a short edge week does not read as a quiet one.
    """
    fig = go.Figure()
    cut = {pd.Timestamp(w) for w in (partial or ())}
    is_cut = pd.to_datetime(weekly["bucket"]).isin(cut).to_numpy()
    whole, edge = weekly[~is_cut], weekly[is_cut]
    fig.add_trace(
        go.Bar(
            x=whole["bucket"],
            y=whole["deployments"],
            name="Deployments",
            marker_color=SERIES_COLORS["deployments"],
            opacity=0.8,
            hovertemplate="Week of %{x|%d %b %Y}<br>Deployments: %{y}<extra></extra>",
        )
    )
    series = (("incidents", "Incidents"), ("incidents_p1_p2", "P1–P2 incidents"))
    for column, name in series:
        fig.add_trace(
            go.Scatter(
                x=whole["bucket"],
                y=whole[column],
                name=name,
                mode="lines+markers",
                line={"color": SERIES_COLORS[column], "width": 2},
                marker={"size": 5},
                hovertemplate=f"Week of %{{x|%d %b %Y}}<br>{name}: %{{y}}<extra></extra>",
            )
        )
    if len(edge):
        fig.add_trace(
            go.Bar(
                x=edge["bucket"],
                y=edge["deployments"],
                name="Partial week",
                legendgroup="partial",
                marker={
                    "color": NEUTRAL_LIGHT,
                    "pattern": {"shape": "/", "fgcolor": MUTED, "fillmode": "overlay"},
                },
                opacity=0.8,
                hovertemplate="Week of %{x|%d %b %Y} (partial week)<br>Deployments: %{y}"
                "<extra></extra>",
            )
        )
        for column, name in series:
            fig.add_trace(
                go.Scatter(
                    x=edge["bucket"],
                    y=edge[column],
                    name=f"{name} (partial week)",
                    legendgroup="partial",
                    showlegend=False,
                    mode="markers",
                    marker={
                        "size": 7,
                        "symbol": "circle-open",
                        "color": SERIES_COLORS[column],
                    },
                    hovertemplate=f"Week of %{{x|%d %b %Y}} (partial week)<br>{name}: %{{y}}"
                    "<extra></extra>",
                )
            )
    if sprints is not None:
        # one batch of shapes: add_vrect per sprint is slow with dozens of sprints
        bands = [
            {
                "type": "rect",
                "xref": "x",
                "yref": "y domain",
                "y0": 0,
                "y1": 1,
                "x0": pd.Timestamp(sprint.start_date),
                "x1": pd.Timestamp(sprint.end_date) + pd.Timedelta(days=1),
                "fillcolor": BAND,
                "line": {"width": 0},
                "layer": "below",
            }  # fmt: skip
            for i, sprint in enumerate(sprints.sort_values("start_date").itertuples(index=False))
            if i % 2 == 0
        ]
        fig.update_layout(shapes=[*fig.layout.shapes, *bands])
    if shift_week is not None:
        fig.add_vline(
            x=pd.Timestamp(shift_week),
            line={"color": NEUTRAL, "dash": "dash", "width": 1.5},
        )
        fig.add_annotation(  # in the page's text colour
            x=pd.Timestamp(shift_week), y=1, xref="x", yref="y domain", text=esc(shift_label),
            showarrow=False, xanchor="left", yanchor="top", font={"size": 12},
        )  # fmt: skip
    _style(fig, title, "", "Count per week")
    fig.update_layout(bargap=0.1, hovermode="x unified", height=420)
    if len(weekly) == 1:  # one week: a bar as wide as the week, a tick naming it
        _one_date(fig, weekly["bucket"], bar_days=6)
    return fig


def lag_correlation_chart(
    df: pd.DataFrame,
    *,
    lag: str = "lag",
    rho: str = "rho",
    p_value: str = "p_value",
    significant: str = "significant",
    title: str = "Deployments vs incidents k weeks later (Spearman ρ)",
) -> go.Figure:
    """One bar per lag (weeks); significant correlations coloured, the rest grey."""
    colors = [
        (SERIES_COLORS["negative"] if r > 0 else SERIES_COLORS["positive"])
        if sig
        else SERIES_COLORS["neutral"]
        for r, sig in zip(df[rho], df[significant], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=df[lag],
            y=df[rho],
            marker_color=colors,
            customdata=df[[p_value]].to_numpy(),
            hovertemplate=(
                "Incidents %{x} week(s) after deployments<br>ρ = %{y:.2f}"
                "<br>p = %{customdata[0]:.3f}<extra></extra>"
            ),
            name="Spearman ρ",
        )
    )
    fig.add_hline(y=0, line={"color": MUTED, "width": 1})
    _style(fig, title, "Lag (weeks)", "Spearman ρ")
    _legend(fig, False)
    fig.update_yaxes(range=[-1, 1])
    fig.update_xaxes(dtick=1)
    return fig


def box_by_category(
    df: pd.DataFrame,
    *,
    category: str,
    value: str,
    title: str,
    y_title: str,
    colors: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    order: Iterable[str] | None = None,
    log_y: bool = False,
) -> go.Figure:
    """Box plot of ``value`` per ``category`` (all points' quartiles, outliers shown); names
    from ``labels`` else :data:`LABELS`."""
    fig = go.Figure()
    present = [str(v) for v in df[category].dropna().unique()]
    keys = [k for k in (order or sorted(present)) if k in present]
    palette = colors or color_map(present)
    y_text = esc(y_title)
    for key in keys:
        values = df.loc[df[category].astype(str) == key, value].dropna()
        name = esc((labels or {}).get(key) or label(key))
        fig.add_trace(
            go.Box(
                y=values,
                name=name,
                marker_color=palette.get(key, NEUTRAL),
                boxmean=True,
                hovertemplate=f"{name}<br>{y_text}: %{{y:,.1f}}<extra></extra>",
            )
        )
    _style(fig, title, "", y_title)
    _legend(fig, False)
    if log_y:
        fig.update_yaxes(type="log", dtick=1)  # gridlines at 1, 10, 100, ... only
    return fig


def rate_interval_chart(
    df: pd.DataFrame,
    *,
    category: str,
    rate: str,
    low: str,
    high: str,
    n: str,
    title: str,
    y_title: str,
    colors: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    order: Iterable[str] | None = None,
) -> go.Figure:
    """A rate per category (bars, fraction) with its confidence interval as error bars; names
    from ``labels`` else :data:`LABELS`."""
    data = df.copy()
    data["_key"] = data[category].astype(str)
    if order is not None:
        rank = {k: i for i, k in enumerate(order)}
        data = data.sort_values("_key", key=lambda s: s.map(rank).fillna(len(rank)))
    names = [esc((labels or {}).get(k) or label(k)) for k in data["_key"]]
    palette = colors or color_map(data["_key"])
    fig = go.Figure(
        go.Bar(
            x=names,
            y=data[rate],
            marker_color=[palette.get(k, NEUTRAL) for k in data["_key"]],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (data[high] - data[rate]).to_numpy(),
                "arrayminus": (data[rate] - data[low]).to_numpy(),
                "color": MUTED,
                "thickness": 1.5,
            },
            customdata=data[[low, high, n]].to_numpy(),
            hovertemplate=(
                "%{x}<br>%{y:.1%} (95% CI %{customdata[0]:.1%}–%{customdata[1]:.1%})"
                "<br>n = %{customdata[2]:,.0f}<extra></extra>"
            ),
            name=esc(y_title),
        )
    )
    _style(fig, title, "", y_title)
    _y_format(fig, True)
    fig.update_layout(bargap=0.45)
    _legend(fig, False)
    return fig


def scatter_chart(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    title: str,
    x_title: str,
    y_title: str,
    color: str | None = None,
    colors: dict[str, str] | None = None,
    hover: Iterable[str] = (),
    percent_x: bool = False,
    percent_y: bool = False,
    label: str | None = None,
    money: str | None = None,
) -> go.Figure:
    """Points of ``y`` against ``x`` (one trace per ``color`` value); ``hover`` adds columns
    (named by :data:`LABELS`), ``label`` writes that column beside each point, ``money`` (a
    currency code) writes ``y`` as amounts of that currency."""
    fig = go.Figure()
    label_column = label
    extra = list(hover)
    df = df.reset_index(drop=True)
    if label_column:
        df = df.assign(_place=label_positions(df[x], df[y]))
    groups = [(None, df)] if color is None else list(df.groupby(color, sort=True))
    palette = colors or (color_map(df[color]) if color else {})
    x_value = _hover_value("x", percent_x, 2)
    y_value = _hover_value("y", percent_y, 2, money)
    x_text, y_text = esc(x_title), esc(y_title)
    lines = "".join(
        f"<br>{esc(LABELS.get(c, c))}: %{{customdata[{i}]}}" for i, c in enumerate(extra)
    )
    for name, part in groups:
        shown = y_text if name is None else esc(name)
        fig.add_trace(
            go.Scatter(
                x=part[x],
                y=part[y],
                mode="markers+text" if label_column else "markers",
                text=esc_values(part[label_column].astype(str)) if label_column else None,
                textposition=part["_place"].tolist() if label_column else "middle right",
                name=shown,
                marker={
                    "size": 14 if label_column else 10,
                    "color": palette.get(str(name), NEUTRAL),
                    "opacity": 0.8,
                    "line": {"color": OUTLINE, "width": 1},
                },
                customdata=[esc_values(r) for r in part[extra].astype(str).to_numpy()]
                if extra
                else None,
                hovertemplate=(
                    f"<b>{shown}</b><br>{x_text}: {x_value}<br>{y_text}: {y_value}"
                    f"{lines}<extra></extra>"
                ),
            )
        )
    _style(fig, title, x_title, y_title)
    if percent_x:
        fig.update_xaxes(tickformat=".0%")
    _y_format(fig, percent_y, money)
    _legend(fig, color is not None and not label_column)  # labels make a legend redundant
    if label_column and len(df):
        span = float(df[x].max() - df[x].min()) or 1.0
        fig.update_xaxes(range=[df[x].min() - 0.08 * span, df[x].max() + 0.2 * span])
    return fig


def schedule_week_summary(
    changes: pd.DataFrame,
    incidents: pd.DataFrame,
    *,
    title: str = "Changes and incidents per week",
    partial: Iterable | None = None,
) -> go.Figure:
    """The change schedule's compact (phone) view: changes per ISO week stacked by approval
    path (bars, counts) and incidents per week (a line, counts), on one axis of weeks.

    ``changes`` has ``day`` (the week's Monday), ``approval``, ``changes``; ``incidents`` has
    ``day`` and ``incidents`` (as :func:`analytics.schedule.change_days` and
    :func:`~analytics.schedule.incident_days` with ``unit="week"``, one row per service and
    approval path or priority: summed here over services). ``partial`` names the weeks
    (Mondays) cut by the window: faded bars and open incident markers, not a quiet week."""
    cut = {pd.Timestamp(w) for w in (partial or ())}
    per_week = (
        changes.groupby(["day", "approval"], as_index=False)["changes"].sum()
        if len(changes)
        else pd.DataFrame(columns=["day", "approval", "changes"])
    )
    fig = go.Figure()
    for key in approval_order():
        part = per_week[per_week["approval"] == key].sort_values("day")
        if part.empty:
            continue
        name = esc(label(key))
        fig.add_trace(
            go.Bar(
                x=part["day"],
                y=part["changes"],
                name=name,
                marker={
                    "color": APPROVAL_COLORS.get(key, NEUTRAL),
                    "opacity": [0.4 if d in cut else 1.0 for d in pd.to_datetime(part["day"])],
                },
                hovertemplate=f"Week of %{{x|%d %b %Y}}<br>{name}: %{{y}} changes<extra></extra>",
            )
        )
    if len(incidents):
        weekly = incidents.groupby("day", as_index=False)["incidents"].sum().sort_values("day")
        fig.add_trace(
            go.Scatter(
                x=weekly["day"],
                y=weekly["incidents"],
                name="Incidents",
                mode="lines+markers",
                line={"color": SERIES_COLORS["incidents"], "width": 2},
                marker={
                    "size": 6,
                    "symbol": [
                        "circle-open" if d in cut else "circle"
                        for d in pd.to_datetime(weekly["day"])
                    ],
                },
                hovertemplate="Week of %{x|%d %b %Y}<br>Incidents: %{y}<extra></extra>",
            )
        )
    _style(fig, title, "", "Count per week")
    fig.update_layout(barmode="stack", bargap=0.15, legend_traceorder="normal", height=360)
    days = pd.concat([per_week["day"], incidents["day"] if len(incidents) else per_week["day"]])
    if days.nunique() == 1:  # one week: a bar as wide as the week, a tick naming it
        _one_date(fig, pd.to_datetime(days), bar_days=6)
    return fig


def grouped_bar_chart(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    title: str,
    y_title: str,
    color: str | None = None,
    colors: dict[str, str] | None = None,
    percent: bool = False,
    x_title: str = "",
    single_color: str | None = None,
) -> go.Figure:
    """Bars of ``y`` per ``x``, side by side per ``color`` value when given; without one, the
    bars are neutral (or ``single_color``, a palette colour)."""
    fig = go.Figure()
    groups = [(None, df)] if color is None else list(df.groupby(color, sort=True))
    palette = colors or (color_map(df[color]) if color else {})
    fmt = _value_fmt(percent, 2)
    for name, part in groups:
        shown = esc(y_title if name is None else name)
        fig.add_trace(
            go.Bar(
                x=esc_values(part[x]),
                y=part[y],
                name=shown,
                marker_color=palette.get(str(name), single_color or NEUTRAL),
                hovertemplate=f"%{{x}}<br>{shown}: %{{y{fmt}}}<extra></extra>",
            )
        )
    fig.update_layout(barmode="group")
    _style(fig, title, x_title, y_title)
    _y_format(fig, percent)
    _legend(fig, color is not None)
    return fig


def approval_order() -> tuple[str, ...]:
    """Approval paths from the most delegated to the most controlled."""
    return APPROVALS


# --- CSI register and change schedule -----------------------------------------------------------

IMPROVEMENT_LEGEND = "Improvement start"


def _x_span_days(fig: go.Figure, days: pd.Series) -> float:
    """Days between the first and the last date on the figure's x axis (its range if set, else
    its traces' dates and ``days``); at least 1."""
    if fig.layout.xaxis.range:
        values = pd.to_datetime(pd.Series(list(fig.layout.xaxis.range)), errors="coerce")
    else:
        xs = [v for trace in fig.data if trace.x is not None for v in trace.x if v is not None]
        values = pd.to_datetime(pd.Series([*xs, *days], dtype=object), errors="coerce")
    values = values.dropna()
    if values.empty:
        return 1.0
    return max(1.0, (values.max() - values.min()) / pd.Timedelta(days=1))


def label_gap(labels: Iterable[str], plot_px: float = 380) -> float:
    """The share of a plot ``plot_px`` wide (a half-width chart) that the longest of ``labels``
    takes at 11 px (about 7 px a character, plus the 2 px shift and a margin)."""
    longest = max((len(str(t)) for t in labels), default=6)
    return (7 * longest + 10) / plot_px


def stagger_rows(days: Iterable, span_days: float, gap: float = 0.13, rows: int = 5) -> list[int]:
    """The label row (0 = top) of each improvement, in the order given (sorted by day): the
    first row whose last label is at least ``gap`` of the axis span (``span_days``) earlier, so
    that neighbouring labels never overlap; past ``rows`` rows they wrap around."""
    last: list[pd.Timestamp] = []
    placed = []
    for day in (pd.Timestamp(d) for d in days):
        free = [r for r, prev in enumerate(last) if (day - prev).days >= gap * span_days]
        row = free[0] if free else len(last)
        if row == len(last):
            last.append(day)
        last[row] = day
        placed.append(row % rows)
    return placed


def add_improvement_markers(fig: go.Figure, improvements: pd.DataFrame) -> go.Figure:
    """Mark each improvement's ``started_on`` on a time-axis figure with a dotted vertical line
    labelled by its ``improvement_id`` (hover the label: its ``title``), plus one legend entry.
    Labels are staggered (:func:`stagger_rows`) and have no background box, so they hide no
    data; :func:`improvement_caption` says what the lines are, below the chart. Returns the
    same figure."""
    if improvements is None or improvements.empty:
        return fig
    rows = improvements.sort_values(["started_on", "improvement_id"])
    days = pd.to_datetime(rows["started_on"])
    places = stagger_rows(days, _x_span_days(fig, days), label_gap(rows["improvement_id"]))
    shapes, notes = [], []
    # appended in one go: add_vline re-validates every shape already there (~3 ms each)
    for row, day, place in zip(rows.itertuples(index=False), days, places, strict=True):
        shapes.append(
            {"type": "line", "x0": day, "x1": day, "y0": 0, "y1": 1, "xref": "x",
             "yref": "y domain", "line": {"color": IMPROVEMENT_COLOR, "dash": "dot", "width": 1.5}}
        )  # fmt: skip
        notes.append(
            {"x": day, "y": 1 - 0.065 * place, "xref": "x", "yref": "y domain",
             "text": esc(row.improvement_id), "hovertext": esc(row.title), "showarrow": False,
             "xanchor": "left", "yanchor": "top", "xshift": 2,
             "font": {"color": IMPROVEMENT_COLOR, "size": 11}}
        )  # fmt: skip
    fig.layout.shapes += tuple(go.layout.Shape(shape) for shape in shapes)
    fig.layout.annotations += tuple(go.layout.Annotation(note) for note in notes)
    fig.add_trace(  # a legend entry for the lines (shapes have none)
        go.Scatter(
            x=[None], y=[None], mode="lines", name=IMPROVEMENT_LEGEND, hoverinfo="skip",
            line={"color": IMPROVEMENT_COLOR, "dash": "dot", "width": 1.5},
        )
    )  # fmt: skip
    return fig


def improvement_caption(improvements: pd.DataFrame | None, most: int = 6) -> str | None:
    """The sentence under a chart with improvement markers (plain text, to be escaped for
    Markdown), or None without improvements."""
    if improvements is None or improvements.empty:
        return None
    rows = improvements.sort_values(["started_on", "improvement_id"])
    named = [f"{r.improvement_id} {r.title}" for r in rows.head(most).itertuples(index=False)]
    more = f" and {len(rows) - most} more" if len(rows) > most else ""
    return (
        "Dotted fuchsia lines: the day an improvement from the CSI register started, labelled "
        "by its id (hover a label for its title): " + "; ".join(named) + more + "."
    )


def improvement_effect_chart(
    series: pd.DataFrame,
    *,
    title: str,
    y_title: str,
    before_from,
    after_from,
    after_to,
    started_on,
    weeks: int,
    label: str,
    percent: bool = False,
) -> go.Figure:
    """Weekly values (``bucket``, ``value``) around one improvement: the ``weeks`` weeks from
    ``before_from`` grey, the weeks from ``after_from`` coloured, each side's median as a dashed
    line, the start as a labelled dotted line."""
    fig = go.Figure()
    buckets = pd.to_datetime(series["bucket"])
    after = buckets >= pd.Timestamp(after_from)
    before_to = pd.Timestamp(before_from) + pd.Timedelta(weeks=weeks)
    before = (buckets >= pd.Timestamp(before_from)) & (buckets < before_to)
    fmt = _value_fmt(percent, 2)
    for mask, name, colour in (
        (before, "Before", SERIES_COLORS["neutral"]),
        (after, "After", IMPROVEMENT_COLOR),
    ):
        part = series[mask.to_numpy()]
        fig.add_trace(
            go.Bar(
                x=pd.to_datetime(part["bucket"]) + pd.Timedelta(days=3.5),
                y=part["value"],
                name=name,
                marker_color=colour,
                hovertemplate=f"Week of %{{x|%d %b %Y}}<br>{name}: %{{y{fmt}}}<extra></extra>",
            )
        )
        values = part["value"].dropna()
        if len(values):
            median = float(values.median())
            start = pd.Timestamp(before_from if name == "Before" else after_from)
            end = start + pd.Timedelta(days=7 * max(1, len(part)))
            fig.add_trace(
                go.Scatter(
                    x=[start, end], y=[median, median], mode="lines", name=f"{name} median",
                    line={"color": colour, "dash": "dash", "width": 2}, hoverinfo="skip",
                )
            )  # fmt: skip
    fig.add_vline(
        x=pd.Timestamp(started_on), line={"color": IMPROVEMENT_COLOR, "dash": "dot", "width": 1.5}
    )
    fig.add_annotation(
        x=pd.Timestamp(started_on), y=1, xref="x", yref="y domain", text=esc(label),
        showarrow=False,
        xanchor="left", yanchor="top", font={"color": IMPROVEMENT_COLOR, "size": 12},
    )  # fmt: skip
    fig.update_xaxes(
        range=[pd.Timestamp(before_from), pd.Timestamp(after_to) + pd.Timedelta(days=1)]
    )
    _style(fig, title, "", y_title)
    _y_format(fig, percent)
    fig.update_layout(bargap=0.15)
    return fig


OUTCOME_SYMBOLS = {
    "successful": "circle",
    "failed": "x",
    "rolled_back": "triangle-down",
}
_DAY_MS = 86_400_000


def _ms(delta: pd.Series) -> pd.Series:
    """Durations as milliseconds, the unit of bar lengths on a Plotly date axis."""
    return delta.dt.total_seconds() * 1000


def schedule_timeline(
    sprints: pd.DataFrame,
    changes: pd.DataFrame,
    incidents: pd.DataFrame,
    *,
    changes_per_day: bool = False,
    incidents_per_day: bool = False,
    title: str = "Sprints, changes and incidents",
    window: tuple | None = None,
    unit: str = "day",
    team_colors: dict[str, str] | None = None,
) -> go.Figure:
    """One zoomable timeline: a lane per team with its sprints (bars, hover lists the changes
    released from each), a lane per service with changes (planned window as a thin bar, the
    implementation as a marker coloured by approval path, symbol by outcome) and incidents
    (diamonds coloured by priority, just below the changes).

    Frames as :mod:`analytics.schedule` returns them; with ``*_per_day`` the per-day summaries
    are drawn as one marker per service, day (``unit="week"``: week) and approval/priority,
    sized by the count, in the middle of its day or week.
    ``window`` (first day, last day) is the initial x range; drag to zoom, double-click resets.
    ``team_colors`` (default :func:`color_map` of the teams shown) colours the sprints; the
    outcome symbols have legend entries of their own. Names from the data are escaped.
    """
    teams = sorted(sprints["team"].dropna().unique()) if not sprints.empty else []
    services = sorted(
        set(changes["service"].dropna()) | set(incidents["service"].dropna())
    )  # fmt: skip
    lanes = [f"team {t}" for t in teams] + [f"service {s}" for s in services]
    clean = lambda frame: [esc_values(r) for r in frame.to_numpy()]  # noqa: E731
    middle = pd.Timedelta(days=3.5) if unit == "week" else pd.Timedelta(hours=12)
    when = "Week of %{customdata[0]}" if unit == "week" else "%{customdata[0]}"
    lane = {name: i for i, name in enumerate(lanes)}
    fig = go.Figure()

    # sprints: alternate shades per team so consecutive sprints stay apart
    if not sprints.empty:
        team_colours = team_colors or color_map(teams)
        s = sprints.sort_values(["team", "start_date"]).reset_index(drop=True)
        start = pd.to_datetime(s["start_date"])
        end = pd.to_datetime(s["end_date"]) + pd.Timedelta(days=1)
        shade = s.groupby("team").cumcount() % 2
        fig.add_trace(
            go.Bar(
                base=start, x=_ms(end - start), y=[lane[f"team {t}"] for t in s["team"]],
                orientation="h", width=0.6, name="Sprints",
                # every other sprint lighter (a hatch pattern drew ~0.2 s slower)
                marker={"color": [team_colours.get(t, NEUTRAL) for t in s["team"]],
                        "opacity": [1.0 if k == 0 else 0.6 for k in shade],
                        "line": {"width": 1, "color": OUTLINE}},
                customdata=clean(s[["name", "start_date", "end_date", "changes", "change_ids"]]
                                 .astype(str)),
                hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]} to %{customdata[2]}"
                " (review day)<br>Changes released: %{customdata[3]}<br>%{customdata[4]}"
                "<extra></extra>",
            )
        )  # fmt: skip

    if not changes.empty and not changes_per_day:
        planned = changes.dropna(subset=["planned_start", "planned_end"])
        if not planned.empty:
            p_start = pd.to_datetime(planned["planned_start"])
            p_end = pd.to_datetime(planned["planned_end"])
            fig.add_trace(
                go.Bar(
                    base=p_start, x=_ms(p_end - p_start).clip(lower=_DAY_MS / 48),
                    y=[lane[f"service {v}"] - 0.15 for v in planned["service"]],
                    orientation="h", width=0.18, name="Planned window",
                    marker={"color": PLANNED},
                    customdata=clean(planned[["change_id"]].astype(str)),
                    hovertemplate="%{customdata[0]} planned window<extra></extra>",
                )
            )  # fmt: skip
        for approval in APPROVALS:
            part = changes[(changes["approval"] == approval) & changes["service"].notna()]
            if part.empty:
                continue
            custom = (
                part[["change_id", "change_type", "outcome", "team", "sprint_id", "incidents"]]
                .astype(str)
                .replace({"nan": "—", "<NA>": "—", "": "none"})
            )
            lead = part["lead_time_hours"].round(1).astype(str)
            planned_text = (
                part["planned_start"].astype(str) + " to " + part["planned_end"].astype(str)
            ).where(part["planned_start"].notna(), "none")
            fig.add_trace(
                go.Scatter(
                    x=part["implemented_at"],
                    y=[lane[f"service {v}"] - 0.15 for v in part["service"]],
                    mode="markers", name=APPROVAL_LABELS[approval],
                    marker={"color": APPROVAL_COLORS[approval], "size": 9, "opacity": 0.85,
                            "symbol": [OUTCOME_SYMBOLS.get(o, "circle") for o in part["outcome"]]},
                    customdata=clean(pd.concat([custom, lead, planned_text], axis=1)),
                    hovertemplate="<b>%{customdata[0]}</b> (%{customdata[1]}, "
                    + APPROVAL_LABELS[approval] + ")<br>Implemented %{x|%d %b %Y %H:%M}"
                    "<br>Outcome: %{customdata[2]}<br>Lead time: %{customdata[6]} h"
                    "<br>Planned: %{customdata[7]}<br>Team %{customdata[3]}, sprint "
                    "%{customdata[4]}<br>Incidents caused: %{customdata[5]}<extra></extra>",
                )
            )  # fmt: skip
    elif not changes.empty:
        for approval in APPROVALS:
            part = changes[(changes["approval"] == approval) & changes["service"].notna()]
            if part.empty:
                continue
            fig.add_trace(
                go.Scatter(
                    x=pd.to_datetime(part["day"]) + middle,
                    y=[lane[f"service {v}"] - 0.15 for v in part["service"]],
                    mode="markers", name=APPROVAL_LABELS[approval],
                    marker={"color": APPROVAL_COLORS[approval], "opacity": 0.8,
                            "size": (5 + 3 * part["changes"] ** 0.5).clip(upper=24)},
                    customdata=pd.concat(
                        [pd.to_datetime(part["day"]).dt.strftime("%d %b %Y"),
                         part[["changes", "failed"]]], axis=1).to_numpy(),
                    hovertemplate=when + ": %{customdata[1]} changes ("
                    + APPROVAL_LABELS[approval] + "), %{customdata[2]} failed<extra></extra>",
                )
            )  # fmt: skip

    if not incidents.empty:
        for priority in sorted(incidents["priority"].dropna().unique()):
            part = incidents[(incidents["priority"] == priority) & incidents["service"].notna()]
            if part.empty:
                continue
            key = f"P{int(priority)}"
            y = [lane[f"service {v}"] + 0.22 for v in part["service"]]
            if incidents_per_day:
                fig.add_trace(
                    go.Scatter(
                        x=pd.to_datetime(part["day"]) + middle, y=y,
                        mode="markers", name=f"{key} incidents",
                        marker={"color": PRIORITY_COLORS.get(key, NEUTRAL), "symbol": "diamond",
                                "size": (4 + 2 * part["incidents"] ** 0.5).clip(upper=18)},
                        customdata=pd.concat(
                            [pd.to_datetime(part["day"]).dt.strftime("%d %b %Y"),
                             part[["incidents"]]], axis=1).to_numpy(),
                        hovertemplate=when + ": %{customdata[1]} " + key
                        + " incidents<extra></extra>",
                    )
                )  # fmt: skip
            else:
                custom = part[["incident_id", "caused_by_change"]].astype(str).replace(
                    {"nan": "—", "<NA>": "—", "None": "—"})  # fmt: skip
                fig.add_trace(
                    go.Scatter(
                        x=part["opened_at"], y=y, mode="markers", name=f"{key} incidents",
                        marker={"color": PRIORITY_COLORS.get(key, NEUTRAL), "symbol": "diamond",
                                "size": 7},
                        customdata=clean(custom),
                        hovertemplate="<b>%{customdata[0]}</b> (" + key + ")<br>Opened "
                        "%{x|%d %b %Y %H:%M}<br>Caused by: %{customdata[1]}<extra></extra>",
                    )
                )  # fmt: skip

    if not changes.empty and not changes_per_day:
        # the marker symbols say the outcome: one legend entry per symbol in use
        for outcome, name in (("failed", "Failed change"), ("rolled_back", "Rolled back change")):
            if (changes["outcome"] == outcome).any():
                fig.add_trace(
                    go.Scatter(
                        x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                        marker={"color": NEUTRAL, "size": 9, "symbol": OUTCOME_SYMBOLS[outcome]},
                    )
                )  # fmt: skip
    _style(fig, title)
    fig.update_yaxes(
        tickvals=list(range(len(lanes))), ticktext=esc_values(lanes), autorange="reversed",
        range=None, showgrid=False, zeroline=False,
    )  # fmt: skip
    # no range slider: it draws every trace a second time (about 1 s more in the browser)
    fig.update_xaxes(type="date")
    if window is not None:
        first, last = (pd.Timestamp(d) for d in window)
        fig.update_xaxes(range=[first, last + pd.Timedelta(days=1)])
    fig.update_layout(
        barmode="overlay", height=max(360, 140 + 34 * len(lanes)), hovermode="closest",
        dragmode="zoom",
    )  # fmt: skip
    return fig
