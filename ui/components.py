"""Page building blocks: the question header, charts with a CSV download, empty states, the
closing plain-language reading. Every file content shown goes through ``st.dataframe`` or
``st.text`` (escaped), never through unsafe HTML."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.export import neutralise_formula, to_safe_csv
from analytics.narrative import count

SMALL_SAMPLE = 20  # below this many events, a rate or median is flagged as fragile


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~$])")


def md_escape(text: str) -> str:
    """Text safe to embed in ``st.markdown``: markdown, HTML and LaTeX characters escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def header(title: str, question: str) -> None:
    """The page title and the one question the page answers."""
    st.title(title)
    st.markdown(f"*{question}*")
    flt = st.session_state.get("filter")
    if flt is not None:  # the active window, visible without opening the sidebar (phones)
        from ui.sidebar import window_caption

        st.caption(md_escape(window_caption(flt)))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "data"


def download(df: pd.DataFrame, name: str, label: str = "Download data (CSV)") -> None:
    """A CSV download of ``df`` (formula-like cells neutralised) named after ``name``."""
    st.download_button(
        label,
        data=to_safe_csv(df),
        file_name=f"cadence-{_slug(name)}.csv",
        mime="text/csv",
        key=f"dl-{_slug(name)}",
        on_click="ignore",
        type="tertiary",
        icon=":material/download:",
    )


def table(df: pd.DataFrame, **kwargs) -> None:
    """``st.dataframe`` of ``df`` with every formula-like text cell and column name (``=cmd|...``,
    ``+``, ``-``, ``@``) prefixed with ``'`` as ``to_safe_csv`` does: the table's own toolbar
    offers "Download as CSV" and copying cells, which would hand a spreadsheet the formula.
    Numbers stay numbers. ``kwargs`` go to ``st.dataframe``. Use this for every table."""
    if isinstance(df, pd.DataFrame):
        df = df.copy()
        for column in df.columns:
            text = pd.api.types.is_object_dtype(df[column]) or pd.api.types.is_string_dtype(
                df[column]
            )
            if text:
                df[column] = df[column].map(neutralise_formula)
        df.columns = [neutralise_formula(c) if isinstance(c, str) else c for c in df.columns]
    st.dataframe(df, **kwargs)


def chart(fig: go.Figure, df: pd.DataFrame, name: str, caption: str | None = None) -> None:
    """A Plotly figure (full width, hover on), its ``caption`` (plain text, escaped) if any, then
    the download of its data.

    ``theme="streamlit"``: Streamlit 1.67 merges its light or dark theme into the figure's
    template in the browser (text, title, legend, hover label and tick colours; the title in
    bold) while the figure's own palette, transparent backgrounds and grid win. With
    ``theme=None`` it adds nothing: Plotly's fixed #444 text is dim on the dark theme."""
    # No Plotly mode bar: on a phone (touch) it stays over the chart's title; drag zooms,
    # double-click resets, the data is in the CSV download and Streamlit has a full-screen button.
    config = {"displaylogo": False, "displayModeBar": False}
    st.plotly_chart(fig, theme="streamlit", key=f"chart-{_slug(name)}", config=config)
    if caption:
        st.caption(md_escape(caption))
    download(df, name)


NO_DATA = "No data loaded yet — upload your exports on the Data page, or reset to the demo data."


def empty(message: str) -> None:
    """A friendly empty state instead of a chart or table (or a pointer to the Data page when
    the database holds no records at all)."""
    from analytics.metrics import data_range
    from ui.data import fetch

    if fetch(data_range) is None:
        st.info(NO_DATA, icon=":material/upload_file:")
    else:
        st.info(message, icon=":material/filter_alt_off:")


def reading(
    sentences: Iterable[str], caveat: str | None = None, how: Iterable[str] | None = None
) -> None:
    """The closing section: the verdict (the first sentence, in bold), the other sentences, any
    caveat, then the test statistics (``how``) in a "How this was computed" expander."""
    lines = [s for s in sentences if s]
    st.subheader("What the numbers say")
    if not lines:
        st.write("There is not enough data in this window to say anything yet.")
    for i, line in enumerate(lines):
        st.markdown(f"**{md_escape(line)}**" if i == 0 else f"- {md_escape(line)}")
    if caveat:
        st.caption(f":material/warning: {caveat}")
    details = [s for s in (how or []) if s]
    if details:
        with st.expander("How this was computed"):
            for line in details:
                st.markdown(f"- {md_escape(line)}")


def small_sample_caveat(counts: dict[str, int | None], threshold: int = SMALL_SAMPLE) -> str | None:
    """A caveat naming the samples below ``threshold`` (e.g. ``{"deployments": 12}``), or None."""
    small = [count(n, what) for what, n in counts.items() if n is not None and n < threshold]
    if not small:
        return None
    return (
        "Small sample: only " + ", ".join(small) + " in this window, so rates and medians "
        "can swing a lot with a few events. Widen the dates or the team selection."
    )


TIER_BADGES = {
    "elite": ":green-badge[DORA elite]",
    "high": ":blue-badge[DORA high]",
    "medium": ":orange-badge[DORA medium]",
    "low": ":red-badge[DORA low]",
}


def kpi(
    label: str,
    value: str,
    delta: str | None,
    *,
    lower_is_better: bool = False,
    tier: str | None = None,
    help: str | None = None,
    within_noise: bool = False,
) -> None:
    """One KPI card: value, change against the previous period, DORA tier badge.

    ``within_noise``: the change is not significant, so it is shown grey (neither an improvement
    nor a deterioration) and described as "within noise vs previous period".

    No sparkline: the page's trend charts show the same series, and six sparklines took about
    half a second to draw in the browser."""
    with st.container(border=True):
        st.metric(
            label,
            value,
            delta,
            delta_color="off" if within_noise else "inverse" if lower_is_better else "normal",
            help=help,
            delta_description=(
                ("within noise vs previous period" if within_noise else "vs previous period")
                if delta
                else None
            ),
        )
        # a tier name, or why there is none ("no deployments loaded"), or no tier at all
        badge = f":gray-badge[{md_escape(tier)}]" if tier else ":gray-badge[no DORA tier]"
        st.markdown(TIER_BADGES.get(tier or "", badge))


def currency_picker() -> str:
    """A currency select box (for the Support cost page); the choice applies to every page of
    the session (kept apart from the widget, whose state ends when another page is shown)."""
    from analytics.cost import CURRENCIES
    from ui import format as fmt

    current = fmt.currency()
    options = list(dict.fromkeys([current, *CURRENCIES]))
    st.selectbox(
        "Currency", options, index=options.index(current), key="currency_choice",
        on_change=lambda: st.session_state.update(
            {fmt.K_CURRENCY: st.session_state["currency_choice"]}
        ),
        help="Every cost on every page is shown in this currency (the hourly rate is in it).",
    )  # fmt: skip
    return fmt.currency()


def team_colors() -> dict[str, str]:
    """One colour per team of the whole database, so a team keeps its colour whatever the
    sidebar's team filter leaves on screen."""
    from analytics import charts, views
    from ui.data import fetch

    return charts.color_map(fetch(views.filter_choices)["teams"])
