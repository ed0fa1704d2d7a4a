"""Grid files are validated like chip files (errors name the bad key) and expand to cells whose
key and seed are hashes of the cell itself, never of its position in the grid."""

import pytest
from sweep_helpers import TINY, tiny_grid

from aimc.sweep import GridError, load_grid, parse_grid


@pytest.mark.parametrize("changes, named", [
    ({"chipz": ["ideal"]}, "chipz"),                                # unknown top-level key
    ({"params": {"adc.bitz": [4]}}, "params.adc.bitz"),             # unknown field of a group
    ({"params": {"array.rows": [0]}}, "array.rows"),                # rejected by ChipSpec
    ({"params": {"adc.bits": [4, "many"]}}, "adc.bits"),            # wrong type, second value
    ({"params": {"device.drift_nu": [0.05]}}, "device.drift_nu"),   # not a field of PCM
    ({"params": {"adc.bits": []}}, "params.adc.bits"),              # no values
    ({"params": {"adc..bits": [4]}}, "adc..bits"),                  # not a dotted path
    ({"models": ["digits-transformer"]}, "models"),                 # unknown workload
    ({"chips": ["no-such-chip"]}, "no-such-chip"),                  # unknown preset
    ({"repeats": 0}, "repeats"),
    ({"times": [1, -5]}, "times"),
    ({"times": [1, float("inf")]}, "times"),                       # not finite
    ({"chips": ["neurram", "neurram"]}, "chips"),                   # the same cell twice
    ({"models": ["digits-mlp", "digits-mlp"]}, "models"),
    ({"params": {"adc.bits": [4, 4]}}, "params.adc.bits"),
    ({"params": {"adc.bits": [4, 4.0]}}, "params.adc.bits"),        # the same setting once validated
    ({"params": {"adc.bits": [True]}}, "params.adc.bits"),          # pydantic would make it 1
    ({"params": {"adc.bits": [6], "adc": [{"bits": 4}]}}, "adc.bits"),  # overlapping paths
])
def test_errors_name_the_bad_key(changes, named):
    with pytest.raises(GridError, match=named.replace(".", r"\.")):
        parse_grid({**TINY, **changes})


def test_a_value_error_names_the_chip_and_the_override():
    with pytest.raises(GridError) as err:
        parse_grid({**TINY, "params": {"adc.bits": [4, -1]}})
    assert "params.adc.bits = -1" in str(err.value) and "ibm-hermes-pcm" in str(err.value)


def test_grid_file_errors(tmp_path):
    with pytest.raises(GridError, match="not found"):
        load_grid(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n- not a mapping\n")
    with pytest.raises(GridError, match="mapping"):
        load_grid(bad)
    good = tmp_path / "good.yaml"
    good.write_text("name: g\nchips: [ibm-hermes-pcm]\nmodels: [digits-mlp]\nparams:\n  adc.bits: [4, 6]\n")
    assert [c.chip_spec["adc"]["bits"] for c in load_grid(good).cells()] == [4, 6]


def test_overrides_reach_the_chip_spec():
    cells = tiny_grid(params={"adc.bits": [5], "array.rows": [128], "ir_drop.mode": ["fast"]}).cells()
    for cell in cells:
        assert cell.chip_spec["adc"]["bits"] == 5 and cell.chip_spec["array"]["rows"] == 128
        assert cell.chip_spec["ir_drop"]["mode"] == "fast"


def test_whole_groups_switch_their_kind():
    cells = tiny_grid(chips=["ibm-hermes-pcm"], params={
        "compensation": [{"method": "none"}, {"method": "gdc"}],
        "device.read_noise_scale": [0.5, 2.0]}).cells()
    assert sorted((c.chip_spec["compensation"]["method"], c.chip_spec["device"]["read_noise_scale"])
                  for c in cells) == [("gdc", 0.5), ("gdc", 2.0), ("none", 0.5), ("none", 2.0)]
    with pytest.raises(GridError, match="give the whole group"):  # the old kind's fields stay behind
        tiny_grid(params={"compensation.method": ["none"]}).cells()


def test_keys_and_seeds_do_not_depend_on_position():
    grid = tiny_grid()
    cells = grid.cells()
    assert len(cells) == 4 and len({c.key for c in cells}) == 4 and len({c.seed for c in cells}) == 4
    reordered = tiny_grid(chips=TINY["chips"][::-1], params={"adc.bits": [8, 2]}).cells()
    assert {c.key: c.seed for c in cells} == {c.key: c.seed for c in reordered}
    # a cell keeps its key and seed when the grid around it grows
    bigger = tiny_grid(params={"adc.bits": [2, 6, 8]}).cells()
    assert {c.key: c.seed for c in cells}.items() <= {c.key: c.seed for c in bigger}.items()
    # ... and changes them with the grid's seed or anything that changes its numbers
    assert not {c.key for c in cells} & {c.key for c in tiny_grid(seed=8).cells()}
    assert not {c.seed for c in cells} & {c.seed for c in tiny_grid(repeats=4).cells()}
    assert all(0 <= c.seed < 2**63 for c in cells)


def test_cli_names_the_bad_key_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from aimc.cli import app

    grid = tmp_path / "grid.yaml"
    grid.write_text("name: g\nchips: [ibm-hermes-pcm]\nparams:\n  adc.bitz: [4]\n")
    result = CliRunner().invoke(app, ["sweep", str(grid), "--store", str(tmp_path / "r.db")])
    assert result.exit_code == 2 and "params.adc.bitz" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["sweep", str(grid), "--executor", "dask"])
    assert result.exit_code == 2 and "inprocess, processes, ray" in result.output
    result = CliRunner().invoke(app, ["report", str(tmp_path / "missing.db")])
    assert result.exit_code == 2 and "store not found" in result.output
