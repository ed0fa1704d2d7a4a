"""A small trainer for converted models: progress bar, safetensors checkpoints, exact resume.

``Trainer(model).fit((x, y), epochs)`` trains with seeded shuffling; with ``checkpoint=path`` it
saves after every epoch (model, optimizer state, the random generators of shuffling and of the
hardware-aware noise, and the epoch) to one safetensors file plus JSON metadata, and a new
Trainer on the same path resumes exactly where it stopped. Tensors only, never pickle. After
``fit`` the analog layers are re-mapped onto fresh tiles from the trained weights; program them
(``aimc.program``) before analog inference.

A checkpoint carries a *fingerprint* of what produced it: the model's parameter names and
shapes, its module types and their configurations (chip, hardware-aware noise, pulsed devices),
the optimizer's class and hyperparameters, the loss function and the seed; ``fit`` adds the
batch size and the shape and checksum of the training data. A Trainer resumes only from a
checkpoint with the same fingerprint, and says so (a :class:`ResumeWarning` naming the file and
the epoch); a checkpoint of another model or configuration, or a file that is not a readable
checkpoint, raises :class:`CheckpointError` naming the file. Checkpoints are written to a
temporary file in the same folder and moved into place (``os.replace``), so an interrupted
save never leaves a truncated checkpoint behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from pydantic import BaseModel
from rich.progress import Progress
from safetensors.torch import load_file, save_file
from torch import nn

from ..nn import AnalogLayer
from .hwa import clip_weights, sync_input_ranges

FORMAT = "aimc-trainer-1"


def save_atomic(tensors: dict[str, torch.Tensor], path: str | Path,
                metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` to the safetensors file ``path`` atomically: a temporary file of its own
    in the same folder, then ``os.replace``, so a reader (or a concurrent writer) sees the whole
    old file or the whole new one, never a part."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from: unreadable, or from another model or run."""


class ResumeWarning(UserWarning):
    """A Trainer picked up an existing checkpoint (which file, which epoch)."""


def _config(value: object) -> object:
    try:
        return value.model_dump(mode="json")
    except Exception:  # a config that does not serialise: its repr still tells changes apart
        return repr(value)


