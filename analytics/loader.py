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
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from analytics import schema
from analytics.schema import DEFAULT_APPROVAL, KINDS, Column, Kind

# How many rejection reasons a summary shows; all of them are in ``rejected_rows``.
MAX_REASONS = 5
# Longest piece of a bad value quoted in a reason.
MAX_VALUE_CHARS = 60
_HEAD_BYTES = 64 * 1024
_STAGED_PREFIX = "__cadence_staged_"

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


def build_demo_database(path: str | os.PathLike) -> list[FileSummary]:
    """Build a database from ``data/demo/*.csv`` at ``path``, atomically.

    The database is built in a temporary file next to ``path`` and renamed over it, so a
    half-built database never appears. Returns the per-file summaries.
    """
    from analytics.store import DEMO_DIR, connect

    files = [DEMO_DIR / f"{kind}.csv" for kind in LOAD_ORDER if (DEMO_DIR / f"{kind}.csv").exists()]
    if not files:
        raise LoadError(f"no demo data in {DEMO_DIR} (expected sprints.csv, changes.csv, ...)")
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
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # a failed COMMIT has already ended it
            con.execute("ROLLBACK")
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


def _read_head_and_hash(name: str, path: Path, sha256: str | None = None) -> tuple[str, bool, str]:
    """The decoded start of a file, whether that is the whole file, and its bytes' sha256
    (read through only when ``sha256`` is not given)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
            digest.update(head)
            complete = len(head) < _HEAD_BYTES
            if sha256 is None:  # else the caller has hashed the file already
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
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
    return text, complete, sha256 or digest.hexdigest()


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
    if not has_data:
        raise LoadError(f"{name}: has a header but no data rows")
    return header


def _csv_error_message(exc: duckdb.Error) -> str:
    """DuckDB's multi-line CSV error as one line: row number and what is wrong."""
    text = str(exc)
    if "Invalid unicode" in text or "not utf-8" in text:
        line = re.search(r"CSV Error on Line: (\d+)", text)
        where = f" (near line {line.group(1)})" if line else ""
        return f"is not UTF-8 encoded{where}; save it as CSV UTF-8"
    line = re.search(r"CSV Error on Line: (\d+)", text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    detail = ""
    for i, ln in enumerate(lines):
        if ln.startswith("Original Line:") and i + 1 < len(lines):
            detail = lines[i + 1]
            break
    if not detail:
        detail = lines[0] if lines else type(exc).__name__
    detail = detail.rstrip(".")
    where = f" near line {line.group(1)}" if line else ""
    return f"malformed CSV{where}: {detail}"


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
            # A lazy staging view reads its CSV here, so malformed CSV surfaces at this point.
            if "CSV Error" in str(exc) or "Invalid unicode" in str(exc):
                raise LoadError(f"{file_name}: {_csv_error_message(exc)}") from None
            raise
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
    if rejected or kept < valid:
        con.execute(f"DROP TABLE {checked}")
        valid, rejected, kept = check(numbered=True)
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
        warnings=list(warnings or []),
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
        f"NULLIF(trim(CAST({c.name} AS VARCHAR)), '') AS {c.name}"
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
        elif c.sql_type == "TIMESTAMP":
            add(
                n, f"{n} IS NOT NULL AND {v} IS NULL", "{} is not an ISO 8601 timestamp", _quoted(n)
            )
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
