import json

from typer.testing import CliRunner

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
