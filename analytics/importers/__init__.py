"""Importing real exports: ServiceNow, Jira and any CSV/Excel file through a mapping profile.

``import_paths`` / ``import_sources`` are the one entry point for the CLI and the Data page.
Each file is read by DuckDB into a raw table, transformed in SQL into a staging table of
canonical columns (dates as ISO text, enumerations mapped), and handed to the loader's
``load_staged``; all files of one call share one transaction, so a refused file writes nothing.
Canonical CSV files go through the loader's own staging exactly as ``load_paths`` does.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from analytics import schema
from analytics.importers.mapping import (
    MappingProfile,
    ProfileError,
    load_profile,
    mapping_transform,
    missing_sources,
    parse_profile,
)
from analytics.importers.presets import PRESETS, detect_preset, sprint_id_expr
from analytics.importers.sniff import (
    SAMPLE_BYTES,
    AmbiguousDates,
    SniffError,
    date_format_from_pattern,
    normalise_name,
    preview_text_rows,
    sniff_layout,
)
from analytics.importers.source import (
    ZIP_MAGIC,
    RawTable,
    SourceError,
    excel_rows,
    is_excel,
    read_raw,
    temp_name,
)
from analytics.importers.transform import Cols, StagedTable, Transform, run_transform
from analytics.loader import (
    RETRY_MESSAGE,
    FileScan,
    FileSummary,
    LoadError,
    Source,
    database_error_message,
    load_staged,
)

__all__ = [
    "PRESETS",
    "RETRY_MESSAGE",
    "FileInfo",
    "MappingProfile",
    "Progress",
    "detect_preset",
    "import_paths",
    "import_sources",
    "inspect_bytes",
    "inspect_file",
    "load_profile",
    "max_upload_bytes",
    "over_limit_message",
    "parse_profile",
    "rejected_preview",
]

DEFAULT_MAX_UPLOAD_MB = 200
Progress = Callable[[float, str], None]


def max_upload_bytes() -> int:
    """The upload size limit in bytes: ``$CADENCE_MAX_UPLOAD_MB`` (default 200 MB)."""
    try:
        mb = float(os.environ.get("CADENCE_MAX_UPLOAD_MB") or DEFAULT_MAX_UPLOAD_MB)
    except ValueError:
        mb = DEFAULT_MAX_UPLOAD_MB
    return int(mb * 1024 * 1024)


def over_limit_message(name: str, size: int, limit: int) -> str:
    """The one-line refusal of a file of ``size`` bytes over the ``limit`` (bytes)."""
    return (
        f"{name}: {size / 1048576:.1f} MB is over the upload limit of {limit / 1048576:g} MB "
        "(set CADENCE_MAX_UPLOAD_MB to change it)"
    )


@dataclass(frozen=True)
class FileInfo:
    """What a first look at a file finds (for the Data page's preset and mapping choice)."""

    header: tuple[str, ...]
    preset: str | None  # detected preset name
    kind: str | None  # record kind: the preset's, else the canonical header's
    delimiter: str
    encoding: str
    preview: tuple[tuple[str, ...], ...] = ()  # the first data rows, as text


@dataclass
class _File:
    name: str  # for messages only
    path: Path
    kind: str | None = None
    preset: str | None = None
    mapping: MappingProfile | None = None


@dataclass
class _Planned:
    """A staged file: the table ``load_staged`` reads and how to log it."""

    name: str
    sha256: str
    staged: StagedTable
    preset: str | None = None
    drop: list[tuple[str, str]] = field(default_factory=list)  # ("TABLE"/"VIEW", name)
    lazy: bool = False  # a view over the file: it is read while it is validated


# --- public entry points ----------------------------------------------------------------------


def import_paths(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str | Path],
    *,
    preset: str | None | Sequence[str | None] = None,
    mapping: MappingProfile | str | Path | None | Sequence = None,
    kind: str | None = None,
    replace: bool = False,
    date_format: str | None = None,
    progress: Progress | None = None,
) -> list[FileSummary]:
    """Import files in one transaction; return one summary per loaded table.

    ``preset`` forces a preset (one for all files, or one per file; None = detect from the
    header), ``mapping`` a mapping profile (object or JSON path), ``kind`` the kind of canonical
    files, ``date_format`` a strptime pattern for ambiguous dates. Raises ``LoadError`` (and
    writes nothing) when any file is refused.
    """
    presets = _per_file(preset, len(paths), "preset")
    mappings = [_profile(m) for m in _per_file(mapping, len(paths), "mapping")]
    files = [
        _File(str(p), Path(p), kind, pr, m)
        for p, pr, m in zip(paths, presets, mappings, strict=True)
    ]
    return _import(con, files, replace, date_format, progress)


