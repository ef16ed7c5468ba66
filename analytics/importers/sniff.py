"""Looking at a sample of an export: its encoding, delimiter, header and date format.

Detection reads only the first ``SAMPLE_BYTES`` of a file (and the first ``DATE_SAMPLE_ROWS``
values of each date column); the file itself is read by DuckDB's CSV reader, never row by row
in Python.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

SAMPLE_BYTES = 256 * 1024
DATE_SAMPLE_ROWS = 2000
TRANSCODE_CHUNK_BYTES = 1 << 20
DELIMITERS = (",", ";", "\t", "|")

# Cells that mean "no value" in real exports (compared trimmed and lower-cased).
PLACEHOLDERS = ("", "?", "na", "n/a", "null", "#multivalue", "-")


class SniffError(ValueError):
    """The sample cannot be read as a delimited text file; the message says why."""


@dataclass(frozen=True)
class TextLayout:
    """How a delimited text file is written."""

    encoding: str  # "utf-8" (BOM or not) or "cp1252" / "latin-1" (re-encoded before reading)
    delimiter: str
    header: tuple[str, ...]


def sniff_encoding(sample: bytes, complete: bool) -> str:
    """Return "utf-8" when the sample is UTF-8 (with or without BOM), else "cp1252" or "latin-1".

    ``complete`` says whether the sample is the whole file (a cut-off multi-byte character at
    the end of a partial sample is not an error).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"  # every byte is a latin-1 character


def decode_sample(sample: bytes, encoding: str) -> str:
    """The sample as text, BOM removed, a cut-off last character dropped."""
    if sample.startswith(codecs.BOM_UTF8):
        sample = sample[len(codecs.BOM_UTF8) :]
    return sample.decode(encoding, errors="ignore")


def sniff_delimiter(text: str) -> str:
    """The delimiter (comma, semicolon, tab or pipe) that splits the sample most consistently.

    Each candidate parses the sample with quoting rules; the winner has the most rows whose
    field count equals the header's, then the widest header. A one-column file gets a comma.
    """
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        rows = _parse_rows(text, delimiter)
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(1 for r in rows[1:] if len(r) == width)
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _parse_rows(text: str, delimiter: str, limit: int = 50) -> list[list[str]]:
    """Up to ``limit`` records of the sample; a last record cut off mid-line is dropped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) > limit:
                return rows[:limit]
    except csv.Error:  # e.g. a NUL byte: judge by the rows before it
        return rows
    if rows and not text.endswith(("\n", "\r")):
        rows = rows[:-1] if len(rows) > 1 else rows
    return rows


def sniff_layout(path: Path) -> TextLayout:
    """Encoding, delimiter and header of a delimited text file, from its first bytes."""
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
        complete = not fh.read(1)
    if not sample.strip():
        raise SniffError("the file is empty")
    if b"\x00" in sample[:4096]:
        raise SniffError("the file is not a text (CSV) file")
    if not complete and not re.search(rb"[\r\n]", sample):
        raise SniffError(f"the header (line 1) is longer than {SAMPLE_BYTES // 1024} KB")
    encoding = sniff_encoding(sample, complete)
    if encoding == "utf-8" and not complete and first_invalid_utf8(path) is not None:
        encoding = "cp1252"  # non-UTF-8 bytes only after the sample
    if encoding != "utf-8" and has_utf8_characters(path):
        # UTF-8 text with a bad byte: read as Windows-1252 its other accents would be garbled.
        _offset, line, byte = first_invalid_utf8(path) or (0, 0, 0)
        raise SniffError(
            f"is UTF-8 but for byte 0x{byte:02x} on line {line}, which is not valid UTF-8; "
            "fix that line or save the file again as CSV UTF-8"
        )
    text = decode_sample(sample, encoding)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        header = next(r for r in reader if any(c.strip() for c in r))
    except (StopIteration, csv.Error) as exc:
        raise SniffError("no header row found") from exc
    return TextLayout(encoding, delimiter, tuple(h.strip() for h in header))


def is_utf8(path: Path) -> bool:
    """Whether the whole file is valid UTF-8, checked chunk by chunk (stops at the first error)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(TRANSCODE_CHUNK_BYTES):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def first_invalid_utf8(path: Path) -> tuple[int, int, int] | None:
    """(byte offset, line number, byte value) of the first byte that is not valid UTF-8, or None
    for a valid UTF-8 file; read in 1 MB blocks (a character split between blocks is joined)."""
    offset, line, carry = 0, 1, b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(TRANSCODE_CHUNK_BYTES)
            data = carry + chunk
            try:
                data.decode("utf-8")
                good, carry = len(data), b""
            except UnicodeDecodeError as exc:
                cut_off = exc.reason == "unexpected end of data" and len(data) - exc.start < 4
                if chunk and cut_off:  # the block ends inside a character
                    good, carry = exc.start, data[exc.start :]
                else:
                    line += data.count(b"\n", 0, exc.start)
                    return offset + exc.start, line, data[exc.start]
            line += data.count(b"\n", 0, good)
            offset += good
            if not chunk:
                return None


