"""Loading canonical CSV files into the store: file checks, row validation in SQL, upserts.

One call of ``load_paths`` / ``load_sources`` is one transaction: a file-level problem in any file
raises ``LoadError`` and nothing from the call is written. Row-level problems reject just that row
into ``rejected_rows``. Row numbers count CSV records: the header is row 1, the first data row is
row 2 (a quoted value spanning several lines still counts as one row).

``load_staged`` is the core the importers reuse: it validates, converts, de-duplicates and upserts
a staging table whose columns are canonical names holding text, plus ``__line`` and ``__raw``.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import os
import re
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from analytics import schema
from analytics.schema import DATE_MAX, DATE_MIN, DEFAULT_APPROVAL, KINDS, Column, Kind

# How many rejection reasons a summary shows; all of them are in ``rejected_rows``.
MAX_REASONS = 5
# Longest piece of a bad value quoted in a reason.
MAX_VALUE_CHARS = 60
_HEAD_BYTES = 64 * 1024
_STAGED_PREFIX = "__cadence_staged_"
# Widest file read, canonical or not (checked on the header, before anything is loaded).
MAX_COLUMNS = 500
# Longest physical line read: DuckDB's own default limit, checked beforehand so that a longer
# line is refused with its number instead of failing inside DuckDB (or, at the end of a file,
# being dropped without a word).
MAX_LINE_BYTES = 2_000_000
_SCAN_BLOCK = 1 << 20  # below MAX_LINE_BYTES: see FileScan.update

# ISO 8601: date, optional time (minutes, seconds, fraction), optional Z or +-HH[:MM] offset.
TIMESTAMP_PATTERN = (
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?)?"
)
# LIKE shapes of the commonest timestamps, parsed by a plain cast without the regex.
_PLAIN_TIMESTAMP_SHAPES = (
    "____-__-__ __:__:__",
    "____-__-__T__:__:__",
    "____-__-__T__:__:__Z",
    "____-__-__ __:__:__Z",
    "____-__-__",
)
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"

# Dates and timestamps outside the contract's plausible range are rejected with this reason.
DATE_RANGE_REASON = f"{{}} is outside the accepted dates {DATE_MIN} to {DATE_MAX}"
# Integer columns with an allowed range (inclusive).
INTEGER_RANGES = {("incidents", "priority"): (1, 4)}
# (kind, later column, earlier column): the later one may not come before the earlier one.
ORDER_RULES = (
    ("sprints", "end_date", "start_date"),
    ("work_items", "resolved_at", "created_at"),
    ("changes", "implemented_at", "requested_at"),
    ("incidents", "resolved_at", "opened_at"),
    ("changes", "planned_end", "planned_start"),
)
# Enumerations with a plain default when the cell is empty.
ENUM_DEFAULTS = {("work_items", "origin"): "business", ("incidents", "kind"): "incident"}
# Dependency order: sprints before the work items and changes that name them, changes before
# the incidents that name them; the improvements register names none of them.
LOAD_ORDER = ("sprints", "work_items", "changes", "incidents", "improvements")


class LoadError(Exception):
    """A file-level problem; ``str()`` is the one-line message for the user."""


@dataclass
class FileSummary:
    """What loading one file did (row counts are data rows, not CSV lines)."""

    file_name: str
    kind: str
    inserted: int
    updated: int
    rejected: int
    superseded: int
    replaced: bool
    reasons: list[str]  # first few rejection reasons, "row 7, column priority: 9 is outside 1-4"
    warnings: list[str]  # e.g. ignored columns
    removed: int = 0  # rows of the kind deleted by --replace because the file lacks their id


@dataclass
class Source:
    """An uploaded file: ``name`` is for messages only and is never opened as a path."""

    name: str
    data: bytes
    kind: str | None = None


# --- public entry points ----------------------------------------------------------------------


def load_paths(
    con: duckdb.DuckDBPyConnection,
    paths: list[str | Path],
    kind: str | None = None,
    replace: bool = False,
) -> list[FileSummary]:
    """Load CSV files in one transaction and return one summary per file.

    Raises ``LoadError`` (and writes nothing) when any file has a file-level problem.
    """
    files = [(str(p), Path(p), kind) for p in paths]
    return _load_files(con, files, replace)


def load_sources(
    con: duckdb.DuckDBPyConnection, sources: list[Source], replace: bool = False
) -> list[FileSummary]:
    """Load uploaded files (bytes) in one transaction; same rules and messages as ``load_paths``."""
    with tempfile.TemporaryDirectory(prefix="cadence-upload-") as tmp:
        files = []
        for i, source in enumerate(sources):
            path = Path(tmp) / f"upload-{i}.csv"
            path.write_bytes(source.data)
            files.append((source.name, path, source.kind))
        return _load_files(con, files, replace)


def build_demo_database(
    path: str | os.PathLike, source: str | os.PathLike | None = None
) -> list[FileSummary]:
    """Build a database from ``source``'s CSVs (default ``data/demo/*.csv``) at ``path``,
    atomically.

    The database is built in a temporary file next to ``path`` and renamed over it, so a
    half-built database never appears. Returns the per-file summaries.
    """
    from analytics.store import DEMO_DIR, connect

    folder = Path(source) if source is not None else DEMO_DIR
    files = [folder / f"{kind}.csv" for kind in LOAD_ORDER if (folder / f"{kind}.csv").exists()]
    if not files:
        raise LoadError(f"no demo data in {folder} (expected sprints.csv, changes.csv, ...)")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        con = connect(tmp)
        try:
            # One file per call keeps memory low; the rename makes the whole build atomic.
            summaries = [load_paths(con, [f], kind=f.stem)[0] for f in files]
            con.execute("CHECKPOINT")
        finally:
            con.close()
        # A write-ahead log left by the old database would be replayed onto the new one.
        Path(f"{target}.wal").unlink(missing_ok=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return summaries


def format_summary(summary: FileSummary) -> str:
    """The CLI's lines for one file: counts, then rejection reasons and warnings, indented."""
    s = summary
    head = (
        f"{s.file_name}: {s.kind}: {s.inserted:,} inserted, {s.updated:,} updated, "
        f"{s.rejected:,} rejected, {s.superseded:,} superseded"
    )
    if s.replaced:
        head += f"; replaced all {s.kind} ({s.removed:,} old rows removed)"
    lines = [head]
    lines += [f"  rejected {reason}" for reason in s.reasons]
    if s.rejected > len(s.reasons):
        lines.append(f"  ... {s.rejected - len(s.reasons):,} more rejected rows in rejected_rows")
    lines += [f"  warning: {w}" for w in s.warnings]
    return "\n".join(lines)