def import_sources(
    con: duckdb.DuckDBPyConnection,
    sources: Sequence[Source],
    *,
    preset: str | None | Sequence[str | None] = None,
    mapping: MappingProfile | str | Path | None | Sequence = None,
    replace: bool = False,
    date_format: str | None = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
) -> list[FileSummary]:
    """Import uploaded files (bytes); same rules as ``import_paths``.

    Each upload is written to a temp file with a generated name (the uploaded name is only
    shown in messages). Files over ``max_bytes`` (default ``max_upload_bytes()``) are refused.
    """
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    for source in sources:
        if len(source.data) > limit:
            raise LoadError(over_limit_message(source.name, len(source.data), limit))
    presets = _per_file(preset, len(sources), "preset")
    mappings = [_profile(m) for m in _per_file(mapping, len(sources), "mapping")]
    with tempfile.TemporaryDirectory(prefix="cadence-upload-") as tmp:
        files = []
        for i, (source, pr, m) in enumerate(zip(sources, presets, mappings, strict=True)):
            excel = source.data[:4] == ZIP_MAGIC
            path = Path(tmp) / f"upload-{i}{'.xlsx' if excel else '.csv'}"
            path.write_bytes(source.data)
            files.append(_File(source.name, path, source.kind, pr, m))
        return _import(con, files, replace, date_format, progress)


# Rejected rows a report shows (and offers to download); all are kept in ``rejected_rows``.
MAX_REJECTED_SHOWN = 10_000


def rejected_preview(
    con: duckdb.DuckDBPyConnection, load_ids: Sequence[int], limit: int = MAX_REJECTED_SHOWN
):
    """The first ``limit`` refused rows of the given loads (file, line, column, reason, raw
    row) as a DataFrame: a big file with a wrong column can refuse millions of rows, which the
    report must not pull into memory."""
    from analytics.db import query_df

    return query_df(
        con,
        """
        SELECT file_name, line_number, column_name, reason, raw_row
        FROM rejected_rows WHERE list_contains($load_ids, load_id)
        ORDER BY load_id, line_number
        LIMIT $limit
        """,
        {"load_ids": [int(i) for i in load_ids], "limit": limit},
    )


def inspect_file(path: str | Path, name: str | None = None, preview_rows: int = 10) -> FileInfo:
    """Header, detected preset and kind, and the first rows of a file (read from its start)."""
    path = Path(path)
    name = name or path.name
    try:
        if is_excel(path):
            found = [cells for _n, cells in excel_rows(path, limit=preview_rows + 1)]
            if not found:
                raise SourceError("the workbook's first sheet is empty")
            header = tuple((c or "").strip() for c in found[0])
            rows = [[c or "" for c in r] for r in found[1:]]
            delimiter, encoding = "", "xlsx"
        else:
            layout = sniff_layout(path)
            header, delimiter, encoding = layout.header, layout.delimiter, layout.encoding
            rows = preview_text_rows(path, layout, preview_rows)
    except (SniffError, SourceError) as exc:
        raise LoadError(f"{name}: {exc}") from None
    preset = _canonical_or_preset(header)[1]
    kind = PRESETS[preset].kind if preset else schema.detect_kind(list(header))
    width = len(header)
    preview = tuple(tuple((list(r) + [""] * width)[:width]) for r in rows)
    return FileInfo(tuple(header), preset, kind, delimiter, encoding, preview)


def inspect_bytes(name: str, data: bytes, preview_rows: int = 10) -> FileInfo:
    """``inspect_file`` for an upload (written to a temp file with a generated name; of a text
    file only the start, which is all that inspection reads)."""
    with tempfile.TemporaryDirectory(prefix="cadence-inspect-") as tmp:
        excel = data[:4] == ZIP_MAGIC
        path = Path(tmp) / f"upload{'.xlsx' if excel else '.csv'}"
        path.write_bytes(data if excel else data[:SAMPLE_BYTES])
        return inspect_file(path, name, preview_rows)


