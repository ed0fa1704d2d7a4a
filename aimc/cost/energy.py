"""Energy and area of analog matrix-vector products, component by component.

One read of an array with one input vector (all ``phases``) costs

* **array** — the devices' Joule heat ``Σ V²·G·t`` (Ohm's law over the integration window)
  plus charging the row lines ``C_row·V²`` per phase. Pulse-width inputs hold ``V = v_read`` for
  ``t = |x|·t_max`` (``t_max = 2**(bits-1)`` DAC clocks); amplitude inputs hold ``V = |x|·v_read``
  for ``integration_s``. In a multi-phase read each (input, device) pair conducts in one phase
  only (Le Gallo et al., Nat. Electron. 2023, four-phase mode), so the Joule term does not grow
  with phases. ``ΣG`` comes from the layer's own weights encoded as the tile programs them
  (``LayerMap.fill``); ``|x|`` is ``cost.input_activity`` of full scale. Row line capacitance:
  wire ``0.2 fF/µm`` over the array width (``cols · devices · √(cell_f2)·F``).
* **dac** — row drivers: ``cost.dac_j_per_step`` per DAC clock (PWM: ``2**(bits-1)`` clocks per
  phase) or per bit (amplitude), per row and phase (ISAAC, Shafiee et al., ISCA 2016, Table I).
* **adc** — ``FOM_W · 2**bits`` per conversion (Walden figure of merit, as tabulated in
  B. Murmann's ADC performance survey), one per column, ADC group and phase. Sharing an ADC
  between columns (``columns_per_adc``) changes time and area, not energy. Integrating
  converters that run during the whole window (IBM's current-controlled-oscillator ADC) cost
  ``cost.adc_power_w · window`` instead, so their energy grows with the integration time.
* **accumulate** — digital sum of partial results of the row arrays (32-bit adds) and the
  affine output scaling (one FP16 FMA per output, as the HERMES local digital processing unit).
* **sram** — reading the input vector and writing the 8-bit outputs of the layer buffer.
* **network** — moving inputs to every column array, partial sums to the accumulator and the
  outputs to the next layer over one core pitch of on-chip wire (``¼·c·l·V²`` per bit) or over
  a photonic link (``cost.photonic_j_per_bit``, length-independent).
* **control** — one controller step per array read (Horowitz's instruction overhead).

An embedding table mapped analog (``LayerMap.lookup``) is read one-hot: one row driven, the
column arrays of the one row array that holds it converted, the index sent in instead of a vector.

Area per core: devices ``rows · cols · devices · cell_f2 · F²``, ADCs (``cost.adc_area_m2`` at
32 nm scaled by node² and ``2**(bits-8)``, one per ``columns_per_adc`` columns), DACs, the
accumulators and the SRAM buffer. With ``cost.tiers > 1`` the arrays stack in tiers over the
logic (3D): the footprint is ``max(array / tiers, periphery)`` instead of their sum, and the core
pitch (hence wire lengths) shrinks with it.

Every digital energy (accumulate, SRAM, wires, control, layers kept digital) is multiplied by
``cost.digital_energy_scale`` (1 nominally), which carries the uncertainty of the node scaling.
Converters of infinite resolution (``bits=None``, the ideal preset) are not costed. The functions
also take a chip whose uncertain parameters are numpy arrays (``aimc.cost.uncertainty``): they
then return one value per parameter draw.
"""

from __future__ import annotations

import math

import numpy as np

from ..chips import ChipSpec
from ..compiler import LayerMap
from .technology import WIRE_F_PER_M, Technology, technology

COMPONENTS = ("array", "dac", "adc", "accumulate", "sram", "network", "control")
PSUM_BITS, OUT_BITS = 16, 8


def tech(chip: ChipSpec) -> Technology:
    return technology(chip.node_nm, chip.cost.vdd)


def _integration(chip: ChipSpec) -> tuple[float, float]:
    """(mean V², mean on-time) of one row during one read."""
    dac, a = chip.dac, chip.cost.input_activity
    if dac.encoding == "pulse_width":
        return dac.v_read**2, a * _window(chip)
    return dac.v_read**2 * a * a * 4.0 / 3.0, _window(chip)  # E[x²] of uniform |x|


def _window(chip: ChipSpec) -> float:
    """Integration window of one phase (s)."""
    if chip.dac.encoding == "pulse_width":
        return 2 ** ((chip.dac.bits or 8) - 1) * chip.timing.dac_lsb_s
    return chip.timing.integration_s


def _cell_pitch(chip: ChipSpec) -> float:
    return np.sqrt(chip.cost.cell_f2) * tech(chip).feature_m


