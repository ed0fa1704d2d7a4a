"""The ``aimc`` command."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from rich.console import Console
from rich.table import Table

from .chips import DEFAULT_CHIP, list_chips, load_chip

app = typer.Typer(help="aimc: analog in-memory computing for neural networks.", no_args_is_help=True)
console = Console()


@app.command()
def demo(
    out: Path = typer.Option(Path("aimc-out"), help="folder for the plot and results.json"),
    chip: str = typer.Option(DEFAULT_CHIP, help="chip preset name or YAML path"),
    repeats: int = typer.Option(10, min=1, help="chip instances per time point"),
    epochs: int = typer.Option(30, min=1, help="digital training epochs"),
    seed: int = typer.Option(0, help="seed of data split, training and chip instances"),
) -> None:
    """Train a CNN on digits, run it on an analog chip from 1 s to 1 year after programming."""
    from .demo import run_demo  # torch import deferred so `aimc --help` is fast

    try:
        load_chip(chip)
    except Exception as err:  # validation errors and unknown names alike
        console.print(f"[red]bad chip {chip!r}:[/red] {err}")
        raise typer.Exit(2) from err
    run_demo(out_dir=out, chip=chip, repeats=repeats, epochs=epochs, seed=seed, console=console)


chips_app = typer.Typer(help="Chip presets: list them, show one.", invoke_without_command=True)
app.add_typer(chips_app, name="chips")


@chips_app.callback()
def chips(ctx: typer.Context) -> None:
    """List the built-in chip presets (``aimc chips show NAME`` prints one)."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table(title="chip presets")
    for column in ("name", "device", "cores", "array", "DAC/ADC bits", "encoding", "node"):
        table.add_column(column, no_wrap=column in ("name", "encoding"))
    for name in list_chips():
        c = load_chip(name)
        table.add_row(name, c.device.name, str(c.cores), f"{c.array.rows}x{c.array.cols}",
                      f"{c.dac.bits}/{c.adc.bits}", c.encoding.kind,
                      "-" if c.node_nm is None else f"{c.node_nm:g} nm")
    console.print(table)


@chips_app.command("show")
def chips_show(name: str = typer.Argument(..., help="preset name or YAML path")) -> None:
    """Print one chip: every field, its sources and assumptions, as YAML."""
    try:
        chip = load_chip(name)
    except Exception as err:
        console.print(f"[red]bad chip {name!r}:[/red] {err}")
        raise typer.Exit(2) from err
    typer.echo(yaml.safe_dump(chip.model_dump(mode="json"), sort_keys=False, width=100))


@app.command("compile")
def compile_cmd(
    model: str = typer.Option(..., help="digits-cnn, mlp, resnet18, vgg8, or FILE.py:FUNCTION"),
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

    import torch

    from .compiler import compile as compile_model
    from .models import MODELS

    try:
        spec = load_chip(chip)
        if model in MODELS:
            build, shape = MODELS[model]
            network = build()
        elif ":" in model and model.split(":")[0].endswith(".py"):
            network, shape = _load_model_file(model), None
        else:
            raise ValueError(f"unknown model {model!r}: use one of {', '.join(MODELS)} or FILE.py:FUNCTION")
        if input_shape:
            shape = tuple(int(v) for v in input_shape.split(","))
        if shape is None:
            raise ValueError("a model from a file needs --input-shape, e.g. 1,3,32,32")
        mapping = compile_model(network, spec, torch.zeros(shape), digital=digital, replicate=replicate)
    except Exception as err:
        console.print(f"[red]cannot compile:[/red] {err}")
        raise typer.Exit(2) from err
    from .cost import SystolicArray, estimate, peak

    report = estimate(mapping, SystolicArray(rows=baseline_pes, cols=baseline_pes))
    top = peak(spec)
    console.print(mapping)
    console.print(report)
    console.print(f"one MVM {1e9 * top.mvm_s:,.0f} ns; chip peak {top.tops:.1f} TOPS, "
                  f"{top.tops_per_w:.2f} TOPS/W, {top.power_w:.2f} W (arrays, DACs, ADCs; "
                  f"{chip_kind(spec)})")
    if json_path is not None:
        data = mapping.to_dict() | {
            "cost": report.to_dict(),
            "peak": {"mvm_s": top.mvm_s, "tops": top.tops, "tops_per_w": top.tops_per_w,
                     "power_w": top.power_w, "tops_per_mm2": top.tops_per_mm2,
                     "energy_per_mvm_j": top.energy_per_mvm_j},
        }
        json_path.write_text(json.dumps(data, indent=2))
        console.print(f"wrote {json_path}")


def chip_kind(spec) -> str:
    return f"{spec.cores} cores of {spec.array.rows}x{spec.array.cols}, {spec.timing.phases}-phase read"


def _load_model_file(spec: str):
    import importlib.util

    path, function = spec.rsplit(":", 1)
    module_spec = importlib.util.spec_from_file_location("aimc_user_model", path)
    if module_spec is None or not Path(path).is_file():
        raise ValueError(f"no such file: {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, function)()


if __name__ == "__main__":
    app()
