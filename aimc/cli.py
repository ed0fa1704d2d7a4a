"""The ``aimc`` command.

torch and the rest of aimc are imported inside the commands, so ``aimc --help`` and
``aimc --version`` answer at once. Errors a user can cause end in one red line and exit code 2.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from . import __version__

DEFAULT_CHIP = "ibm-hermes-pcm"  # = aimc.chips.DEFAULT_CHIP (a test checks); literal so --help needs no torch
MODEL_NAMES = ("digits-cnn", "mlp", "mnist-cnn", "resnet18", "vgg8", "kws-lstm", "vit", "char-gpt",
               "gpt2-small")  # = aimc.models.MODELS (a test checks)

app = typer.Typer(help="aimc: analog in-memory computing for neural networks.", no_args_is_help=True)
console = Console()


class UsageError(ValueError):
    """A mistake in the command line: printed as one line, exit code 2."""


def _fail(what: str, err: BaseException | str) -> typer.Exit:
    console.print(f"[red]{what}:[/red] {err}", soft_wrap=True)
    return typer.Exit(2)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aimc {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="print the version and exit"),
) -> None:
    """aimc: analog in-memory computing for neural networks."""
    from ._allocator import keep_freed_memory

    keep_freed_memory()  # this process is aimc's own: reuse freed tensors' memory (speed only)


def writable_folder(folder: Path, what: str) -> None:
    """Raise :class:`UsageError` unless files can be created in ``folder`` (tried for real: a
    temporary file, so a read-only mount or missing permission is caught before any work)."""
    if not folder.exists():
        raise UsageError(f"{what}: folder {folder} does not exist")
    if not folder.is_dir():
        raise UsageError(f"{what}: {folder} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".aimc-write-test-"):
            pass
    except OSError as err:
        raise UsageError(f"{what}: cannot write in folder {folder} ({err.strerror or err})") from err


def _load_chip(name: str):
    from .chips import load_chip

    try:
        return load_chip(name)
    except Exception as err:  # validation errors, unknown names and unreadable files alike
        raise _fail(f"bad chip {name!r}", err) from err


@app.command()
def demo(
    out: Path = typer.Option(Path("aimc-out"), help="folder for the plot and results.json (created if "
                                                    "missing; its parent must exist)"),
    chip: str = typer.Option(DEFAULT_CHIP, help="chip preset name or YAML path"),
    repeats: int = typer.Option(10, min=1, help="chip instances per time point"),
    epochs: int = typer.Option(30, min=1, help="digital training epochs"),
    seed: int = typer.Option(0, help="seed of data split, training and chip instances"),
    threads: int = typer.Option(1, min=1, help="torch threads (1: the demo's small tensors gain little "
                                               "from more, and lose much on a busy machine)"),
    workers: int = typer.Option(None, min=1, help="threads reading chip instances, each with its "
                                                  "own model copy (default: 2 if 2 cores are free; "
                                                  "same numbers)"),
) -> None:
    """Train a CNN on digits, run it on an analog chip from 1 s to 1 year after programming."""
    try:
        writable_folder(out if out.exists() else out.parent, "--out")
    except UsageError as err:
        raise _fail("cannot write results", err) from err
    old = [out / name for name in ("results.json", "accuracy_over_time.png") if (out / name).exists()]
    if old:
        console.print(f"[yellow]warning:[/yellow] {out} holds {', '.join(p.name for p in old)} from an "
                      f"earlier run; this run overwrites them (use --out to keep them)", soft_wrap=True)
    _load_chip(chip)
    from .demo import run_demo

    run_demo(out_dir=out, chip=chip, repeats=repeats, epochs=epochs, seed=seed, console=console,
             threads=threads, workers=workers)


chips_app = typer.Typer(help="Chip presets: list them (aimc chips list), show one (aimc chips show NAME).",
                        invoke_without_command=True)
app.add_typer(chips_app, name="chips")


@chips_app.callback()
def chips(ctx: typer.Context) -> None:
    """List the built-in chip presets (``aimc chips show NAME`` prints one)."""
    if ctx.invoked_subcommand is None:
        chips_list()


@chips_app.command("list")
def chips_list() -> None:
    """List the built-in chip presets."""
    from .chips import list_chips, load_chip

    table = Table(title="chip presets", caption="bits: DAC/ADC (- = ideal converter)")
    for column in ("name", "device", "cores", "array", "bits", "encoding", "node"):
        table.add_column(column, no_wrap=True)
    for name in list_chips():
        c = load_chip(name)
        bits = "/".join("-" if b is None else str(b) for b in (c.dac.bits, c.adc.bits))
        table.add_row(name, c.device.name, str(c.cores), f"{c.array.rows}x{c.array.cols}", bits,
                      c.encoding.kind, "-" if c.node_nm is None else f"{c.node_nm:g} nm")
    console.print(table)


@chips_app.command("show")
def chips_show(name: str = typer.Argument(..., help="preset name or YAML path")) -> None:
    """Print one chip: every field, its sources and assumptions, as YAML."""
    import yaml

    chip = _load_chip(name)
    typer.echo(yaml.safe_dump(chip.model_dump(mode="json"), sort_keys=False, width=100))


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,32,32"`` → ``(1, 3, 32, 32)``; :class:`UsageError` naming the bad part otherwise."""
    parts = [p.strip() for p in text.replace("x", ",").split(",")]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"--input-shape {text!r}: expected positive integers separated by commas, "
                         f"e.g. 1,3,32,32") from None
    if any(v <= 0 for v in shape):
        raise UsageError(f"--input-shape {text!r}: every size must be at least 1, e.g. 1,3,32,32")
    return shape


