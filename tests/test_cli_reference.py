"""Every `kb` command and option says what it does, and docs/cli.md documents them all.

docs/cli.md is generated from the Typer app by scripts/cli-reference; comparing the committed
file with a fresh generation keeps it from going stale.
"""

from __future__ import annotations

import inspect
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "cli-reference"
REFERENCE = ROOT / "docs" / "cli.md"


@pytest.fixture(scope="module")
def generator() -> dict:
    return runpy.run_path(str(SCRIPT))


def test_every_command_has_a_docstring_and_every_option_a_help_text(generator):
    from kb.cli import app

    callbacks = {c.name or c.callback.__name__: c.callback for c in app.registered_commands}
    listed = list(generator["commands"]())
    assert {name for name, _, _ in listed} == set(callbacks) and listed
    for name, command, ctx in listed:
        doc = inspect.getdoc(callbacks[name]) or ""
        assert len(doc) > 20, f"`kb {name}` has no docstring"
        for param in command.get_params(ctx):
            if param.name == "help":
                continue
            assert (getattr(param, "help", None) or "").strip(), f"`kb {name}`: {param.name} has no help text"


def test_docs_name_every_command_and_option(generator):
    text = REFERENCE.read_text(encoding="utf-8")
    for name, command, ctx in generator["commands"]():
        assert f"## `kb {name}`" in text, name
        section = text.split(f"## `kb {name}`", 1)[1].split("\n## ", 1)[0]
        for param in command.get_params(ctx):
            if param.name == "help":
                continue
            for flag in param.opts + param.secondary_opts:
                shown = flag if flag.startswith("-") else (param.metavar or param.name.upper())
                assert shown in section, f"docs/cli.md: `kb {name}` does not mention {shown}"


def test_docs_cli_md_is_the_generated_reference(generator):
    fresh = generator["render"]()
    assert REFERENCE.read_text(encoding="utf-8") == fresh, (
        "docs/cli.md is stale: run `.venv/bin/python scripts/cli-reference > docs/cli.md` and commit it")
