"""The documentation keeps up with the product: every command, option and page is described."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from analytics.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = "\n".join(
    p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))]
)


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_is_documented_with_an_example():
    commands = _subcommands()
    assert {"load", "demo", "report"} <= commands.keys()
    for name in commands:
        assert re.search(rf"python -m analytics {name}\b", DOCS), f"`{name}` has no example"


def test_every_option_of_every_command_is_documented():
    for name, sub in _subcommands().items():
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert option in DOCS, f"`{name} {option}` is not documented"


def test_every_page_is_described_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    app = (ROOT / "app.py").read_text(encoding="utf-8")
    titles = re.findall(r'st\.Page\([^)]*?title="([^"]+)"', app, flags=re.S)
    assert len(titles) >= 7
    for title in titles:
        assert f"| {title} |" in readme, f"page {title!r} is missing from the README's table"
