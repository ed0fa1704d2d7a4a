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


def test_lifetime_command_refuses_a_short_table_before_training(tmp_path, monkeypatch):
    """A CSV profile that ends before --duration fails at once (no training: the demo's trainer
    is replaced by one that fails the test)."""
    import aimc.demo

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the temperature table")

    monkeypatch.setattr(aimc.demo, "train_demo_model", no_training)
    csv = tmp_path / "log.csv"
    csv.write_text("time_s,temperature_c\n0,25\n3600,30\n")
    result = runner.invoke(app, ["lifetime", "--temperature", str(csv), "--duration", "1d",
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert "before the duration" in result.output.replace("\n", " ")


def test_lifetime_default_temperature_is_the_devices_own(tmp_path):
    """Without --temperature the chip stays at its device's temperature (300 K for the presets),
    the temperature of every other aimc command, not 25 °C (298.15 K)."""
    out = tmp_path / "d"
    result = runner.invoke(app, ["lifetime", "--policy", "none", "--duration", "1h", "--checkpoints", "1",
                                 "--epochs", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "lifetime.json").read_text())
    assert data["config"]["profile"] == {"kind": "constant", "kelvin": 300.0}
    assert data["temperature_k"] == [300.0]
    assert data["config"]["training_epochs"] == 1
