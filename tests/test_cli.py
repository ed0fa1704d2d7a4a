"""The ``aimc`` command: version, chip listing, 80-column tables, and every bad input a new user
produced ending in one clear line (exit code 2, no traceback)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import aimc
import aimc.cli as cli
from aimc.chips import DEFAULT_CHIP
from aimc.models import MODELS

runner = CliRunner()


@pytest.fixture(autouse=True)
def narrow_console(monkeypatch):
    """The command's console as on an 80-column terminal."""
    monkeypatch.setattr(cli, "console", Console(width=80, force_terminal=False))


def one_line_error(args: list[str], *expected: str) -> str:
    result = runner.invoke(cli.app, args)
    out = result.output.strip()
    assert result.exit_code == 2, out
    assert "Traceback" not in out and not isinstance(result.exception, (ValueError, OSError, TypeError))
    assert len(out.splitlines()) == 1, out
    for text in expected:
        assert text in out, out
    return out


def test_version():
    result = runner.invoke(cli.app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"aimc {aimc.__version__}"


def test_cli_constants_match_the_library():
    assert cli.DEFAULT_CHIP == DEFAULT_CHIP and set(cli.MODEL_NAMES) == set(MODELS)
    from aimc.evaluation.workloads import WORKLOADS

    assert cli.WORKLOAD_NAMES == tuple(WORKLOADS)


@pytest.mark.parametrize("args", [["chips"], ["chips", "list"]])
def test_chips_list_fits_80_columns(args):
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in result.output
    for name in aimc.list_chips():
        assert name in result.output
    assert "1024x1024" in result.output and "None" not in result.output


def test_compile_output_fits_80_columns_and_heading_counts_arrays_cores_chips():
    result = runner.invoke(cli.app, ["compile", "--model", "resnet18"])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80 and "…" not in result.output
    heading = " ".join(result.output.split("┏")[0].split())
    assert heading == "ibm-hermes-pcm: 206 arrays (256x256, one per core) on 4 chips of 64 cores"
    fits = runner.invoke(cli.app, ["compile", "--model", "mlp"])
    heading = " ".join(fits.output.split("┏")[0].split())
    assert heading == "ibm-hermes-pcm: 14 arrays (256x256, one per core) 14 of its 64 cores, one chip"


# ---- bad input: each ends in one line naming what was wrong and what is allowed ----

@pytest.mark.parametrize("shape, expected", [
    ("abc", "expected positive integers separated by commas"),
    ("0,3,32,32", "every size must be at least 1"),
    ("1,3,,32", "expected positive integers"),
    ("-1,784", "every size must be at least 1"),
])
def test_bad_input_shape(shape, expected):
    args = ["compile", "--model", "mlp", "--input-shape", shape]
    one_line_error(args, f"--input-shape {shape!r}", expected)


def test_unknown_model_lists_the_known_ones():
    args = ["compile", "--model", "resnet50"]
    one_line_error(args, "unknown model 'resnet50'", "resnet18", "FILE.py:FUNCTION")


def test_digital_pattern_that_matches_no_layer_lists_the_layers():
    args = ["compile", "--model", "mlp", "--digital", "fc*"]
    out = one_line_error(args, "digital pattern 'fc*' matches no layer")
    assert "layers: 0, 2, 4" in out and "Linear" in out
    keep = runner.invoke(cli.app, ["compile", "--model", "mlp", "--digital", "4"])
    assert keep.exit_code == 0 and "12 arrays" in keep.output and "│ digital:" in keep.output


def _model_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "net.py"
    path.write_text("import torch\n" + body)
    return str(path)


@pytest.mark.parametrize("body, function, expected", [
    ("def build():\n    return 42\n", "build", "build() returned a int, expected a torch.nn.Module"),
    ("def build():\n    return torch.nn.Linear\n", "build", "returned a type, expected a torch.nn.Module"),
    ("def build():\n    return torch.nn.Linear(4, 2)\n", "make", "has no function 'make' (it has: build)"),
    ("def build():\n    raise RuntimeError('boom')\n", "build", "build() failed: RuntimeError: boom"),
    ("import not_a_module\n", "build", "failed: ModuleNotFoundError"),
])
def test_bad_model_file(tmp_path, body, function, expected):
    path = _model_file(tmp_path, body)
    one_line_error(["compile", "--model", f"{path}:{function}", "--input-shape", "1,4"], expected)


def test_model_file_not_found_and_missing_input_shape(tmp_path):
    one_line_error(["compile", "--model", f"{tmp_path}/nope.py:build"], "file not found", "nope.py")
    path = _model_file(tmp_path, "def build():\n    return torch.nn.Linear(4, 2)\n")
    one_line_error(["compile", "--model", f"{path}:build"], "needs --input-shape")
    ok = runner.invoke(cli.app, ["compile", "--model", f"{path}:build", "--input-shape", "1,4"])
    assert ok.exit_code == 0, ok.output


def test_input_shape_that_does_not_fit_the_model_is_one_line(tmp_path):
    path = _model_file(tmp_path, "def build():\n    return torch.nn.Linear(4, 2)\n")
    one_line_error(["compile", "--model", f"{path}:build", "--input-shape", "1,5"], "cannot compile")


def test_compile_a_token_model_per_token_with_analog_embeddings(tmp_path):
    """A model that starts with nn.Embedding gets token ids as its example; --tokens sets the
    per-token figures and --analog-embeddings maps the lookup tables."""
    import json

    out = tmp_path / "m.json"
    args = ["compile", "--model", "char-gpt", "--tokens", "8", "--json", str(out)]
    result = runner.invoke(cli.app, [*args, "--analog-embeddings"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert data["tokens"] == 8 and layers["wte"]["analog"] and layers["wte"]["rows"] == 100
    cost = data["cost"]
    assert cost["tokens"] == 8 and cost["energy_per_token_j"] == pytest.approx(cost["total_j"] / 8)
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0 and not json.loads(out.read_text())["layers"][0]["analog"]
    one_line_error(["compile", "--model", "mlp", "--input-dtype", "int"], "--input-dtype", "float, long")


def test_json_into_missing_folder_or_a_file(tmp_path):
    one_line_error(["compile", "--model", "mlp", "--json", str(tmp_path / "no" / "m.json")],
                   "--json: folder", "does not exist")
    (tmp_path / "file").write_text("")
    one_line_error(["compile", "--model", "mlp", "--json", str(tmp_path / "file" / "m.json")],
                   "is not a folder")
    written = runner.invoke(cli.app, ["compile", "--model", "mlp", "--json", str(tmp_path / "m.json")])
    assert written.exit_code == 0 and (tmp_path / "m.json").exists()


def test_demo_out_into_missing_folder_or_a_file(tmp_path):
    one_line_error(["demo", "--out", str(tmp_path / "no" / "run")], "--out: folder", "does not exist")
    (tmp_path / "file").write_text("")
    one_line_error(["demo", "--out", str(tmp_path / "file")], "is not a folder")


def _as_unprivileged() -> list[str]:
    """Command prefix that runs as a user for whom permission bits count."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("root without setpriv: permission bits do not apply to root")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.mark.parametrize("args", [["compile", "--model", "mlp", "--json", "{folder}/m.json"],
                                  ["demo", "--out", "{folder}/run"],
                                  ["demo", "--out", "{folder}"]])
def test_output_into_an_unwritable_folder(tmp_path, args):
    prefix = _as_unprivileged()
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"aimc-ro-{os.getpid()}"
    folder.mkdir(mode=0o555)
    try:
        argv = [a.replace("{folder}", str(folder)) for a in args]
        result = subprocess.run([*prefix, sys.executable, "-m", "aimc.cli", *argv], capture_output=True,
                                text=True, timeout=300, cwd="/", env=os.environ | {"COLUMNS": "200"})
    finally:
        folder.rmdir()
    out = (result.stdout + result.stderr).strip()
    assert result.returncode == 2 and len(out.splitlines()) == 1 and "Traceback" not in out, out
    assert "cannot write in folder" in out and str(folder) in out


def test_demo_warns_before_overwriting_results(tmp_path, monkeypatch):
    import aimc.demo

    calls = []
    monkeypatch.setattr(aimc.demo, "run_demo", lambda **kwargs: calls.append(kwargs))
    fresh = runner.invoke(cli.app, ["demo", "--out", str(tmp_path)])
    assert fresh.exit_code == 0 and "warning" not in fresh.output and len(calls) == 1
    (tmp_path / "results.json").write_text("{}")
    again = runner.invoke(cli.app, ["demo", "--out", str(tmp_path)])
    assert again.exit_code == 0 and len(calls) == 2
    assert "warning:" in again.output and "results.json" in again.output and "overwrites" in again.output
    assert calls[-1]["threads"] == 1


def test_bad_chip_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("adc:\n  bits: 0\n")
    for args in (["compile", "--model", "mlp", "--chip", str(bad)], ["chips", "show", str(bad)]):
        result = runner.invoke(cli.app, args)
        assert result.exit_code == 2 and "adc.bits" in result.output and "Traceback" not in result.output


# ---- aimc stream: a tiny model, a second of audio ----

def _tiny_stream_model(tmp_path: Path) -> str:
    import torch

    from aimc.data.keywords import CLASSES
    from aimc.models.streaming import StreamingKWS, save_model

    torch.manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    save_model(StreamingKWS(hidden=4, classes=len(CLASSES)), path, CLASSES,
               {"detector": {"threshold": 0.2, "smooth_frames": 3, "refractory_s": 0.5}})
    return str(path)


def _wav(tmp_path: Path, rate: int = 16000, seconds: float = 0.5) -> str:
    import numpy as np
    from scipy.io import wavfile

    path = tmp_path / f"noise{rate}.wav"
    x = 0.1 * np.random.default_rng(0).standard_normal(round(rate * seconds))
    wavfile.write(path, rate, (x * 32767).astype(np.int16))
    return str(path)


def test_stream_a_wav_on_a_chip_prints_the_summary(tmp_path):
    args = ["stream", "--wav", _wav(tmp_path), "--model", _tiny_stream_model(tmp_path),
            "--chip", "ibm-speech-pcm", "--time", "1d"]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ibm-speech-pcm, 1d after programming" in out and "threshold 0.2, smoothing 3 frames" in out
    assert "0.5 s, 48 frames of 10 ms" in out and "real-time factor" in out
    assert "chip latency per frame" in out and "chip energy per frame" in out
    assert "precision" not in out  # a WAV file has no ground truth


@pytest.mark.skipif(shutil.which("sox") is None, reason="resampling needs the Debian package sox")
def test_stream_resamples_a_wav_at_another_rate(tmp_path):
    args = ["stream", "--wav", _wav(tmp_path, 8000), "--model", _tiny_stream_model(tmp_path),
            "--chip", "digital"]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0 and "48 frames" in result.output, result.output


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                    reason="needs the Debian packages espeak-ng and sox")
def test_stream_a_generated_recording_scores_the_detections(tmp_path):
    args = ["stream", "--generate", "4", "--seed", "1", "--model", _tiny_stream_model(tmp_path),
            "--chip", "digital", "--cache-dir", str(tmp_path)]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert "precision" in result.output and "recall" in result.output and "digital model" in result.output


def test_stream_bad_input_is_one_line(tmp_path):
    model = _tiny_stream_model(tmp_path)
    one_line_error(["stream", "--model", model], "exactly one of --wav FILE.wav or --generate SECONDS")
    one_line_error(["stream", "--wav", str(tmp_path / "no.wav")], "--wav: file not found", "no.wav")
    wav = _wav(tmp_path)
    one_line_error(["stream", "--wav", wav, "--model", str(tmp_path / "m.safetensors")],
                   "--model: file not found")
    one_line_error(["stream", "--wav", wav, "--model", model, "--time", "soon"], "--time 'soon'", "1d")
    one_line_error(["stream", "--wav", wav, "--model", model, "--chip", "nope"], "bad chip 'nope'")
    one_line_error(["stream", "--wav", wav, "--model", model, "--threshold", "2"], "must be in (0, 1]")
    (tmp_path / "text.wav").write_text("hello")
    one_line_error(["stream", "--wav", str(tmp_path / "text.wav"), "--model", model], "not a readable WAV")
    (tmp_path / "bad.safetensors").write_text("x")
    one_line_error(["stream", "--wav", wav, "--model", str(tmp_path / "bad.safetensors")],
                   "not a streaming keyword model")


def test_parse_duration():
    assert cli.parse_duration("1d") == 86400 and cli.parse_duration("2.5h") == 9000
    assert cli.parse_duration("30") == 30 and cli.parse_duration("1y") == 365 * 86400


def test_bench_refuses_unknown_workloads_and_chips_in_one_line(tmp_path):
    one_line_error(["bench", "-w", "cifar", "--out", str(tmp_path / "b")], "unknown workload", "digits-cnn")
    one_line_error(["bench", "-c", "no-such-chip", "--out", str(tmp_path / "b")], "no-such-chip")
    assert not (tmp_path / "b").exists()


def test_bench_writes_its_table_and_json(tmp_path, monkeypatch):
    import json

    from aimc.evaluation import workloads

    one_epoch = workloads.Workload(**{**workloads.WORKLOADS["digits-cnn"].__dict__, "epochs": 1})
    monkeypatch.setitem(workloads.WORKLOADS, "digits-cnn", one_epoch)
    monkeypatch.setenv("AIMC_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(cli.app, ["bench", "-w", "digits-cnn", "-c", "ideal", "--instances", "2",
                                     "--seeds", "2", "--workers", "1", "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "2 trained networks (training seeds 0–1)" in " ".join(result.output.split())
    summary = json.loads((tmp_path / "b" / "bench.json").read_text())
    (cell,) = summary["cells"]
    assert summary["settings"]["seeds"] == 2 and cell["row_seeds"] == [0, 0, 1, 1]
    assert cell["workload"] == "digits-cnn" and cell["chip"] == "ideal" and len(cell["accuracy"]) == 4
    assert cell["accuracy_ci95"]["1 year"]["mean"] == pytest.approx(cell["digital_accuracy"])
    assert (tmp_path / "b" / "bench.md").read_text().startswith("| workload | chip | digital % |")
    assert "2 trained networks" in (tmp_path / "b" / "bench.md").read_text()  # its caption says what ± covers
    result = runner.invoke(cli.app, ["bench", "-w", "digits-cnn", "-c", "ideal", "--instances", "2",
                                     "--workers", "1", "--out", str(tmp_path / "one")])
    assert result.exit_code == 0, result.output
    assert "2 chip instances of one trained network" in (tmp_path / "one" / "bench.md").read_text()


def test_bench_cells_go_to_a_results_store_for_the_report(tmp_path, monkeypatch):
    """``aimc bench --store``: one row per time in the sweep store (the interval of the suite),
    stored once however often the same run is repeated; ``aimc report`` draws it."""
    from aimc.evaluation import workloads
    from aimc.sweep import Store

    one_epoch = workloads.Workload(**{**workloads.WORKLOADS["digits-cnn"].__dict__, "epochs": 1})
    monkeypatch.setitem(workloads.WORKLOADS, "digits-cnn", one_epoch)
    monkeypatch.setenv("AIMC_CACHE", str(tmp_path / "cache"))
    args = ["bench", "-w", "digits-cnn", "-c", "neurram", "--instances", "3", "--quick", "--workers", "1",
            "--out", str(tmp_path / "b"), "--store", str(tmp_path / "r.db")]
    for _ in range(2):
        result = runner.invoke(cli.app, args)
        assert result.exit_code == 0, result.output
    rows = Store(tmp_path / "r.db").rows()
    assert len(rows) == 5 and {r["sweep"] for r in rows} == {"bench-quick"}
    assert {r["model"] for r in rows} == {"digits-cnn"} and all(r["n"] == 3 for r in rows)
    import json

    cell = json.loads((tmp_path / "b" / "bench.json").read_text())["cells"][0]
    day = next(r for r in rows if r["time_s"] == 86400.0)
    assert day["accuracy_mean"] == pytest.approx(cell["accuracy_ci95"]["1 day"]["mean"])
    half = cell["accuracy_ci95"]["1 day"]["half_width"]
    assert day["ci_high"] - day["accuracy_mean"] == pytest.approx(half) and half > 0
    assert day["energy_j"] == cell["cost"]["energy_j"]["nominal"] > 0
    result = runner.invoke(cli.app, ["report", str(tmp_path / "r.db"), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert "digits-cnn on neurram" in (tmp_path / "r.html").read_text()
    (tmp_path / "junk.db").write_text("not a database")
    one_line_error([*args[:-1], str(tmp_path / "junk.db")], "cannot write results", "junk.db")
