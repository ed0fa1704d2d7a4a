"""The IR-drop solvers against ngspice and against physics that can be checked by hand."""

import os
import shutil
import subprocess

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from aimc.array.ir_drop import (
    ConvergenceError,
    CrossbarSolver,
    IRDrop,
    relative_error,
    solve_nodal,
    to_spice,
)

NGSPICE = shutil.which("ngspice")
needs_ngspice = pytest.mark.skipif(
    NGSPICE is None and not os.environ.get("CI"),
    reason="ngspice not installed (Debian package 'ngspice'; .ci/run installs it)")


def ngspice_currents(netlist: str, tmp_path) -> np.ndarray:
    (tmp_path / "array.cir").write_text(netlist)
    run = subprocess.run([NGSPICE or "ngspice", "-b", "array.cir"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    data = np.atleast_1d(np.loadtxt(tmp_path / "currents.txt"))
    return data[1::2]  # wrdata writes (scale, value) pairs


def random_case(rng, m, n, cell):
    g = rng.uniform(1e-6, 25e-6, (m, n))
    v = rng.uniform(-0.2, 0.2, m)
    circuit = IRDrop(mode="exact", r_row=rng.uniform(0.5, 20), r_col=rng.uniform(0.5, 20),
                     r_driver=rng.uniform(0, 200), r_sense=rng.uniform(0, 200), cell=cell,
                     r_on=rng.uniform(500, 5000) if cell == "1T1R" else 0.0)
    return g, v, circuit


@needs_ngspice
@pytest.mark.parametrize("m,n", [(8, 8), (16, 12), (32, 32)])
@pytest.mark.parametrize("cell", ["1T1R", "0T1R"])
def test_linear_array_matches_ngspice(tmp_path, m, n, cell):
    rng = np.random.default_rng(m * 100 + n + (cell == "0T1R"))
    g, v, circuit = random_case(rng, m, n, cell)
    ref = ngspice_currents(to_spice(g, v, circuit), tmp_path)
    exact = CrossbarSolver(torch.tensor(g), circuit).currents(torch.tensor(v)[None])[0]
    assert relative_error(exact, ref) < 1e-6
    assert relative_error(solve_nodal(g, v, circuit)[0], ref) < 1e-6
    # the parasitics matter here: the ideal G.V differs by far more than the tolerance
    assert relative_error(v @ g, ref) > 1e-3


@needs_ngspice
@pytest.mark.parametrize("m,n,cell", [(8, 8, "0T1R"), (16, 16, "1T1R"), (32, 24, "0T1R")])
def test_nonlinear_array_matches_ngspice(tmp_path, m, n, cell):
    rng = np.random.default_rng(7 + m)
    g, v, circuit = random_case(rng, m, n, cell)
    v0 = 0.15  # sinh nonlinearity: 0.2 V reads about 20 % above the linear current
    ref = ngspice_currents(to_spice(g, v, circuit, v0=v0), tmp_path)
    newton = solve_nodal(g, v, circuit, v0=v0)[0]
    assert relative_error(newton, ref) < 1e-4
    linear = solve_nodal(g, v, circuit)[0]
    assert relative_error(linear, ref) > 1e-2  # the non-linearity is really there


def test_zero_parasitics_give_g_times_v_exactly():
    with pytest.raises(ValueError, match="ideal"):
        CrossbarSolver(torch.rand(4, 4) * 1e-5, IRDrop(r_row=0.0, r_col=0.0))
    # small wires: the solver tends to G.V, the error shrinking in proportion to r
    g = torch.rand(16, 16, dtype=torch.float64) * 25e-6
    v = torch.rand(3, 16, dtype=torch.float64) * 0.2
    errors = [relative_error(CrossbarSolver(g, IRDrop(r_row=r, r_col=r)).currents(v), v @ g)
              for r in (1e-2, 1e-3)]
    assert errors[1] < 1e-5 and errors[0] / errors[1] == pytest.approx(10, rel=0.05)


def test_single_cell_by_hand():
    # V -> (r_driver + r_row) -> G -> (r_col + r_sense) -> ground: a series circuit
    c = IRDrop(r_row=2.0, r_col=3.0, r_driver=5.0, r_sense=7.0, cell="1T1R", r_on=1000.0)
    g = 1e-4
    expected = 0.2 / (7.0 + 1000.0 + 1 / g + 10.0)
    assert CrossbarSolver(torch.tensor([[g]]), c).currents(torch.tensor([[0.2]])).item() == pytest.approx(
        expected, rel=1e-12)
    assert solve_nodal([[g]], [0.2], c)[0, 0] == pytest.approx(expected, rel=1e-12)


def test_fast_mode_error_and_linearity():
    rng = np.random.default_rng(1)
    g = torch.tensor(rng.uniform(1e-6, 25e-6, (64, 48)))
    c = IRDrop(r_row=1.0, r_col=1.0)
    v = torch.tensor(rng.uniform(-0.2, 0.2, (10, 64)))
    exact = CrossbarSolver(g, c).currents(v)
    fast = CrossbarSolver(g, c, dtype=torch.float32).currents(v)
    assert relative_error(fast, exact) < 1e-4
    torch.testing.assert_close(CrossbarSolver(g, c).currents(2 * v), 2 * exact)  # linear circuit


def test_ir_drop_lowers_currents_and_far_cells_see_less_voltage():
    g = torch.full((32, 32), 25e-6, dtype=torch.float64)
    c = IRDrop(r_row=5.0, r_col=5.0, cell="0T1R")
    i = CrossbarSolver(g, c).currents(torch.full((1, 32), 0.2, dtype=torch.float64))[0]
    ideal = 0.2 * 25e-6 * 32
    assert (i < ideal).all()
    assert (i[1:] < i[:-1]).all()  # columns further from the drivers collect less


def test_newton_failure_is_reported():
    c = IRDrop(r_row=1.0, r_col=1.0)
    with pytest.raises(ConvergenceError, match="did not converge|diverged"):
        solve_nodal(np.full((4, 4), 25e-6), np.full(4, 5.0), c, v0=0.01, max_iter=3)
    with pytest.raises(ConvergenceError, match="did not converge"):
        solve_nodal(np.full((4, 4), 25e-6), np.full(4, 0.3), c, v0=0.1, max_iter=1)


def test_bad_parameters():
    with pytest.raises(ValidationError, match="r_row and r_col must be > 0"):
        IRDrop(r_row=0.0, r_col=1.0, r_driver=10.0)
    with pytest.raises(ValidationError, match="r_on"):
        IRDrop(r_on=-1.0)
    with pytest.raises(ValueError, match="non-negative"):
        CrossbarSolver(-torch.ones(2, 2), IRDrop(r_row=1.0, r_col=1.0))


def test_tile_forward_uses_the_solver_transparently():
    from aimc.devices import Ideal
    from aimc.periphery import ADC, DAC
    from aimc.tile import Tile
    rng = np.random.default_rng(3)
    w = torch.tensor(rng.uniform(-1, 1, (5, 40)), dtype=torch.float32)  # 40 rows, 5 outputs
    circuit = IRDrop(mode="exact", r_row=2.0, r_col=2.0, cell="0T1R")
    kw = dict(device=Ideal(), dac=DAC(bits=None, scaling="fixed"), adc=ADC(bits=None, full_scale=None))
    tile = Tile(w, ir_drop=circuit, **kw)
    tile.program(0)
    x = torch.tensor(rng.uniform(0, 1, (3, 40)), dtype=torch.float32)
    # reference: the physical array (G+ and G- in adjacent columns) solved by the sparse solver
    g = tile.g_target[:, 0].permute(1, 2, 0).reshape(40, 10).double()
    currents = solve_nodal(g, x.double() * 0.2, circuit)  # [3, 10]: + and - interleaved
    y_ref = (currents[:, 0::2] - currents[:, 1::2]) / 0.2 * tile.weight_per_siemens.double().numpy()
    assert relative_error(tile(x), y_ref) < 1e-5
    ideal = Tile(w, **kw)
    ideal.program(0)
    assert relative_error(ideal(x), y_ref) > 1e-3  # the wires change the result
    fast = Tile(w, ir_drop=circuit.model_copy(update={"mode": "fast"}), **kw)
    fast.program(0)
    assert relative_error(fast(x), y_ref) < 1e-4


def test_device_nonlinearity_parameter_feeds_the_solver_and_tile_refuses_it():
    from aimc.devices import RRAM
    from aimc.periphery import ADC, DAC
    from aimc.tile import Tile
    dev = RRAM(iv_v0=0.15)
    c = IRDrop(mode="exact", r_row=1.0, r_col=1.0)
    g = np.full((4, 4), 20e-6)
    nonlinear = solve_nodal(g, np.full(4, 0.2), c, v0=dev.iv_v0)
    assert (nonlinear > solve_nodal(g, np.full(4, 0.2), c)).all()  # sinh: more current than ohmic
    with pytest.raises(NotImplementedError, match="solve_nodal"):
        Tile(torch.randn(3, 4), device=dev, dac=DAC(), adc=ADC(), ir_drop=c)
