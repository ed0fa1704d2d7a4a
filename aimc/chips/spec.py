"""``ChipSpec``: what the hardware is, as small validated groups (device, DAC, ADC, array,
compensation), separate from any per-model policy.

Every field is checked by pydantic: a bad value raises ``pydantic.ValidationError`` whose message
names the field path (e.g. ``adc.bits``) and the allowed range (e.g. "greater than 0").
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from ..array import CircuitNoise, Faults
from ..array.ir_drop import IRDrop
from ..calibration import Compensation, GlobalDriftCompensation, ReferenceCells
from ..devices import PCM, RRAM, Flash, Ideal, MeasuredDevice
from ..encoding import Differential, EncodingSpec
from ..periphery import ADC, DAC

DeviceSpec = Annotated[PCM | RRAM | Flash | MeasuredDevice | Ideal, Field(discriminator="name")]


class ArraySpec(BaseModel):
    """Size of one physical crossbar array in weights (unit cells): rows = inputs, columns =
    outputs, whatever number of devices one weight uses (see ``encoding``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    rows: PositiveInt = 256
    cols: PositiveInt = 256


class Timing(BaseModel):
    """Timing of a chip's arrays and converters (s); used by the cost model (``aimc.cost``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dac_lsb_s: float = Field(1e-9, gt=0, description="pulse duration of one input LSB (PWM)")
    integration_s: float = Field(100e-9, gt=0, description="integration time for amplitude inputs")
    adc_clock_s: float = Field(1e-9, gt=0, description="SAR/ramp ADC clock period")
    adc_s: float = Field(0.0, ge=0, description="readout time of ideal/integrating ADCs")
    phases: PositiveInt = Field(1, description="read phases per MVM (sign quadrants)")


class CostSpec(BaseModel):
    """Physical parameters of the energy and area model (``aimc.cost``) that belong to the chip.

    Defaults are generic published values; a preset overrides what its papers give. Sources:
    ``docs/cost-model-sources.md``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    vdd: float | None = Field(None, gt=0, description="digital supply (V); None = the node's nominal")
    adc_fom_j: float = Field(
        6.5e-15, gt=0, description="ADC Walden figure of merit (J per conversion step): E = FOM * 2**bits; "
        "default ISAAC's 8-bit SAR (Table I: 16 mW for the 8 ADCs of one IMA, so 2 mW each at "
        "1.2 GS/s: 2e-3 / 1.2e9 / 256 = 6.5 fJ; from Murmann's survey)")
    adc_power_w: float | None = Field(
        None, gt=0, description="power of one integrating (e.g. CCO) ADC while it integrates (W): "
        "E = P * window per conversion, replacing the FOM model")
    adc_area_m2: float = Field(1.2e-9, gt=0, description="area of one 8-bit ADC at 32 nm (ISAAC); "
                               "scaled by node^2 and 2**(bits-8)")
    dac_j_per_step: float = Field(3.3e-15, gt=0, description="row-driver energy per DAC clock or level "
                                  "(ISAAC 1-bit DAC: 4 mW for 1024 at 1.2 GHz)")
    cell_f2: float = Field(48.0, gt=0, description="area of one device (feature size squared); "
                           "NeuroSim 1T1R 4F x 12F")
    sram_bytes_per_core: PositiveInt = Field(65536, description="activation buffer per core")
    input_activity: float = Field(0.5, gt=0, le=1, description="mean |x| / full scale of the inputs "
                                  "(0.5: uniformly distributed magnitudes)")
    link: Literal["electrical", "photonic"] = Field("electrical", description="core-to-core network")
    photonic_j_per_bit: float = Field(5e-12, gt=0, description="photonic link energy per bit "
                                      "(Intel optical compute interconnect, OFC 2024: 5 pJ/bit)")
    tiers: PositiveInt = Field(1, description="arrays stacked in tiers over the logic (3D); 1 = planar")
    digital_macs_per_s: float = Field(64e9, gt=0, description="throughput of the chip's digital unit "
                                      "for layers kept digital (MAC/s)")
    digital_energy_scale: float = Field(1.0, gt=0, description="factor on every digital energy of "
                                        "aimc.cost.technology (uncertainty of its node scaling rule)")
    ranges: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="low and high value of uncertain cost parameters, by path "
        "(e.g. 'timing.integration_s': [1e-6, 1e-5]); adds to or replaces DEFAULT_RANGES, which hold "
        "only while a parameter keeps its default value. [v, v] marks a published, exact value")

    @field_validator("ranges")
    @classmethod
    def _known_ordered(cls, ranges: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for key, (low, high) in ranges.items():
            if key not in UNCERTAIN:
                allowed = ", ".join(sorted(UNCERTAIN))
                raise ValueError(f"unknown parameter {key!r} in cost.ranges; allowed: {allowed}")
            if not 0 <= low <= high:
                raise ValueError(f"cost.ranges[{key!r}] = [{low:g}, {high:g}] must satisfy 0 <= low <= high")
        return ranges


# Uncertainty of the cost parameters that come from a survey or an assumption (low, high), for the
# parameter's default value; reasons and sources in docs/cost-model-sources.md, section 0b.
DEFAULT_RANGES: dict[str, tuple[float, float]] = {
    "cost.adc_fom_j": (2.2e-15, 31e-15),  # SAR records 2.2 fJ/step; 8 pJ per 8-bit GS/s conversion
    "cost.adc_area_m2": (0.6e-9, 2.4e-9),  # one design scaled by node²: factor 2 either side
    "cost.dac_j_per_step": (1e-15, 10e-15),  # ISAAC's 32 nm driver used unscaled at every node
    "cost.cell_f2": (24.0, 96.0),  # NeuroSim's 4F x 12F, factor 2 either side
    "cost.input_activity": (0.25, 0.75),  # input statistics of published measurements unknown
    "cost.sram_bytes_per_core": (32768.0, 131072.0),  # buffer size assumed, factor 2
    "cost.photonic_j_per_bit": (2.5e-12, 15e-12),  # Intel OCI 5 pJ/bit; pluggables 15 pJ/bit
    "cost.digital_macs_per_s": (16e9, 256e9),  # digital unit unspecified, factor 4
    "cost.digital_energy_scale": (0.67, 1.5),  # L·V² rule vs Dally's 14 nm add (x1.35)
    "timing.dac_lsb_s": (0.5e-9, 2e-9),  # generic 1 ns per input LSB, factor 2
    "timing.integration_s": (50e-9, 200e-9),  # generic 100 ns window, factor 2
    "timing.adc_clock_s": (0.5e-9, 2e-9),  # generic 1 GHz converter clock, factor 2
    "timing.adc_s": (0.0, 10e-9),  # readout after an integrating conversion: up to 10 ns
}
# presets give ranges for these themselves (they have no generic default)
UNCERTAIN = frozenset(DEFAULT_RANGES) | {"cost.adc_power_w", "dac.v_read", "device.g_max"}


def parameter(chip: ChipSpec, path: str) -> float | None:
    """Value of a dotted parameter path of ``chip``, e.g. ``parameter(chip, "timing.adc_s")``."""
    value = chip
    for part in path.split("."):
        value = getattr(value, part)
    return value


class ChipSpec(BaseModel):
    """A chip: one device technology, its weight encoding, converters, array size and drift
    compensation.

    Example:
        >>> chip = ChipSpec(adc={"bits": 6})          # groups accept dicts (as from YAML)
        >>> chip.adc.bits, chip.device.name
        (6, 'pcm')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "custom"
    description: str = Field("", description="what the chip is (one paragraph)")
    cores: PositiveInt = Field(1, description="arrays (cores/tiles) on one chip")
    node_nm: float | None = Field(None, gt=0, description="CMOS technology node (nm)")
    sources: list[str] = Field(default_factory=list, description="papers the values come from")
    assumptions: list[str] = Field(default_factory=list, description="values not in the sources")
    device: DeviceSpec = Field(default_factory=PCM)
    dac: DAC = Field(default_factory=DAC)
    adc: ADC = Field(default_factory=ADC)
    array: ArraySpec = Field(default_factory=ArraySpec)
    encoding: EncodingSpec = Field(default_factory=Differential)
    faults: Faults = Field(default_factory=Faults)
    ir_drop: IRDrop = Field(default_factory=IRDrop, description="wire parasitics; mode none/exact/fast")
    circuit_noise: CircuitNoise = Field(default_factory=CircuitNoise, description="thermal/shot noise")
    timing: Timing = Field(default_factory=Timing, description="converter and read timing")
    compensation: Compensation = Field(default_factory=GlobalDriftCompensation)
    cost: CostSpec = Field(default_factory=CostSpec, description="energy and area parameters")
    reference_cells: ReferenceCells | None = Field(
        None, description="reference columns reserved in every array (aimc.calibration.reference_cells); "
                          "None = none")

    @field_validator("description")
    @classmethod
    def _one_paragraph(cls, text: str) -> str:
        return " ".join(text.split())

    @model_validator(mode="after")
    def _ranges_hold_their_values(self) -> ChipSpec:
        for key, (low, high) in self.cost.ranges.items():
            value = parameter(self, key)
            if value is not None and not low <= value <= high:
                raise ValueError(f"cost.ranges[{key!r}] = [{low:g}, {high:g}] does not contain "
                                 f"{key} = {value:g}")
        return self
