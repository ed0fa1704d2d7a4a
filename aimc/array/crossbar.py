"""The crossbar itself: Ohm's law at each cell, Kirchhoff's current law on each column.

Ideal-wire model: row ``i`` is held at voltage ``V_i`` by its driver, every column is held at
virtual ground by its read-out, so cell ``(i, j)`` carries ``I_ij = G_ij * V_i`` (Ohm) and column
``j`` collects ``I_j = sum_i G_ij V_i`` (Kirchhoff): ``I = V @ G``, one matrix product for a whole
batch of input vectors. Wire resistance (IR drop) is not modelled here.

Read noise. Each read sees every device with an independent Gaussian error of standard deviation
``sigma_ij``. Given the voltages, the column current is then Gaussian with mean ``V @ G`` and
variance ``(V * V) @ (sigma * sigma)`` (a sum of independent Gaussians), so sampling the output
needs one more product and one normal number per output, instead of a noisy copy of ``G`` per
input vector: equal in law, and fresh at every read. The same holds for any linear map that
routes voltages to cells, e.g. a convolution that applies one array to every image patch, so the
product is a parameter (``op``).

Shapes for the default ``op`` (matmul): ``G`` is ``[..., rows, cols]`` (a leading dimension stacks
the arrays a matrix is split over), ``V`` is ``[..., batch, rows]`` and broadcasts against it;
currents are ``[..., batch, cols]``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .noise import NormalSource

LinearOp = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def column_currents(
    v: torch.Tensor,
    g: torch.Tensor,
    g_var: torch.Tensor | None = None,
    normals: NormalSource | None = None,
    op: LinearOp = torch.matmul,
    var_bias: torch.Tensor | None = None,
    shot: torch.Tensor | None = None,
) -> torch.Tensor:
    """Column currents ``I = op(V, G)`` plus Gaussian noise of variance
    ``op(V*V, g_var) + var_bias + op(|V|, shot)``.

    Args:
        v: row voltages (V).
        g: conductances (S).
        g_var: per-device read-noise variance (S^2), same layout as ``g``, or None.
        normals: source of the standard normal numbers (needed with any noise term).
        op: the linear map from voltages and conductances to currents.
        var_bias: input-independent variance per output (thermal noise), broadcast to ``I``.
        shot: per-device shot-noise variance per unit of ``|V|`` (same layout as ``g``).

    Example:
        >>> column_currents(torch.tensor([[0.2, 0.1]]), torch.tensor([[1e-5], [2e-5]]))
        tensor([[4.0000e-06]])
    """
    currents = op(v, g)
    if g_var is None and var_bias is None and shot is None:
        return currents
    if normals is None:
        raise ValueError("read noise needs a NormalSource")
    with torch.no_grad():  # noise is a sample, not a function to differentiate
        var = op(v * v, g_var) if g_var is not None else torch.zeros_like(currents)
        if var_bias is not None:
            var += var_bias
        if shot is not None:
            var += op(v.abs(), shot)
        noise = var.clamp_(min=0.0).sqrt_().mul_(normals.draw(currents.shape))
    return currents.add_(noise) if not currents.requires_grad else currents + noise