def load_model_file(spec: str):
    """The ``nn.Module`` built by ``FILE.py:FUNCTION``; :class:`UsageError` for a missing file or
    function, a function that fails, or one that returns something else than a module."""
    import importlib.util

    from torch import nn

    path, function = spec.rsplit(":", 1)
    if not Path(path).is_file():
        raise UsageError(f"--model {spec!r}: file not found: {path}")
    module_spec = importlib.util.spec_from_file_location("aimc_user_model", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:
        raise UsageError(f"--model {spec!r}: running {path} failed: {type(err).__name__}: {err}") from err
    build = getattr(module, function, None)
    if not callable(build):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise UsageError(f"--model {spec!r}: {path} has no function {function!r} "
                         f"(it has: {', '.join(found) or 'none'})")
    try:
        network = build()
    except Exception as err:
        raise UsageError(f"--model {spec!r}: {function}() failed: {type(err).__name__}: {err}") from err
    if not isinstance(network, nn.Module):
        raise UsageError(f"--model {spec!r}: {function}() returned a {type(network).__name__}, "
                         f"expected a torch.nn.Module")
    return network


@app.command("compile")
def compile_cmd(
    model: str = typer.Option(..., help=f"{', '.join(MODEL_NAMES)}, or FILE.py:FUNCTION (returns an "
                                        f"nn.Module)"),
    chip: str = typer.Option(DEFAULT_CHIP, help="chip preset name or YAML path"),
    input_shape: str = typer.Option("", help="example input shape, e.g. 1,3,32,32 (FILE.py models)"),
    replicate: bool = typer.Option(False, help="replicate the slowest layers on free cores"),
    digital: list[str] = typer.Option([], help="layer name pattern or type to keep digital (repeatable)"),
    json_path: Path | None = typer.Option(None, "--json", help="also write mapping and cost as JSON"),
    baseline_pes: int = typer.Option(128, min=1, help="digital baseline: systolic array of N x N INT8 MACs"),
    tokens: int | None = typer.Option(None, min=1, help="tokens (time steps) per inference for the "
                                      "per-token figures (default: inferred from the sequence layers)"),
    analog_embeddings: bool = typer.Option(False, help="map nn.Embedding tables too (one-hot reads)"),
    input_dtype: str = typer.Option("auto", help="example input: float, long (token ids) or auto "
                                                 "(long when the model starts with an nn.Embedding)"),
) -> None:
    """Map a model onto a chip (arrays, utilisation, cores, chips needed) and estimate its energy,
    latency, throughput and area per inference beside a digital INT8 baseline at the same node;
    sequence models also per token."""
    import json

    try:
        if json_path is not None:
            writable_folder(json_path.parent, "--json")
        shape = parse_shape(input_shape) if input_shape else None
        if input_dtype not in ("auto", "float", "long"):
            raise UsageError(f"--input-dtype {input_dtype!r}: use float, long or auto")
        if model not in MODEL_NAMES and not (":" in model and model.split(":")[0].endswith(".py")):
            raise UsageError(f"unknown model {model!r}: use one of {', '.join(MODEL_NAMES)} "
                             f"or FILE.py:FUNCTION")
    except UsageError as err:
        raise _fail("cannot compile", err) from err
    spec = _load_chip(chip)
    import torch

    from .compiler import compile as compile_model
    from .models import MODELS

    try:
        if model in MODELS:
            build, default_shape = MODELS[model]
            network, shape = build(), shape or default_shape
        else:
            network = load_model_file(model)
        if shape is None:
            raise UsageError("a model from a file needs --input-shape, e.g. 1,3,32,32")
        first = next((m for m in network.modules() if next(m.parameters(recurse=False), None) is not None),
                     None)
        ids = input_dtype == "long" or (input_dtype == "auto" and isinstance(first, torch.nn.Embedding))
        example = torch.zeros(shape, dtype=torch.long if ids else torch.float32)
        mapping = compile_model(network, spec, example, digital=digital, replicate=replicate,
                                tokens=tokens, analog_embeddings=analog_embeddings)
    except Exception as err:  # the model's own errors (wrong input shape, ...) as one line too
        raise _fail("cannot compile", err) from err
    from .cost import SystolicArray, estimate, peak

    report = estimate(mapping, SystolicArray(rows=baseline_pes, cols=baseline_pes))
    top = peak(spec)
    console.print(mapping)
    console.print(report)
    console.print(f"one MVM {1e9 * top.mvm_s:,.0f} ns; {top.describe()}\n"
                  f"(arrays, DACs, ADCs; {chip_kind(spec)})")
    if json_path is not None:
        data = mapping.to_dict() | {
            "cost": report.to_dict(),
            "peak": top.to_dict(),
        }
        try:
            json_path.write_text(json.dumps(data, indent=2))
        except OSError as err:
            raise _fail("cannot write --json", f"{json_path}: {err.strerror or err}") from err
        console.print(f"wrote {json_path}")


UNITS_S = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0,
           "mo": 30 * 86400.0, "y": 365 * 86400.0}


