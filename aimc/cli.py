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
MODEL_NAMES = ("digits-cnn", "mlp", "resnet18", "vgg8")  # = aimc.models.MODELS (a test checks)

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
             threads=threads)


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
) -> None:
    """Map a model onto a chip (arrays, utilisation, cores, chips needed) and estimate its energy,
    latency, throughput and area per inference beside a digital INT8 baseline at the same node."""
    import json

    try:
        if json_path is not None:
            writable_folder(json_path.parent, "--json")
        shape = parse_shape(input_shape) if input_shape else None
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
        mapping = compile_model(network, spec, torch.zeros(shape), digital=digital, replicate=replicate)
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


def chip_kind(spec) -> str:
    return f"{spec.cores} cores of {spec.array.rows}x{spec.array.cols}, {spec.timing.phases}-phase read"


if __name__ == "__main__":
    app()
