"""Plain digital training of a classifier before it goes on a chip (the starting point of every
analog study here): Adam, one-cycle learning rate, cross-entropy, seeded shuffling. Used by the
demo (:mod:`aimc.demo`), the benchmark suite's workloads (:mod:`aimc.evaluation.workloads`) and
the sweeps (:mod:`aimc.sweep`)."""

from __future__ import annotations

import torch
from rich.progress import Progress
from torch import nn

from ..data import Split


def train_digital(model: nn.Module, data: Split, epochs: int = 30, seed: int = 0,
                  progress: Progress | None = None, lr: float = 2e-3, batch_size: int = 64) -> nn.Module:
    """Plain digital training (Adam, one-cycle learning rate peaking at ``lr``, cross-entropy,
    batches of ``batch_size``) of ``model`` on ``data.x_train, data.y_train`` with seeded
    shuffling; returns the model in eval mode."""
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    n = len(data.x_train)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * -(-n // batch_size)
    )
    task = progress.add_task("training (digital)", total=epochs) if progress else None
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(data.x_train[idx]), data.y_train[idx]).backward()
            optimizer.step()
            schedule.step()
        if task is not None:
            progress.advance(task)
    if task is not None:
        progress.remove_task(task)
    model.eval()
    return model