# --- one transaction over several files -------------------------------------------------------


def _load_files(
    con: duckdb.DuckDBPyConnection, files: list[tuple[str, Path, str | None]], replace: bool
) -> list[FileSummary]:
    """Stage and load each (display name, path, kind hint) in one transaction."""
    summaries: list[FileSummary] = []
    replaced_kinds: set[str] = set()
    variables: list[str] = []
    con.execute("BEGIN TRANSACTION")
    try:
        for name, path, kind_hint in files:
            staged = _stage_file(con, name, path, kind_hint)
            variables.append(staged.view)
            # With several files of one kind, --replace clears the kind once, then later files add.
            replace_now = replace and staged.kind not in replaced_kinds
            summary = load_staged(
                con,
                staged.kind,
                staged.view,
                file_name=name,
                sha256=staged.sha256,
                replace=replace_now,
                warnings=staged.warnings,
            )
            if replace:
                replaced_kinds.add(staged.kind)
            con.execute(f"DROP VIEW {staged.view}")
            summaries.append(summary)
        con.execute("COMMIT")
    except BaseException as exc:
        with contextlib.suppress(duckdb.Error):  # a failed COMMIT has already ended it
            con.execute("ROLLBACK")
        if isinstance(exc, duckdb.InterruptException):
            raise
        if _is_database_error(exc) or isinstance(exc, duckdb.IOException):
            # Disk full, a read-only folder, memory, a concurrent import: said as such.
            raise LoadError(database_error_message(exc)) from None
        raise
    finally:
        # Session variables are not transactional: forget the staged paths either way.
        for variable in variables:
            with contextlib.suppress(duckdb.Error):
                con.execute(f"RESET VARIABLE {variable}")
    return summaries


# --- file-level checks and staging ------------------------------------------------------------


@dataclass
class _Staged:
    """A canonical CSV ready for ``load_staged`` (``analytics.importers`` uses this too)."""

    kind: str
    table: str  # the same name as ``view``: there is no separate raw table to drop
    view: str  # temp view over read_csv: canonical names + __line + __raw, lazily read
    sha256: str
    warnings: list[str] = field(default_factory=list)


def _stage_file(
    con: duckdb.DuckDBPyConnection,
    name: str,
    path: Path,
    kind_hint: str | None,
    sha256: str | None = None,
) -> _Staged:
    """Check a file's bytes and header; return a temp view that reads it with DuckDB.

    The view is lazy (no copy of the file in memory): ``load_staged`` reads the file once, and
    again only to fetch the raw text of rejected rows. ``sha256``: the file's digest when the
    caller has computed it already.
    """
    head, complete, sha256 = _read_head_and_hash(name, path, sha256)
    header = _parse_header(name, head, complete)
    fields = [h.strip().lower() for h in header]

    kind_name = kind_hint or schema.detect_kind(fields)
    if kind_name is None:
        raise LoadError(
            f"{name}: cannot tell the record kind from the header (found: {_shown(header)}); "
            f"use --kind {'|'.join(KINDS)}"
        )
    if kind_name not in KINDS:
        raise LoadError(f"{name}: unknown kind {kind_name!r}; expected one of {', '.join(KINDS)}")
    kind = KINDS[kind_name]

    known = set(kind.column_names)
    seen: set[str] = set()
    warnings: list[str] = []
    ignored: list[str] = []
    for i, f in enumerate(fields):
        if f in known:
            if f in seen:
                raise LoadError(f"{name}: column {f} appears twice in the header")
            seen.add(f)
        else:
            ignored.append(header[i].strip() or f"(unnamed column {i + 1})")
    missing = [c for c in kind.required if c not in seen]
    if missing:
        raise LoadError(
            f"{name}: missing required column(s) {', '.join(missing)} for {kind.name}; "
            f"found: {_shown(header)}"
            + (" (is the delimiter a comma?)" if len(header) == 1 else "")
        )
    if ignored:
        warnings.append(f"ignored unknown column(s): {', '.join(ignored)}")

    _forget_stale_paths(con)
    view = f"{_STAGED_PREFIX}{uuid.uuid4().hex[:12]}"
    # Placeholder names: header text never reaches the SQL.
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(fields)))
    selected = [f"c{i} AS {f}" for i, f in enumerate(fields) if f in known]
    raw_fields = [
        f"""CASE WHEN c{i} IS NULL THEN ''
            WHEN regexp_matches(c{i}, '[,"\\r\\n]') THEN '"' || replace(c{i}, '"', '""') || '"'
            ELSE c{i} END"""
        for i in range(len(fields))
    ]
    # A view cannot hold a bound parameter, so the path goes through a session variable
    # named like the view.
    con.execute(f"SET VARIABLE {view} = $path", {"path": str(path)})
    con.execute(
        f"""
        CREATE TEMP VIEW {view} AS
        SELECT {", ".join(selected)}, __line,
               concat_ws(',', {", ".join(raw_fields)}) AS __raw
        FROM (
            -- Numbered in file order (insertion order is kept); the header is row 1.
            SELECT row_number() OVER () + 1 AS __line, * FROM read_csv(
                getvariable('{view}'), header = true, auto_detect = false,
                columns = {{{columns}}}, delim = ',', quote = '"', escape = '"',
                all_varchar = true, strict_mode = true, ignore_errors = false,
                null_padding = false, encoding = 'utf-8'
            )
        )
        """
    )
    return _Staged(kind.name, view, view, sha256, warnings)


