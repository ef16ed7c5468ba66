"""The Data page's upload flow, split into steps another importer can extend: read the uploaded
files into :class:`~analytics.loader.Source` objects (``prepare_sources``), load them through
the same loader as the CLI (``load_uploads``) and show what happened (``show_result``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from analytics import views
from analytics.loader import FileSummary, LoadError, Source, format_summary, load_sources
from analytics.schema import KINDS, detect_kind
from ui import components as ui
from ui import data

PREVIEW_ROWS = 20
K_RESULT = "upload_result"


@dataclass
class UploadResult:
    """The outcome of one load: summaries and refused rows, or the loader's one-line error."""

    summaries: list[FileSummary] = field(default_factory=list)
    rejected: pd.DataFrame | None = None
    error: str | None = None
    replace: bool = False


def header_of(raw: bytes) -> list[str]:
    """The first line of a CSV as a list of column names (empty when unreadable)."""
    text = raw[: 64 * 1024].decode("utf-8-sig", errors="replace")
    first = next(csv.reader(io.StringIO(text)), [])
    return [c.strip() for c in first]


def preview(raw: bytes, rows: int = PREVIEW_ROWS) -> pd.DataFrame | None:
    """The first ``rows`` rows as text (nothing interpreted), or None when pandas cannot read it."""
    try:
        return pd.read_csv(
            io.BytesIO(raw), nrows=rows, dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return None


def prepare_sources(files) -> list[Source]:
    """One Source per uploaded file, with its kind detected (and overridable) and a preview."""
    sources = []
    kinds = ["(detect)", *KINDS]
    for i, uploaded in enumerate(files):
        raw = uploaded.getvalue()
        detected = detect_kind(header_of(raw))
        with st.container(border=True):
            name_col, kind_col = st.columns([3, 1])
            name_col.text(f"{uploaded.name} · {len(raw):,} bytes")
            name_col.caption(
                f"Detected kind: {detected}" if detected else "Kind not recognised from the header"
            )
            choice = kind_col.selectbox(
                "Kind", kinds, index=kinds.index(detected) if detected else 0, key=f"kind_{i}"
            )
            table = preview(raw)
            if table is None:
                st.caption("No preview: the file cannot be read as CSV (the loader will say why).")
            else:
                st.dataframe(table, hide_index=True, height=180)
        sources.append(Source(uploaded.name, raw, None if choice == "(detect)" else choice))
    return sources


def load_uploads(sources: list[Source], replace: bool) -> UploadResult:
    """Load the sources in one transaction; on a file-level error nothing is written."""
    con = data.cursor()
    try:
        try:
            summaries = load_sources(con, sources, replace=replace)
        except LoadError as exc:
            return UploadResult(error=str(exc), replace=replace)
        data.clear()  # the data changed: every page must read it again
        last = views.load_history(con, limit=len(summaries))
        rejected = views.rejected_rows(con, tuple(int(i) for i in last["load_id"]))
        return UploadResult(summaries, rejected, None, replace)
    finally:
        con.close()


def show_result(result: UploadResult) -> None:
    """The validation report: per-file counts, reasons, warnings and the refused rows."""
    if result.error:
        st.error(f"Nothing was loaded: {result.error}", icon=":material/error:")
        return
    total = sum(s.inserted + s.updated for s in result.summaries)
    rejected = sum(s.rejected for s in result.summaries)
    message = (
        f"Loaded {len(result.summaries)} file(s): {total:,} rows stored, {rejected:,} rejected."
    )
    (st.warning if rejected else st.success)(message)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "file": s.file_name, "kind": s.kind, "inserted": s.inserted,
                    "updated": s.updated, "rejected": s.rejected, "superseded": s.superseded,
                    "replaced": s.replaced,
                }
                for s in result.summaries
            ]
        ),
        hide_index=True,
    )  # fmt: skip
    st.text("\n".join(format_summary(s) for s in result.summaries))
    if result.rejected is not None and not result.rejected.empty:
        st.markdown("**Rejected rows**")
        st.dataframe(result.rejected, hide_index=True, height=240)
        ui.download(result.rejected, "rejected-rows", "Download rejected rows (CSV)")


def upload_flow() -> None:
    """Upload, preview, choose append/replace, load, report."""
    files = st.file_uploader(
        "CSV exports of sprints, work items, changes or incidents",
        type=["csv"],
        accept_multiple_files=True,
        key="uploads",
    )
    if files:
        sources = prepare_sources(files)
        mode = st.radio(
            "How to load",
            ["append", "replace"],
            format_func={
                "append": "Append: add new rows, update rows with a known id",
                "replace": "Replace: the files' kinds are replaced entirely",
            }.get,
            key="load_mode",
        )
        if st.button(f"Load {len(sources)} file(s)", type="primary", key="load_button"):
            with st.spinner("Loading…"):
                st.session_state[K_RESULT] = load_uploads(sources, mode == "replace")
    result = st.session_state.get(K_RESULT)
    if result is not None:
        show_result(result)