def parse_duration(text: str) -> float:
    """``"1d"`` → 86400.0: a number with an optional unit (s, m/min, h, d, w, mo, y; none: s)."""
    import re

    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*", text.lower())
    if match is None or match.group(2) not in UNITS_S | {"": 1.0}:
        raise UsageError(f"--time {text!r}: expected a number with a unit s, m, h, d, w, mo or y, e.g. 1d")
    return float(match.group(1)) * (UNITS_S.get(match.group(2), 1.0))


STREAM_CHIP = "ibm-speech-pcm"


@app.command()
def stream(
    wav: Path | None = typer.Option(None, help="mono WAV file to stream (resampled to 16 kHz with sox "
                                              "if it has another rate)"),
    generate: float | None = typer.Option(None, help="instead of --wav: synthesise a recording of this "
                                                     "many seconds with keywords at known times "
                                                     "(held-out voices; needs espeak-ng and sox)"),
    seed: int = typer.Option(0, help="seed of the generated recording and of the chip instance"),
    chip: str = typer.Option(STREAM_CHIP, help="chip preset name or YAML path, or 'digital' (no chip)"),
    time: str = typer.Option("1d", help="time after programming, e.g. 1s, 1h, 1d, 1mo, 1y"),
    model: Path | None = typer.Option(None, help="a saved streaming model (.safetensors, see save_model "
                                                 "in aimc.models.streaming); default: the built-in "
                                                 "one, trained once (seed 0) and cached"),
    threshold: float | None = typer.Option(None, help="detection threshold (default: the model's, "
                                                      "chosen on validation audio)"),
    smooth: int | None = typer.Option(None, min=1, help="posterior smoothing window, frames of 10 ms"),
    refractory: float | None = typer.Option(None, min=0.0, help="seconds without a new detection "
                                                                "after one"),
    chunk_ms: float = typer.Option(100.0, min=10.0, help="audio delivered per call, ms"),
    cache_dir: Path | None = typer.Option(None, help="cache of models and recordings (default "
                                                     "$AIMC_CACHE or ~/.cache/aimc)"),
    threads: int = typer.Option(1, min=1, help="torch threads"),
) -> None:
    """Spot keywords in a continuous signal on an analog chip: detections as they happen, then
    precision/recall (generated audio), real-time factor and modelled chip cost per frame."""
    try:
        if (wav is None) == (generate is None):
            raise UsageError("give exactly one of --wav FILE.wav or --generate SECONDS")
        if generate is not None and not 0 < generate <= 3600:
            raise UsageError(f"--generate {generate:g}: seconds must be in (0, 3600]")
        if wav is not None and not wav.is_file():
            raise UsageError(f"--wav: file not found: {wav}")
        if model is not None and not model.is_file():
            raise UsageError(f"--model: file not found: {model}")
        if threshold is not None and not 0 < threshold <= 1:
            raise UsageError(f"--threshold {threshold:g}: must be in (0, 1]")
        t_seconds = parse_duration(time)
    except UsageError as err:
        raise _fail("cannot stream", err) from err
    spec = None if chip == "digital" else _load_chip(chip)
    import torch

    from . import stream as streaming

    torch.set_num_threads(threads)
    try:
        if wav is not None:
            from .data.recording import load_wav

            audio, events = load_wav(wav), None
        else:
            from .data.recording import generate_recording, voice_split

            recording = generate_recording(generate, seed, voices=voice_split()[2],
                                           snr_db=streaming.TEST_SNR_DB, cache_dir=cache_dir)
            audio, events = recording.audio, recording.events
        if model is not None:
            from .models.streaming import load_model

            network, classes, info = load_model(model)
            detector = info.get("detector", {})
            spotter = streaming.Spotter(network, classes, detector.get("threshold", 0.5),
                                        detector.get("smooth_frames", 30), detector.get("refractory_s", 1.0),
                                        info)
        else:
            spotter = streaming.default_spotter(0, cache_dir, console=console)
    except (OSError, ValueError, RuntimeError) as err:
        raise _fail("cannot stream", err) from err
    runner, cost = spotter.model, None
    if spec is not None:
        import warnings

        from .nn import convert, drift, program

        runner, _ = convert(spotter.model, spec)
        program(runner, seed=seed)
        drift(runner, t_seconds)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cost = streaming.frame_cost(spotter.model, spec, spotter.model.lstm.input_size)
    streamer = spotter.streamer(runner, threshold=threshold, smooth_frames=smooth, refractory_s=refractory)
    streamer.chip_cost = cost
    where = "digital model" if spec is None else f"{spec.name}, {time} after programming (chip seed {seed})"
    console.print(f"streaming {len(audio) / 16000:.1f} s of audio on {where}; threshold "
                  f"{streamer.threshold:g}, smoothing {streamer.smooth_frames} frames, refractory "
                  f"{streamer.refractory_s:g} s", soft_wrap=True)

    def show(d) -> None:
        mark = ""
        if events is not None:  # a live hint; the summary's precision uses the one-to-one rule
            hit = any(e.label == d.keyword and e.start_s <= d.time_s <= e.end_s + streaming.TOLERANCE_S
                      for e in events)
            mark = "  [green]✓[/green]" if hit else "  [red]✗ false alarm[/red]"
        console.print(f"  {d.time_s:8.2f} s  [bold]{d.keyword:<6}[/bold] score {d.score:.2f}{mark}")

    result = streamer.run(audio, chunk_s=chunk_ms / 1000, on_detection=show)
    table = Table(title="stream summary")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row("audio", f"{result.duration_s:.1f} s, {result.frames} frames of 10 ms")
    table.add_row("detections", str(len(result.detections)))
    if events is not None:
        score = streaming.score_detections(result.detections, events, tolerance_s=streaming.TOLERANCE_S,
                                           duration_s=result.duration_s)
        table.add_row("keywords in the recording", str(score.true_positives + score.misses))
        table.add_row("precision", f"{score.precision:.3f}")
        table.add_row("recall", f"{score.recall:.3f}")
        table.add_row("F1", f"{score.f1:.3f}")
    load = ", ".join(f"{v:.1f}" for v in result.load)
    table.add_row("real-time factor (this CPU)", f"{result.real_time_factor:.3f} (load {load})")
    if cost is not None:
        table.add_row("chip latency per frame", f"{1e6 * cost.latency_s:.3g} µs")
        table.add_row("chip energy per frame", f"{1e9 * cost.energy_j:.3g} nJ")
        table.add_row("chip arrays", str(cost.arrays))
    console.print(table)


