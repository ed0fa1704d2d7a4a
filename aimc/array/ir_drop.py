"""IR drop: nodal analysis of a crossbar with resistive wires, drivers and sense resistors.

Circuit (one physical array of ``M`` rows x ``N`` columns; SI units):

* row ``i`` is driven by a voltage ``V_i`` through ``r_driver`` and one wire segment ``r_row``
  into its first cell node, then ``r_row`` between neighbouring cell nodes; the far end is open;
* column ``j`` has ``r_col`` between neighbouring cell nodes and, after the last row, one more
  ``r_col`` plus ``r_sense`` into the read-out held at virtual ground (0 V); the column's output
  current is the current into that virtual ground;
* cell ``(i, j)`` joins row node ``(i, j)`` to column node ``(i, j)``: a device of conductance
  ``G_ij`` (passive ``0T1R``), or the device in series with an access transistor of
  on-resistance ``r_on`` (``1T1R``). Non-linear devices follow ``I = G V0 sinh(V / V0)`` (small-
  signal conductance ``G``; ``V0 -> inf`` is linear), a common compact form for RRAM/PCM I-V
  (e.g. S. Yu et al., "A neuromorphic visual system using RRAM synaptic devices", 2013).

Kirchhoff's current law at every node gives a sparse symmetric system ``K V = b``. Sneak paths
through cells (currents from a column node back into a row at lower potential) are part of it.

Solvers:

* :class:`CrossbarSolver` (linear cells) uses the structure: ordered by column index ``j``, the
  unknowns form a block-tridiagonal system whose blocks couple through the row wires only. Each
  column's own chain is eliminated first (``T_j^-1 D_j``, Thomas algorithm), then one block
  elimination sweep over ``j`` from the open end of the rows, once per programmed state. Because
  the circuit is linear and symmetric, that sweep yields the exact *transfer matrix* ``H``
  (``I = V @ H``, ``[M, N]``) in ``O(N M^3)``: every later input vector costs one matrix
  product, like an ideal array. ``dtype=float64`` is exact to rounding
  (checked against ngspice to 1e-6); ``float32`` is the fast mode (error reported by the
  benchmark). Wire conductances (~1 S) exceed cell conductances (~1e-5 S) by five orders of
  magnitude, so the cell terms live in the 6th digit of the Schur complements: that recursion is
  always computed in float64.
* :func:`solve_nodal` is a general sparse solve (scipy) of the same circuit, with Newton
  iterations for non-linear cells and a clear error if they do not converge; it is the
  reference for the fast solver and the path for non-linear devices.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator


class IRDrop(BaseModel):
    """Parasitic resistances of the arrays and the solver mode (``none``, ``exact``, ``fast``).

    Example:
        >>> IRDrop(mode="exact", r_row=1.0, r_col=1.0).ideal
        False
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["none", "exact", "fast"] = Field("none", description="solver used by tiles")
    r_row: float = Field(1.0, ge=0, description="row wire resistance per cell pitch (ohm)")
    r_col: float = Field(1.0, ge=0, description="column wire resistance per cell pitch (ohm)")
    r_driver: float = Field(0.0, ge=0, description="row driver output resistance (ohm)")
    r_sense: float = Field(0.0, ge=0, description="column read-out input resistance (ohm)")
    cell: Literal["1T1R", "0T1R"] = Field("1T1R", description="cell with or without transistor")
    r_on: float = Field(0.0, ge=0, description="access transistor on-resistance, 1T1R (ohm)")

    @model_validator(mode="after")
    def _wires(self) -> IRDrop:
        if not self.ideal and (self.r_row == 0 or self.r_col == 0):
            raise ValueError("r_row and r_col must be > 0 when any parasitic resistance is set "
                             "(all zero means an ideal array)")
        return self

    @property
    def ideal(self) -> bool:
        return self.r_row == self.r_col == self.r_driver == self.r_sense == 0.0

    @property
    def series_r(self) -> float:
        """Resistance in series with each device (the transistor of a 1T1R cell)."""
        return self.r_on if self.cell == "1T1R" else 0.0


class ConvergenceError(RuntimeError):
    """Newton iterations of a non-linear array did not converge."""