# --- one transaction over several files -------------------------------------------------------


def _import(
    con: duckdb.DuckDBPyConnection,
    files: list[_File],
    replace: bool,
    date_format: str | None,
    progress: Progress | None,
) -> list[FileSummary]:
    """Run the import under the import memory limit; with a ``progress`` callback, in a worker
    thread while this thread reports DuckDB's progress (the callback may touch Streamlit, which
    only works from the calling thread)."""
    limit_mb = _import_memory_mb(files)

    def run() -> list[FileSummary]:
        if progress is None:
            return _import_files(con, files, replace, date_format, _Tracker())
        return _with_progress(
            con, progress, lambda t: _import_files(con, files, replace, date_format, t)
        )

    if limit_mb is None:
        return run()
    try:
        with _import_limits(con, limit_mb):
            return run()
    except _OutOfMemory:
        pass  # rolled back: nothing was written; once more with DuckDB's own limit
    return run()


def _import_files(
    con: duckdb.DuckDBPyConnection,
    files: list[_File],
    replace: bool,
    date_format: str | None,
    tracker: _Tracker,
) -> list[FileSummary]:
    planned: list[_Planned] = []
    summaries: list[FileSummary] = []
    try:
        con.execute("BEGIN TRANSACTION")
    except duckdb.Error as exc:
        raise LoadError(_duckdb_message(exc)) from None
    try:
        for i, f in enumerate(files):
            planned.append(_stage(con, f, date_format, tracker.band(i, len(files), 0.0, STAGED)))
        planned = _add_jira_sprints(con, planned, replace)
        replaced: set[str] = set()
        for j, p in enumerate(planned):
            band = tracker.band(j, len(planned), STAGED, 1.0)
            what = "reading, validating and writing" if p.lazy else "validating and writing"
            band.step(0.0, 1.0, f"{what} {p.name}", queries=LOAD_QUERIES)
            summaries.append(
                load_staged(
                    con,
                    p.staged.kind,
                    p.staged.table,
                    file_name=p.name,
                    sha256=p.sha256,
                    replace=replace and p.staged.kind not in replaced,
                    warnings=p.staged.warnings,
                )
            )
            if replace:
                replaced.add(p.staged.kind)
        con.execute("COMMIT")
    except BaseException as exc:
        _rollback(con)
        if _is_out_of_memory(exc):
            raise _OutOfMemory(_duckdb_message(exc)) from None
        if isinstance(exc, duckdb.Error):
            raise LoadError(_duckdb_message(exc)) from None
        raise
    finally:
        _drop(con, planned)
    return summaries


# --- progress and memory ----------------------------------------------------------------------

# Share of the bar for reading and converting the files; the rest is validating and writing.
STAGED = 0.6
# How often the calling thread reports progress while the import runs (seconds).
PROGRESS_POLL_SECONDS = 0.25
# Long queries of the loader's validation and upsert (for the progress of that step).
LOAD_QUERIES = 4
# DuckDB's memory for an import (MB, $CADENCE_IMPORT_MEMORY_MB): beyond it DuckDB spills to
# its temp directory, so a 300 MB file does not take 2-6 times its size in RAM.
DEFAULT_IMPORT_MEMORY_MB = 384


class _Tracker:
    """Where the import is: a step's span of the bar, its message, and (for Python loops over a
    file) a fraction of the step; without one, DuckDB's progress of the running query is used."""

    def __init__(self, start: float = 0.0, end: float = 1.0, root: _Tracker | None = None):
        self.start, self.end, self.root = start, end, root or self
        self.span = (0.0, 0.0)
        self.message = "starting"
        self.inner: float | None = None
        self.queries = 1  # how many DuckDB queries the current step is expected to take
        self.started: list[tuple[float, str]] = []  # (start of the bar, message) per step

    def band(self, i: int, n: int, start: float, end: float) -> _Tracker:
        """The share of item ``i`` of ``n`` within [start, end] of this tracker's span."""
        width = (end - start) / max(n, 1)
        lo = self.start + (self.end - self.start) * (start + width * i)
        return _Tracker(lo, lo + (self.end - self.start) * width, self.root)

    def step(self, start: float, end: float, message: str, queries: int = 1) -> _Tracker:
        """Start a step covering [start, end] of this tracker's span, expected to take about
        ``queries`` long DuckDB queries."""
        root = self.root
        width = self.end - self.start
        root.span = (self.start + width * start, self.start + width * end)
        root.message, root.inner, root.queries = message, None, queries
        root.started.append((root.span[0], message))
        return self

    def part(self, fraction: float | None) -> None:
        """How far the current step is (for steps done in Python, such as hashing); None hands
        back to DuckDB's progress."""
        self.root.inner = fraction


