"""The Data page's import flow for real exports: per file, the detected format (canonical kind,
ServiceNow or Jira preset) or a column mapping the user adjusts, saved as a named profile;
then one import of all files with a progress bar, through ``analytics.importers`` (the same
entry point as ``python -m analytics load``)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics import audit, views
from analytics.access import REPLACE, SAVE_MAPPING, UPLOAD
from analytics.export import neutralise_formula
from analytics.importers import (
    PRESETS,
    FileInfo,
    import_sources,
    inspect_bytes,
    max_upload_bytes,
    over_limit_message,
    rejected_preview,
)
from analytics.importers.mapping import (
    MappingProfile,
    ProfileError,
    guess_kind,
    list_profiles,
    load_profile,
    parse_profile,
    save_profile,
)
from analytics.importers.sniff import normalise_name
from analytics.importers.suggest import suggest_mapping
from analytics.loader import LoadError, Source
from analytics.schema import KINDS
from analytics.store import PROJECT_ROOT
from ui import auth, data
from ui.components import md_escape, table
from ui.upload import K_RESULT, UploadResult, show_result

DETECT = "detect"
MAPPING = "mapping"
NEW_PROFILE = "(new mapping)"


def mappings_dir() -> Path:
    """Where mapping profiles are saved: ``$CADENCE_MAPPINGS_DIR`` or ``data/mappings``."""
    return Path(os.environ.get("CADENCE_MAPPINGS_DIR") or PROJECT_ROOT / "data" / "mappings")


def _describe(info: FileInfo) -> str:
    if info.preset:
        return f"Detected: {PRESETS[info.preset].title} export ({info.kind})"
    if info.kind:
        return f"Detected: Cadence {info.kind} file"
    return "Not recognised from the header: choose a preset or read it with a column mapping"


def _read_as_label(info: FileInfo):
    def label(option: str) -> str:
        if option == DETECT:
            return "As detected" if (info.preset or info.kind) else "As detected (nothing found)"
        if option == MAPPING:
            return "With a column mapping"
        return PRESETS[option].title

    return label


def mapping_editor(i: int, info: FileInfo, profiles: dict[str, Path]) -> MappingProfile | None:
    """Widgets to choose, adjust and save a mapping for file ``i``; the profile, or None while
    it is invalid (the problem is shown)."""
    names = [NEW_PROFILE, *profiles]
    chosen = st.selectbox("Mapping profile", names, key=f"imp_profile_{i}")
    base: MappingProfile | None = None
    if chosen != NEW_PROFILE:
        try:
            base = load_profile(profiles[chosen])
        except ProfileError as exc:
            st.error(md_escape(str(exc)))
    kinds = list(KINDS)
    default_kind = base.kind if base else (info.kind or guess_kind(info.header))
    kind = st.selectbox(
        "Record kind", kinds, index=kinds.index(default_kind), key=f"imp_kind_{i}_{chosen}"
    )
    draft = base.columns if base and base.kind == kind else suggest_mapping(info.header, kind)
    table = pd.DataFrame(
        {
            # shown neutralised (the editor's toolbar downloads CSV); read back by position
            "source column": [neutralise_formula(h) for h in info.header],
            "maps to": [draft.get(h, "") for h in info.header],
        }
    )
    edited = st.data_editor(
        table,
        column_config={
            "source column": st.column_config.TextColumn(disabled=True),
            "maps to": st.column_config.SelectboxColumn(options=["", *KINDS[kind].column_names]),
        },
        hide_index=True,
        key=f"imp_columns_{i}_{chosen}_{kind}",
    )
    values = st.text_area(
        "Value maps (JSON: canonical column → {file value: canonical value})",
        value=json.dumps(base.values if base else {}, ensure_ascii=False),
        key=f"imp_values_{i}_{chosen}",
    )
    date_format = st.text_input(
        "Date format (optional, e.g. %d.%m.%Y %H:%M)",
        value=(base.date_format or "") if base else "",
        key=f"imp_dates_{i}_{chosen}",
    )
    pairs = zip(info.header, edited["maps to"], strict=True)
    columns = {str(src): str(dst) for src, dst in pairs if isinstance(dst, str) and dst}
    try:
        doc = {"kind": kind, "columns": columns, "values": json.loads(values or "{}")}
        if date_format.strip():
            doc["date_format"] = date_format.strip()
        profile = parse_profile(doc, chosen if chosen != NEW_PROFILE else "")
    except json.JSONDecodeError as exc:
        st.error(md_escape(f"Value maps are not valid JSON: {exc}"))
        return None
    except ProfileError as exc:
        st.error(md_escape(str(exc)))
        return None
    name_col, button_col = st.columns([3, 1])
    name = name_col.text_input(
        "Save as profile", value="" if chosen == NEW_PROFILE else chosen, key=f"imp_name_{i}"
    )
    if button_col.button("Save profile", key=f"imp_save_{i}"):
        save_mapping(profile, name)
    return profile


def save_mapping(profile: MappingProfile, name: str) -> Path | None:
    """The Save profile handler: checks the role again, writes the profile and logs it in the
    audit log; the saved file, or None (the reason is shown)."""
    principal = auth.permit(SAVE_MAPPING)
    if principal is None:
        return None
    try:
        path = save_profile(profile, mappings_dir(), name)
    except (ProfileError, OSError) as exc:
        st.error(md_escape(data.redact_paths(str(exc))))
        return None
    con = data.cursor()
    try:
        audit.record(con, principal.who, audit.SAVE_PROFILE, None, None, path.name)
    finally:
        con.close()
    st.success(md_escape(f"Saved {path.name}"))
    return path


def lacks_required(info: FileInfo) -> list[str]:
    """The required canonical columns missing from a file detected as a canonical kind (by
    its id column alone); empty for presets, complete canonical files and unknown files."""
    if info.preset or not info.kind:
        return []
    names = {normalise_name(h) for h in info.header}  # as the loader compares them
    return [c for c in KINDS[info.kind].required if c not in names]


def file_plan(i: int, source: Source, profiles: dict[str, Path]):
    """Show one file: size, detected format, how to read it, preview. Returns (preset, mapping)
    for ``import_sources``, or None when the file cannot be imported as it stands."""
    with st.container(border=True):
        st.text(f"{source.name} · {len(source.data):,} bytes")
        limit = max_upload_bytes()
        if len(source.data) > limit:
            st.error(md_escape(over_limit_message(source.name, len(source.data), limit)))
            return None
        try:
            info = inspect_bytes(source.name, source.data)
        except LoadError as exc:
            st.error(md_escape(str(exc)))  # names the file and quotes its header
            return None
        lacking = lacks_required(info)
        # e.g. the BPIC 2014 log (Incident_ID, Open_Time): an id column alone is no Cadence file
        if lacking:
            info = dataclasses.replace(info, kind=None)
            st.caption(
                "Not a Cadence, ServiceNow or Jira file (no "
                + ", ".join(lacking)
                + " column): read it with the column mapping below, pre-filled by name similarity."
            )
        else:
            st.caption(_describe(info))
        options = [DETECT, *PRESETS, MAPPING]
        default = info.preset or (MAPPING if lacking else DETECT)
        choice = st.selectbox(
            "Read as",
            options,
            index=options.index(default),
            format_func=_read_as_label(info),
            key=f"imp_as_{i}",
        )
        plan = (None, None)
        if choice == MAPPING:
            profile = mapping_editor(i, info, profiles)
            plan = None if profile is None else (None, profile)
        elif choice != DETECT:
            plan = (choice, None)
        if info.preview:
            table(
                pd.DataFrame(list(info.preview), columns=_unique(info.header)),
                hide_index=True,
                height=160,
            )
        return plan


def _unique(header: tuple[str, ...]) -> list[str]:
    """Column labels for a preview table (repeated Jira headers get a suffix)."""
    seen: dict[str, int] = {}
    labels = []
    for h in header:
        seen[h] = seen.get(h, 0) + 1
        labels.append(h if seen[h] == 1 else f"{h} ({seen[h]})")
    return labels


def run_import(
    sources: list[Source],
    plans: list[tuple],
    replace: bool,
    date_format: str | None,
    progress=None,
) -> UploadResult:
    """Import the sources in one transaction; on a file-level error nothing is written. The
    role is checked here again (editor appends, admin replaces) and the load is audited."""
    principal = auth.current()
    action = REPLACE if replace else UPLOAD
    if not principal.may(action):
        auth.log.warning("refused %s for %s (role %s)", action, principal.who, principal.role)
        return UploadResult(error=principal.refusal(action), replace=replace)
    con = data.cursor()
    try:
        try:
            summaries = import_sources(
                con,
                sources,
                preset=[p for p, _m in plans],
                mapping=[m for _p, m in plans],
                replace=replace,
                date_format=date_format or None,
                progress=progress,
            )
        except LoadError as exc:
            # A message quoting a temporary file names it by its file name only.
            return UploadResult(error=data.redact_paths(str(exc)), replace=replace)
        # The importer commits its own transaction; the audit entries follow in the next one.
        _record_load(con, principal.who, summaries, replace)
        data.clear()  # the data changed: every page must read it again
        last = views.load_history(con, limit=len(summaries))
        rejected = rejected_preview(con, [int(i) for i in last["load_id"]])
        return UploadResult(summaries, rejected, None, replace)
    finally:
        con.close()


def _record_load(con, who: str, summaries, replace: bool) -> None:
    """One audit entry per loaded file: rows stored (inserted + updated) in its table."""
    con.execute("BEGIN TRANSACTION")
    try:
        for s in summaries:
            detail = s.file_name + (f"; {s.removed:,} old rows removed" if s.replaced else "")
            action = audit.REPLACE if replace else audit.APPEND
            audit.record(con, who, action, s.kind, s.inserted + s.updated, detail)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def import_form(sources: list[Source]) -> None:
    """Per-file plans, load options and the Import button (with a progress bar)."""
    profiles = list_profiles(mappings_dir())
    plans = [file_plan(i, s, profiles) for i, s in enumerate(sources)]
    date_format = st.text_input(
        "Date format for ambiguous dates (optional, e.g. %d/%m/%Y or %m/%d/%Y)",
        key="imp_date_format",
    )
    # Replacing whole tables is for admins; an editor is offered appending only.
    modes = ["append", "replace"] if auth.can(REPLACE) else ["append"]
    mode = st.radio(
        "How to load",
        modes,
        format_func={
            "append": "Append: add new rows, update rows with a known id",
            "replace": "Replace: the files' kinds are replaced entirely",
        }.get,
        key="load_mode",
    )
    if len(modes) == 1:
        auth.explain(REPLACE)
    ready = all(p is not None for p in plans)
    if st.button(
        f"Load {len(sources)} file(s)", type="primary", disabled=not ready, key="load_button"
    ):
        bar = st.progress(0.0, text="Starting…")
        st.session_state[K_RESULT] = run_import(
            sources,
            plans,
            mode == "replace",
            date_format.strip(),
            # The message names the file: the bar's text is markdown, so it is escaped.
            progress=lambda fraction, message: bar.progress(
                min(max(fraction, 0.0), 1.0), md_escape(message)
            ),
        )
        if not st.session_state[K_RESULT].error:
            st.rerun()  # the sidebar (teams, dates, row counts) was drawn from the old data


def upload_limits() -> tuple[int, int]:
    """(Cadence's upload limit, Streamlit's ``server.maxUploadSize``) in MB. Streamlit's must be
    the larger, so that an oversized file reaches Cadence's message naming it and the limit
    instead of the browser's generic "file too large"."""
    cadence = math.ceil(max_upload_bytes() / 1048576)
    return cadence, int(st.get_option("server.maxUploadSize"))


