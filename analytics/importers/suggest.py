"""A first column mapping for a file Cadence does not know, by name similarity.

``suggest_mapping(["Incident ID", "Open Time", ...], "incidents")`` pairs each source column
with the canonical column whose name it most resembles ("Open Time" → ``opened_at``), so that
the mapping editor opens pre-filled and the user only corrects it. Pure: no I/O, no Streamlit.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from analytics.importers.mapping import suggest_columns
from analytics.schema import KINDS

MIN_SIMILARITY = 0.8  # below this a guess is more often wrong than right
# words that only say "a point in time" or "an identifier format": "Open Time" ~ "opened_at"
_FILLER = {"at", "on", "time", "date", "datetime", "timestamp", "dt", "ts", "the", "of", "aff"}


def _stem(word: str) -> str:
    """A crude English stem: "opened" → "open", "resolved" → "resolv", "changes" → "chang"."""
    for suffix in ("ing", "ed", "es", "e", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _words(name: str) -> list[str]:
    # camelCase and any punctuation split words: "OpenTime", "open-time", "Open Time (UTC)"
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def similarity(source: str, target: str) -> float:
    """How alike two column names are, 0..1: the larger of difflib's ratio on the lower-cased
    names and on their stemmed words without time fillers ("Open_Time" vs "opened_at": 1.0)."""
    a, b = "_".join(_words(source)), "_".join(_words(target))
    plain = difflib.SequenceMatcher(None, a, b).ratio()
    core_a = " ".join(_stem(w) for w in _words(source) if w not in _FILLER)
    core_b = " ".join(_stem(w) for w in _words(target) if w not in _FILLER)
    core = difflib.SequenceMatcher(None, core_a, core_b).ratio() if core_a and core_b else 0.0
    return max(plain, core)


def suggest_mapping(
    columns: Iterable[str], target_schema: str | Iterable[str], threshold: float = MIN_SIMILARITY
) -> dict[str, str]:
    """``{source column: canonical column}`` for the columns a mapping can guess.

    ``target_schema`` is a record kind ("incidents") or the list of canonical column names.
    Exact names and the known synonyms of :func:`analytics.importers.mapping.suggest_columns`
    come first; the other columns are paired by :func:`similarity` (at least ``threshold``),
    best pairs first, each canonical column used once."""
    columns = list(columns)
    if isinstance(target_schema, str):
        targets = list(KINDS[target_schema].column_names)
        chosen = suggest_columns(columns, target_schema)
    else:
        targets, chosen = list(target_schema), {}
    taken = set(chosen.values())
    pairs = sorted(
        (
            (similarity(c, t), -i, -j, c, t)
            for i, c in enumerate(columns)
            if c not in chosen
            for j, t in enumerate(targets)
            if t not in taken
        ),
        reverse=True,
    )
    for score, _i, _j, column, target in pairs:
        if score < threshold:
            break
        if column in chosen or target in taken:
            continue
        chosen[column] = target
        taken.add(target)
    return {c: chosen[c] for c in columns if c in chosen}