def _with_progress(con: duckdb.DuckDBPyConnection, report: Progress, work) -> list[FileSummary]:
    """Run ``work(tracker)`` in a worker thread; report its progress from this thread."""
    tracker = _Tracker()
    # DuckDB tracks a query's progress only with its progress bar on (printing it stays off).
    settings = _local_settings(
        con, {"enable_progress_bar": True, "enable_progress_bar_print": False}
    )
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = work(tracker)
        except BaseException as exc:  # handed to the calling thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="cadence-import", daemon=True)
    shown, steps, done, last = 0.0, 0, 0, 0.0
    worker.start()
    try:
        report(0.0, "starting")
        while True:
            worker.join(PROGRESS_POLL_SECONDS)
            if len(tracker.started) != steps:
                # Every step is named once, even one that began and ended between two looks.
                for start, message in tracker.started[steps:]:
                    shown = max(shown, start)
                    report(shown, message)
                steps, done, last = len(tracker.started), 0, 0.0
            lo, hi = tracker.span
            inner = tracker.inner
            if inner is None:
                query = -1.0
                with contextlib.suppress(duckdb.Error):
                    query = con.query_progress() / 100  # -1 between queries
                if query < last - 0.01:
                    done += 1  # the previous query has finished
                last = max(query, 0.0)
                inner = _query_share(done, tracker.queries, last)
            fraction = max(shown, lo + (hi - lo) * min(inner, 1.0))
            if not worker.is_alive():
                break
            report(fraction, tracker.message)
            shown = fraction
    except BaseException:
        # Stopped while reporting (e.g. Streamlit's rerun): end the query, let the worker roll back.
        with contextlib.suppress(duckdb.Error):
            con.interrupt()
        worker.join()
        raise
    finally:
        settings()
    if "error" in outcome:
        raise outcome["error"]
    report(1.0, "done")
    return outcome["result"]


def _query_share(done: int, expected: int, progress: float) -> float:
    """How far a step is after ``done`` finished queries, the current one at ``progress``
    (0-1): each query takes 1/expected of what remains, so the bar moves and never
    passes the step's end however many queries there are."""
    keep = 1 - 1 / max(expected, 1)
    before = 1 - keep**done
    return before + (keep**done - keep ** (done + 1)) * progress


class _OutOfMemory(LoadError):
    """DuckDB ran out of memory (the import is rolled back)."""


def _is_out_of_memory(exc: BaseException) -> bool:
    # A failed COMMIT reports running out of memory as a TransactionException.
    text = str(exc)
    return isinstance(exc, duckdb.OutOfMemoryException) or (
        isinstance(exc, duckdb.Error) and "could not allocate" in text
    )


def _import_memory_mb(files: list[_File]) -> int | None:
    """DuckDB's memory limit for an import in MB: ``$CADENCE_IMPORT_MEMORY_MB`` (0 = none),
    raised to the files' total size (the primary-key index built at commit grows with the
    rows and cannot spill)."""
    try:
        mb = int(os.environ.get("CADENCE_IMPORT_MEMORY_MB") or DEFAULT_IMPORT_MEMORY_MB)
    except ValueError:
        mb = DEFAULT_IMPORT_MEMORY_MB
    if mb <= 0:
        return None
    total = 0
    for f in files:
        with contextlib.suppress(OSError):
            total += f.path.stat().st_size
    return max(mb, math.ceil(total / 1048576))


_limits_lock = threading.Lock()
_limits: dict[str, list] = {}  # database -> [imports running, memory limit before the first]


@contextlib.contextmanager
def _import_limits(con: duckdb.DuckDBPyConnection, mb: int):
    """DuckDB's memory limit while imports run: a setting of the whole database (all its
    cursors), so the first import into a database sets it and the last one restores it."""
    key = _database_key(con)
    with _limits_lock:
        state = _limits.setdefault(key, [0, None])
        if state[0] == 0:
            with contextlib.suppress(duckdb.Error):
                saved = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
                con.execute(f"SET memory_limit = '{int(mb)}MB'")  # an int: safe to format
                state[1] = saved
        state[0] += 1
    try:
        yield
    finally:
        with _limits_lock:
            state[0] -= 1
            if state[0] == 0:
                del _limits[key]
                if state[1] is not None:
                    with contextlib.suppress(duckdb.Error):
                        _restore_memory_limit(con, state[1])


