"""CSV downloads neutralise spreadsheet formulas and keep numbers as numbers."""

from __future__ import annotations

import io

import pandas as pd

from analytics.export import neutralise_formula, to_safe_csv


def test_formula_like_text_is_prefixed_with_a_quote():
    df = pd.DataFrame(
        {
            "team": ['=HYPERLINK("http://x")', "+1+2", "-3+A1", "@SUM(A1)", "Payments"],
            "value": [1.5, -2.0, 3.0, 0.0, 4.0],
        }
    )
    text = to_safe_csv(df).decode("utf-8")
    back = pd.read_csv(io.StringIO(text), dtype={"team": str})
    assert list(back["team"]) == [
        '\'=HYPERLINK("http://x")',
        "'+1+2",
        "'-3+A1",
        "'@SUM(A1)",
        "Payments",
    ]
    assert list(back["value"]) == [1.5, -2.0, 3.0, 0.0, 4.0]  # negative numbers untouched


def test_formula_like_column_names_are_neutralised_too():
    text = to_safe_csv(pd.DataFrame({"=cmd": ["a"]})).decode("utf-8")
    assert text.splitlines()[0] == "'=cmd"


def test_non_text_values_pass_through():
    assert neutralise_formula(-1) == -1
    assert neutralise_formula(None) is None
    assert neutralise_formula("a=b") == "a=b"