class CrossbarSolver:
    """Exact transfer matrix of a linear crossbar with IR drop (see the module docstring).

    Args:
        g: device conductances ``[M, N]`` (S).
        circuit: parasitics (``r_row``, ``r_col`` > 0).
        dtype: of the transfer computation, ``torch.float64`` (exact) or ``torch.float32``
            (fast: the ill-conditioned Schur-complement recursion stays in float64, the
            sweep that builds the transfer matrix runs in float32).

    Example:
        >>> solver = CrossbarSolver(torch.full((4, 3), 10e-6), IRDrop(r_row=1.0, r_col=1.0))
        >>> solver.currents(torch.full((1, 4), 0.2)).shape
        torch.Size([1, 3])
    """

    def __init__(self, g: torch.Tensor, circuit: IRDrop, dtype: torch.dtype = torch.float64):
        if circuit.ideal:
            raise ValueError("an ideal array needs no solver: I = V @ G")
        if g.ndim != 2 or (g < 0).any() or not torch.isfinite(g).all():
            raise ValueError("conductances must be a finite, non-negative [rows, cols] matrix")
        self.circuit, self.dtype = circuit, dtype
        g = g.to(dtype)
        if circuit.series_r > 0:  # device and transistor in series: exact for linear cells
            g = g / (1.0 + g * circuit.series_r)
        self.transfer = self._transfer(g)  # [M, N]: I = V @ transfer

    def _transfer(self, g: torch.Tensor) -> torch.Tensor:
        c = self.circuit
        m, n = g.shape
        g_r, g_c = 1.0 / c.r_row, 1.0 / c.r_col
        g_in, g_out = 1.0 / (c.r_driver + c.r_row), 1.0 / (c.r_col + c.r_sense)
        d = g.T.to(torch.float64)  # [N, M]: D_j = diag(G[:, j]); the Schur recursion needs float64
        # W_j = T_j^-1 D_j for the tridiagonal column chains T_j = L_c + D_j (Thomas algorithm,
        # all N slices and M right-hand sides at once)
        diag = torch.zeros((n, m), dtype=torch.float64)
        diag[:, :-1] += g_c  # link to the node below
        diag[:, 1:] += g_c  # link to the node above
        diag[:, -1] += g_out
        w = _tridiagonal_solve(diag + d, -g_c, torch.diag_embed(d))  # [N, M, M]
        # row equations: C_j = diag(a_j) - D_j T_j^-1 D_j, a_j = wire terms + G[:, j]
        wire = torch.full((n,), 2 * g_r, dtype=torch.float64)
        wire[0] = g_in + g_r if n > 1 else g_in
        wire[-1] = g_r if n > 1 else g_in
        cmat = torch.diag_embed(wire[:, None] + d) - d[:, :, None] * w  # [N, M, M]
        # Output current of column j: I_j = g_out Vc[M-1, j] = o_j . x_j, o_j = g_out (T_j^-1 D_j)[M-1].
        # The reduced system is symmetric, so column j of the transfer matrix is the response at
        # slice 0 (the driven row nodes) to a source o_j at slice j, times g_in. Eliminating from
        # the open far end (R_j = (C_j - g_r^2 R_{j+1})^-1, z_j = R_j (F_j + g_r z_{j+1})) gives
        # that response as z_0 directly: no back substitution, and columns left of j stay zero.
        zt = (g_out * w[:, -1, :]).to(self.dtype)  # row j: the source o_j, becomes z_0[:, j]
        inverse = None
        for j in range(n - 1, -1, -1):
            schur = cmat[j] if inverse is None else cmat[j] - (g_r * g_r) * inverse
            inverse = torch.linalg.inv(schur)  # float64: the cell terms sit in the 6th digit
            if j + 1 < n:
                zt[j + 1:] *= g_r
            # (R_j (F_j + g_r z))^T = (F_j + g_r z)^T R_j, R_j symmetric; rows j.. are live
            zt[j:] = zt[j:] @ inverse.to(self.dtype)
        return g_in * zt.T  # [M inputs, N columns]

    def currents(self, v: torch.Tensor) -> torch.Tensor:
        """Column currents (A) ``[B, N]`` for row voltages ``v [B, M]`` (V)."""
        return v.to(self.transfer.dtype) @ self.transfer