@app.command()
def lifetime(
    chip: str = typer.Option(DEFAULT_CHIP, help="chip preset name or YAML path"),
    policy: str = typer.Option("threshold", help="none, global, per-array, per-column, closed-loop, "
                                                 "threshold or periodic"),
    temperature: str = typer.Option(None, help="chip temperature: 25C, 300K, daily:25-85C, daily:-10-40C, "
                                               "or a CSV (time_s, temperature_k or temperature_c) covering "
                                               "--duration; default: the chip device's own temperature "
                                               "(300 K for the presets)"),
    duration: str = typer.Option("1y", help="how long to simulate, e.g. 1d, 1mo, 1y"),
    checkpoints: int = typer.Option(20, min=1, help="times the accuracy is measured (log-spaced from 1 s), "
                                                    "each followed by a checkpoint"),
    repeats: int = typer.Option(1, min=1, help="chip instances"),
    seed: int = typer.Option(0, help="seed of data split, training and chip instances"),
    epochs: int = typer.Option(30, min=1, help="digital training epochs of the demo network"),
    out: Path = typer.Option(Path("aimc-lifetime"), help="folder for lifetime.json, lifetime.png and the "
                                                         "checkpoint (its parent must exist)"),
    verify: bool = typer.Option(False, "--verify", help="program and refresh with program-and-verify "
                                                        "(aimc.calibration.ProgramVerify defaults)"),
    fresh: bool = typer.Option(False, "--fresh", help="ignore a checkpoint in --out and start over"),
) -> None:
    """Simulate the demo network on a chip for a year (or --duration): drift, temperature,
    calibration, refresh and wear; accuracy over time, energy overhead and downtime."""
    try:
        writable_folder(out if out.exists() else out.parent, "--out")
        seconds = parse_duration(duration)
        from .devices.temperature import parse_profile
        from .evaluation.lifetime import get_policy

        chosen = get_policy(policy)
        if verify:
            from .calibration import ProgramVerify

            chosen = chosen.model_copy(update={"refresh": chosen.refresh.model_copy(
                update={"verify": ProgramVerify()})})
        profile = parse_profile(temperature) if temperature is not None else None
        if profile is not None:
            profile.check_covers(seconds)
    except (UsageError, ValueError, FileNotFoundError) as err:
        raise _fail("bad lifetime arguments", err) from err
    spec = _load_chip(chip)
    from .demo import run_lifetime

    try:
        run_lifetime(spec, chosen, profile, seconds, out_dir=out, checkpoints=checkpoints, repeats=repeats,
                     seed=seed, epochs=epochs, console=console, resume=not fresh)
    except ValueError as err:
        raise _fail("lifetime", err) from err


