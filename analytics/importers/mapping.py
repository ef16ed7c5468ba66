"""Mapping profiles: any CSV or Excel file, mapped column by column onto a record kind.

A profile is a JSON document (saved in ``data/mappings/`` or a directory the user chooses)::

    {"kind": "changes",
     "columns": {"Änderung": "change_id", "Ergebnis": "outcome", ...},
     "values": {"outcome": {"Erfolgreich": "successful", ...}},
     "date_format": "%d.%m.%Y %H:%M"}

``values`` and ``date_format`` are optional. Value maps compare trimmed, case-insensitively;
values without an entry pass through unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from analytics.importers.sniff import normalise_name
from analytics.importers.transform import Cols, Transform
from analytics.schema import KINDS

PROFILE_SUFFIX = ".json"


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the offending entries."""


@dataclass(frozen=True)
class MappingProfile:
    """A validated mapping: source column -> canonical column, value maps, date format."""

    kind: str
    columns: dict[str, str]
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_format: str | None = None
    name: str = ""

    def to_json(self) -> str:
        doc: dict = {"kind": self.kind, "columns": self.columns}
        if self.values:
            doc["values"] = self.values
        if self.date_format:
            doc["date_format"] = self.date_format
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def parse_profile(doc: object, name: str = "") -> MappingProfile:
    """Validate a decoded JSON profile; raise ProfileError naming what is wrong."""
    where = f"mapping {name}: " if name else "mapping: "
    if not isinstance(doc, dict):
        raise ProfileError(where + "must be a JSON object with kind and columns")
    unknown_keys = set(doc) - {"kind", "columns", "values", "date_format", "name"}
    if unknown_keys:
        raise ProfileError(where + f"unknown key(s) {', '.join(sorted(unknown_keys))}")
    kind = doc.get("kind")
    if kind not in KINDS:
        raise ProfileError(where + f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    columns = doc.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise ProfileError(where + "columns must map source column names to canonical names")
    canonical = KINDS[kind].column_names
    bad = [f"{src!r}: {dst!r}" for src, dst in columns.items() if dst not in canonical]
    if bad:
        raise ProfileError(
            where + f"unknown {kind} column(s) {', '.join(bad)}; expected {', '.join(canonical)}"
        )
    targets = list(columns.values())
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise ProfileError(where + f"several source columns map to {', '.join(twice)}")
    missing = [c for c in KINDS[kind].required if c not in targets]
    if missing:
        raise ProfileError(where + f"required {kind} column(s) not mapped: {', '.join(missing)}")
    values = doc.get("values") or {}
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise ProfileError(where + "values must map a canonical column to {source: target}")
    bad_values = [c for c in values if c not in canonical]
    if bad_values:
        raise ProfileError(where + f"values for unknown {kind} column(s) {', '.join(bad_values)}")
    date_format = doc.get("date_format")
    if date_format is not None and (
        not isinstance(date_format, str) or not re.search(r"%[dmYy]", date_format)
    ):
        raise ProfileError(where + f"date_format {date_format!r} is not a strptime pattern")
    return MappingProfile(
        kind=kind,
        columns={str(k): str(v) for k, v in columns.items()},
        values={c: {str(k): str(v) for k, v in m.items()} for c, m in values.items()},
        date_format=date_format,
        name=name or str(doc.get("name") or ""),
    )


def load_profile(path: str | Path) -> MappingProfile:
    """Read and validate a profile file."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"mapping {path.name}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfileError(f"mapping {path.name}: not valid JSON ({exc})") from None
    return parse_profile(doc, path.stem)


def list_profiles(directory: str | Path) -> dict[str, Path]:
    """Saved profiles in a directory: name -> path."""
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    return {p.stem: p for p in sorted(directory.glob(f"*{PROFILE_SUFFIX}"))}


def save_profile(profile: MappingProfile, directory: str | Path, name: str) -> Path:
    """Write a profile as ``<name>.json`` in ``directory``; the name is reduced to letters,
    digits, ``-`` and ``_``."""
    safe = re.sub(r"[^\w-]+", "-", name).strip("-")[:60]  # no dots or slashes: stays inside
    if not safe:
        raise ProfileError("mapping: give the profile a name (letters, digits, - or _)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{safe}{PROFILE_SUFFIX}"
    path.write_text(profile.to_json(), encoding="utf-8")
    return path


def missing_sources(profile: MappingProfile, header: tuple[str, ...]) -> list[str]:
    """Source columns of the profile that the file's header lacks."""
    names = {normalise_name(h) for h in header}
    return [src for src in profile.columns if normalise_name(src) not in names]


def mapping_transform(profile: MappingProfile, cols: Cols) -> Transform:
    """The Transform for a file read with ``profile`` (the header must hold every source)."""
    kind = KINDS[profile.kind]
    columns: dict[str, str] = {}
    params: dict = {}
    for src, dst in profile.columns.items():
        col = kind.column(dst)
        if col.sql_type in ("TIMESTAMP", "DATE"):
            expr = cols.date(normalise_name(src), date_only=col.sql_type == "DATE")
        elif col.sql_type in ("DOUBLE", "INTEGER"):
            expr = cols.number(normalise_name(src))
        else:
            expr = cols.text(normalise_name(src))
        if profile.values.get(dst):
            keys, targets = f"vk_{dst}", f"vt_{dst}"
            value_map = {k.strip().lower(): v for k, v in profile.values[dst].items()}
            params[keys], params[targets] = list(value_map), list(value_map.values())
            # The target at the position of the (lower-cased) source value, else the value itself.
            expr = f"coalesce(${targets}[list_position(${keys}, lower({expr}))], {expr})"
        columns[dst] = expr
    mapped = {normalise_name(src) for src in profile.columns}
    unmapped = [h for h in cols.header if normalise_name(h) not in mapped and h.strip()]
    warnings = [f"columns not in the mapping, ignored: {', '.join(unmapped)}"] if unmapped else []
    return Transform(profile.kind, columns, cols, params=params, warnings=warnings)


# Source names that usually mean a canonical column (lower case), for a first mapping draft.
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "changes": {
        "change_id": ("number", "change", "change id", "change number", "änderung"),
        "service": ("business_service", "service", "business service", "cmdb_ci", "dienst"),
        "team": ("assignment_group", "assignment group", "group", "gruppe"),
        "change_type": ("type", "change type", "typ", "art"),
        "approval": ("genehmigung",),
        "requested_at": ("opened_at", "opened", "sys_created_on", "created", "beantragt"),
        "implemented_at": ("work_end", "actual end", "implemented", "umgesetzt"),
        "outcome": ("close_code", "close code", "result", "ergebnis"),
        "risk": ("risiko",),
        "planned_start": ("start_date", "planned start date", "planned start"),
        "planned_end": ("end_date", "planned end date", "planned end"),
    },
    "incidents": {
        "incident_id": ("number", "incident", "incident id", "störung", "ticket"),
        "service": ("business_service", "service", "business service", "cmdb_ci", "dienst"),
        "team": ("assignment_group", "assignment group", "group", "gruppe"),
        "priority": ("priorität", "prio"),
        "opened_at": ("opened", "created", "sys_created_on", "eröffnet"),
        "resolved_at": ("resolved", "closed_at", "gelöst"),
        "caused_by_change": ("caused_by", "caused by change"),
        "resolved_by_change": ("rfc", "change request"),
        "effort_hours": ("time_worked", "effort", "aufwand", "aufwand (h)"),
    },
    "work_items": {
        "item_id": ("issue key", "key", "id"),
        "team": ("project key", "project", "team"),
        "item_type": ("issue type", "type"),
        "story_points": ("custom field (story points)", "story points", "points"),
        "created_at": ("created",),
        "resolved_at": ("resolved",),
    },
    "sprints": {
        "sprint_id": ("sprint", "sprint id"),
        "name": ("sprint name", "name"),
        "start_date": ("start date", "start"),
        "end_date": ("end date", "end"),
        "committed_points": ("committed",),
        "completed_points": ("completed",),
    },
}


def suggest_columns(header: tuple[str, ...] | list[str], kind: str) -> dict[str, str]:
    """A first draft of ``columns`` for a header: canonical names and common synonyms."""
    targets = KINDS[kind].column_names
    synonyms = SYNONYMS.get(kind, {})
    suggested: dict[str, str] = {}
    for source in header:
        name = normalise_name(source)
        match = next(
            (t for t in targets if name == t or name in synonyms.get(t, ())),
            None,
        )
        if match and match not in suggested.values():
            suggested[source] = match
    return suggested


def guess_kind(header: tuple[str, ...] | list[str]) -> str:
    """The kind whose columns the header's names suggest most (id column counted double)."""

    def score(kind: str) -> int:
        suggested = suggest_columns(header, kind).values()
        return len(suggested) + (KINDS[kind].id_column in suggested)

    return max(KINDS, key=score)