def _forget_stale_paths(con: duckdb.DuckDBPyConnection) -> None:
    """Reset path variables whose staging view is gone (dropped, or rolled back with it)."""
    stale = con.execute(
        """
        SELECT name FROM duckdb_variables()
        WHERE starts_with(name, $prefix)
          AND name NOT IN (SELECT view_name FROM duckdb_views() WHERE temporary)
        """,
        {"prefix": _STAGED_PREFIX},
    ).fetchall()
    for (name,) in stale:
        con.execute(f"RESET VARIABLE {name}")


class FileScan:
    """One streaming pass over a file's bytes: their sha256 and the first physical line longer
    than ``MAX_LINE_BYTES`` (``long_line``: line number, length in bytes without the newline).

    Cheap: per block only the line crossing into it is measured (a line wholly inside a block
    is shorter than the block), and newlines are counted in C.
    """

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.newlines = 0
        self.run = 0  # bytes since the last newline
        self.long_line: tuple[int, int] | None = None

    def update(self, block: bytes) -> None:
        self.digest.update(block)
        if len(block) > _SCAN_BLOCK:  # keep every block below MAX_LINE_BYTES
            for i in range(0, len(block), _SCAN_BLOCK):
                self._measure(block[i : i + _SCAN_BLOCK])
        else:
            self._measure(block)

    def _measure(self, block: bytes) -> None:
        if self.long_line is not None:
            return
        first = block.find(b"\n")
        if first < 0:
            self.run += len(block)
            return
        if self.run + first > MAX_LINE_BYTES:
            self.long_line = (self.newlines + 1, self.run + first)
            return
        self.newlines += block.count(b"\n")
        self.run = len(block) - block.rfind(b"\n") - 1

    def finish(self, name: str) -> str:
        """The hex digest; raises ``LoadError`` naming the first over-long line."""
        if self.long_line is None and self.run > MAX_LINE_BYTES:
            self.long_line = (self.newlines + 1, self.run)
        if self.long_line is not None:
            line, size = self.long_line
            raise LoadError(
                f"{name}: line {line} is {size:,} bytes long; lines of at most "
                f"{MAX_LINE_BYTES:,} bytes are read (a damaged or binary export?)"
            )
        return self.digest.hexdigest()


def _read_head_and_hash(name: str, path: Path, sha256: str | None = None) -> tuple[str, bool, str]:
    """The decoded start of a file, whether that is the whole file, and its bytes' sha256
    (read through, checking line lengths, only when ``sha256`` is not given: a caller that
    passes it has scanned the file with ``FileScan``)."""
    scan = FileScan()
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
            scan.update(head)
            complete = len(head) < _HEAD_BYTES
            if sha256 is None:  # else the caller has hashed the file already
                for block in iter(lambda: fh.read(_SCAN_BLOCK), b""):
                    scan.update(block)
    except IsADirectoryError:
        raise LoadError(f"{name}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise LoadError(f"{name}: cannot read the file ({exc.strerror or exc})") from None
    if not head.strip():
        raise LoadError(f"{name}: the file is empty")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError(f"{name}: the file is UTF-16 encoded; save it as CSV UTF-8")
    if head.startswith(b"PK\x03\x04"):
        raise LoadError(f"{name}: looks like an Excel workbook or zip file; export it as CSV UTF-8")
    if b"\x00" in head:
        raise LoadError(f"{name}: is not a CSV text file (it contains binary data)")
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        # final=False: a multi-byte character cut at the end of the head is not an error.
        text = decoder.decode(head, final=complete)
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"{name}: is not UTF-8 encoded (byte 0x{head[exc.start]:02x} at offset {exc.start}); "
            "save it as CSV UTF-8"
        ) from None
    return text, complete, sha256 or scan.finish(name)


def _parse_header(name: str, text: str, complete: bool) -> list[str]:
    """The first CSV record of ``text``; ``complete`` says ``text`` is the whole file."""
    records = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    try:
        header = next(records, [])
        # Blank lines are skipped; a short file needs at least one data record after the header.
        has_data = not complete or any(record for record in records)
    except csv.Error as exc:
        if not header:
            raise LoadError(f"{name}: the header row is not valid CSV ({exc})") from None
        has_data = True  # DuckDB reports the malformed record with its line number later
    if not any(h.strip() for h in header):
        raise LoadError(f"{name}: the first row (the header) is empty")
    if not complete and not re.search(r"[\r\n]", text):
        raise LoadError(
            f"{name}: the header (line 1) is longer than {_HEAD_BYTES // 1024} KB; "
            f"at most {MAX_COLUMNS} columns are read"
        )
    check_columns(name, len(header))
    if not has_data:
        raise LoadError(f"{name}: has a header (line 1) but no data rows")
    return header


def check_columns(name: str, count: int) -> None:
    """Refuse a header of more than ``MAX_COLUMNS`` columns (before anything is read)."""
    if count > MAX_COLUMNS:
        raise LoadError(
            f"{name}: the header (line 1) has {count:,} columns; at most {MAX_COLUMNS} are read"
        )