# A multi-byte UTF-8 character (a lead byte and its continuation bytes): Windows-1252 text almost
# never holds one (it would take a pair like "Ã©").
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def has_utf8_characters(path: Path) -> bool:
    """Whether a file holds any multi-byte UTF-8 character; read in 1 MB blocks."""
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(TRANSCODE_CHUNK_BYTES):
            if _UTF8_MULTIBYTE.search(tail + chunk):
                return True
            tail = chunk[-3:]
    return False


def preview_text_rows(path: Path, layout: TextLayout, limit: int) -> list[list[str]]:
    """The first ``limit`` data rows of a delimited file, from its first bytes only."""
    with open(path, "rb") as fh:
        text = decode_sample(fh.read(SAMPLE_BYTES), layout.encoding)
    rows = _parse_rows(text, layout.delimiter, limit + 1)
    return [r for r in rows[1:] if any(c.strip() for c in r)][:limit]


def transcode_to_utf8(
    src: Path, dst: Path, encoding: str, on_part: Callable[[float], None] | None = None
) -> None:
    """Copy a text file into UTF-8, chunk by chunk (never the whole file in memory);
    ``on_part`` is told the share done (0-1) after each chunk."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    size = max(src.stat().st_size, 1)
    done = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(TRANSCODE_CHUNK_BYTES):
            fout.write(decoder.decode(chunk).encode("utf-8"))
            done += len(chunk)
            if on_part is not None:
                on_part(done / size)
        fout.write(decoder.decode(b"", final=True).encode("utf-8"))


def normalise_name(name: str) -> str:
    """A header name compared loosely: trimmed, lower-case, single spaces, no BOM."""
    return " ".join(str(name).replace("\ufeff", "").strip().lower().split())


# --- dates ------------------------------------------------------------------------------------

ISO_PATTERN = r"^\s*\d{4}-\d{1,2}-\d{1,2}"  # ISO dates pass through unchanged (offsets kept)
_TIME = r"(?:[ T,]+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp]\.?[Mm]\.?)?)?"
_NUMERIC = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})" + _TIME + r"\s*$")
_YEAR_FIRST = re.compile(r"^(\d{4})([./])(\d{1,2})\2(\d{1,2})" + _TIME + r"\s*$")
_MONTH_NAME = re.compile(r"^(\d{1,2})([/ .-])([^\W\d_]{3,9})\.?\2(\d{4}|\d{2})" + _TIME + r"\s*$")
_ISO = re.compile(ISO_PATTERN)

# Month names in the export's language, as DuckDB's %b understands them (English).
MONTH_NAMES = {
    "mär": "Mar",
    "märz": "Mar",
    "mrz": "Mar",
    "mai": "May",
    "okt": "Oct",
    "dez": "Dec",
    "januar": "Jan",
    "februar": "Feb",
    "juni": "Jun",
    "juli": "Jul",
    "oktober": "Oct",
    "dezember": "Dec",
}
_ENGLISH_MONTHS = (
    "jan feb mar apr may jun jul aug sep sept oct nov dec "
    "january february march april june july august september october november december"
)
_TIME_FORMATS = (" %H:%M:%S", " %H:%M", " %I:%M:%S %p", " %I:%M %p", "")


class AmbiguousDates(ValueError):
    """Dates whose day/month order the data does not settle; the message shows an example."""


@dataclass(frozen=True)
class DateFormat:
    """How the non-ISO dates of a file are written.

    ``formats`` are strptime formats tried in order (ISO values always pass through);
    ``month_names`` says whether month names must be translated to English first.
    """

    label: str
    formats: tuple[str, ...]
    month_names: bool = False


ISO_ONLY = DateFormat("ISO", ())


def date_format_from_pattern(pattern: str) -> DateFormat:
    """A user-chosen strptime pattern (e.g. ``%d.%m.%Y %H:%M``), also tried without the time."""
    date_part = pattern.split(" ")[0]
    formats = tuple(dict.fromkeys([pattern, date_part]))
    return DateFormat(pattern, formats, month_names="%b" in pattern or "%B" in pattern)


def detect_date_format(values: Iterable[str]) -> DateFormat:
    """The one date convention behind a sample of date strings (all date columns of a file).

    ISO values are ignored (they always parse). Day-first vs month-first is decided by the data:
    a first field above 12 proves day-first, a second field above 12 proves month-first; dotted
    dates are day-first by convention. Raises AmbiguousDates when the order cannot be settled or
    both orders occur; returns ``ISO_ONLY`` when nothing but ISO (or unparseable text) is seen.
    """
    numeric: list[tuple[str, int, int, int]] = []  # separator, first, second, year digits
    named: set[tuple[str, int]] = set()  # separator, year digits
    year_first: set[str] = set()
    example = ""
    for raw in values:
        value = str(raw).strip()
        if not value or _ISO.match(value):
            continue
        if m := _NUMERIC.match(value):
            numeric.append((m.group(2), int(m.group(1)), int(m.group(3)), len(m.group(4))))
            example = example or value
        elif m := _MONTH_NAME.match(value):
            month = m.group(3).lower()
            if month in _ENGLISH_MONTHS.split() or month in MONTH_NAMES:
                named.add((m.group(2), len(m.group(4))))
        elif m := _YEAR_FIRST.match(value):
            year_first.add(m.group(2))
    if named:
        dates = [f"%d{s}%b{s}{'%y' if d == 2 else '%Y'}" for s, d in sorted(named, key=_two_first)]
        return DateFormat("DD/Mon/YY", _with_times(dates), month_names=True)
    if year_first and not numeric:
        return DateFormat("YYYY/MM/DD", _with_times([f"%Y{s}%m{s}%d" for s in sorted(year_first)]))
    if not numeric:
        return ISO_ONLY
    day_first = any(first > 12 for _, first, _, _ in numeric)
    month_first = any(second > 12 for _, _, second, _ in numeric)
    separators = sorted({sep for sep, *_ in numeric})
    if day_first and month_first:
        raise AmbiguousDates(
            f"dates mix day-first and month-first order (e.g. '{example}'); "
            "choose the date format (--date-format or a mapping's date_format), e.g. %d/%m/%Y"
        )
    if not day_first and not month_first:
        if separators == ["."]:
            day_first = True  # dotted dates are day-first wherever they are used
        else:
            raise AmbiguousDates(
                f"dates such as '{example}' could be day-first or month-first; choose the "
                "date format (--date-format or a mapping's date_format): %d/%m/%Y or %m/%d/%Y"
            )
    order = ("%d", "%m") if day_first else ("%m", "%d")
    year_digits = sorted({digits for *_, digits in numeric})  # 2 before 4, see _two_first
    dates = [
        f"{order[0]}{sep}{order[1]}{sep}{'%y' if digits == 2 else '%Y'}"
        for digits in year_digits
        for sep in separators
    ]
    sep = separators[0]
    year = "YY" if year_digits == [2] else "YYYY"
    label = sep.join(("DD", "MM") if day_first else ("MM", "DD")) + sep + year
    return DateFormat(label, _with_times(dates))


def _two_first(key: tuple[str, int]) -> tuple[int, str]:
    # two-digit-year formats go first: %Y would read "26" as the year 26
    return (key[1], key[0])


def _with_times(dates: list[str]) -> tuple[str, ...]:
    return tuple(d + t for d in dates for t in _TIME_FORMATS)
