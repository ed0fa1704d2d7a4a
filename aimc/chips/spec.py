"""``ChipSpec``: what the hardware is, as small validated groups (device, DAC, ADC, array,
compensation), separate from any per-model policy.

Every field is checked by pydantic: a bad value raises ``pydantic.ValidationError`` whose message
names the field path (e.g. ``adc.bits``) and the allowed range (e.g. "greater than 0").
"""

from __future__ import annotations

from typing import Annotated

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

    @field_validator("description")
    @classmethod
    def _one_paragraph(cls, text: str) -> str:
        return " ".join(text.split())
