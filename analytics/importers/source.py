"""Reading one export (CSV or Excel) into a DuckDB temp table of text cells.

The raw table has one VARCHAR column per source column, named by position (``c0``, ``c1``, …,
so header text never becomes SQL), plus ``__line`` (row number in the file, header = 1) and
``__raw`` (the row's cells joined by the delimiter). Rows whose cells are all empty are dropped
(Excel "used range" padding, trailing separators-only lines).
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from analytics.importers.sniff import SniffError, TextLayout, sniff_layout, transcode_to_utf8
from analytics.loader import MAX_COLUMNS

# Workbooks are zip files of XML: a few hundred KB can unpack to gigabytes (one 300 MB shared
# string peaked at 2.2 GB in openpyxl) or hold 200,000 rows that take half a minute to parse.
# These limits are checked before any sheet is parsed (the unpacked sizes from the zip's
# directory, rows and columns from the sheet's dimension) and again while rows are read.
MAX_XLSX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_XLSX_SHARED_STRINGS_BYTES = 64 * 1024 * 1024  # openpyxl holds them all, at ~7x their size
MAX_XLSX_ROWS = 100_000
MAX_XLSX_CELLS = 1_000_000
_AS_CSV = "export it as CSV, which has no such limit"


class SourceError(ValueError):
    """The file cannot be read as a table; the message (without the file name) says why."""


@dataclass(frozen=True)
class RawTable:
    """A file read into a temp table; ``header`` holds the source names of ``c0``, ``c1``, …."""

    table: str
    header: tuple[str, ...]
    delimiter: str
    encoding: str
    rows: int

    def column(self, index: int) -> str:
        return f"c{index}"


def temp_name(prefix: str) -> str:
    """A fresh temp-table name (never derived from user input)."""
    return f"__{prefix}_{uuid.uuid4().hex[:12]}"


ZIP_MAGIC = b"PK\x03\x04"


def is_excel(path: Path) -> bool:
    """Whether a file is an Excel workbook (a zip archive), whatever its name says."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == ZIP_MAGIC
    except OSError:
        return False


def read_raw(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    layout: TextLayout | None = None,
    on_part: Callable[[float], None] | None = None,
) -> RawTable:
    """Read a CSV or Excel file into a raw temp table; raise SourceError when it is unreadable.

    ``layout``: the text file's layout when the caller has sniffed it already (sniffing a
    large file reads it through once to check its encoding). ``on_part`` is told how far
    re-encoding a non-UTF-8 file is (0-1), and None when DuckDB's read starts."""
    return _read_excel(con, path) if is_excel(path) else _read_csv(con, path, layout, on_part)


def _read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    layout: TextLayout | None,
    on_part: Callable[[float], None] | None = None,
) -> RawTable:
    try:
        layout = layout or sniff_layout(path)
    except SniffError as exc:
        raise SourceError(str(exc)) from exc
    header = _unique_header(layout.header)
    with tempfile.TemporaryDirectory(prefix="cadence-import-") as tmp:
        read_path = path
        if layout.encoding != "utf-8":
            read_path = Path(tmp) / "utf8.csv"
            transcode_to_utf8(path, read_path, layout.encoding, on_part)
        if on_part is not None:
            on_part(None)
        table = temp_name("raw")
        columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header)))
        cells = ", ".join(f"c{i}" for i in range(len(header)))
        raw_text = ", ".join(f"coalesce(c{i}, '')" for i in range(len(header)))
        # Strict: a short row is an error (padding it would also drop an unterminated last
        # quoted field without a word).
        sql = f"""
            CREATE TEMP TABLE {table} AS
            SELECT {cells}, __line, concat_ws($delimiter, {raw_text}) AS __raw
            FROM (
                SELECT *, row_number() OVER () + 1 AS __line
                FROM read_csv($path, delim = $delimiter, header = true, auto_detect = false,
                              columns = {{{columns}}}, quote = '"', escape = '"',
                              strict_mode = true, null_padding = false)
            )
            WHERE coalesce({cells}) IS NOT NULL
        """
        try:
            con.execute(sql, {"path": str(read_path), "delimiter": layout.delimiter})
        except duckdb.OutOfMemoryException:
            raise  # not the file's fault: the caller retries with more memory
        except duckdb.Error as exc:
            raise SourceError(csv_error_message(str(exc))) from exc
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return RawTable(table, layout.header, layout.delimiter, layout.encoding, rows)


# Lines of DuckDB's CSV error that say what is wrong (other lines quote the row itself).
_CSV_PROBLEMS = ("expected number of columns", "invalid unicode", "value with unterminated quote")


def csv_error_message(message: str) -> str:
    """DuckDB's multi-line CSV error as one line: where it happened and what was wrong
    (never the offending row itself, which may be huge)."""
    line = re.search(r"CSV Error on Line:\s*(\d+)", message)
    lines = [ln.strip() for ln in message.splitlines() if not ln.startswith("Original Line")]
    detail = next(
        (ln for p in _CSV_PROBLEMS for ln in lines if ln.lower().startswith(p)),
        "invalid CSV quoting (a stray quote inside an unquoted field?)"
        if "invalid state" in message
        else "the row is not valid CSV",
    )
    detail = detail[:160].rstrip(".")
    where = f" near line {line.group(1)}" if line else ""
    return f"malformed CSV{where}: {detail}"  # worded like the loader's message


def _unique_header(header: tuple[str, ...]) -> tuple[str, ...]:
    if len(header) > MAX_COLUMNS:
        raise SourceError(
            f"the header (line 1) has {len(header):,} columns; at most {MAX_COLUMNS} are read"
        )
    return header


