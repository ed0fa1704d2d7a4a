"""The crossbar itself: Ohm's law at each cell, Kirchhoff's current law on each column.

Ideal-wire model: row ``i`` is held at voltage ``V_i`` by its driver, every column is held at
virtual ground by its read-out, so cell ``(i, j)`` carries ``I_ij = G_ij * V_i`` (Ohm) and column
``j`` collects ``I_j = sum_i G_ij V_i`` (Kirchhoff): ``I = V @ G``, one matrix product for a whole
batch of input vectors. Wire resistance (IR drop) is not modelled here.

Read noise. Each read sees every device with an independent Gaussian error of standard deviation
``sigma_ij``. Given the voltages, the column current is then Gaussian with mean ``V @ G`` and
variance ``(V * V) @ (sigma * sigma)`` (a sum of independent Gaussians), so sampling the output
needs one more matrix product and one normal number per output, instead of a noisy copy of ``G``
per input vector: equal in law, and fresh at every read.

Shapes: ``G`` is ``[..., rows, cols]`` (a leading dimension stacks the arrays a matrix is split
over), ``V`` is ``[..., batch, rows]`` and broadcasts against it; currents are ``[..., batch, cols]``.
"""

from __future__ import annotations

import torch


def column_currents(
    v: torch.Tensor,
    g: torch.Tensor,
    g_var: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Column currents ``I = V @ G`` plus read noise of variance ``(V*V) @ g_var`` if given.

    Args:
        v: row voltages (V), ``[..., batch, rows]``.
        g: conductances (S), ``[..., rows, cols]``.
        g_var: per-device read-noise variance (S^2), same shape as ``g``, or None.
        generator: source of the read noise.

    Example:
        >>> column_currents(torch.tensor([[0.2, 0.1]]), torch.tensor([[1e-5], [2e-5]]))
        tensor([[4.0000e-06]])
    """
    currents = torch.matmul(v, g)
    if g_var is not None:
        std = torch.matmul(v * v, g_var).sqrt_()
        noise = torch.randn(currents.shape, generator=generator, dtype=currents.dtype)
        currents.addcmul_(std, noise)
    return currents
