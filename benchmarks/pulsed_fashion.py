"""On-chip pulsed training of a 784-256-10 MLP on Fashion-MNIST: digital SGD vs analog SGD on
constant-step devices vs analog SGD on soft-bounds devices vs Tiki-Taka on the same soft-bounds
devices, with Tiki-Taka's settings chosen on a validation split.

Data: the last ``--val-size`` (10,000) training images are the validation split; training uses
the first 50,000 only; the test set scores the final runs only. Stage 1 (selection): Tiki-Taka's
``gamma`` and ``columns_per_transfer`` on the grid ``--grid-gamma`` x ``--grid-columns``, each
trained ``--select-epochs`` epochs on the first ``--select-size`` training images with
``--select-seeds`` seeds, scored on the validation split; the best mean is kept. Stage 2: the
four runs, ``--instances`` seeds each, scored on the test set; differences are paired over seeds.

Every instance ``k`` uses seed ``k`` for the initial weights (the same for all four runs), the
shuffling, and the chip (device-to-device draws, pulse and read noise). All runs use the same
epochs, batch size (64) and learning-rate schedule (``lr`` halved after every epoch). Devices:
2000 nominal states between the bounds ``±1`` (``dw_min = 0.001``), 30 % cycle-to-cycle and
30 % device-to-device spread of the step and of the bounds, 1 % device-to-device up/down
asymmetry (aihwkit's ``PulsedDevice`` defaults, bounds from its Gokmen-Vlasov preset). Forward
and backward reads: 7-bit DAC, 9-bit ADC with output noise (``aimc.training.PulsedIO``). Pulse
updates draw the shared row and column trains (``PulseUpdate(sampler="shared")``, the default).

Needs the Debian package ``dataset-fashion-mnist``. Run (the README's tables, with the defaults:
selection 3 epochs on 50,000 images, one seed per cell; final runs 3 epochs, 8 seeds; about
7 minutes on one core): ``python benchmarks/pulsed_fashion.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from torch import nn

from aimc.data import fashion_mnist
from aimc.devices import ConstantStep, SoftBounds
from aimc.training import AnalogSGD, TikiTaka, to_pulsed

CONFIGS = {
    "digital": "(a) digital SGD",
    "constant": "(b) analog SGD, constant step",
    "softbounds": "(c) analog SGD, soft bounds",
    "tikitaka": "(d) Tiki-Taka, soft bounds",
}
DEVICE = dict(dw_min=0.001, dw_min_dtod=0.3, dw_min_std=0.3, up_down=0.0, up_down_dtod=0.01,
              w_max=1.0, w_min=-1.0, w_max_dtod=0.3, w_min_dtod=0.3)


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def build(config: str, seed: int, tiki_taka: TikiTaka, lr: float):
    torch.manual_seed(seed)
    model = mlp()
    if config == "digital":
        return model, torch.optim.SGD(model.parameters(), lr=lr)
    if config == "constant":
        model = to_pulsed(model, ConstantStep(**DEVICE), seed=seed)
    elif config == "softbounds":
        model = to_pulsed(model, SoftBounds(**DEVICE), seed=seed)
    else:
        model = to_pulsed(model, SoftBounds(**DEVICE), seed=seed, algorithm=tiki_taka)
    return model, AnalogSGD(model.parameters(), lr=lr)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    hits = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item() for i in range(0, len(x), 1000))
    model.train()
    return hits / len(x)


def stats(values: list[float]) -> tuple[float, float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else float("nan")
    return mean, std, std / math.sqrt(n)


def plot(record: dict, path: Path) -> None:
    """Test accuracy after each epoch, mean ± std over the seeds, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for config, result in record["results"].items():
        acc = 100 * torch.tensor(result["epoch_accuracy"])  # [seeds, epochs]
        epochs = torch.arange(1, acc.shape[1] + 1)
        mean, std = acc.mean(0), acc.std(0) if acc.shape[0] > 1 else torch.zeros(acc.shape[1])
        ax.errorbar(epochs, mean, yerr=std, marker="o", capsize=3, label=CONFIGS[config])
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%), mean ± std over seeds")
    ax.set_xticks(epochs.tolist())
    ax.set_title(f"Fashion-MNIST, 784-256-10 MLP, {len(acc)} seeds")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def train(config: str, seed: int, tiki_taka: TikiTaka, lr: float, epochs: int, x, y, scores,
          progress=None) -> tuple[list[float], float]:
    """Train one run; returns the accuracy on each of ``scores`` (``[(x, y), ...]``) after every
    epoch (``[epoch][split]``) and the seconds taken."""
    model, opt = build(config, seed, tiki_taka, lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    shuffle = torch.Generator().manual_seed(seed)
    start, per_epoch, batch = time.perf_counter(), [], 64
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=shuffle)
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            if progress is not None:
                progress()
        sched.step()
        per_epoch.append(accuracy(model, *scores[0]))
    return per_epoch, time.perf_counter() - start