def _csv_error_message(exc: duckdb.Error) -> str:
    """DuckDB's multi-line error about reading a CSV file as one line: the line number and what
    is wrong (never DuckDB's option dump or the row itself)."""
    text = str(exc)
    if "Invalid unicode" in text or "not utf-8" in text:
        line = re.search(r"CSV Error on Line: (\d+)", text)
        where = f" (near line {line.group(1)})" if line else ""
        return f"is not UTF-8 encoded{where}; save it as CSV UTF-8"
    if "invalid state" in text:
        # DuckDB names no line here; the usual cause is a change of line ending (a CRLF header
        # above LF rows), which the file itself shows.
        path = re.search(r"^\s*file = (.+)$", text, re.MULTILINE)
        change = _line_ending_change(Path(path.group(1))) if path else None
        if change is not None:
            line, first, now = change
            return (
                f"malformed CSV near line {line}: line {line} ends with {now} but line 1 with "
                f"{first} (mixed line endings; save the file again with one kind)"
            )
        return "malformed CSV: a stray quote or mixed line endings (DuckDB names no line)"
    if "Parallel CSV Reader" in text or "Maximum line size" in text:
        line = re.search(r"CSV Error on Line: (\d+)", text)
        where = f" near line {line.group(1)}" if line else ""
        return f"malformed CSV{where}: a line is longer than {MAX_LINE_BYTES:,} bytes"
    line = re.search(r"CSV Error on Line: (\d+)", text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    detail = ""
    for i, ln in enumerate(lines):
        if ln.startswith("Original Line:") and i + 1 < len(lines):
            detail = lines[i + 1]
            break
    if not detail:
        detail = lines[0] if lines else type(exc).__name__
    detail = re.sub(r"^[A-Za-z ]+ Error: ", "", detail).rstrip(".")[:200]
    where = f" near line {line.group(1)}" if line else ""
    return f"malformed CSV{where}: {detail}"


def _line_ending_change(path: Path) -> tuple[int, str, str] | None:
    """(line number, line 1's ending, that line's ending) of the first line whose ending differs
    from line 1's (CRLF or LF), or None; read in blocks, on the error path only."""
    names = {b"\r\n": "CRLF", b"\n": "LF"}
    first: bytes | None = None
    line, tail = 0, b""
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(_SCAN_BLOCK), b""):
                data = tail + block
                for m in re.finditer(rb"\r?\n", data):
                    line += 1
                    ending = m.group()
                    if first is None:
                        first = ending
                    elif ending != first:
                        return line, names[first], names[ending]
                # Keep a trailing CR: its LF may start the next block.
                tail = data[-1:] if data.endswith(b"\r") else b""
    except OSError:
        return None
    return None


# --- database errors --------------------------------------------------------------------------

RETRY_MESSAGE = "another import is running, please retry"


def _is_database_error(exc: BaseException) -> bool:
    """Whether a DuckDB error is about the database (memory, disk, a concurrent writer, an
    interrupt) rather than about the file being read."""
    return isinstance(
        exc,
        duckdb.OutOfMemoryException | duckdb.TransactionException | duckdb.InterruptException,
    ) or "could not allocate" in str(exc)


def database_error_message(exc: BaseException) -> str:
    """One line saying what stopped a write to the database, by DuckDB's message: out of
    memory, no space left, a read-only or forbidden folder, a concurrent import; else the
    error's first line. Nothing of the failed load was written in any of these cases."""
    text = str(exc)
    where = re.search(r'"([^"]+)"', text)
    place = f" ({where.group(1)})" if where else ""
    low = text.lower()
    if isinstance(exc, duckdb.OutOfMemoryException) or "could not allocate" in low:
        return (
            "not enough memory for the import (raise CADENCE_IMPORT_MEMORY_MB, or import "
            "fewer or smaller files at a time); nothing was written"
        )
    if "no space left" in low or "disk full" in low or "errno 28" in low:
        return f"no space left on the disk{place}; free some space and retry (nothing was written)"
    if "read-only file system" in low or "read-only mode" in low:
        return f"the database's folder is read-only{place}; nothing was written"
    if "permission denied" in low:
        return (
            f"no permission to write the database's folder{place} (a read-only folder?); "
            "nothing was written"
        )
    if "no such file or directory" in low:
        return f"the database's folder does not exist{place}; nothing was written"
    if "conflict" in low:
        return RETRY_MESSAGE
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    return f"import failed: {first[:200]}"


def _shown(header: list[str]) -> str:
    shown = ", ".join(h.strip() for h in header[:20])
    return shown + (f", ... ({len(header)} columns)" if len(header) > 20 else "")


# --- the core: validate, convert, de-duplicate, upsert, log ----------------------------------


