"""A streaming keyword spotter: an LSTM over log-mel frames with a per-frame classifier, trained on
continuous recordings (:mod:`aimc.data.recording`) with per-frame targets.

Why not the clip classifier. A keyword spotter trained on isolated 1 s clips answers once, at
the clip's end, from a zero state; run over a continuous stream with its state kept forever it
sees inputs it was never trained on (long silences, words back to back, a state that has run
for minutes). This model is trained on the stream itself: per-frame targets (the keyword for
0.3 s after each keyword, ``_unknown_`` after other words, ``_silence_`` elsewhere, the inside
of a keyword ignored) by truncated back-propagation through time (Williams & Peng, Neural
Computation 2, 1990): each recording is cut into chunks of ``chunk`` frames, the chunks of a
batch of recordings are fed in order, and the state is carried from one chunk to the next
(detached, so gradients stop at the chunk boundary), as the runtime carries it.

Architecture. Per-band standardisation of the log-mel input (mean and std of the training
frames, digital), one ``nn.LSTM`` (40 → ``hidden``; its ``W_ih`` and ``W_hh`` go on tiles under
:func:`aimc.convert`) and a linear classifier per frame (on a tile too). ``forward(x, state)``
returns ``(logits, state)``: the protocol :class:`aimc.stream.KeywordStreamer` drives.

Example:
    >>> model = StreamingKWS(classes=12)
    >>> logits, state = model(torch.zeros(1, 5, 40))
    >>> logits.shape, state[0].shape
    (torch.Size([1, 5, 12]), torch.Size([1, 1, 128]))
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn


class StreamingKWS(nn.Module):
    """Standardise → LSTM → per-frame linear classifier (see the module docstring)."""

    def __init__(self, features: int = 40, hidden: int = 128, classes: int = 12, layers: int = 1) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        """``x`` ``[batch, frames, features]`` and the state ``(h, c)`` from the last call (None at
        the start) → logits ``[batch, frames, classes]`` and the new state."""
        y, state = self.lstm((x - self.mean) / self.std, state)
        return self.head(y), state


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`train_streaming` (chosen on validation recordings)."""

    hidden: int = 128
    epochs: int = 40
    batch: int = 16  # recordings per batch (streams trained side by side)
    chunk: int = 100  # frames per truncated-BPTT chunk (1 s)
    lr: float = 3e-3
    after_s: float = 0.3  # keyword target window after a keyword's end (s)
    seed: int = 0


def train_streaming(recordings: Sequence, classes: Sequence[str], config: TrainConfig | None = None,
                    *, progress: bool = True) -> StreamingKWS:
    """Train a :class:`StreamingKWS` on ``recordings`` (:class:`aimc.data.recording.Recording`)
    by truncated BPTT with the state carried across chunks (module docstring). Adam, the
    cross-entropy of every frame (ignored frames skipped), learning rate annealed to 0 on a cosine
    (Loshchilov & Hutter, ICLR 2017); each epoch the streams start at a
    random offset within one chunk so the chunk boundaries move. Seeded by ``config.seed``."""
    from rich.progress import Progress

    from ..data.keywords import log_mel

    config = config or TrainConfig()
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)  # nn.LSTM's initialisation draws from the global generator
    feats = [log_mel(r.audio) for r in recordings]
    targets = [r.frame_targets(classes, len(f), after_s=config.after_s) for r, f in zip(recordings, feats,
                                                                                           strict=True)]
    stacked = np.concatenate(feats)
    model = StreamingKWS(stacked.shape[1], config.hidden, len(classes))
    model.mean.copy_(torch.from_numpy(stacked.mean(axis=0)))
    model.std.copy_(torch.from_numpy(stacked.std(axis=0) + 1e-3))
    length = min(len(f) for f in feats)
    x_all = torch.from_numpy(np.stack([f[:length] for f in feats]))
    y_all = torch.from_numpy(np.stack([t[:length] for t in targets]))
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps_per_epoch = ((length - config.chunk) // config.chunk) * -(-len(feats) // config.batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    model.train()
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("training the streaming keyword spotter", total=config.epochs * steps_per_epoch)
        for _ in range(config.epochs):
            order = torch.randperm(len(feats), generator=gen)
            for b in range(0, len(feats), config.batch):
                rows = order[b:b + config.batch]
                offset = int(torch.randint(config.chunk, (1,), generator=gen))
                state = None
                for s in range(offset, length - config.chunk + 1, config.chunk):
                    x, y = x_all[rows, s:s + config.chunk], y_all[rows, s:s + config.chunk]
                    logits, state = model(x, state)
                    state = tuple(v.detach() for v in state)
                    loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
                    optimiser.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    optimiser.step()
                    schedule.step()
                    bar.advance(task)
    return model.eval()


def save_model(model: StreamingKWS, path: str | Path, classes: Sequence[str],
               meta: dict | None = None) -> None:
    """Weights to ``path`` (safetensors) with the architecture and classes in its metadata."""
    from safetensors.torch import save_file

    lstm = model.lstm
    info = {"features": lstm.input_size, "hidden": lstm.hidden_size, "layers": lstm.num_layers,
            "classes": list(classes), **(meta or {})}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(path).with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp),
              metadata={"aimc": json.dumps(info)})
    tmp.replace(path)


def load_model(path: str | Path) -> tuple[StreamingKWS, list[str], dict]:
    """A model saved by :func:`save_model`: the model (eval mode), its classes and metadata."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with safe_open(str(path), "pt") as handle:
            info = json.loads((handle.metadata() or {})["aimc"])
        weights = load_file(str(path))
    except Exception as err:  # safetensors raises its own types for a bad header
        raise ValueError(f"{path} is not a streaming keyword model saved by aimc (a safetensors file "
                         f"with 'aimc' metadata): {err}") from err
    model = StreamingKWS(info["features"], info["hidden"], len(info["classes"]), info["layers"])
    model.load_state_dict(weights)
    return model.eval(), list(info["classes"]), info
