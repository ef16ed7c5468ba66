"""The outcome of an upload on the Data page and its validation report (the upload itself is
``ui.import_ui.import_flow``, which loads through the same loader as the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from analytics.loader import FileSummary, format_summary
from ui import components as ui

K_RESULT = "upload_result"


@dataclass
class UploadResult:
    """The outcome of one load: summaries and refused rows, or the loader's one-line error."""

    summaries: list[FileSummary] = field(default_factory=list)
    rejected: pd.DataFrame | None = None
    error: str | None = None
    replace: bool = False


def show_result(result: UploadResult) -> None:
    """The validation report: per-file counts, reasons, warnings and the refused rows."""
    if result.error:
        # The message names the file and may quote its header: shown escaped, never as markdown.
        st.error(f"Nothing was loaded: {ui.md_escape(result.error)}", icon=":material/error:")
        return
    total = sum(s.inserted + s.updated for s in result.summaries)
    rejected = sum(s.rejected for s in result.summaries)
    message = (
        f"Loaded {len(result.summaries)} file(s): {total:,} rows stored, {rejected:,} rejected."
    )
    (st.warning if rejected else st.success)(message)
    ui.table(
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
        column_config={
            "file": "File", "kind": "Kind", "inserted": "Inserted", "updated": "Updated",
            "rejected": "Rejected", "superseded": "Superseded", "replaced": "Replaced",
        },
    )  # fmt: skip
    st.text("\n".join(format_summary(s) for s in result.summaries))
    if result.rejected is not None and not result.rejected.empty:
        st.markdown("**Rejected rows**")
        if rejected > len(result.rejected):
            st.caption(
                f"The first {len(result.rejected):,} of {rejected:,}; all of them are in the "
                "database's rejected_rows table."
            )
        ui.table(
            result.rejected, hide_index=True, height=240,
            column_config={
                "file_name": "File", "line_number": st.column_config.NumberColumn("Line"),
                "column_name": "Column", "reason": "Reason", "raw_row": "Row as read",
            },
        )  # fmt: skip
        ui.download(result.rejected, "rejected-rows", "Download rejected rows (CSV)")
