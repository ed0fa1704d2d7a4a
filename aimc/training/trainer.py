"""A small trainer for converted models: progress bar, safetensors checkpoints, exact resume.

``Trainer(model).fit((x, y), epochs)`` trains with seeded shuffling; with ``checkpoint=path`` it
saves after every epoch (model, optimizer state, the random generators of shuffling and of the
hardware-aware noise, and the epoch) to one safetensors file plus JSON metadata, and a new
Trainer on the same path resumes exactly where it stopped. Tensors only, never pickle. After
``fit`` the analog layers are re-mapped onto fresh tiles from the trained weights; program them
(``aimc.program``) before analog inference.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from rich.progress import Progress
from safetensors.torch import load_file, save_file
from torch import nn

from ..nn import AnalogLayer
from .hwa import clip_weights, sync_input_ranges


class Trainer:
    """Train any (converted) model; see the module docstring.

    Example:
        >>> trainer = Trainer(analog, checkpoint="run.safetensors")   # doctest: +SKIP
        >>> trainer.fit((x_train, y_train), epochs=5)                 # doctest: +SKIP
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        seed: int = 0,
        checkpoint: str | Path | None = None,
    ) -> None:
        self.model = model
        params = [p for p in model.parameters()]
        for layer in model.modules():
            if isinstance(layer, AnalogLayer):
                layer.weight.requires_grad_(True)
        self.optimizer = optimizer or torch.optim.Adam(params, lr=1e-3)
        self.loss_fn = loss_fn or nn.functional.cross_entropy
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        if self.checkpoint is not None and self.checkpoint.is_file():
            self.load(self.checkpoint)

    def _hwa_generators(self) -> list[torch.Generator]:
        return [m.hwa.generator for m in self.model.modules()
                if isinstance(m, AnalogLayer) and m.hwa is not None]

    def fit(self, data: tuple[torch.Tensor, torch.Tensor], epochs: int, batch_size: int = 64,
            progress: bool = True) -> list[float]:
        """Train up to ``epochs`` epochs in total (resumed runs continue); returns epoch losses."""
        x, y = data
        plain = [name for name, m in self.model.named_modules()
                 if isinstance(m, AnalogLayer) and m.hwa is None]
        if plain:
            raise ValueError(
                f"analog layers {', '.join(plain)} have no training forward: call "
                "aimc.training.enable_hwa(model) first, or train the digital model and convert it")
        if len(x) != len(y):
            raise ValueError(f"inputs and labels differ in length: {len(x)} vs {len(y)}")
        losses = []
        with Progress(transient=True, disable=not progress) as bar:
            task = bar.add_task("training", total=epochs, completed=self.epoch)
            self.model.train()
            while self.epoch < epochs:
                order = torch.randperm(len(x), generator=self.generator)
                total = 0.0
                for start in range(0, len(x), batch_size):
                    idx = order[start:start + batch_size]
                    self.optimizer.zero_grad()
                    loss = self.loss_fn(self.model(x[idx]), y[idx])
                    loss.backward()
                    self.optimizer.step()
                    clip_weights(self.model)
                    total += loss.item() * len(idx)
                losses.append(total / len(x))
                self.epoch += 1
                bar.advance(task)
                if self.checkpoint is not None:
                    self.save(self.checkpoint)
        self.model.eval()
        sync_input_ranges(self.model)  # trained DAC ranges into the converters
        for layer in self.model.modules():
            if isinstance(layer, AnalogLayer):
                layer.remap()
        return losses

    def save(self, path: str | Path) -> None:
        """Model, optimizer and generator states to one safetensors file."""
        tensors = {f"model.{k}": v.detach().contiguous() for k, v in self.model.state_dict().items()}
        meta_state = {}
        for i, state in self.optimizer.state_dict()["state"].items():
            for key, value in state.items():
                if torch.is_tensor(value):
                    tensors[f"optim.{i}.{key}"] = value.contiguous()
                else:
                    meta_state[f"{i}.{key}"] = value
        tensors["rng.shuffle"] = self.generator.get_state()
        for j, g in enumerate(self._hwa_generators()):
            tensors[f"rng.hwa.{j}"] = g.get_state()
        metadata = {"epoch": str(self.epoch),
                    "param_groups": json.dumps(self.optimizer.state_dict()["param_groups"]),
                    "optim_scalars": json.dumps(meta_state)}
        save_file(tensors, str(path), metadata=metadata)

    def load(self, path: str | Path) -> None:
        """Restore what :meth:`save` wrote."""
        from safetensors import safe_open

        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata()
        model_state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
        self.model.load_state_dict(model_state)
        state: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, i, name = key.split(".", 2)
                state.setdefault(int(i), {})[name] = value
        for key, value in json.loads(metadata["optim_scalars"]).items():
            i, name = key.split(".", 1)
            state.setdefault(int(i), {})[name] = value
        self.optimizer.load_state_dict({"state": state,
                                        "param_groups": json.loads(metadata["param_groups"])})
        self.generator.set_state(tensors["rng.shuffle"])
        for j, g in enumerate(self._hwa_generators()):
            g.set_state(tensors[f"rng.hwa.{j}"])
        self.epoch = int(metadata["epoch"])
