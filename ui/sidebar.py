"""The sidebar every page shares: period, teams, services and the active dataset.

The widgets' values are mirrored into the URL on every run, so a copied link reopens the same
view, and page navigation (which drops query parameters) gets them back immediately.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from analytics import views
from analytics.cost import DEFAULT_CURRENCY, CostModel, currency_code
from analytics.filters import Filter
from ui import data
from ui import format as fmt
from ui.format import K_CURRENCY
from ui.state import PRESETS, FilterState, parse_query, preset_window, resolve, to_query

K_PRESET, K_DATES, K_TEAMS, K_SERVICES = "f_preset", "f_dates", "f_teams", "f_services"
K_FROM_URL, K_WINDOW = "_f_from_url", "_f_window"
K_COST = "cost_model"


def _data_range() -> tuple[dt.date, dt.date] | None:
    from analytics.metrics import data_range

    return data.fetch(data_range)


def _url_params() -> dict[str, list[str]]:
    return {key: st.query_params.get_all(key) for key in st.query_params}


def _init_from_url(window: tuple[dt.date, dt.date]) -> None:
    """Seed the widgets from the URL once per session (later runs keep the user's choices)."""
    if st.session_state.get(K_FROM_URL):
        return
    st.session_state[K_FROM_URL] = True
    state = parse_query(_url_params())
    st.session_state[K_PRESET] = state.preset
    st.session_state["_f_url_note"] = state.note  # e.g. a date clamped into range
    st.session_state[K_TEAMS] = list(state.teams)
    st.session_state[K_SERVICES] = list(state.services)
    if code := st.query_params.get(K_CURRENCY):  # a shared link keeps its currency
        st.session_state[K_CURRENCY] = currency_code(code)
    if state.preset == "custom":
        st.session_state[K_DATES] = (state.start or window[0], state.end or window[1])


def _on_preset_change() -> None:
    # Switching to custom starts from the window that was on screen.
    if st.session_state.get(K_PRESET) == "custom" and K_WINDOW in st.session_state:
        st.session_state[K_DATES] = st.session_state[K_WINDOW]


def _keep_known(key: str, options: list[str]) -> None:
    # A link or an old session may name a team that is no longer in the data.
    chosen = st.session_state.get(key) or []
    st.session_state[key] = [v for v in chosen if v in options]


def _custom_dates(window: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
    value = st.session_state.get(K_DATES) or window
    if len(value) == 1:  # the user has picked the first day and not yet the last
        return value[0], max(value[0], window[1])
    return value[0], value[1]


def filters() -> Filter:
    """Render the shared sidebar and return the Filter it selects (also written to the URL)."""
    span = _data_range()
    today = dt.datetime.now(dt.UTC).date()
    first, last = span or (today - dt.timedelta(days=364), today)
    _init_from_url((first, last))
    choices = data.fetch(views.filter_choices)
    _keep_known(K_TEAMS, choices["teams"])
    _keep_known(K_SERVICES, choices["services"])

    with st.sidebar:
        st.selectbox(
            "Period", list(PRESETS), format_func=PRESETS.get, key=K_PRESET,
            on_change=_on_preset_change,
            help="Presets count back from the latest day in the data, not from today.",
        )  # fmt: skip
        preset = st.session_state[K_PRESET]
        start = end = None
        if preset == "custom":
            if K_DATES not in st.session_state:
                st.session_state[K_DATES] = preset_window("last_12_months", first, last)
            st.date_input("From – to", key=K_DATES, format="YYYY-MM-DD")
            start, end = _custom_dates((first, last))
        st.multiselect("Teams", choices["teams"], key=K_TEAMS, placeholder="All teams")
        st.multiselect("Services", choices["services"], key=K_SERVICES, placeholder="All services")
        state = FilterState(
            preset, start, end, tuple(st.session_state[K_TEAMS]),
            tuple(st.session_state[K_SERVICES]),
        )  # fmt: skip
        flt = resolve(state, span, today)
        st.caption(
            f"**{flt.start:%d %b %Y} – {flt.end:%d %b %Y}** ({flt.window_days} days)"
            + ("" if span else " · no data loaded yet")
            + (f" · {note}" if (note := st.session_state.get("_f_url_note")) else "")
        )
        _attribution_panel()
        _dataset_panel()

    st.session_state[K_WINDOW] = (flt.start, flt.end)
    _write_url(state)
    return flt


def window_caption(flt: Filter) -> str:
    """One line naming the active filter: "Window: 1 Jan – 31 Mar 2025 · all teams · all
    services" (the year once when both days share it)."""
    start = f"{flt.start:%-d %b}" if flt.start.year == flt.end.year else f"{flt.start:%-d %b %Y}"
    teams = ", ".join(flt.teams) if flt.teams else "all teams"
    services = ", ".join(flt.services) if flt.services else "all services"
    return f"Window: {start} – {flt.end:%-d %b %Y} · {teams} · {services}"


def _write_url(state: FilterState) -> None:
    query = to_query(state)
    if K_CURRENCY in st.session_state and fmt.currency() != DEFAULT_CURRENCY:
        query[K_CURRENCY] = fmt.currency()
    wanted = {k: v if isinstance(v, list) else [v] for k, v in query.items()}
    if _url_params() != wanted:
        st.query_params.from_dict(query)


def _dataset_panel() -> None:
    info = data.fetch(views.dataset_info)
    with st.expander("Dataset", expanded=False):
        st.caption("Database")
        # the name only: the folder is the server's. st.text, not st.code: st.code loads a
        # 1.5 MB syntax highlighter into every new tab for one file name.
        st.text(data.db_name())
        last = info["last_loaded_at"]
        st.caption(
            f"Last load: {last:%Y-%m-%d %H:%M} UTC · {info['files']} file(s)"
            if last
            else "Nothing loaded yet"
        )
        counts = info["row_counts"]
        st.caption(" · ".join(f"{kind.replace('_', ' ')}: {n:,}" for kind, n in counts.items()))


def cost_model() -> CostModel:
    """The session's cost model (edited on the Support cost page, used by every page)."""
    return st.session_state.get(K_COST) or CostModel()


K_ATTR_WINDOW, K_ATTR_HOURS = "attr_window", "attr_hours"


def attribution():
    """How incidents are tied to changes: the explicit ``caused_by_change`` link, plus (when
    switched on in the sidebar) the latest deployment on the incident's service within N hours."""
    from analytics.metrics import Attribution

    if st.session_state.get(K_ATTR_WINDOW):
        return Attribution("window", float(st.session_state.get(K_ATTR_HOURS) or 24.0))
    return Attribution()


def _attribution_panel() -> None:
    with st.expander("Incident attribution", expanded=False):
        st.toggle(
            "Also blame the latest deployment on the incident's service",
            key=K_ATTR_WINDOW,
            help="Incidents without caused_by_change count against the last deployment to "
            "their service at most this many hours before they opened.",
        )
        st.number_input(
            "Within (hours)", min_value=1.0, max_value=24.0 * 14, value=24.0, step=1.0,
            key=K_ATTR_HOURS, disabled=not st.session_state.get(K_ATTR_WINDOW),
        )  # fmt: skip


COST_FIELDS = {
    "hourly_rate": ("Hourly rate", 5.0),  # the currency is added where it is drawn
    "p1_hours": ("P1 incident (hours)", 0.5),
    "p2_hours": ("P2 incident (hours)", 0.5),
    "p3_hours": ("P3 incident (hours)", 0.25),
    "p4_hours": ("P4 incident (hours)", 0.25),
    "request_hours": ("Service request (hours)", 0.25),
}


def _store_cost_model() -> None:
    # Widget values vanish when another page is shown; the model itself is kept in session_state.
    values = {f: st.session_state[f"cost_{f}"] for f in COST_FIELDS}
    st.session_state[K_COST] = CostModel(**values)


def cost_model_editor() -> CostModel:
    """Number inputs for the cost model; changes apply at once, on every page of the session."""
    model = cost_model()
    cols = st.columns(len(COST_FIELDS))
    for col, (field, (label, step)) in zip(cols, COST_FIELDS.items(), strict=True):
        if field == "hourly_rate":
            label = f"{label} ({fmt.currency()})"
        col.number_input(
            label, min_value=0.0, value=float(getattr(model, field)), step=step,
            key=f"cost_{field}", on_change=_store_cost_model,
        )  # fmt: skip
    return cost_model()
