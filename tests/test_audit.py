"""The null audit (benchmarks/audit.py) in small: a reading that claims effects on data without
them, or misses a strong planted one, fails here before the full audit is run."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import audit  # noqa: E402

from analytics import demo  # noqa: E402

# Two years (the readings need whole weeks), a fifth of the audit's volume: seconds per seed.
SMALL = dataclasses.replace(audit.AUDIT_SPEC, changes=1_500, incidents=2_000, work_items=600)
SEEDS = 4


@pytest.fixture(scope="module")
def cab_results():
    # A strong planted effect (the CAB's changes fail at 30 % of the others' rate), so that four
    # seeds detect it; in-process, so the stronger effect applies.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo, "CAB_FAILURE", 0.3)
        chosen = [audit.NULLS[0], audit.Variant("cab", frozenset({"cab"}))]
        return audit.run(SEEDS, chosen, base=SMALL, processes=1, progress=None, only={"cab"})


def test_cab_reading_keeps_its_error_rate_on_null_data(cab_results):
    # CAB-heavy teams differ in their base failure rate (the confounder stays in the null data).
    # A test at 5 % claims in 3 or 4 of 4 independent seeds with probability < 0.001.
    trials = cab_results["null"]["cab"]
    assert len(trials) == SEEDS
    assert all(not true for _claimed, true in trials)
    assert sum(claimed for claimed, _true in trials) <= 2


def test_cab_reading_detects_a_planted_difference(cab_results):
    trials = cab_results["cab"]["cab"]
    assert all(true for _claimed, true in trials)
    assert sum(claimed for claimed, _true in trials) >= 2


def test_rates_and_table_count_what_they_should(tmp_path):
    trials = [(True, False), (False, False), (True, True), (False, False)]
    assert audit.rate(trials, False) == (pytest.approx(1 / 3), 3)
    assert audit.rate(trials, True) == (1.0, 1)
    assert audit.rate([], True) == (None, 0)
    results = {
        "null": {"cab": [(True, False), (False, False)]},
        "all": {"cab": [(True, True), (True, True)], "what_if_cfr": [1.0, 3.0]},
    }
    table = audit.summary(results)
    assert table["cab"]["null"] == (0.5, 2)
    assert table["cab"]["all"] == (1.0, 2)
    assert table["what_if_cfr"]["all"] == (2.0, 1.0)
    text = audit.markdown(table, 2, "now")
    assert text.startswith("2 seeds per variant, now. False claims:")
    assert "own effect alone" not in text  # no --per-effect variants ran: no such column
    extended = audit.markdown(table, 200, "now", first_seed=101)
    assert extended.startswith("200 seeds per variant (seeds 101-300), now.")
    assert "| CAB vs delegated failure rate (JSON `cab_vs_delegated`) | 50 % (2) |" in text
    assert "50 % ✗" in text  # above the 7 % target
    doc = tmp_path / "statistics.md"
    doc.write_text("intro\n<!-- audit:after -->\nold\n<!-- /audit:after -->\nend\n")
    audit.write_docs("new table", "after", doc)
    assert doc.read_text() == "intro\n<!-- audit:after -->\nnew table\n<!-- /audit:after -->\nend\n"


@pytest.mark.parametrize(
    ("sentence", "claim"),
    [
        # the shapes of analytics.narrative.before_after_sentence
        ("Weekly incidents rose after the move to 2-week sprints: 2.0 a week in the 8 weeks "
         "after, against 1.2 expected from the other teams' weeks (+0.8 a week).", "rose"),
        ("Weekly incidents fell after the move to 2-week sprints: 0.9 a week.", "fell"),
        ("No clear change in weekly incidents after the move to 2-week sprints: 1.3 a week in "
         "the 8 weeks after, against 1.2 a week in its baseline (+0.1 a week).", None),
        ("No comparison is possible after the move to 2-week sprints: too few weeks.", None),
    ],
)  # fmt: skip
def test_the_cadence_sentence_is_read_as_a_claim_only_when_it_makes_one(sentence, claim):
    assert audit.cadence_claim(sentence) == claim
