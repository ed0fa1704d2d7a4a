"""Standard normal numbers for read noise, reproducible and without per-read allocation.

Read noise needs one fresh normal number per partial sum and read; with PyTorch's sampler that
cost a fifth of an analog forward on a CPU. :class:`NormalSource` draws them from a seeded
counter-based stream (:mod:`aimc.array.counter_normals`, four times as fast) or from a seeded
``torch.Generator`` (PyTorch's Mersenne Twister + Box-Muller sampler) into a buffer it reuses, so
a read does not pay for a fresh multi-megabyte allocation (page faults) every time.
"""

from __future__ import annotations

import numpy as np
import torch

_COUNTER_TAG = 0x4E524D4C43545231  # marks a counter-method state ("NRMLCTR1")


class NormalSource:
    """Reproducible N(0, 1) numbers from a seeded generator and a reused buffer.

    ``method``: ``"counter"`` (default; every figure of the README) draws from the counter-based
    SplitMix64 + Box–Muller source of :mod:`aimc.array.counter_normals` (four times as fast as
    PyTorch's sampler on the CPU, and the same numbers on every machine); ``"torch"`` from a
    seeded ``torch.Generator`` (PyTorch's Mersenne Twister and Box–Muller; the default until the
    counter sampler replaced it; other numbers for the same seed).

    Example:
        >>> src = NormalSource(seed=0)
        >>> src.draw((3, 4)).shape
        torch.Size([3, 4])

    The returned tensor is a view into the buffer: use it before the next :meth:`draw`.
    """

    def __init__(self, seed: int = 0, method: str = "counter") -> None:
        if method not in ("torch", "counter"):
            raise ValueError(f"normal-number method must be 'torch' or 'counter', got {method!r}")
        self.method = method
        self._generator = torch.Generator()
        self._buffer = torch.empty(0, dtype=torch.float32)
        self._key, self._counter = 0, 0
        self.seed(seed)

    def seed(self, seed: int) -> None:
        """Restart the stream from ``seed``."""
        self._generator.manual_seed(seed)
        self._key, self._counter = int(seed) & (2**64 - 1), 0

    def get_state(self) -> torch.Tensor:
        """The stream's state (a uint8 tensor), to resume it with :meth:`set_state`. Either method
        gives a tensor of the size of a ``torch.Generator`` state (a counter state is a tag, the
        key and the counter, zero-padded), so checkpoints that store it keep their layout."""
        state = self._generator.get_state()
        if self.method == "counter":
            head = np.array([_COUNTER_TAG, self._key, self._counter], dtype=np.uint64).view(np.uint8)
            state = torch.zeros_like(state)
            state[:head.size] = torch.from_numpy(head)
        return state

    def set_state(self, state: torch.Tensor) -> None:
        """Continue the stream from a state of :meth:`get_state` (of either method: the state
        says which, and the source switches to it)."""
        head = state[:24].contiguous().numpy().view(np.uint64) if state.numel() >= 24 else None
        if head is not None and int(head[0]) == _COUNTER_TAG:
            self.method, self._key, self._counter = "counter", int(head[1]), int(head[2])
            return
        self.method = "torch"
        self._generator.set_state(state)

    def draw(self, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
        """Standard normal numbers of ``shape`` (float32)."""
        n = 1
        for s in shape:
            n *= s
        if self._buffer.numel() < n or self._buffer.is_inference():
            with torch.inference_mode(False):  # writable by later draws outside inference mode too
                self._buffer = torch.empty(n, dtype=torch.float32)
        if self.method == "counter":
            from .counter_normals import fill  # numba: imported at the first draw

            self._counter += fill(self._buffer[:n].numpy(), self._key, self._counter)
            return self._buffer[:n].view(shape)
        return self._buffer[:n].normal_(generator=self._generator).view(shape)
