"""``aimc lifetime``: the command runs, writes its JSON and plot, resumes, refuses bad input."""

import json

from typer.testing import CliRunner

from aimc.cli import app

runner = CliRunner()


def test_lifetime_command_writes_json_and_plot_and_resumes(tmp_path):
    out = tmp_path / "life"
    args = ["lifetime", "--policy", "closed-loop", "--temperature", "daily:25-85C", "--duration", "2d",
            "--checkpoints", "3", "--epochs", "2", "--out", str(out)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    data = json.loads((out / "lifetime.json").read_text())
    assert (out / "lifetime.png").stat().st_size > 0
    assert data["config"]["policy"]["name"] == "closed-loop" and data["config"]["profile"]["kind"] == "daily"
    assert len(data["accuracy_mean"]) == 3 and data["times_s"][-1] == 2 * 86400.0
    assert data["complete"] and 0.0 < data["accuracy_mean"][0] <= 1.0
    assert "policy closed-loop" in first.output and "energy overhead" in first.output
    second = runner.invoke(app, args)  # the checkpoint is complete: the same numbers again
    assert second.exit_code == 0, second.output
    assert json.loads((out / "lifetime.json").read_text())["accuracy"] == data["accuracy"]


def test_lifetime_command_refuses_bad_input(tmp_path):
    for option, value, message in (("--temperature", "-5K", "greater than 0"),
                                   ("--temperature", "hot", "expected e.g."),
                                   ("--policy", "sometimes", "unknown lifetime policy"),
                                   ("--duration", "1 fortnight", "expected a number with a unit")):
        result = runner.invoke(app, ["lifetime", option, value, "--out", str(tmp_path)])
        assert result.exit_code == 2, result.output
        assert message in result.output.replace("\n", " ")