def _database_key(con: duckdb.DuckDBPyConnection) -> str:
    """The database file a connection works on (an in-memory one: the connection itself)."""
    path = None
    with contextlib.suppress(duckdb.Error):
        path = con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()[0]
    return str(path) if path else f"memory:{id(con)}"


def _restore_memory_limit(con: duckdb.DuckDBPyConnection, saved: str) -> None:
    """Put back the memory limit shown as ``saved`` ("18.8 GiB"): the default exactly (that
    text is rounded), else the shown value."""
    con.execute("RESET memory_limit")
    default = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    # SET takes no parameters; the value is DuckDB's own, checked before use.
    if saved != default and re.fullmatch(r"[0-9.]+ ?[A-Za-z]*", saved):
        con.execute(f"SET memory_limit = '{saved}'")


def _local_settings(con: duckdb.DuckDBPyConnection, values: dict[str, bool]):
    """Set connection settings; return a function that restores their previous values."""
    saved = {}
    for name, value in values.items():
        with contextlib.suppress(duckdb.Error):
            saved[name] = con.execute("SELECT current_setting($n)", {"n": name}).fetchone()[0]
            con.execute(f"SET {name} = {'true' if value else 'false'}")  # names are constants

    def restore() -> None:
        for name, value in saved.items():
            with contextlib.suppress(duckdb.Error):
                con.execute(f"SET {name} = {'true' if value else 'false'}")

    return restore


def _stage(
    con: duckdb.DuckDBPyConnection, f: _File, date_format: str | None, tracker: _Tracker
) -> _Planned:
    """Read one file and build its staging table (or the loader's, for canonical CSV)."""
    sha256 = _sha256(f, tracker.step(0.0, 0.15, f"checking {f.name}"))
    excel = is_excel(f.path)
    preset, mapping = f.preset, f.mapping
    if preset is not None and preset not in PRESETS:
        raise LoadError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    layout = None
    if preset is None and mapping is None and not excel:
        try:
            layout = sniff_layout(f.path)
        except SniffError as exc:
            raise LoadError(f"{f.name}: {exc}") from None
        canonical_kind, preset = _canonical_or_preset(layout.header, f.kind)
        canonical = canonical_kind is not None or f.kind is not None
        if canonical and layout.delimiter == "," and layout.encoding == "utf-8":
            # A canonical CSV: the loader's own staging, exactly as load_paths reads it.
            from analytics.loader import _stage_file

            staged = _stage_file(con, f.name, f.path, canonical_kind or f.kind, sha256)
            table = StagedTable(staged.kind, staged.view, staged.warnings)
            drop = [("VIEW", staged.view), ("TABLE", staged.table)]
            return _Planned(f.name, sha256, table, drop=drop, lazy=True)
    try:
        tracker.step(0.15, 0.7, f"reading {f.name}")
        raw = read_raw(con, f.path, layout, tracker.part)
    except SourceError as exc:
        raise LoadError(f"{f.name}: {exc}") from None
    drop = [("TABLE", raw.table)]
    try:
        if raw.rows == 0:
            raise LoadError(f"{f.name}: has a header but no data rows")
        transform, preset = _transform_for(f, raw, preset, mapping)
        pattern = date_format or (mapping.date_format if mapping else None)
        fmt = date_format_from_pattern(pattern) if pattern else None
        try:
            tracker.step(0.7, 1.0, f"converting {f.name}")
            staged = run_transform(con, raw, transform, fmt)
        except AmbiguousDates as exc:
            raise LoadError(f"{f.name}: {exc}") from None
        drop += [("TABLE", t) for t in (staged.table, staged.helper_table) if t]
        return _Planned(f.name, sha256, staged, preset=preset, drop=drop)
    except BaseException:
        _drop_tables(con, drop)
        raise


