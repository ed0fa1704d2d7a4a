import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimc.chips import list_chips
from aimc.cli import app
from aimc.demo import TIMES, markdown_table, table_rows

README = Path(__file__).parents[1] / "README.md"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """``aimc demo`` with its default settings (what ``make demo`` and the README show), run once
    for this module: the printed output and the folder it wrote."""
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return result.output, out


def test_demo_end_to_end(demo_run):
    output, out = demo_run
    saved = json.loads((out / "results.json").read_text())
    png = (out / "accuracy_over_time.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert saved["digital_accuracy"] > 0.9
    workers = saved["settings"].pop("workers")
    assert saved["settings"] == {"repeats": 10, "epochs": 30, "seed": 0}
    assert workers == min(2, len(os.sched_getaffinity(0)))  # two where two cores are free
    for label in ("no compensation", "GDC"):
        result = saved["analog"][label]
        assert result["times_s"] == list(TIMES.values())
        assert len(result["accuracy"]) == 10 and all(len(r) == 5 for r in result["accuracy"])
        assert 0.5 < result["accuracy_mean"][0] <= 1.0
    assert saved["chip"]["name"] == "ibm-hermes-pcm"
    assert "1 year" in output and "results.json" in output


def _readme_demo_table() -> tuple[list[list[str]], str]:
    """The rows of the first table of the README's Quick start section and the caption after it."""
    section = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0].splitlines()
    first = next(i for i, line in enumerate(section) if line.startswith("|"))
    end = first
    while end < len(section) and section[end].startswith("|"):
        end += 1
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in section[first:end]]
    caption = "\n".join(section[end:]).strip().split("\n\n")[0]
    return rows, caption


def test_readme_demo_table_is_what_the_demo_prints(demo_run):
    """The README's demo table, cell by cell, is the table ``aimc demo`` prints. When the tile
    changes, rerun ``make demo`` and paste ``make demo-table`` into the README."""
    output, out = demo_run
    summary = json.loads((out / "results.json").read_text())
    expected = [[cell.strip() for cell in line.strip("|").split("|")]
                for line in markdown_table(summary).splitlines()]
    readme, caption = _readme_demo_table()
    assert readme[0] == expected[0] and readme[2:] == expected[2:], (
        "README demo table differs from `aimc demo`; paste this:\n" + markdown_table(summary))
    printed = [" ".join(line.replace("│", " ").split()) for line in output.splitlines()]
    for row in table_rows(summary):  # the printed rich table holds the same cells
        assert " ".join(row) in printed
    settings = summary["settings"]
    assert f"over {settings['repeats']} chip instances" in caption
    assert f"{summary['data']['test']} test images" in caption


def test_cli_lists_chips_and_rejects_bad_chip(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(app, ["chips"])
    assert listed.exit_code == 0 and "ibm-hermes-pcm" in listed.output and "ideal" in listed.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("adc:\n  bits: 0\n")
    result = runner.invoke(app, ["demo", "--chip", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "adc.bits" in result.output


@pytest.mark.parametrize("chip", list_chips())
def test_demo_runs_on_every_preset(tmp_path, chip):
    result = CliRunner().invoke(app, ["demo", "--chip", chip, "--repeats", "1", "--epochs", "1",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["chip"]["name"] == chip and len(saved["analog"]["GDC"]["accuracy"][0]) == 5


def test_cli_chips_show(tmp_path):
    runner = CliRunner()
    shown = runner.invoke(app, ["chips", "show", "neurram"])
    assert shown.exit_code == 0 and "name: neurram" in shown.output and "Wan et al." in shown.output
    missing = runner.invoke(app, ["chips", "show", "nope"])
    assert missing.exit_code == 2 and "ibm-hermes-pcm" in missing.output
