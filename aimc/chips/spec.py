"""``ChipSpec``: what the hardware is, as small validated groups (device, DAC, ADC, array,
compensation), separate from any per-model policy.

Every field is checked by pydantic: a bad value raises ``pydantic.ValidationError`` whose message
names the field path (e.g. ``adc.bits``) and the allowed range (e.g. "greater than 0").
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator

from ..array import CircuitNoise, Faults
from ..array.ir_drop import IRDrop
from ..calibration import Compensation, GlobalDriftCompensation
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
        52e-15, gt=0, description="ADC Walden figure of merit (J per conversion step): E = FOM * 2**bits; "
        "default ISAAC's 8-bit SAR (16 mW at 1.2 GS/s, from Murmann's survey)")
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

    @field_validator("description")
    @classmethod
    def _one_paragraph(cls, text: str) -> str:
        return " ".join(text.split())
