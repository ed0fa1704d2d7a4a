"""Every table of figures in the README names the committed script or command that prints it.

A table counts as naming its source when a ``benchmarks/….py`` script, an ``aimc …`` command (in
backticks) or a ``make`` target appears within a few lines before or after it. Reference tables
that cite papers in a last column headed "source" (what is modelled, the preset list) hold no
measured figures and are exempt. Every named script, command and make target must exist.
"""

import re
from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).parents[1]
BEFORE, AFTER = 8, 4  # lines searched around a table for its source
SCRIPT = re.compile(r"benchmarks/[\w/.-]+?\.py")
COMMAND = re.compile(r"`aimc ([a-z][\w-]*)")
MAKE = re.compile(r"`make ([a-z]\w*)`")


def tables(lines: list[str]) -> list[tuple[int, int]]:
    """(first, end) line indices of every Markdown table (consecutive lines starting with '|')."""
    found, i = [], 0
    while i < len(lines):
        if lines[i].startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            found.append((i, j))
            i = j
        else:
            i += 1
    return found


def is_reference_table(header: str) -> bool:
    cells = [c.strip().lower() for c in header.strip().strip("|").split("|")]
    return cells[-1] == "source"


def sources(text: str) -> list[str]:
    return SCRIPT.findall(text) + [f"aimc {c}" for c in COMMAND.findall(text)] + \
        [f"make {t}" for t in MAKE.findall(text)]


def readme_lines() -> list[str]:
    return (ROOT / "README.md").read_text().splitlines()


def test_every_table_of_figures_names_its_source():
    lines = readme_lines()
    found = tables(lines)
    assert len(found) >= 8  # the README's tables were found at all
    missing = []
    for first, end in found:
        if is_reference_table(lines[first]):
            continue
        context = "\n".join(lines[max(0, first - BEFORE):first] + lines[end:end + AFTER])
        if not sources(context):
            missing.append(f"README.md:{first + 1}: {lines[first][:60]}")
    assert not missing, "tables without a script or command named beside them:\n" + "\n".join(missing)


def test_every_named_script_command_and_make_target_exists():
    text = "\n".join(readme_lines())
    scripts = set(SCRIPT.findall(text))
    assert scripts
    missing = sorted(s for s in scripts if not (ROOT / s).is_file())
    assert not missing, f"README names scripts that do not exist: {missing}"
    from aimc.cli import app

    commands = set(typer.main.get_command(app).commands)
    unknown = set(COMMAND.findall(text)) - commands
    assert not unknown, f"README names unknown aimc commands {unknown}; there are {commands}"
    targets = set(re.findall(r"^([a-z]\w*):", (ROOT / "Makefile").read_text(), re.M))
    unknown = set(MAKE.findall(text)) - targets
    assert not unknown, f"README names unknown make targets {unknown}; there are {targets}"


@pytest.mark.parametrize("table, named", [
    ("| chip | 1 s |\n|---|---|\n| a | 98.1 |", False),
    ("Run `python benchmarks/x.py`:\n\n| chip | 1 s |\n|---|---|\n| a | 98.1 |", True),
    ("| chip | 1 s |\n|---|---|\n| a | 98.1 |\n\n(printed by `aimc demo`)", True),
    ("| part | model | source |\n|---|---|---|\n| PCM | drift | Nandakumar 2019 |", True),
])
def test_the_check_itself_catches_an_unnamed_table(table, named):
    lines = table.splitlines()
    (first, end), = tables(lines)
    context = "\n".join(lines[max(0, first - BEFORE):first] + lines[end:end + AFTER])
    assert (is_reference_table(lines[first]) or bool(sources(context))) == named