def core_area(chip: ChipSpec, devices: int = 2, adc_groups: int = 1) -> dict[str, float]:
    """Area (m²) of one core by component, before 3D folding (see :func:`core_footprint`)."""
    t, cost, rows, cols = tech(chip), chip.cost, chip.array.rows, chip.array.cols
    node = t.node_nm
    adcs = math.ceil(cols / chip.adc.columns_per_adc) * adc_groups
    adc_bits = chip.adc.bits or 0
    adc = adcs * cost.adc_area_m2 * (node / 32.0) ** 2 * 2.0 ** (adc_bits - 8) if adc_bits else 0.0
    dac_one = 0.00017e-6 / 1024 * (node / 32.0) ** 2  # ISAAC: 1024 1-bit DACs in 0.00017 mm²
    dac = rows * dac_one * (chip.dac.bits or 0)
    return {
        "array": rows * cols * devices * cost.cell_f2 * t.feature_m**2,
        "adc": adc,
        "dac": dac,
        "accumulate": cols * t.add32_m2,
        "sram": cost.sram_bytes_per_core * 8 * t.sram_m2_per_bit,
    }


def core_footprint(chip: ChipSpec, devices: int = 2, adc_groups: int = 1) -> float:
    """Silicon area (m²) of one core: planar sum, or arrays in ``tiers`` over the logic."""
    parts = core_area(chip, devices, adc_groups)
    periphery = sum(v for k, v in parts.items() if k != "array")
    if chip.cost.tiers == 1:
        return parts["array"] + periphery
    return np.maximum(parts["array"] / chip.cost.tiers, periphery)


def mvm_energy(chip: ChipSpec, rows: int, cols: int, fill: float, devices: int = 2,
               adc_groups: int = 1, col_arrays: int = 1, row_arrays: int = 1) -> dict[str, float]:
    """Energy (J) by component of one input vector through a ``rows x cols`` weight matrix held
    on ``row_arrays x col_arrays`` arrays (all phases; array, dac and adc only)."""
    v2, t_on = _integration(chip)
    phases = chip.timing.phases
    joule = rows * cols * fill * chip.device.g_max * v2 * t_on
    width = chip.array.cols * devices * _cell_pitch(chip)
    lines = rows * col_arrays * phases * WIRE_F_PER_M * width * chip.dac.v_read**2
    dac_bits = chip.dac.bits
    if dac_bits is None:
        dac = 0.0
    else:
        steps = 2 ** (dac_bits - 1) if chip.dac.encoding == "pulse_width" else dac_bits
        dac = rows * col_arrays * phases * steps * chip.cost.dac_j_per_step
    adc_bits = chip.adc.bits
    conversions = chip.encoding.columns(cols) * row_arrays * adc_groups * phases
    if adc_bits is None:
        adc = 0.0
    elif chip.cost.adc_power_w is not None:  # integrating converter: on for the whole window
        adc = conversions * chip.cost.adc_power_w * (_window(chip) + chip.timing.adc_s)
    else:
        adc = conversions * chip.cost.adc_fom_j * 2.0**adc_bits
    return {"array": joule + lines, "dac": dac, "adc": adc}


def layer_energy(chip: ChipSpec, layer: LayerMap) -> dict[str, float]:
    """Energy (J) by component of one inference through an analog layer."""
    t, cost = tech(chip), chip.cost
    scale = cost.digital_energy_scale
    in_bits = chip.dac.bits or 8
    if layer.lookup:
        # one-hot read: one row driven, the column arrays of the row array that holds it
        # convert; no partial sums; the index (not a vector) goes in
        rows, row_arrays = 1, 1
        in_vector_bits = max(1, math.ceil(math.log2(max(layer.rows, 2))))
    else:
        rows, row_arrays = layer.rows, layer.row_arrays
        in_vector_bits = layer.rows * in_bits
    per_vector = mvm_energy(chip, rows, layer.cols, layer.fill, layer.devices,
                            layer.adc_groups, layer.col_arrays, row_arrays)
    accumulate = scale * ((row_arrays - 1) * layer.cols * t.add32_j + layer.cols * t.fp16_fma_j)
    sram = scale * (in_vector_bits + layer.cols * OUT_BITS) * t.sram_j_per_bit
    bits = (in_vector_bits * layer.col_arrays + layer.cols * OUT_BITS
            + (row_arrays * layer.cols * PSUM_BITS if row_arrays > 1 else 0))
    if cost.link == "photonic":
        network = bits * cost.photonic_j_per_bit
    else:
        pitch = np.sqrt(core_footprint(chip, layer.devices, layer.adc_groups))
        network = scale * bits * t.wire_j_per_bit(pitch)
    control = scale * row_arrays * layer.col_arrays * t.control_j
    per_vector |= {"accumulate": accumulate, "sram": sram, "network": network, "control": control}
    return {k: layer.vectors * per_vector[k] for k in COMPONENTS}


def digital_layer_energy(chip: ChipSpec, layer: LayerMap) -> dict[str, float]:
    """A layer kept digital on the analog chip: INT8 MACs, weights and activations from SRAM
    (a lookup table: the looked-up rows read from SRAM, no MACs)."""
    t, scale = tech(chip), chip.cost.digital_energy_scale
    if layer.lookup:
        return {"digital": 0.0 * scale, "sram": scale * 2 * layer.vectors * layer.cols * 8 * t.sram_j_per_bit}
    sram_bits = (layer.rows * layer.cols + layer.vectors * (layer.rows + layer.cols)) * 8
    return {"digital": scale * layer.macs * t.mac8_j, "sram": scale * sram_bits * t.sram_j_per_bit}
