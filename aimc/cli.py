"""The ``aimc`` command."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

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


@app.command()
def chips() -> None:
    """List the built-in chip presets."""
    for name in list_chips():
        console.print(f"{name}: {load_chip(name).description.strip()}")


if __name__ == "__main__":
    app()