class _Params:
    """Collects bound values for generated SQL: ``p(value)`` returns a ``$name`` placeholder."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def __call__(self, value: object) -> str:
        key = f"p{len(self.values)}"
        self.values[key] = value
        return f"${key}"


def load_staged(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    staged_table: str,
    *,
    file_name: str,
    sha256: str,
    replace: bool = False,
    warnings: list[str] | None = None,
) -> FileSummary:
    """Validate, convert, de-duplicate and upsert the rows of a staging table; log the load.

    ``staged_table`` holds VARCHAR columns named by canonical column names (a subset that
    includes every required column), ``__line`` (the row number for messages) and ``__raw``
    (the row as text). Invalid rows go to ``rejected_rows``; of rows sharing an id, the one with
    the highest ``__line`` wins. Does not begin or commit: the caller owns the transaction.
    """
    if kind not in KINDS:
        raise LoadError(f"{file_name}: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    k = KINDS[kind]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", staged_table):
        raise ValueError(f"not a table name: {staged_table!r}")
    described = con.execute(f"SELECT * FROM {staged_table} LIMIT 0").description
    staged_columns = {d[0].lower() for d in described}
    if "__line" not in staged_columns:
        raise ValueError(f"staging table {staged_table} has no __line column")
    missing = [c for c in k.required if c not in staged_columns]
    if missing:
        found = ", ".join(c for c in k.column_names if c in staged_columns)
        raise LoadError(
            f"{file_name}: missing required column(s) {', '.join(missing)} for {kind}; "
            f"found: {found or 'none'}"
        )

    tag = uuid.uuid4().hex[:12]
    checked = f"__cadence_checked_{tag}"
    ident = k.id_column

    def check(numbered: bool) -> tuple[int, int, int]:
        params = _Params()
        sql = _checked_sql(k, staged_table, staged_columns, checked, params, numbered)
        try:
            con.execute(sql, params.values)
        except duckdb.Error as exc:
            # A lazy staging view reads its CSV here, so malformed CSV surfaces at this point:
            # whatever DuckDB says about the file is told with the file's name.
            if _is_database_error(exc):
                raise
            raise LoadError(f"{file_name}: {_csv_error_message(exc)}") from None
        _normalise_compatibility(con, k, checked)
        return con.execute(
            f"""
            SELECT count(*) FILTER (__errors IS NULL), count(*) FILTER (__errors IS NOT NULL),
                   count(DISTINCT {ident}) FILTER (__errors IS NULL)
            FROM {checked}
            """
        ).fetchone()

    # Most exports are clean: convert them in parallel without row numbers, and number the rows
    # (one ordered pass) only when a rejected row or a repeated id needs them.
    valid, rejected, kept = check(numbered=False)
    if valid + rejected == 0:
        raise LoadError(f"{file_name}: has a header (line 1) but no data rows")
    if rejected or kept < valid:
        con.execute(f"DROP TABLE {checked}")
        valid, rejected, kept = check(numbered=True)
    look_alikes = _look_alike_warnings(con, k, checked)
    updated = con.execute(
        f"SELECT count(*) FROM {k.name} WHERE {ident} IN "
        f"(SELECT {ident} FROM {checked} WHERE __errors IS NULL)"
    ).fetchone()[0]
    cols = ", ".join(k.column_names)
    rows = f"SELECT {cols} FROM {checked} WHERE __errors IS NULL"
    if kept < valid:
        # The same id more than once: the row furthest down the file wins.
        rows += f" QUALIFY row_number() OVER (PARTITION BY {ident} ORDER BY __line DESC) = 1"
    removed = 0
    if replace:
        removed = con.execute(f"SELECT count(*) FROM {k.name}").fetchone()[0] - updated
        _recreate_empty(con, k, f"INSERT INTO {k.name} ({cols}) {rows}")
    elif updated == 0 and not con.execute(f"SELECT count(*) FROM {k.name}").fetchone()[0]:
        # An empty table (a first load) is filled like a replace: key built after the insert.
        _recreate_empty(con, k, f"INSERT INTO {k.name} ({cols}) {rows}")
    elif updated == 0:
        con.execute(f"INSERT INTO {k.name} ({cols}) {rows}")
    else:
        updates = ", ".join(f"{c} = excluded.{c}" for c in k.column_names if c != ident)
        con.execute(
            f"INSERT INTO {k.name} ({cols}) {rows} ON CONFLICT ({ident}) DO UPDATE SET {updates}"
        )

    summary = FileSummary(
        file_name=file_name,
        kind=kind,
        inserted=kept - updated,
        updated=updated,
        rejected=rejected,
        superseded=valid - kept,
        replaced=replace,
        reasons=[],
        warnings=list(warnings or []) + look_alikes,
        removed=removed,
    )
    load_id = con.execute(
        """
        INSERT INTO load_log (file_name, sha256, kind, rows_inserted, rows_updated,
                              rows_rejected, rows_superseded, replaced, loaded_at)
        VALUES ($file_name, $sha256, $kind, $inserted, $updated, $rejected, $superseded,
                $replaced, $loaded_at)
        RETURNING load_id
        """,
        {
            "file_name": file_name,
            "sha256": sha256,
            "kind": kind,
            "inserted": summary.inserted,
            "updated": summary.updated,
            "rejected": summary.rejected,
            "superseded": summary.superseded,
            "replaced": replace,
            "loaded_at": datetime.now(UTC).replace(tzinfo=None),
        },
    ).fetchone()[0]
    if rejected:
        raw = "s.__raw" if "__raw" in staged_columns else "NULL"
        con.execute(
            f"""
            INSERT INTO rejected_rows
            SELECT $load_id, $file_name, e.__line, e.problem.column_name, e.problem.reason, {raw}
            FROM (SELECT __line, unnest(__errors) AS problem,
                         generate_subscripts(__errors, 1) AS seq
                  FROM {checked} WHERE __errors IS NOT NULL) e
            JOIN {staged_table} s ON s.__line = e.__line
            ORDER BY e.__line, e.seq
            """,
            {"load_id": load_id, "file_name": file_name},
        )
        first = con.execute(
            f"""
            SELECT __line, __errors[1].reason FROM {checked}
            WHERE __errors IS NOT NULL ORDER BY __line LIMIT $n
            """,
            {"n": MAX_REASONS},
        ).fetchall()
        summary.reasons = [f"row {line}, {reason}" for line, reason in first]
    con.execute(f"DROP TABLE {checked}")
    return summary


def _recreate_empty(con: duckdb.DuckDBPyConnection, kind: Kind, insert_sql: str) -> None:
    """Replace a kind's table by a new one filled by ``insert_sql``, with any extra indexes.

    DuckDB deletes rows of a primary-keyed table very slowly (and re-inserting the deleted keys
    in the same transaction slower still), so ``--replace`` starts from a new table. The primary
    key and indexes are built after the insert: about twice as fast as inserting through them
    (a duplicate id still fails, when the key is added).
    """
    indexes = [
        row[0]
        for row in con.execute(
            "SELECT sql FROM duckdb_indexes() WHERE table_name = $table AND sql IS NOT NULL",
            {"table": kind.name},
        ).fetchall()
    ]
    con.execute(f"DROP TABLE {kind.name}")
    con.execute(schema.table_ddl(kind, primary_key=False))
    con.execute(insert_sql)
    con.execute(f"ALTER TABLE {kind.name} ADD PRIMARY KEY ({kind.id_column})")
    for statement in indexes:
        con.execute(statement)


def _checked_sql(
    kind: Kind, staged: str, present: set[str], target: str, p: _Params, numbered: bool = True
) -> str:
    """CREATE TEMP TABLE ``target``: every staged row converted, with ``__errors``.

    Without ``numbered`` the rows carry no ``__line``: DuckDB then drops the staging view's
    file-order numbering and converts in parallel (the fast path for clean files).

    ``__errors`` is NULL for a valid row, else a list of {column_name, reason} structs. Layers:
    ``t`` trimmed text (empty = NULL), ``v`` typed values, then checks and derived defaults.
    """
    text_cols = [
        # The cast is a no-op for the VARCHAR the interface asks for and tolerates typed columns.
        f"NULLIF(trim({_without_invisible(f'CAST({c.name} AS VARCHAR)')}), '') AS {c.name}"
        if c.name in present
        else f"NULL::VARCHAR AS {c.name}"
        for c in kind.columns
    ]
    typed_cols = [f"{_typed_expr(c, p)} AS __v_{c.name}" for c in kind.columns]
    checks = _checks(kind, p)
    problem = " OR ".join(f"coalesce({cond}, false)" for _col, cond, _reason in checks)
    errors = ", ".join(
        f"CASE WHEN coalesce({cond}, false) THEN "
        f"{{'column_name': {p(col)}, 'reason': {reason}}} END"
        for col, cond, reason in checks
    )
    finals = ", ".join(f"{_final_expr(kind, c, p)} AS {c.name}" for c in kind.columns)
    line = "__line, " if numbered else ""
    return f"""
        CREATE TEMP TABLE {target} AS
        SELECT {line}{finals},
               CASE WHEN {problem}
                    THEN list_filter([{errors}], lambda e: e IS NOT NULL) END AS __errors
        FROM (
            SELECT *, {", ".join(typed_cols)}
            FROM (SELECT {line}{", ".join(text_cols)} FROM {staged}) t
        ) v
    """


# --- text: invisible characters, compatibility forms, look-alike names ------------------------

# Unicode format characters (zero-width space, bidi overrides, BOM, soft hyphen, ...): invisible
# or reordering, never meant as data.
_INVISIBLE = r"\p{Cf}"


def _without_invisible(x: str) -> str:
    """SQL: text ``x`` without format (Cf) characters and with plain spaces for other scripts'
    spaces (Z); ASCII text (most cells) is not searched."""
    # Other scripts' spaces (no-break, ideographic) become plain ones, which trim() removes.
    stripped = f"regexp_replace(regexp_replace({x}, '{_INVISIBLE}', '', 'g'), '\\p{{Z}}', ' ', 'g')"
    return f"CASE WHEN strlen({x}) = length({x}) THEN {x} ELSE {stripped} END"


# Codepoint ranges searched for characters NFKC changes (most of them; a few elsewhere are
# rare CJK or Arabic math forms).
_COMPAT_RANGES = ((0xA0, 0x33FF), (0xA640, 0xABFF), (0xF900, 0xFFEF), (0x1D400, 0x1D7FF),
                  (0x1EE00, 0x1EEFF), (0x1F100, 0x1F2FF), (0x2F800, 0x2FA1F))  # fmt: skip
_compat_class: str | None = None


def _compat_pattern() -> str:
    """An RE2 class of the characters whose NFKC form differs, plus combining marks (which NFC
    may join to the letter before): built once per process from ``unicodedata`` (~50 ms)."""
    global _compat_class
    if _compat_class is None:
        ranges: list[list[int]] = []
        for lo, hi in _COMPAT_RANGES:
            for cp in range(lo, hi + 1):
                ch = chr(cp)
                if unicodedata.normalize("NFKC", ch) != ch or unicodedata.combining(ch):
                    if ranges and ranges[-1][1] == cp - 1:
                        ranges[-1][1] = cp
                    else:
                        ranges.append([cp, cp])
        parts = "".join(
            f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges
        )
        _compat_class = f"[{parts}]"
    return _compat_class


def _normalise_compatibility(con: duckdb.DuckDBPyConnection, kind: Kind, table: str) -> None:
    """Put the free-text cells of ``table`` (ids, names, notes) in NFKC form, in place: full-width
    letters, styled letters and non-breaking spaces become plain ones, so look-alike ids and
    names are stored as the same text. Only the few distinct values that need it go through
    Python's ``unicodedata``; ASCII cells are not even searched."""
    columns = [c.name for c in kind.columns if c.sql_type == "VARCHAR" and c.enum is None]
    pattern = _compat_pattern()
    union = " UNION ".join(
        f"SELECT {c} AS v FROM {table} WHERE strlen({c}) <> length({c}) "
        f"AND regexp_matches({c}, $pattern)"
        for c in columns
    )
    values = [r[0] for r in con.execute(union, {"pattern": pattern}).fetchall()]
    pairs = [(v, unicodedata.normalize("NFKC", v).strip()) for v in values]
    pairs = [(v, n) for v, n in pairs if n and n != v]
    if not pairs:
        return
    for c in columns:
        con.execute(
            f"""
            UPDATE {table} SET {c} = m.t
            FROM (SELECT unnest($f) AS f, unnest($t) AS t) m
            WHERE {table}.{c} = m.f
            """,
            {"f": [f for f, _ in pairs], "t": [t for _, t in pairs]},
        )