def _tridiagonal_solve(diag: torch.Tensor, off: float, rhs: torch.Tensor) -> torch.Tensor:
    """Solve ``T x = rhs`` for symmetric tridiagonal ``T`` (diagonal ``diag [..., M]``, constant
    off-diagonal ``off``) and ``rhs [..., M, K]`` by the Thomas algorithm, vectorised over the
    leading dimensions and the K right-hand sides."""
    m = diag.shape[-1]
    c = torch.empty_like(diag)  # modified super-diagonal c'_i
    x = torch.empty_like(rhs)
    denom = diag[..., 0]
    c[..., 0] = off / denom
    x[..., 0, :] = rhs[..., 0, :] / denom[..., None]
    for i in range(1, m):
        denom = diag[..., i] - off * c[..., i - 1]
        c[..., i] = off / denom
        x[..., i, :] = (rhs[..., i, :] - off * x[..., i - 1, :]) / denom[..., None]
    for i in range(m - 2, -1, -1):
        x[..., i, :] -= c[..., i, None] * x[..., i + 1, :]
    return x


def _assemble(g: np.ndarray, circuit: IRDrop):
    """Sparse linear part of the nodal system; node numbering and the cell node pairs."""
    import scipy.sparse as sp  # imported here: `import aimc` stays fast

    m, n = g.shape
    c = circuit
    cells = m * n
    row = np.arange(cells).reshape(m, n)
    col = cells + np.arange(cells).reshape(m, n)
    internal = circuit.series_r > 0
    mid = 2 * cells + np.arange(cells).reshape(m, n) if internal else row
    size = (3 if internal else 2) * cells
    ii, jj, vv = [], [], []

    def conductor(a, b, gval):
        a, b = np.ravel(a), np.ravel(b)
        gval = np.broadcast_to(gval, a.shape).ravel()
        ii.extend([a, b, a, b])
        jj.extend([a, b, b, a])
        vv.extend([gval, gval, -gval, -gval])

    def to_ground(a, gval):
        a = np.ravel(a)
        ii.append(a)
        jj.append(a)
        vv.append(np.broadcast_to(gval, a.shape).ravel())

    g_in = 1.0 / (c.r_driver + c.r_row)
    to_ground(row[:, 0], g_in)  # driver: source term added to b
    if n > 1:
        conductor(row[:, :-1], row[:, 1:], 1.0 / c.r_row)
    if m > 1:
        conductor(col[:-1, :], col[1:, :], 1.0 / c.r_col)
    to_ground(col[-1, :], 1.0 / (c.r_col + c.r_sense))
    if internal:
        conductor(row, mid, 1.0 / c.series_r)
    k = sp.csr_matrix((np.concatenate(vv), (np.concatenate(ii), np.concatenate(jj))), shape=(size, size))
    return k, row, col, mid, g_in, size


def solve_nodal(
    g: np.ndarray | torch.Tensor,
    v: np.ndarray | torch.Tensor,
    circuit: IRDrop,
    v0: float | None = None,
    tol: float = 1e-12,
    max_iter: int = 50,
) -> np.ndarray:
    """Column currents (A) ``[B, N]`` by a general sparse solve (float64), Newton for
    non-linear cells ``I = G V0 sinh(V / V0)`` when ``v0`` is given.

    Raises :class:`ConvergenceError` when Newton does not reach ``tol`` (volts) in ``max_iter``.
    """
    import scipy.sparse as sp  # imported here: `import aimc` stays fast
    import scipy.sparse.linalg as spla

    g = np.asarray(torch.as_tensor(g, dtype=torch.float64))
    v = np.atleast_2d(np.asarray(torch.as_tensor(v, dtype=torch.float64)))
    m, n = g.shape
    if v.shape[1] != m:
        raise ValueError(f"expected {m} row voltages per vector, got {v.shape[1]}")
    k_lin, row, col, mid, g_in, size = _assemble(g, circuit)
    a_node, b_node = mid.ravel(), col.ravel()
    g_flat = g.ravel()
    g_out = 1.0 / (circuit.r_col + circuit.r_sense)
    cell = sp.csr_matrix((np.concatenate([g_flat, g_flat, -g_flat, -g_flat]),
                          (np.concatenate([a_node, b_node, a_node, b_node]),
                           np.concatenate([a_node, b_node, b_node, a_node]))), shape=(size, size))
    out = np.empty((v.shape[0], n))
    linear_lu = spla.splu((k_lin + cell).tocsc())
    for s, vin in enumerate(v):
        b = np.zeros(size)
        b[row[:, 0]] = g_in * vin
        x = linear_lu.solve(b)
        if v0 is not None:
            for iteration in range(max_iter):
                dv = x[a_node] - x[b_node]
                with np.errstate(over="ignore", invalid="ignore"):
                    current = g_flat * v0 * np.sinh(dv / v0)
                    slope = g_flat * np.cosh(dv / v0)
                f = k_lin @ x - b
                np.add.at(f, a_node, current)
                np.add.at(f, b_node, -current)
                jac = k_lin + sp.csr_matrix(
                    (np.concatenate([slope, slope, -slope, -slope]),
                     (np.concatenate([a_node, b_node, a_node, b_node]),
                      np.concatenate([a_node, b_node, b_node, a_node]))), shape=(size, size))
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", spla.MatrixRankWarning)
                    step = spla.spsolve(jac.tocsc(), -f)
                if not np.isfinite(step).all():
                    raise ConvergenceError(
                        f"Newton diverged at iteration {iteration} (non-finite voltages): the cell "
                        f"voltages are far beyond v0 = {v0} V")
                x += step
                if np.abs(step).max() < tol:
                    break
            else:
                raise ConvergenceError(
                    f"Newton did not converge in {max_iter} iterations (last step "
                    f"{np.abs(step).max():.2e} V > {tol:.0e} V); lower the input voltage or raise v0")
        out[s] = g_out * x[col[-1, :]]
    return out