def _transform_for(
    f: _File, raw: RawTable, preset: str | None, mapping: MappingProfile | None
) -> tuple[Transform, str | None]:
    """The Transform for a raw file (its mapping, its forced or detected preset, or identity)
    and the preset used."""
    cols = Cols(raw.header)
    if mapping is not None:
        missing = missing_sources(mapping, raw.header)
        if missing:
            label = f" {mapping.name}" if mapping.name else ""
            raise LoadError(
                f"{f.name}: column(s) {', '.join(repr(m) for m in missing)} of mapping{label} "
                f"not in the file; found: {_shown(raw.header)}"
            )
        return mapping_transform(mapping, cols), None
    canonical_kind = None
    if preset is None:
        canonical_kind, preset = _canonical_or_preset(raw.header, f.kind)
    if preset is not None:
        p = PRESETS[preset]
        if not cols.names().intersection(p.id_names):
            raise LoadError(
                f"{f.name}: not a {p.title} export: no column {' / '.join(p.id_names)}; "
                f"found: {_shown(raw.header)}"
            )
        return p.build(cols), preset
    if canonical_kind is None:
        raise LoadError(
            f"{f.name}: cannot tell what the file holds (found: {_shown(raw.header)}); "
            f"use --preset {'|'.join(PRESETS)}, --mapping FILE or --kind"
        )
    return canonical_transform(canonical_kind, cols), None


def canonical_transform(kind_name: str, cols: Cols) -> Transform:
    """Identity mapping for a canonical header read with quirks (semicolons, Excel, cp1252)."""
    kind = schema.KINDS[kind_name]
    names = cols.names()
    columns: dict[str, str] = {}
    for c in kind.columns:
        if c.name not in names:
            continue
        if c.sql_type in ("TIMESTAMP", "DATE"):
            columns[c.name] = cols.date(c.name, date_only=c.sql_type == "DATE")
        elif c.sql_type in ("DOUBLE", "INTEGER"):
            columns[c.name] = cols.number(c.name)
        else:
            columns[c.name] = cols.text(c.name)
    missing = [c for c in kind.required if c not in columns]
    if missing:
        raise LoadError(f"missing required column(s) {', '.join(missing)} for {kind_name}")
    return Transform(kind_name, columns, cols)


def _canonical_or_preset(
    header: Sequence[str], kind_hint: str | None = None
) -> tuple[str | None, str | None]:
    """(canonical kind, None) for a canonical header, else (None, detected preset or None)."""
    names = [normalise_name(h) for h in header]
    canonical = kind_hint if kind_hint in schema.KINDS else schema.detect_kind(names)
    if canonical and schema.KINDS[canonical].id_column in names:
        return canonical, None
    return None, detect_preset(tuple(header))


# --- Jira: sprints from the issues, teams for a sprints file ----------------------------------