def select(args, x, y, xv, yv, console) -> tuple[TikiTaka, dict]:
    """Stage 1: Tiki-Taka's gamma and columns per transfer by validation accuracy."""
    gammas = [float(v) for v in args.grid_gamma.split(",")]
    columns = [int(v) for v in args.grid_columns.split(",")]
    xs, ys = x[:args.select_size], y[:args.select_size]
    table = Table(title=f"Selection: Tiki-Taka, {args.select_epochs} epoch(s) on {len(xs)} training images, "
                        f"{args.select_seeds} seed(s), validation accuracy (%) on {len(xv)} held-out "
                        "training images")
    table.add_column("gamma \\ columns per transfer")
    for c in columns:
        table.add_column(str(c))
    grid, start = {}, time.perf_counter()
    for gamma in gammas:
        row = []
        for c in columns:
            tt = TikiTaka(gamma=gamma, columns_per_transfer=c, transfer_lr=args.tt_lr)
            accs = [train("tikitaka", 1000 + k, tt, args.lr, args.select_epochs, xs, ys, [(xv, yv)])[0][-1]
                    for k in range(args.select_seeds)]
            grid[f"{gamma},{c}"] = sum(accs) / len(accs)
            row.append(f"{100 * grid[f'{gamma},{c}']:.2f}")
            console.print(f"  gamma {gamma}, {c} columns per transfer: validation "
                          f"{', '.join(f'{100 * a:.2f}' for a in accs)} %")
        table.add_row(str(gamma), *row)
    console.print(table)
    best = max(grid, key=grid.get)
    gamma, c = best.split(",")
    chosen = TikiTaka(gamma=float(gamma), columns_per_transfer=int(c), transfer_lr=args.tt_lr)
    console.print(f"selected gamma {float(gamma)}, {int(c)} columns per transfer (validation "
                  f"{100 * grid[best]:.2f} %); selection took {time.perf_counter() - start:.0f} s")
    return chosen, {"grid": grid, "gamma": float(gamma), "columns_per_transfer": int(c),
                    "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--instances", type=int, default=8, help="chip instances (seeds) per run")
    parser.add_argument("--val-size", type=int, default=10000, help="last training images held out")
    parser.add_argument("--train-size", type=int, help="training images used (default: all but validation)")
    parser.add_argument("--lr", type=float, default=0.1, help="initial learning rate (all runs)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--grid-gamma", default="0.1,0.3,1.0", help="Tiki-Taka gammas tried")
    parser.add_argument("--grid-columns", default="8,32,128", help="Tiki-Taka columns per transfer tried")
    parser.add_argument("--select-size", type=int, default=50000, help="training images per selection run")
    parser.add_argument("--select-epochs", type=int, default=3)
    parser.add_argument("--select-seeds", type=int, default=1)
    parser.add_argument("--tt", metavar="GAMMA,COLUMNS", help="skip the selection, use these")
    parser.add_argument("--tt-lr", type=float, default=1.0, help="Tiki-Taka transfer learning rate")
    parser.add_argument("--out", default="aimc-out/pulsed_fashion")
    parser.add_argument("--replot", metavar="RESULTS_JSON", help="only redraw the plot of a finished run")
    args = parser.parse_args()
    if args.replot:
        path = Path(args.replot)
        plot(json.loads(path.read_text()), path.with_name("accuracy.png"))
        return
    torch.set_num_threads(args.threads)
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configs {sorted(unknown)}; choose from {list(CONFIGS)}")
    data = fashion_mnist()
    n_train = len(data.x_train) - args.val_size
    xv, yv = data.x_train[n_train:].reshape(-1, 784), data.y_train[n_train:]
    n_train = min(n_train, args.train_size or n_train)
    x, y = data.x_train[:n_train].reshape(-1, 784), data.y_train[:n_train]
    xt, yt = data.x_test.reshape(-1, 784), data.y_test
    console = Console(width=130)
    selection = None
    if args.tt:
        gamma, c = args.tt.split(",")
        tiki_taka = TikiTaka(gamma=float(gamma), columns_per_transfer=int(c), transfer_lr=args.tt_lr)
    elif "tikitaka" in configs:
        tiki_taka, selection = select(args, x, y, xv, yv, console)
    else:
        tiki_taka = TikiTaka()
    batch = 64
    steps = math.ceil(len(x) / batch) * args.epochs
    results = {c: {"accuracy": [], "epoch_accuracy": [], "seconds": []} for c in configs}
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("training", total=steps * len(configs) * args.instances)
        for seed in range(args.instances):
            for config in configs:
                bar.update(task, description=f"instance {seed}: {config}")
                per_epoch, secs = train(config, seed, tiki_taka, args.lr, args.epochs, x, y, [(xt, yt)],
                                        lambda: bar.advance(task))
                results[config]["seconds"].append(secs)
                results[config]["accuracy"].append(per_epoch[-1])
                results[config]["epoch_accuracy"].append(per_epoch)
                bar.console.print(f"instance {seed} {CONFIGS[config]}: test accuracy "
                                  f"{100 * per_epoch[-1]:.2f} % (per epoch: "
                                  f"{', '.join(f'{100 * a:.2f}' for a in per_epoch)}), {secs:.0f} s")
    table = Table(title=f"Fashion-MNIST test set, 784-256-10 ReLU MLP, {args.epochs} epochs on "
                        f"{len(x)} images, batch {batch}, lr {args.lr} halved per epoch; Tiki-Taka "
                        f"gamma {tiki_taka.gamma:g}, {tiki_taka.columns_per_transfer} columns per transfer")
    for col in ("run", "test accuracy (%), mean ± std", "n", "SE", "s / run"):
        table.add_column(col)
    summary = {}
    for config in configs:
        mean, std, se = stats(results[config]["accuracy"])
        secs = sum(results[config]["seconds"]) / len(results[config]["seconds"])
        summary[config] = {"mean": mean, "std": std, "se": se, "n": len(results[config]["accuracy"]),
                           "seconds": secs}
        table.add_row(CONFIGS[config], f"{100 * mean:.2f} ± {100 * std:.2f}", str(summary[config]["n"]),
                      f"{100 * se:.2f}", f"{secs:.0f}")
    console.print(table)
    comparisons = {}
    for a, b, label in (("constant", "digital", "(b) - (a)"), ("softbounds", "digital", "(c) - (a)"),
                        ("tikitaka", "digital", "(d) - (a)"), ("tikitaka", "softbounds", "(d) - (c)")):
        if a in results and b in results:
            diffs = [p - q for p, q in zip(results[a]["accuracy"], results[b]["accuracy"], strict=True)]
            mean, std, se = stats(diffs)
            comparisons[label] = {"mean": mean, "std": std, "se": se}
            console.print(f"{label}: {100 * mean:+.2f} points (paired over {len(diffs)} seeds, "
                          f"SE {100 * se:.2f})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"args": vars(args), "device": DEVICE, "tiki_taka": tiki_taka.model_dump(mode="json"),
              "selection": selection, "results": results, "summary": summary, "comparisons": comparisons}
    (out / "results.json").write_text(json.dumps(record, indent=2))
    plot(record, out / "accuracy.png")
    console.print(f"wrote {out / 'results.json'} and {out / 'accuracy.png'}")


if __name__ == "__main__":
    main()
