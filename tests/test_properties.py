"""Property-based tests (hypothesis): rules that must hold for every input, not only the examples
the other tests pick.

* Splitting a matrix over arrays: every row lands on exactly one array, in order; no array holds
  more rows than it has; the arrays are as few as the granule rule allows and none is empty.
* Every encoding decodes to the weights it encoded (bit slicing: to its bit grid), and a tile
  of ideal devices and converters computes ``x @ W.T`` up to float32 rounding. Found here and
  fixed: the offset encoding put an all-zero column at scale 1 whatever the matrix's scale, so
  with weights of order 1e-6 that column read ~1e-7 instead of 0; it now takes the matrix's scale.
* ``ChipSpec``: any valid spec round-trips through YAML (dump, ``load_chip``) to an equal spec;
  any numeric field set outside its declared range is refused with a message naming the field.

Each property runs a bounded number of examples (``max_examples``) with no deadline, so the file
takes a few seconds; hypothesis shrinks a failure to a minimal example and prints it.
"""

from __future__ import annotations

import math
import types
import typing

import annotated_types
import pytest
import torch
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from aimc.chips import ChipSpec, list_chips, load_chip
from aimc.devices import Ideal
from aimc.encoding import BitSliced, Differential, MultiPair, Offset
from aimc.periphery import ADC, DAC
from aimc.tile import Tile, split_rows

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------ splitting over arrays
@FAST
@given(array_rows=st.integers(1, 300), granule=st.integers(1, 40), granules=st.integers(1, 200))
def test_split_rows_puts_every_row_on_exactly_one_array(array_rows, granule, granules):
    rows = granule * granules
    arrays, used_granule, per_array, rows_per_array = split_rows(rows, array_rows, granule)
    # a granule larger than an array falls back to single rows
    assert used_granule == (granule if granule <= array_rows else 1)
    assert rows_per_array == per_array * used_granule <= array_rows
    assert arrays * rows_per_array >= rows  # every row has a place ...
    assert (arrays - 1) * rows_per_array < rows  # ... and no array is left empty
    # as few arrays as whole granules allow
    assert arrays == math.ceil((rows // used_granule) / (array_rows // used_granule))
    # row r sits on array r // rows_per_array: each array gets whole granules, each row one array
    owner = [r // rows_per_array for r in range(rows)]
    assert sorted(set(owner)) == list(range(arrays))
    for start in range(0, rows, used_granule):
        assert len({owner[r] for r in range(start, start + used_granule)}) == 1


@SLOW
@given(out=st.integers(1, 12), granule=st.sampled_from([1, 3, 9]), granules=st.integers(1, 30),
       array_rows=st.integers(9, 40), array_cols=st.integers(1, 16), seed=st.integers(0, 2**31))
def test_tile_places_each_matrix_row_once_in_order(out, granule, granules, array_rows, array_cols, seed):
    rows = granule * granules
    w = torch.randn(out, rows, generator=torch.Generator().manual_seed(seed))
    device = Ideal(g_min=1e-6)
    tile = Tile(w, device=device, dac=DAC(bits=None), adc=ADC(bits=None, full_scale=None),
                array_rows=array_rows, array_cols=array_cols, row_granule=granule)
    planes, arrays, per_array, columns = tile.g_target.shape
    assert arrays == tile.row_arrays and per_array == tile.rows_per_array <= array_rows
    assert tile.array_grid == (arrays, math.ceil(columns / array_cols))
    stacked = tile.g_target.reshape(planes, arrays * per_array, columns)
    expected = Differential().encode(w.T, device.g_max - device.g_min).g_target + device.g_min
    torch.testing.assert_close(stacked[:, :rows], expected)  # row r at (r // per_array, r % per_array)
    padding = stacked[:, rows:]
    assert (padding[0] == padding[1]).all()  # unused rows of the last array hold zero weight


# ------------------------------------------------------------------ encodings
ENCODINGS = st.one_of(
    st.just(Differential()),
    st.builds(MultiPair, pairs=st.integers(2, 4), significance=st.floats(1.0, 4.0)),
    st.just(Offset()),
    st.builds(BitSliced, slices=st.integers(1, 4), bits_per_slice=st.integers(1, 4)),
)


def matrices(max_side=24):
    """Random weight matrices [in, out], with some all-zero columns and tiny or huge scales."""
    return st.tuples(st.integers(1, max_side), st.integers(1, max_side), st.integers(0, 2**31),
                     st.sampled_from([1e-6, 1.0, 1e4]), st.booleans()).map(_matrix)


def _matrix(args):
    rows, cols, seed, scale, zero_column = args
    w = torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale
    if zero_column:
        w[:, 0] = 0.0
    return w


def on_grid(w, encoding):
    """What bit slicing can store: |w| rounded to 2**bits - 1 steps of each column's peak."""
    if not isinstance(encoding, BitSliced):
        return w
    top = 2 ** (encoding.slices * encoding.bits_per_slice) - 1
    peak = w.abs().amax(dim=0)
    peak = torch.where(peak > 0, peak, torch.ones_like(peak))
    return torch.round(w / peak * top) * peak / top


@FAST
@given(encoding=ENCODINGS, w=matrices(), g_max=st.floats(1e-7, 1e-3))
def test_every_encoding_decodes_to_its_weights(encoding, w, g_max):
    enc = encoding.encode(w, g_max)
    assert (enc.g_target >= 0).all() and (enc.g_target <= g_max * (1 + 1e-12)).all()
    assert enc.g_target.shape[-1] == encoding.columns(w.shape[1])
    peak = w.abs().amax(dim=0)
    # float64 throughout: equal up to a few ulp of each column's largest weight
    error = (enc.decode() - on_grid(w, encoding)).abs()
    assert (error <= 1e-12 * peak + 1e-300).all(), error.max()


@SLOW
@given(encoding=ENCODINGS, w=matrices(max_side=20), array_rows=st.integers(4, 32), seed=st.integers(0, 99))
def test_ideal_tile_computes_the_exact_product_for_every_encoding(encoding, w, array_rows, seed):
    weight = on_grid(w, encoding).T.float().contiguous()  # [out, in]
    tile = Tile(weight, device=Ideal(), dac=DAC(bits=None), adc=ADC(bits=None, full_scale=None),
                array_rows=array_rows, encoding=encoding)
    tile.program(seed=seed)
    x = torch.randn(5, weight.shape[1], generator=torch.Generator().manual_seed(seed))
    y = tile(x)
    # float32 sums: error within a few ulp of the sum of |terms|, plus a few ulp of the column's
    # full scale per input (the offset encoding subtracts two mid-scale currents). An all-zero
    # column is encoded at the matrix's largest scale (``_column_peak``)
    peak = weight.abs().amax(dim=1)
    top = peak.max() if peak.max() > 0 else torch.tensor(1.0)
    full_scale = torch.where(peak > 0, peak, top)
    bound = 1e-5 * (x.abs() @ weight.abs().T) + 1e-6 * x.abs().sum(1, keepdim=True) * full_scale
    assert ((y - x @ weight.T).abs() <= bound).all()


# ------------------------------------------------------------------ ChipSpec
def _bounds(metadata) -> dict[str, float]:
    out = {}
    for item in metadata:
        for name in ("gt", "ge", "lt", "le"):
            value = getattr(item, name, None)
            if value is not None and isinstance(item, getattr(annotated_types, name.capitalize())):
                out[name] = float(value)
    return out


def _numeric(info) -> tuple[str | None, dict[str, float]]:
    """Number kind (int/float) of a field and its range, also inside ``Annotated[...] | None``
    (e.g. ``PositiveInt | None``)."""
    annotation, metadata = info.annotation, list(info.metadata)
    union = isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
    kinds = set()
    for arg in (typing.get_args(annotation) if union else (annotation,)):
        if typing.get_origin(arg) is typing.Annotated:
            arg, *extra = typing.get_args(arg)
            metadata += extra
        if arg is not type(None):
            kinds.add(arg)
    kind = "int" if kinds == {int} else "float" if kinds in ({float}, {int, float}) else None
    return kind, _bounds(metadata)


def numeric_fields(model: BaseModel, prefix=()):
    """(path, kind, bounds) of every range-constrained number in a spec, nested groups included."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from numeric_fields(value, (*prefix, name))
            continue
        kind, bounds = _numeric(info)
        if kind is not None and bounds:
            yield (*prefix, name), kind, bounds


PRESETS = {name: load_chip(name) for name in list_chips()}
FIELDS = sorted({(path, kind, tuple(sorted(b.items())))
                 for chip in PRESETS.values() for path, kind, b in numeric_fields(chip)})


def test_the_spec_has_range_checked_fields_in_every_group():
    groups = {path[0] for path, _, _ in FIELDS}
    assert {"device", "dac", "adc", "array", "timing", "cost"} <= groups and len(FIELDS) > 30


def _set(data: dict, path, value) -> dict:
    data = {**data}
    node = data
    for key in path[:-1]:
        node[key] = {**node[key]}
        node = node[key]
    node[path[-1]] = value
    return data


def _get(data: dict, path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


@st.composite
def valid_value(draw, kind, bounds, current):
    """A value inside the field's range, near its current value (so that cross-field rules,
    e.g. g_min < g_max, mostly still hold)."""
    low = bounds.get("gt", bounds.get("ge", -math.inf))
    high = bounds.get("lt", bounds.get("le", math.inf))
    base = current if isinstance(current, int | float) and not isinstance(current, bool) and current else None
    if kind == "int":
        lo = math.floor(low) + 1 if "gt" in bounds else math.ceil(low) if low > -math.inf else 0
        hi = math.ceil(high) - 1 if "lt" in bounds else math.floor(high) if high < math.inf else None
        centre = int(base) if base is not None else max(lo, 1)
        lo2, hi2 = max(lo, centre // 2), centre * 2 + 1
        hi2 = hi2 if hi is None else min(hi, hi2)
        return draw(st.integers(lo2, max(lo2, hi2)))
    centre = abs(float(base)) if base is not None else (1.0 if high == math.inf else (low + high) / 2)
    value = centre * 2 ** draw(st.floats(-1, 1))
    if low > -math.inf and value <= low:
        value = low + (abs(low) + 1e-12) * 0.5 if "gt" in bounds else low
    if high < math.inf and value >= high:
        value = high - (high - max(low, 0.0)) * draw(st.floats(0.01, 0.99)) if "lt" in bounds else high
    return value


@st.composite
def valid_specs(draw):
    preset = draw(st.sampled_from(sorted(PRESETS)))
    chip = PRESETS[preset]
    fields = list(numeric_fields(chip))
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=6, unique_by=lambda f: f[0]))
    data = chip.model_dump(mode="json")
    for path, kind, bounds in chosen:
        data = _set(data, path, draw(valid_value(kind, bounds, _get(data, path))))
    try:
        return ChipSpec.model_validate(data)
    except ValidationError:  # a cross-field rule (g_min < g_max, ADC range ...) broke: skip it
        assume(False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.filter_too_much])
@given(spec=valid_specs())
def test_any_valid_spec_round_trips_through_yaml(spec, tmp_path_factory):
    text = yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
    path = tmp_path_factory.mktemp("chip") / "chip.yaml"
    path.write_text(text)
    assert load_chip(path) == spec
    assert ChipSpec.model_validate(yaml.safe_load(text)) == spec


@st.composite
def out_of_range(draw):
    preset = draw(st.sampled_from(sorted(PRESETS)))
    fields = list(numeric_fields(PRESETS[preset]))
    path, kind, bounds = draw(st.sampled_from(fields))
    side = draw(st.sampled_from(sorted(bounds)))
    edge = bounds[side]
    # on the excluded edge itself (gt/lt), or beyond it by a small to a huge step
    step = draw(st.sampled_from([0.0, 1e-6, 0.5, 1.0, 1e3])) * max(abs(edge), 1.0)
    if side in ("ge", "le") and step == 0.0:
        step = 1e-6 * max(abs(edge), 1.0)
    value = edge - step if side in ("gt", "ge") else edge + step
    if kind == "int":  # the nearest integer on the wrong side
        value = math.floor(value) if side in ("gt", "ge") else math.ceil(value)
        if side == "ge" and value >= edge:
            value = math.ceil(edge) - 1
        if side == "le" and value <= edge:
            value = math.floor(edge) + 1
    return preset, path, side, value


@FAST
@given(case=out_of_range())
def test_any_out_of_range_field_is_refused_naming_the_field(case):
    preset, path, side, value = case
    data = _set(PRESETS[preset].model_dump(mode="json"), path, value)
    with pytest.raises(ValidationError) as err:
        ChipSpec.model_validate(data)
    # the error's location is the field's path (a tagged union adds its tag, e.g. device.pcm.g_max)
    locations = [tuple(str(p) for p in e["loc"]) for e in err.value.errors()]
    assert any(loc[-1] == path[-1] and [p for p in loc if p in path] == list(path) for loc in locations), \
        (path, locations)
    message = str(err.value)
    assert path[-1] in message and path[0] in message
    words = {"gt": "greater than", "ge": "greater than or equal", "lt": "less than",
             "le": "less than or equal"}
    assert words[side] in message