# Letters of other scripts that look like Latin ones (Unicode's confusables, the common part).
_LOOK_ALIKES = str.maketrans(
    "аеорсухіјѕԁԛԝһкмнтвАЕОРСУХІЈЅКМНТВαοιυνκρτχΑΒΕΖΗΙΚΜΝΟΡΤΥΧıȷ",
    "aeopcyxijsdqwhkmhtbAEOPCYXIJSKMHTBaoiuvkptxABEZHIKMNOPTYXij",
)
# Names compared for look-alikes and one-letter differences (per kind: the columns it has).
_NAME_COLUMNS = ("team", "service")
_MIN_EDIT_LENGTH = 5  # shorter names differ by one letter legitimately (API, APP)
_MAX_EDIT_LENGTH = 100  # longer "names" are not names; the distance costs length squared
MAX_NAMES_COMPARED = 20_000  # distinct names of a column (stored and new) compared at all
MAX_EDIT_PAIRS = 2_000_000  # new x all names compared by edit distance
MAX_LOOK_ALIKE_WARNINGS = 5


def _skeleton(name: str) -> str:
    """A name folded for comparison: NFKC, look-alike letters to Latin, case and spaces."""
    folded = unicodedata.normalize("NFKC", name).translate(_LOOK_ALIKES).casefold()
    return " ".join(folded.split())