def chip_kind(spec) -> str:
    return f"{spec.cores} cores of {spec.array.rows}x{spec.array.cols}, {spec.timing.phases}-phase read"


WORKLOAD_NAMES = ("digits-cnn", "mnist5k-mlp", "mnist5k-cnn", "fashion-cnn",
                  "kws-gru", "fashion-vit")  # = aimc.evaluation.workloads


@app.command()
def bench(
    quick: bool = typer.Option(False, "--quick", help="the short version: the image workloads on the first "
                                                      "500 (MNIST 5k) or 1,000 (Fashion-MNIST) test images; "
                                                      "still 20 chip instances"),
    workload: list[str] = typer.Option(None, "--workload", "-w", help=f"workload (repeatable; default all: "
                                                                     f"{', '.join(WORKLOAD_NAMES)})"),
    chip: list[str] = typer.Option(None, "--chip", "-c", help="chip preset or YAML (repeatable; default "
                                                              "every preset but 'ideal')"),
    instances: int = typer.Option(20, min=2, help="chip instances per trained network and chip"),
    seed: int = typer.Option(0, help="(first) training seed; the chip instances' seeds derive from it"),
    seeds: int = typer.Option(1, min=1, help="trained networks per workload (training seeds SEED, SEED+1, "
                                             "...); with 2 or more the intervals are over the networks' "
                                             "means and cover training seeds and chip instances"),
    workers: int = typer.Option(None, min=1, help="threads reading chip instances (default: 2 if 2 cores "
                                                  "are free; same numbers)"),
    out: Path = typer.Option(Path("aimc-bench"), help="folder for bench.json and bench.md (created if "
                                                      "missing)"),
    store: Path = typer.Option(None, help="also write every cell to this results store (SQLite, as "
                                          "`aimc sweep`), as sweep 'bench', 'bench-quick' (and '-seedsN'), "
                                          "for `aimc report`"),
) -> None:
    """The benchmark suite: standard workloads on every chip preset, accuracy from 1 s to 1 year
    with 95 % intervals over chip instances (and training seeds with --seeds), effective bits,
    energy, latency and TOPS/W."""
    import os
    import time

    try:
        writable_folder(out if out.exists() else out.parent, "--out")
    except UsageError as err:
        raise _fail("cannot write results", err) from err
    bad = [w for w in workload or () if w not in WORKLOAD_NAMES]
    if bad:
        raise _fail("unknown workload", f"{', '.join(bad)} (known: {', '.join(WORKLOAD_NAMES)})")
    for name in chip or ():
        _load_chip(name)
    import json

    import torch

    from .evaluation.bench import markdown_table, rich_table, run_bench
    from .evaluation.workloads import MissingData

    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = min(2, cores)
    start = time.perf_counter()
    settings = {"quick": quick, "instances": instances, "seed": seed, "seeds": seeds, "workers": workers,
                "torch": torch.__version__, "aimc": __version__}
    done: list = []
    out.mkdir(exist_ok=True)
    over = (f"{instances} chip instances of one trained network" if seeds == 1 else
            f"the means of {seeds} trained networks (training seeds {seed}–{seed + seeds - 1}), each on "
            f"{instances} chip instances")
    caption = (f"aimc bench{' --quick' if quick else ''}: test accuracy (%), mean ± 95 % CI over {over}; "
               f"cost: nominal [90 % interval] of the first network")

    results = None
    if store is not None:
        import sqlite3

        from .sweep import Store
        from .sweep.runner import suite_rows

        try:
            writable_folder(store.parent if str(store.parent) else Path("."), "--store")
            results = Store(store)
        except (UsageError, OSError, ValueError, sqlite3.Error) as err:
            raise _fail("cannot write results", f"--store {store}: {err}") from err
    identity = {k: settings[k] for k in ("quick", "instances", "seed", "seeds")}
    suite_name = f"bench{'-quick' if quick else ''}" + (f"-seeds{seeds}" if seeds > 1 else "")
    stored: list[bool] = []

    def save(cell=None) -> None:  # after every cell: a late failure loses nothing finished
        if cell is not None:
            done.append(cell)
        (out / "bench.json").write_text(json.dumps({
            "settings": settings, "wall_time_s": time.perf_counter() - start, "complete": cell is None,
            "cells": [c.to_dict() for c in done]}, indent=1))
        if done:
            (out / "bench.md").write_text(f"{markdown_table(done)}\n\n{caption}\n")
        if cell is not None and results is not None:  # after the files: they keep the cell anyway
            try:
                stored.append(results.write_cell(suite_name, *suite_rows(cell, identity)))
            except sqlite3.Error as err:
                console.print(f"[yellow]warning:[/] cell {cell.workload} on {cell.chip} not stored in "
                              f"{store} ({err}); it is in {out / 'bench.json'}")

    try:
        cells = run_bench(workload or None, chip or None, instances=instances, quick=quick, seed=seed,
                          seeds=seeds, workers=workers, console=console, on_cell=save)
    except MissingData as err:
        raise _fail("missing data", err) from err
    save()
    wall = time.perf_counter() - start
    console.print(rich_table(cells, caption))
    to_store = (f", and {sum(stored)} cells to {store} as sweep {suite_name!r} ({len(stored) - sum(stored)} "
                f"stored before; `aimc report {store}`)" if results is not None else "")
    console.print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}{to_store} in {wall:.0f} s")


