"""From a raw table of text cells to a staging table of canonical columns, in one SQL statement.

A ``Transform`` says, per canonical column, which SQL expression over the cleaned source cells
(``c0``, ``c1``, … after trimming and turning placeholders into NULL) produces it. ``Cols`` finds
source columns by header name and wraps them in the date / number normalisations, remembering
which cells to sample so the date convention and decimal separator are detected from the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

from analytics.db import bind
from analytics.importers.sniff import (
    DATE_SAMPLE_ROWS,
    ISO_PATTERN,
    PLACEHOLDERS,
    DateFormat,
    detect_date_format,
    normalise_name,
)
from analytics.importers.source import RawTable, temp_name
from analytics.schema import KINDS

# German (and Austrian) month names -> English, so %b can read them; longest alternative first.
_MONTH_TRANSLATIONS = (
    ("Jan", "jänner|januar|jän"),
    ("Feb", "februar"),
    ("Mar", "märz|mär|mrz"),
    ("May", "mai"),
    ("Jun", "juni"),
    ("Jul", "juli"),
    ("Oct", "oktober|okt"),
    ("Dec", "dezember|dez"),
)
# 1.234,5 or 4,5: a number written with a decimal comma.
DECIMAL_COMMA_PATTERN = r"^-?[0-9]{1,3}(\.[0-9]{3})*,[0-9]+$|^-?[0-9]+,[0-9]+$"


def cleaned(col: str) -> str:
    """SQL: a raw cell trimmed, with placeholders such as N/A or '-' turned into NULL."""
    return (
        f"CASE WHEN list_contains($placeholders, lower(trim({col}))) THEN NULL ELSE trim({col}) END"
    )


def _translate_months(x: str) -> str:
    for english, german in _MONTH_TRANSLATIONS:
        x = f"regexp_replace({x}, '([0-9][/ .-])({german})\\.?([/ .-])', '\\1{english}\\3', 'i')"
    return x


def date_expr(x: str, date_only: bool = False) -> str:
    """SQL: text in the file's date convention as ISO text; ISO passes through unchanged.

    A value that does not parse is passed on as it is, so the loader rejects the row and
    quotes the value.
    """
    text = f"CASE WHEN $translate_months THEN {_translate_months(x)} ELSE {x} END"
    parsed = f"try_strptime({text}, $date_formats)"
    out = "'%Y-%m-%d'" if date_only else "'%Y-%m-%d %H:%M:%S'"
    iso = x
    if date_only:  # a DATE column takes the date part of an ISO timestamp
        iso = f"CASE WHEN regexp_matches({x}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[ T]') "
        iso += f"THEN left({x}, 10) ELSE {x} END"
    return (
        f"CASE WHEN {x} IS NULL THEN NULL WHEN regexp_matches({x}, $iso_pattern) THEN {iso} "
        f"ELSE coalesce(strftime({parsed}, {out}), {x}) END"
    )


def number_expr(x: str) -> str:
    """SQL: a number with a decimal comma (4,5 or 1.234,5) rewritten with a decimal point."""
    return (
        f"CASE WHEN $decimal_comma AND regexp_matches({x}, $decimal_comma_pattern) "
        f"THEN replace(replace({x}, '.', ''), ',', '.') ELSE {x} END"
    )


class Cols:
    """The source columns of one file, found by (loosely compared) header names."""

    def __init__(self, header: tuple[str, ...]):
        self.header = header
        self._index: dict[str, list[int]] = {}
        for i, name in enumerate(header):
            self._index.setdefault(normalise_name(name), []).append(i)
        self.date_cells: list[str] = []
        self.number_cells: list[str] = []

    def names(self) -> set[str]:
        return set(self._index)

    def find(self, *names: str) -> str | None:
        """The first column (as ``cN``) whose header is one of ``names``, in the given order."""
        for name in names:
            if name in self._index:
                return f"c{self._index[name][0]}"
        return None

    def all(self, *names: str) -> list[str]:
        """Every column (repeated headers too) named one of ``names``, left to right."""
        return [f"c{i}" for name in names for i in self._index.get(name, [])]

    def text(self, *names: str) -> str:
        return self.find(*names) or "NULL"

    def date(self, *names: str, date_only: bool = False) -> str:
        col = self.find(*names)
        if col is None:
            return "NULL"
        self.date_cells.append(col)
        return date_expr(col, date_only)

    def number(self, *names: str) -> str:
        col = self.find(*names)
        if col is None:
            return "NULL"
        self.number_cells.append(col)
        return number_expr(col)


@dataclass
class Transform:
    """How one file becomes a staging table of one kind.

    ``columns``: canonical name -> SQL over cleaned cells. ``helpers``: extra ``__``-columns kept
    in the mapped table for later steps (e.g. a Jira sprint name). ``pre``: ``__``-named values
    computed once per row before the columns, which may use them (e.g. an outcome that also
    decides the implementation time). ``latest_by``: when set, only the latest row per id is
    kept (event-log exports), ordered by this SQL, then by row number.
    """

    kind: str
    columns: dict[str, str]
    cols: Cols
    helpers: dict[str, str] = field(default_factory=dict)
    pre: dict[str, str] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (condition on mapped rows,
    # warning with {n} for how many rows meet it), e.g. explaining a group of rejections
    latest_by: str | None = None
    latest_label: str = ""
    warnings: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)


@dataclass
class StagedTable:
    """A staging table ready for ``load_staged`` plus what was noticed while building it."""

    kind: str
    table: str
    warnings: list[str]
    helper_table: str | None = None  # mapped rows with helper columns, when the preset has any


def sample_values(con: duckdb.DuckDBPyConnection, raw: RawTable, cells: list[str]) -> list[str]:
    """Up to DATE_SAMPLE_ROWS non-empty cleaned values of each given cell column."""
    values: list[str] = []
    for col in dict.fromkeys(cells):
        rows = con.execute(
            f"SELECT v FROM (SELECT {cleaned(col)} AS v FROM {raw.table}) "
            "WHERE v IS NOT NULL LIMIT $n",
            {"placeholders": list(PLACEHOLDERS), "n": DATE_SAMPLE_ROWS},
        ).fetchall()
        values += [r[0] for r in rows]
    return values


def run_transform(
    con: duckdb.DuckDBPyConnection,
    raw: RawTable,
    transform: Transform,
    date_format: DateFormat | None = None,
) -> StagedTable:
    """Build the staging table for ``transform`` from ``raw``.

    ``date_format`` forces the convention; otherwise it is detected from a sample of the date
    cells (AmbiguousDates propagates when the data cannot settle day/month order).
    """
    kind = KINDS[transform.kind]
    unknown = set(transform.columns) - set(kind.column_names)
    columns = {c: e for c, e in transform.columns.items() if c not in unknown}
    fmt = date_format or detect_date_format(sample_values(con, raw, transform.cols.date_cells))
    numbers = sample_values(con, raw, transform.cols.number_cells)
    decimal_comma = any(re.match(DECIMAL_COMMA_PATTERN, v) for v in numbers)
    params = {
        "placeholders": list(PLACEHOLDERS),
        "iso_pattern": ISO_PATTERN,
        "date_formats": list(fmt.formats) or ["%Y-%m-%d %H:%M:%S"],
        "translate_months": fmt.month_names,
        "decimal_comma": decimal_comma,
        "decimal_comma_pattern": DECIMAL_COMMA_PATTERN,
        **transform.params,
    }
    width = len(raw.header)
    clean = ", ".join(f"{cleaned(f'c{i}')} AS c{i}" for i in range(width))
    selected = [f"{expr} AS {name}" for name, expr in columns.items()]
    selected += [f"{expr} AS {name}" for name, expr in transform.helpers.items()]
    qualify = ""
    if transform.latest_by is not None:
        id_expr = columns[kind.id_column]
        qualify = (
            f"QUALIFY {id_expr} IS NULL OR row_number() OVER (PARTITION BY {id_expr} "
            f"ORDER BY {transform.latest_by} DESC NULLS LAST, __line DESC) = 1"
        )
    mapped = temp_name("mapped")
    pre = "".join(f", {expr} AS {name}" for name, expr in transform.pre.items())
    # Not materialized: only the cells a column uses are cleaned, each value computed once.
    sql = f"""
        CREATE TEMP TABLE {mapped} AS
        WITH cleaned AS NOT MATERIALIZED (SELECT __line, __raw, {clean} FROM {raw.table}),
        prepared AS NOT MATERIALIZED (SELECT *{pre} FROM cleaned)
        SELECT __line, __raw, {", ".join(selected)}
        FROM prepared
        {qualify}
    """
    con.execute(sql, bind(sql, params))
    warnings = list(transform.warnings)
    if fmt.formats:
        warnings.append(f"dates read as {fmt.label}")
    if decimal_comma:
        warnings.append("numbers read with a decimal comma")
    for condition, message in transform.notes:
        n = con.execute(f"SELECT count(*) FROM {mapped} WHERE {condition}").fetchone()[0]
        if n:
            warnings.append(message.format(n=n))
    if transform.latest_by is not None:
        kept = con.execute(f"SELECT count(*) FROM {mapped}").fetchone()[0]
        dropped = raw.rows - kept
        if dropped:
            warnings.append(
                f"event log: {dropped:,} earlier row(s) of the same record skipped; "
                f"kept the latest row per {transform.latest_label}"
            )
    if not transform.helpers:
        return StagedTable(transform.kind, mapped, warnings)
    staged = temp_name("staged")
    con.execute(
        f"CREATE TEMP TABLE {staged} AS SELECT __line, __raw, {', '.join(columns)} FROM {mapped}"
    )
    return StagedTable(transform.kind, staged, warnings, helper_table=mapped)