def _look_alike_warnings(con: duckdb.DuckDBPyConnection, kind: Kind, table: str) -> list[str]:
    """Warnings for each new team or service name of the checked rows that looks like another
    name (stored, or new in the same file): the same after folding look-alike letters, case
    and spaces, or (names of 5 to 100 characters) one edit apart. Names both names.

    Bounded for hostile files: no comparison past ``MAX_NAMES_COMPARED`` distinct names, and
    the edit distance only while new x all names stays under ``MAX_EDIT_PAIRS``."""
    warnings: list[str] = []
    for column in _NAME_COLUMNS:
        if column not in kind.column_names:
            continue
        stored_sql = " UNION ".join(
            f"SELECT {column} AS name FROM {k.name}"
            for k in KINDS.values()
            if column in k.column_names
        )
        names = con.execute(
            f"""
            SELECT name, bool_or(stored) FROM (
                SELECT {column} AS name, false AS stored FROM {table}
                WHERE __errors IS NULL AND {column} IS NOT NULL
                UNION ALL SELECT name, true FROM ({stored_sql}) WHERE name IS NOT NULL)
            GROUP BY name
            LIMIT $limit
            """,
            {"limit": MAX_NAMES_COMPARED + 1},
        ).fetchall()
        new = [name for name, stored in names if not stored]
        if not new or len(names) > MAX_NAMES_COMPARED:
            continue
        pairs: dict[tuple[str, str], tuple[bool, str]] = {}
        if len(new) * len(names) <= MAX_EDIT_PAIRS:
            rows = con.execute(
                """
                SELECT n.name, o.name, o.stored
                FROM (SELECT unnest($new) AS name) n,
                     (SELECT unnest($names) AS name, unnest($stored) AS stored) o
                WHERE n.name <> o.name AND (o.stored OR n.name < o.name)
                  AND length(n.name) BETWEEN $min_len AND $max_len
                  AND length(o.name) BETWEEN $min_len AND $max_len
                  AND abs(length(n.name) - length(o.name)) <= 1
                  AND levenshtein(n.name, o.name) = 1
                """,
                {
                    "new": new,
                    "names": [n for n, _ in names],
                    "stored": [st for _, st in names],
                    "min_len": _MIN_EDIT_LENGTH,
                    "max_len": _MAX_EDIT_LENGTH,
                },
            ).fetchall()
            pairs = {
                (a, b): (stored, "are one letter apart")
                for a, b, stored in rows
                if not _numbered_siblings(a, b)
            }
        by_skeleton: dict[str, list[tuple[str, bool]]] = {}
        for name, stored in names:
            by_skeleton.setdefault(_skeleton(name), []).append((name, stored))
        for group in by_skeleton.values():
            for name, stored in group:
                if stored:
                    continue
                for other, other_stored in group:
                    if other != name and (other_stored or name < other):
                        pairs[(name, other)] = (other_stored, "look alike")
        for (name, other), (stored, how) in sorted(pairs.items()):
            where = "the existing" if stored else "the"
            warnings.append(
                f"{column} {_visible(name)} and {where} {column} {_visible(other)} {how}: "
                f"one {column} under two names?"
            )
    if len(warnings) > MAX_LOOK_ALIKE_WARNINGS:
        more = len(warnings) - MAX_LOOK_ALIKE_WARNINGS
        warnings = warnings[:MAX_LOOK_ALIKE_WARNINGS] + [f"... and {more} more look-alike names"]
    return warnings


def _numbered_siblings(a: str, b: str) -> bool:
    """Whether two names differ only in one short or numeric word ("Squad 1" / "Squad 2",
    "Team A" / "Team B"): siblings by design, not typos."""
    words_a, words_b = re.split(r"[\W_]+", a), re.split(r"[\W_]+", b)
    if len(words_a) != len(words_b):
        return False
    differ = [(x, y) for x, y in zip(words_a, words_b, strict=True) if x != y]
    return len(differ) == 1 and (
        max(len(differ[0][0]), len(differ[0][1])) <= 2 or all(w.isdigit() for w in differ[0])
    )


def _visible(name: str) -> str:
    """A name quoted, with every non-ASCII letter spelled out (U+0430) so the difference shows."""
    marks = [f"{ch} U+{ord(ch):04X}" for ch in dict.fromkeys(name) if ord(ch) > 127]
    return repr(name) + (f" ({', '.join(marks)})" if marks else "")