def _add_jira_sprints(
    con: duckdb.DuckDBPyConnection, planned: list[_Planned], replace: bool
) -> list[_Planned]:
    """Complete Jira imports: fill a sprints file's missing teams from the issues, and derive
    sprints (min created .. max resolved) for issue sprints that no sprints file covers and
    the database does not hold yet (unless it is being replaced)."""
    issues = [p for p in planned if p.preset == "jira-issues" and p.staged.helper_table]
    sprint_files = [p for p in planned if p.preset == "jira-sprints" and p.staged.helper_table]
    if not issues and not sprint_files:
        return planned
    teams_sql = " UNION ".join(
        [f"SELECT team, __sprint_name AS name FROM {x.staged.helper_table}" for x in issues]
        + ["SELECT DISTINCT team, name FROM sprints"]
    )
    for p in sprint_files:
        table = temp_name("sprints")
        team = "coalesce(s.team, t.team)"
        con.execute(
            f"""
            CREATE TEMP TABLE {table} AS
            SELECT s.__line, s.__raw, {sprint_id_expr(team, "s.name")} AS sprint_id,
                   {team} AS team, s.name, s.start_date, s.end_date,
                   s.committed_points, s.completed_points
            FROM {p.staged.helper_table} s
            LEFT JOIN ({teams_sql}) t ON s.team IS NULL AND t.name = s.name AND t.team IS NOT NULL
            """
        )
        p.drop.append(("TABLE", table))
        p.staged.table = table
    covered = " UNION ".join(
        [f"SELECT sprint_id FROM {p.staged.table}" for p in sprint_files]
        + ([] if replace else ["SELECT sprint_id FROM sprints"])
        + ["SELECT NULL::VARCHAR AS sprint_id"]
    )
    derived: list[_Planned] = []
    for p in issues:
        table = temp_name("derived")
        con.execute(
            f"""
            CREATE TEMP TABLE {table} AS
            SELECT min(__line) AS __line, 'derived from ' || count(*) || ' issues' AS __raw,
                   sprint_id, any_value(team) AS team, any_value(__sprint_name) AS name,
                   CAST(min(try_cast(left(created_at, 10) AS DATE)) AS VARCHAR) AS start_date,
                   CAST(max(coalesce(try_cast(left(resolved_at, 10) AS DATE),
                                     try_cast(left(created_at, 10) AS DATE))) AS VARCHAR)
                       AS end_date,
                   CAST(coalesce(sum(try_cast(story_points AS DOUBLE)), 0) AS VARCHAR)
                       AS committed_points,
                   CAST(coalesce(sum(try_cast(story_points AS DOUBLE))
                                 FILTER (resolved_at IS NOT NULL), 0) AS VARCHAR)
                       AS completed_points
            FROM {p.staged.helper_table}
            WHERE sprint_id IS NOT NULL
              AND sprint_id NOT IN (SELECT sprint_id FROM ({covered}) WHERE sprint_id IS NOT NULL)
            GROUP BY sprint_id
            """
        )
        p.drop.append(("TABLE", table))
        names = [r[0] for r in con.execute(f"SELECT name FROM {table} ORDER BY name").fetchall()]
        if names:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            warning = (
                f"sprint dates derived from issue dates (created .. resolved) for {len(names)} "
                f"sprint(s) without a sprints file: {shown}; import a sprints file for exact dates"
            )
            staged = StagedTable("sprints", table, [warning])
            derived.append(_Planned(f"{p.name} (derived sprints)", p.sha256, staged))
    # Sprints first, so a summary lists them before the work items that name them.
    return derived + planned


# --- helpers ----------------------------------------------------------------------------------


def _per_file(value, n: int, what: str) -> list:
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise LoadError(f"{len(value)} {what}s for {n} files")
        return list(value)
    return [value] * n


def _profile(mapping) -> MappingProfile | None:
    if mapping is None or isinstance(mapping, MappingProfile):
        return mapping
    try:
        if isinstance(mapping, dict):
            return parse_profile(mapping)
        return load_profile(mapping)
    except ProfileError as exc:
        raise LoadError(str(exc)) from None


def _sha256(f: _File, tracker: _Tracker | None = None) -> str:
    """The file's sha256; a text file's over-long line (``FileScan``) refuses it here."""
    scan = FileScan()
    try:
        size = max(f.path.stat().st_size, 1)
        done = 0
        with open(f.path, "rb") as fh:
            while block := fh.read(1 << 20):
                scan.update(block)
                done += len(block)
                if tracker is not None:
                    tracker.part(done / size)
    except IsADirectoryError:
        raise LoadError(f"{f.name}: is a directory, not a file") from None
    except OSError as exc:
        raise LoadError(f"{f.name}: cannot read the file ({exc.strerror or exc})") from None
    if is_excel(f.path):  # a workbook is zip data: its "lines" mean nothing
        return scan.digest.hexdigest()
    return scan.finish(f.name)


def _shown(header: Sequence[str]) -> str:
    shown = ", ".join(h.strip() for h in header[:20])
    return shown + (f", ... ({len(header)} columns)" if len(header) > 20 else "")


def _duckdb_message(exc: duckdb.Error) -> str:
    """A DuckDB error as one line naming its real cause (``loader.database_error_message``):
    a write conflict means a concurrent import; no space, a read-only folder and running out
    of memory are said as such."""
    return database_error_message(exc)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # the transaction may already be aborted
        con.execute("ROLLBACK")


def _drop(con: duckdb.DuckDBPyConnection, planned: list[_Planned]) -> None:
    for p in planned:
        _drop_tables(con, p.drop)


def _drop_tables(con: duckdb.DuckDBPyConnection, objects: list[tuple[str, str]]) -> None:
    # Views first: a loader view reads its raw table.
    for what, name in sorted(objects, key=lambda o: o[0] != "VIEW"):
        with contextlib.suppress(duckdb.Error):  # e.g. gone with a rolled-back transaction
            con.execute(f"DROP {what} IF EXISTS {name}")
