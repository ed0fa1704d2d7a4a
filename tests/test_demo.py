import json

import pytest
from typer.testing import CliRunner

from aimc.chips import list_chips
from aimc.cli import app
from aimc.demo import TIMES, run_demo


def test_demo_end_to_end(tmp_path):
    summary = run_demo(out_dir=tmp_path, repeats=2, epochs=4, seed=0)
    saved = json.loads((tmp_path / "results.json").read_text())
    png = (tmp_path / "accuracy_over_time.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert saved["digital_accuracy"] == summary["digital_accuracy"] > 0.8
    for label in ("no compensation", "GDC"):
        result = saved["analog"][label]
        assert result["times_s"] == list(TIMES.values())
        assert len(result["accuracy"]) == 2 and all(len(r) == 5 for r in result["accuracy"])
        assert 0.5 < result["accuracy_mean"][0] <= 1.0
    assert saved["chip"]["name"] == "ibm-hermes-pcm"


def test_cli_lists_chips_and_rejects_bad_chip(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(app, ["chips"])
    assert listed.exit_code == 0 and "ibm-hermes-pcm" in listed.output and "ideal" in listed.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("adc:\n  bits: 0\n")
    result = runner.invoke(app, ["demo", "--chip", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "adc.bits" in result.output


def test_cli_demo_runs(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--repeats", "1", "--epochs", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "1 year" in result.output and (tmp_path / "results.json").exists()


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
