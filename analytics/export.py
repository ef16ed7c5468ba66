"""Downloads: CSV that is safe to open in a spreadsheet."""

from __future__ import annotations

import pandas as pd

# A cell starting with one of these is run as a formula by Excel/LibreOffice (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: object) -> object:
    """Return ``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula.

    Numbers stay numbers: ``-3`` as a float is data, while the string ``"-3+A1"`` is prefixed.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_safe_csv(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV bytes of ``df`` (no index) with every formula-like text cell neutralised."""
    safe = df.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_formula)
    safe.columns = [str(neutralise_formula(str(c))) for c in safe.columns]
    return safe.to_csv(index=False).encode("utf-8")