def import_flow() -> None:
    """Upload CSV/Excel exports, choose how each is read, import, show the report."""
    cadence_mb, streamlit_mb = upload_limits()
    # one limit on screen: the uploader shows and enforces Cadence's (not the server's ceiling)
    limit_mb = min(cadence_mb, streamlit_mb)
    st.caption(f"Up to {limit_mb:,} MB per file (CADENCE_MAX_UPLOAD_MB).")
    if streamlit_mb <= cadence_mb:
        st.warning(
            f"Streamlit's server.maxUploadSize ({streamlit_mb:,} MB) is not above "
            f"CADENCE_MAX_UPLOAD_MB ({cadence_mb:,} MB): larger files are refused by the "
            "browser without Cadence's message. Raise server.maxUploadSize in "
            ".streamlit/config.toml (or STREAMLIT_SERVER_MAX_UPLOAD_SIZE)."
        )
    files = st.file_uploader(
        "CSV or Excel exports: Cadence files, ServiceNow, Jira, or any file with a mapping",
        type=["csv", "txt", "xlsx"],
        accept_multiple_files=True,
        key="uploads",
        max_upload_size=limit_mb,
    )
    if files:
        import_form([Source(f.name, f.getvalue()) for f in files])
    result = st.session_state.get(K_RESULT)
    if result is not None:
        show_result(result)