def model_fingerprint(model: nn.Module) -> dict[str, object]:
    """Architecture of ``model``: parameter/buffer names and shapes, module types, and the
    pydantic configurations its modules hold (chip specs, HWA and pulsed-device settings)."""
    configs: dict[str, object] = {}
    for name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, BaseModel):
                configs[f"{name}.{attr}"] = _config(value)
        hwa = getattr(module, "hwa", None)
        if isinstance(module, AnalogLayer) and hwa is not None:
            configs[f"{name}.hwa"] = _config(hwa.config)
    return {
        "tensors": [[k, list(v.shape), str(v.dtype)] for k, v in model.state_dict().items()],
        "modules": [[name, f"{type(m).__module__}.{type(m).__qualname__}"]
                    for name, m in model.named_modules()],
        "configs": configs,
    }


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


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
        self.resumed_from: int | None = None  # epoch of the checkpoint this trainer resumed
        self._fit_config: dict[str, object] | None = None  # of the run the checkpoint belongs to
        groups = [{k: v for k, v in g.items() if k != "params"}
                  for g in self.optimizer.state_dict()["param_groups"]]
        loss = getattr(self.loss_fn, "__qualname__", type(self.loss_fn).__qualname__)
        self.fingerprint = {
            "model": model_fingerprint(model),
            "optimizer": {"class": type(self.optimizer).__qualname__, "groups": groups},
            "loss": f"{getattr(self.loss_fn, '__module__', '')}.{loss}",
            "seed": seed,
        }
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        if self.checkpoint is not None:
            self._check_checkpoint_path(self.checkpoint)
            if self.checkpoint.is_file():
                self.load(self.checkpoint)
                self.resumed_from = self.epoch
                warnings.warn(f"resuming from checkpoint {self.checkpoint} at epoch {self.epoch}",
                              ResumeWarning, stacklevel=2)

    @staticmethod
    def _check_checkpoint_path(path: Path) -> None:
        """Before any training: the checkpoint must be writable where it was asked for."""
        folder = path.parent
        if not folder.is_dir():
            raise CheckpointError(f"checkpoint folder {folder} does not exist (checkpoint {path}); "
                                  "create it first")
        if path.is_dir():
            raise CheckpointError(f"checkpoint path {path} is a folder; give a file name")
        if not os.access(folder, os.W_OK):
            raise CheckpointError(f"checkpoint folder {folder} is not writable (checkpoint {path})")

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
        fit_config = {"batch_size": int(batch_size),
                      "x": [list(x.shape), str(x.dtype), repr(float(x.detach().double().sum()))],
                      "y": [list(y.shape), str(y.dtype), repr(float(y.detach().double().sum()))]}
        if self._fit_config is not None and self._fit_config != fit_config:
            changed = [k for k in fit_config if self._fit_config.get(k) != fit_config[k]]
            names = {"batch_size": "batch size", "x": "training inputs", "y": "training labels"}
            raise CheckpointError(
                f"checkpoint {self.checkpoint} was trained with other "
                f"{', '.join(names[k] for k in changed)} than this fit call; use the same data "
                "and batch size to resume, or another checkpoint path to start afresh")
        self._fit_config = fit_config
        if self.resumed_from is not None and self.epoch >= epochs:
            warnings.warn(f"checkpoint {self.checkpoint} is already at epoch {self.epoch} >= "
                          f"epochs={epochs}: nothing left to train", ResumeWarning, stacklevel=2)
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
        """Model, optimizer and generator states to one safetensors file, written atomically
        (a temporary file in the same folder, then ``os.replace``)."""
        path = Path(path)
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
        metadata = {"format": FORMAT,
                    "epoch": str(self.epoch),
                    "fingerprint": json.dumps(self.fingerprint, sort_keys=True, default=str),
                    "fit": json.dumps(self._fit_config),
                    "param_groups": json.dumps(self.optimizer.state_dict()["param_groups"]),
                    "optim_scalars": json.dumps(meta_state)}
        save_atomic(tensors, path, metadata)

    def _read(self, path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        from safetensors import safe_open

        try:
            tensors = load_file(str(path))
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
        except OSError as err:
            raise CheckpointError(f"checkpoint {path} cannot be read: {err.strerror or err}") from None
        except Exception:  # safetensors raises its own error type for a bad header or length
            size = path.stat().st_size
            raise CheckpointError(
                f"checkpoint {path} is not a readable safetensors file ({size} bytes; truncated "
                "or not a checkpoint): delete it or choose another checkpoint path") from None
        return tensors, metadata

    def load(self, path: str | Path) -> None:
        """Restore what :meth:`save` wrote, after checking it belongs to this model and
        configuration (raises :class:`CheckpointError` naming the file otherwise)."""
        path = Path(path)
        tensors, metadata = self._read(path)
        if metadata.get("format") != FORMAT or "fingerprint" not in metadata:
            raise CheckpointError(
                f"checkpoint {path} has no aimc trainer fingerprint (written by an older aimc or "
                "by something else): delete it or choose another checkpoint path")
        try:
            stored = json.loads(metadata["fingerprint"])
        except ValueError:
            raise CheckpointError(f"checkpoint {path} has a corrupted fingerprint") from None
        ours = json.loads(json.dumps(self.fingerprint, sort_keys=True, default=str))
        if stored != ours:
            parts = {"model": "model architecture or analog configuration", "optimizer": "optimizer",
                     "loss": "loss function", "seed": "seed"}
            differ = [label for key, label in parts.items() if stored.get(key) != ours.get(key)]
            raise CheckpointError(
                f"checkpoint {path} belongs to another model or training configuration (differs "
                f"in: {', '.join(differ) or 'format'}; fingerprint {_digest(stored)} vs "
                f"{_digest(ours)}): delete it or choose another checkpoint path")
        try:
            self._restore(tensors, metadata)
        except (KeyError, ValueError, RuntimeError) as err:
            raise CheckpointError(f"checkpoint {path} is incomplete or corrupted "
                                  f"({type(err).__name__}: {str(err).splitlines()[0][:120]})") from err

    def _restore(self, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
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
        self._fit_config = json.loads(metadata.get("fit", "null"))