def _timestamp_expr(col: str, p: _Params) -> str:
    """SQL turning ISO 8601 text into a naive UTC TIMESTAMP (NULL when it does not parse)."""
    # Fast path, no regex: the usual shapes without an offset (Z is UTC, so a cast is exact).
    plain = " OR ".join(f"{col} LIKE '{shape}'" for shape in _PLAIN_TIMESTAMP_SHAPES)
    # Past the date (10 chars) and the separator, '+' or '-' can only start an offset.
    has_offset = f"(contains(substr({col}, 12), '+') OR contains(substr({col}, 12), '-'))"
    return (
        f"CASE WHEN {plain} THEN try_cast({col} AS TIMESTAMP) "
        f"WHEN regexp_full_match({col}, '{TIMESTAMP_PATTERN}') THEN "
        f"CASE WHEN {has_offset} THEN timezone('UTC', try_cast({col} AS TIMESTAMPTZ)) "
        f"ELSE try_cast({col} AS TIMESTAMP) END END"
    )


def _typed_expr(c: Column, p: _Params) -> str:
    """The typed value of a column, from its trimmed text; NULL when empty or unparseable."""
    if c.enum is not None:
        return f"lower({c.name})"
    if c.sql_type in ("DOUBLE", "INTEGER"):
        return f"try_cast({c.name} AS DOUBLE)"
    if c.sql_type == "DATE":
        return (
            f"CASE WHEN regexp_full_match({c.name}, {p(DATE_PATTERN)}) "
            f"THEN try_cast({c.name} AS DATE) END"
        )
    if c.sql_type == "TIMESTAMP":
        return _timestamp_expr(c.name, p)
    return c.name


def _quoted(col: str) -> str:
    """SQL: the bad value as it appears in reasons, quoted and shortened."""
    return f"'''' || left({col}, {MAX_VALUE_CHARS}) || ''''"


def _checks(kind: Kind, p: _Params) -> list[tuple[str, str, str]]:
    """(column, condition that is TRUE for a problem, reason SQL) for every rule of a kind."""
    checks: list[tuple[str, str, str]] = []

    def add(col: str, cond: str, message: str, *values: str) -> None:
        # message is a format() pattern with {} for each SQL value, all bound as parameters.
        args = "".join(f", {v}" for v in values)
        checks.append((col, cond, f"format({p('column ' + col + ': ' + message)}{args})"))

    for c in kind.columns:
        n, v = c.name, f"__v_{c.name}"
        if c.required:
            add(n, f"{n} IS NULL", "required value is missing")
        if c.enum is not None:
            add(
                n,
                f"{n} IS NOT NULL AND NOT list_contains({p(list(c.enum))}, {v})",
                "{} is not one of " + ", ".join(c.enum),
                _quoted(n),
            )
        elif c.sql_type == "DOUBLE":
            add(
                n,
                f"{n} IS NOT NULL AND ({v} IS NULL OR NOT isfinite({v}))",
                "{} is not a number",
                _quoted(n),
            )
            add(n, f"{v} < 0", "{} is negative", _quoted(n))
        elif c.sql_type == "INTEGER":
            low, high = INTEGER_RANGES.get((kind.name, n), (None, None))
            add(
                n,
                f"{n} IS NOT NULL AND ({v} IS NULL OR NOT isfinite({v}) OR {v} <> floor({v}))",
                "{} is not an integer",
                _quoted(n),
            )
            if low is not None:
                add(
                    n,
                    f"{v} = floor({v}) AND ({v} < {p(low)} OR {v} > {p(high)})",
                    f"{{}} is outside {low}-{high}",
                    n,
                )
        elif c.sql_type == "DATE":
            add(n, f"{n} IS NOT NULL AND {v} IS NULL", "{} is not a date (YYYY-MM-DD)", _quoted(n))
            add(n, f"{v} < {p(DATE_MIN)} OR {v} > {p(DATE_MAX)}", DATE_RANGE_REASON, _quoted(n))
        elif c.sql_type == "TIMESTAMP":
            add(
                n, f"{n} IS NOT NULL AND {v} IS NULL", "{} is not an ISO 8601 timestamp", _quoted(n)
            )
            # In UTC: an offset can carry 2100-12-31T23:00-05:00 into 2101.
            first = datetime.combine(DATE_MIN, datetime.min.time())
            after = datetime.combine(DATE_MAX + timedelta(days=1), datetime.min.time())
            add(n, f"{v} < {p(first)} OR {v} >= {p(after)}", DATE_RANGE_REASON, _quoted(n))
    if kind.name == "changes":
        add(
            "implemented_at",
            "implemented_at IS NULL AND coalesce(__v_outcome, '') <> 'cancelled'",
            "required value is missing (only cancelled changes may omit it)",
        )
    for rule_kind, later, earlier in ORDER_RULES:
        if rule_kind == kind.name:
            add(
                later,
                f"__v_{later} < __v_{earlier}",
                "{} is before " + earlier + " {}",
                _quoted(later),
                _quoted(earlier),
            )
    return checks


def _final_expr(kind: Kind, c: Column, p: _Params) -> str:
    """The stored value: the typed value, or the contract's derived default when empty."""
    v = f"__v_{c.name}"
    if c.sql_type == "INTEGER":
        return f"CAST(CASE WHEN {v} = floor({v}) AND abs({v}) < 2e9 THEN {v} END AS INTEGER)"
    if (kind.name, c.name) in ENUM_DEFAULTS:
        return f"coalesce({v}, {p(ENUM_DEFAULTS[(kind.name, c.name)])})"
    if (kind.name, c.name) == ("work_items", "requirement_type"):
        # A warranty aspect makes it a warranty requirement; otherwise it is utility.
        derived = (
            f"CASE WHEN __v_warranty_aspect IS NOT NULL THEN {p('warranty')} "
            f"ELSE {p('utility')} END"
        )
        return f"coalesce({v}, {derived})"
    if (kind.name, c.name) == ("changes", "approval"):
        routes = " ".join(
            f"WHEN {p(change_type)} THEN {p(approval)}"
            for change_type, approval in DEFAULT_APPROVAL.items()
        )
        return f"coalesce({v}, CASE __v_change_type {routes} END)"
    return v
