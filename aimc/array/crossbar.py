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

Equal in law only while no device's read ``g + sigma * N(0, 1)`` would go negative. A real
device cannot conduct negatively, and PCM's 1/f noise reaches ``sigma/g`` = 0.76 at 1 s and 1.13
at 1 year for small conductances (the unused device of each differential pair), so 2.5 % (1 s) to
5 % (1 year) of device reads would clamp at 0 S. Measured against an explicit per-device read
clamped at 0 (:func:`per_device_currents`) on a 256x256 Gaussian matrix on the default PCM
(``benchmarks/study_read_noise_clamp.py``, ideal converters, no GDC): the output-noise read's
noise std is 0.5 % larger (ratio 0.995 at 1 s, 1 hour, 1 day and 1 year), and it lacks a mean
shift of the clamped reads that shrinks the outputs by a common factor of 3e-4 (1 s) to 7e-4
(1 year), absorbed by drift compensation, with a residual bias of 0.07 % (1 s) to 0.17 %
(1 year) of the output std, i.e. 1-2 % of the read-noise std; the demo CNN's test accuracy
moves by +0.06 +- 0.06 points at 1 s and 0.00 at 1 year when per-device reads are clamped
(paired draws, 5 chip instances, ``--demo 5``). Devices that are not PCM-like
(noise not vanishing with ``g``) would need the study rerun.

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
    ``op(V*V, g_var) + var_bias + op(|V|, shot)``. Device reads are not clamped at 0 S: 0.5 %
    more noise std than clamped per-device reads for PCM (module docstring).

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
    return add_noise(currents, column_variance(v, currents, g_var, op, var_bias, shot), normals)


def column_variance(
    v: torch.Tensor,
    currents: torch.Tensor,
    g_var: torch.Tensor | None,
    op: LinearOp = torch.matmul,
    var_bias: torch.Tensor | None = None,
    shot: torch.Tensor | None = None,
    squares: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """Variance of the noise of ``currents = op(V, G)``: ``op(V*V, g_var) + var_bias +
    op(|V|, shot)`` (arguments as in :func:`column_currents`; ``squares``: ``V*V`` if already
    computed), or None without a noise term."""
    if g_var is None and var_bias is None and shot is None:
        return None
    with torch.no_grad():  # noise is a sample, not a function to differentiate
        squares = v * v if squares is None and g_var is not None else squares
        if g_var is None:
            var = torch.zeros_like(currents)
        elif g_var.dtype == squares.dtype:
            var = op(squares, g_var)
        else:  # variances held in a lower precision (Tile.noise_precision): products in it too
            var = op(squares.to(g_var.dtype), g_var).to(currents.dtype)
        if var_bias is not None:
            var += var_bias
        if shot is not None:
            var += op(v.abs(), shot)
    return var


def add_noise(currents: torch.Tensor, var: torch.Tensor | None, normals: NormalSource | None) -> torch.Tensor:
    """``currents`` plus Gaussian noise of variance ``var`` (fresh normal numbers from
    ``normals``); in place unless ``currents`` needs a gradient."""
    if var is None:
        return currents
    if normals is None:
        raise ValueError("read noise needs a NormalSource")
    with torch.no_grad():
        noise = var.clamp_(min=0.0).sqrt_().mul_(normals.draw(currents.shape))
    return currents.add_(noise) if not currents.requires_grad else currents + noise


def per_device_currents(
    v: torch.Tensor,
    g: torch.Tensor,
    sigma: torch.Tensor,
    alpha: tuple[float, ...],
    generator: torch.Generator,
    reads: int = 1,
) -> torch.Tensor:
    """Reference read with explicit per-device noise, clamped as a device conducts: every read
    draws each device's conductance ``g + sigma * N(0, 1)``, clamps it at 0 (a device cannot
    conduct negatively; no upper clamp: ``g_max`` bounds programming targets, not reads), and
    returns ``sum_d alpha_d V @ G_d`` (e.g. ``alpha = (1, -1)`` for a differential pair).

    ``g`` and ``sigma`` are ``[planes, rows, cols]`` (S), ``v`` is ``[batch, rows]`` (V); returns
    ``[reads, batch, cols]`` (A). One conductance draw per read is shared by the batch (each
    output's law is right; outputs of one read are correlated). Slow: for validation only
    (``benchmarks/study_read_noise_clamp.py``); :func:`column_currents` is the fast path.
    """
    out = torch.empty(reads, v.shape[0], g.shape[-1], dtype=v.dtype)
    for r in range(reads):
        noisy = (g + sigma * torch.randn(g.shape, generator=generator, dtype=g.dtype)).clamp_(min=0.0)
        out[r] = sum(a * (v @ noisy[d]) for d, a in enumerate(alpha))
    return out
