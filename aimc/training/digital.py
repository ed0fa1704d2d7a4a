"""Plain digital training of a classifier (the starting point of every analog study here): Adam,
one-cycle learning rate, cross-entropy, batch 64, seeded shuffling. Used by the demo
(:mod:`aimc.demo`) and the sweeps (:mod:`aimc.sweep`)."""

from __future__ import annotations

import torch
from rich.progress import Progress
from torch import nn

from ..data import Split


def train_digital(
    model: nn.Module, data: Split, epochs: int = 30, seed: int = 0, progress: Progress | None = None
) -> nn.Module:
    """Plain digital training (Adam, one-cycle learning rate, cross-entropy, batch 64) with
    seeded shuffling."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    n = len(data.x_train)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=2e-3, total_steps=epochs * -(-n // 64)
    )
    task = progress.add_task("training (digital)", total=epochs) if progress else None
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, 64):
            idx = order[start:start + 64]
            optimizer.zero_grad()
            loss_fn(model(data.x_train[idx]), data.y_train[idx]).backward()
            optimizer.step()
            schedule.step()
        if task is not None:
            progress.advance(task)
    model.eval()
    return model