def to_spice(
    g: np.ndarray | torch.Tensor,
    v: np.ndarray | torch.Tensor,
    circuit: IRDrop,
    v0: float | None = None,
    title: str = "aimc crossbar",
) -> str:
    """A SPICE netlist (ngspice syntax) of the array and one input vector.

    Column read-outs are 0 V sources ``VS<j>`` whose currents are the column outputs; a
    ``.control`` block runs the operating point and writes them with ``wrdata`` to
    ``currents.txt`` (run ``ngspice -b`` in the netlist's folder).
    """
    g = np.asarray(torch.as_tensor(g, dtype=torch.float64))
    v = np.asarray(torch.as_tensor(v, dtype=torch.float64)).ravel()
    m, n = g.shape
    c = circuit
    lines = [f"* {title}: {m}x{n}, cell {c.cell}, r_row={c.r_row} r_col={c.r_col} "
             f"r_driver={c.r_driver} r_sense={c.r_sense} r_on={c.series_r}"]
    for i in range(m):
        lines.append(f"VIN{i} in{i} 0 DC {v[i]:.17g}")
        lines.append(f"RD{i} in{i} r{i}_0 {c.r_driver + c.r_row:.17g}")
        for j in range(n - 1):
            lines.append(f"RR{i}_{j} r{i}_{j} r{i}_{j + 1} {c.r_row:.17g}")
    for j in range(n):
        for i in range(m - 1):
            lines.append(f"RC{i}_{j} c{i}_{j} c{i + 1}_{j} {c.r_col:.17g}")
        lines.append(f"RS{j} c{m - 1}_{j} s{j} {c.r_col + c.r_sense:.17g}")
        lines.append(f"VS{j} s{j} 0 DC 0")
    for i in range(m):
        for j in range(n):
            a = f"r{i}_{j}"
            if c.series_r > 0:
                lines.append(f"RT{i}_{j} r{i}_{j} m{i}_{j} {c.series_r:.17g}")
                a = f"m{i}_{j}"
            if v0 is None:
                lines.append(f"RG{i}_{j} {a} c{i}_{j} {1.0 / g[i, j]:.17g}" if g[i, j] > 0
                             else f"* cell {i},{j}: open")
            else:
                lines.append(f"BG{i}_{j} {a} c{i}_{j} I={g[i, j] * v0:.17g}*sinh(V({a},c{i}_{j})/{v0:.17g})")
    probes = " ".join(f"i(VS{j})" for j in range(n))
    lines += [".options reltol=1e-12 abstol=1e-18 vntol=1e-15 gmin=1e-30",
              ".control", "op", f"wrdata currents.txt {probes}", "quit", ".endc", ".end"]
    return "\n".join(lines) + "\n"


def relative_error(approx: np.ndarray | torch.Tensor, ref: np.ndarray | torch.Tensor) -> float:
    """max |approx - ref| / max |ref|."""
    approx, ref = np.asarray(approx, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.abs(approx - ref).max() / max(np.abs(ref).max(), math.ulp(1.0)))