def check_workbook_size(path: Path) -> None:
    """Refuse a workbook whose unpacked parts are too big, from the zip's directory (nothing is
    unpacked): raises SourceError saying which limit and how to get round it."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SourceError(f"not a readable Excel workbook ({type(exc).__name__})") from exc
    total = sum(m.file_size for m in members)
    if total > MAX_XLSX_UNPACKED_BYTES:
        raise SourceError(
            f"the workbook unpacks to {total / 1048576:,.0f} MB; at most "
            f"{MAX_XLSX_UNPACKED_BYTES // 1048576} MB are read: {_AS_CSV}"
        )
    strings = sum(m.file_size for m in members if m.filename.lower().endswith("sharedstrings.xml"))
    if strings > MAX_XLSX_SHARED_STRINGS_BYTES:
        raise SourceError(
            f"the workbook's text cells unpack to {strings / 1048576:,.0f} MB; at most "
            f"{MAX_XLSX_SHARED_STRINGS_BYTES // 1048576} MB are read: {_AS_CSV}"
        )


def _check_sheet_size(rows: int, columns: int) -> None:
    if rows > MAX_XLSX_ROWS:
        raise SourceError(
            f"the first sheet has {rows:,} rows; at most {MAX_XLSX_ROWS:,} are read from Excel: "
            + _AS_CSV
        )
    if rows * columns > MAX_XLSX_CELLS:
        raise SourceError(
            f"the first sheet has {rows:,} rows x {columns:,} columns; at most "
            f"{MAX_XLSX_CELLS:,} cells are read from Excel: {_AS_CSV}"
        )


def excel_rows(path: Path, limit: int | None = None):
    """(row number, cells as text) of the first sheet's non-empty rows, header first.

    The workbook's size limits are checked first (``check_workbook_size``, then the sheet's
    dimension), and rows past them stop the reading with SourceError."""
    import openpyxl

    check_workbook_size(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or foreign file
        raise SourceError(f"not a readable Excel workbook ({type(exc).__name__})") from exc
    try:
        if not book.worksheets:
            return
        sheet = book.worksheets[0]
        # The dimension the file states; openpyxl would stop at it, silently dropping the rows
        # of a file that understates it, so it is dropped after the check and rows are counted.
        _check_sheet_size(sheet.max_row or 0, sheet.max_column or 0)
        sheet.reset_dimensions()
        seen = cells_read = 0
        for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
            cells_read += len(values)
            if number > MAX_XLSX_ROWS:
                _check_sheet_size(number, 0)
            if cells_read > MAX_XLSX_CELLS:
                raise SourceError(
                    f"the first sheet has more than {MAX_XLSX_CELLS:,} cells (by row {number:,}); "
                    f"at most {MAX_XLSX_CELLS:,} are read from Excel: {_AS_CSV}"
                )
            cells = [_cell_text(v) for v in values]
            if any(c is not None and c.strip() for c in cells):
                yield number, cells
                seen += 1
                if limit is not None and seen >= limit:
                    return
    except SourceError:
        raise
    except Exception as exc:  # a damaged sheet can fail mid-way
        raise SourceError(f"not a readable Excel workbook ({type(exc).__name__})") from exc
    finally:
        book.close()


# Excel rows handed to DuckDB at a time: memory stays bounded by a chunk, not the sheet.
EXCEL_CHUNK_ROWS = 50_000


def _read_excel(con: duckdb.DuckDBPyConnection, path: Path) -> RawTable:
    rows = excel_rows(path)
    first = next(rows, None)
    if first is None:
        raise SourceError("the workbook's first sheet is empty")
    header_line, header_cells = first
    header = _unique_header(tuple((c or "").strip() for c in header_cells))
    width = len(header)
    table = temp_name("raw")
    columns = ", ".join(f"c{i} VARCHAR" for i in range(width))
    con.execute(f"CREATE TEMP TABLE {table} ({columns}, __line BIGINT, __raw VARCHAR)")
    total = 0
    chunk: list[tuple[int, list[str | None]]] = []
    for number, cells in rows:
        chunk.append((number - header_line + 1, cells))
        if len(chunk) >= EXCEL_CHUNK_ROWS:
            _insert_excel_rows(con, table, width, chunk)
            total += len(chunk)
            chunk = []
    if chunk:
        _insert_excel_rows(con, table, width, chunk)
        total += len(chunk)
    return RawTable(table, header, "\t", "xlsx", total)


def _insert_excel_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    width: int,
    chunk: list[tuple[int, list[str | None]]],
) -> None:
    """Append one chunk of sheet rows (line number, cells) to the raw table."""
    import pandas as pd  # only Excel needs it: a CSV load starts 0.8 s faster without

    frame = pd.DataFrame(
        {
            f"c{i}": pd.array([r[i] if i < len(r) else None for _n, r in chunk], dtype="string")
            for i in range(width)
        }
    )
    frame["__line"] = pd.array([n for n, _r in chunk], dtype="Int64")
    frame["__raw"] = pd.array(["\t".join(c or "" for c in r) for _n, r in chunk], dtype="string")
    view = temp_name("frame")
    con.register(view, frame)
    try:
        cells = ", ".join(f"CAST(c{i} AS VARCHAR)" for i in range(width))
        con.execute(
            f"INSERT INTO {table} SELECT {cells}, CAST(__line AS BIGINT), "
            f"CAST(__raw AS VARCHAR) FROM {view}"
        )
    finally:
        con.unregister(view)


def _cell_text(value) -> str | None:
    """An Excel cell as text: dates in ISO form, whole numbers without ".0"."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