# --- sweeps and reports (aimc.sweep) -------------------------------------------------------------

@app.command()
def sweep(
    grid: Path = typer.Argument(..., help="grid YAML file (chips, models, params, times, repeats)"),
    store: Path = typer.Option(Path("results.db"), help="SQLite results store (created if missing; "
                                                        "finished cells in it are skipped)"),
    executor: str = typer.Option("inprocess", help="inprocess, processes or ray"),
    workers: int | None = typer.Option(None, min=1, help="worker processes / Ray CPUs (default: cores)"),
    address: str | None = typer.Option(None, help="Ray cluster to join, HOST:PORT (default: a local "
                                                  "Ray started on demand)"),
    cache_dir: Path | None = typer.Option(None, help="cache of trained workloads (default "
                                                     "~/.cache/aimc/sweep-models)"),
) -> None:
    """Run a grid of chips x ChipSpec fields x workloads over chip instances and times; every
    finished cell is stored at once, so an interrupted sweep resumes where it stopped."""
    import sqlite3

    from .evaluation.workloads import MissingData
    from .sweep import EXECUTORS, GridError, load_grid, run_sweep

    try:
        if executor not in EXECUTORS:
            raise UsageError(f"--executor {executor!r}: use one of {', '.join(EXECUTORS)}")
        writable_folder(store.parent if str(store.parent) else Path("."), "--store")
        spec = load_grid(grid)
    except (UsageError, GridError) as err:
        raise _fail("cannot sweep", err) from err
    try:
        summary = run_sweep(spec, store, executor, workers=workers, address=address, cache_dir=cache_dir,
                            console=console)
    except MissingData as err:
        raise _fail("missing data", err) from err
    except sqlite3.Error as err:
        raise _fail(f"store {store}", err) from err
    except (RuntimeError, ValueError) as err:
        raise _fail("sweep failed", err) from err
    console.print(f"sweep {summary.sweep}: {summary.cells} cells, {len(summary.computed)} computed, "
                  f"{len(summary.skipped)} already stored"
                  + (f", {len(summary.lost_race)} stored first by another sweep" if summary.lost_race else "")
                  + f"; {summary.rows_written} rows written to {store} in {summary.wall_s:.1f} s")


@app.command()
def report(
    store: Path = typer.Argument(..., help="SQLite results store written by `aimc sweep`"),
    out: Path = typer.Option(Path("report.html"), "-o", "--out", help="HTML file to write"),
    sweep_name: str | None = typer.Option(None, "--sweep", help="one sweep of the store (default: all)"),
) -> None:
    """One self-contained HTML page of a results store: accuracy over time with 95 % bands,
    heat maps over two swept parameters, per-chip tables, energy with intervals."""
    try:
        if not store.is_file():
            raise UsageError(f"store not found: {store}")
        writable_folder(out.parent if str(out.parent) else Path("."), "-o")
    except UsageError as err:
        raise _fail("cannot report", err) from err
    import sqlite3

    from .sweep import write_report

    try:
        path = write_report(store, out, sweep_name)
    except sqlite3.Error as err:
        raise _fail("cannot report", f"{store} is not a readable aimc results store ({err})") from err
    except ValueError as err:
        raise _fail("cannot report", err) from err
    console.print(f"wrote {path}")


if __name__ == "__main__":
    app()
