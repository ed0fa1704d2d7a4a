"""Latency and throughput of analog matrix-vector products, from the converters' timing.

One read of an array (one matrix-vector product, MVM) takes, per read phase,

* the input integration: with pulse-width-modulated inputs the longest pulse,
  ``2**(bits-1) * dac_lsb_s`` (Le Gallo et al., Nat. Electron. 2023: 8-bit inputs at 1 ns per LSB);
  with amplitude-coded inputs the integration time ``integration_s``;
* the conversion after it: SAR ``(bits-1) * adc_clock_s`` (one comparison per magnitude bit),
  ramp ``2**(bits-1) * adc_clock_s``, ideal or integrating (CCO) ADCs ``adc_s``; times
  ``columns_per_adc`` when columns share one ADC.

Signed inputs and weights read in ``phases`` sign quadrants (IBM's "four-phase" mode) take
``phases`` reads. A chip's peak throughput is ``cores * 2 * rows * cols / t_MVM`` operations per
second (1 MAC = 2 operations). A pipelined network runs each layer as a stage: its time per
inference is ``vectors / replicas * t_MVM``; the slowest stage sets the throughput and the sum
the latency (digital operations between layers are not counted yet).

Sequence models. A recurrent matrix (``W_hh``, and ``W_hr`` of a projected LSTM) is read once
per time step with the state of the step before, so its ``T`` reads are sequential: the read at
step ``t+1`` waits for step ``t`` (its read and the digital gate update), there is no pipelining
across time steps, and replicas cannot shorten it (:func:`aimc.compile` gives it none). The model
therefore runs the time steps one after another: a sequence's latency is the sum of the stage
times (``T`` vectors each for the per-step matrices), and its latency per token is that sum over
``T``, which for a model whose every layer runs once per token is the latency of one streaming
frame. Throughput (sequences per second) still pipelines whole sequences through the stages.
The recurrent stage, ``T * t_MVM``, is usually the slowest.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chips import ChipSpec
from ..compiler import Mapping


def mvm_time(chip: ChipSpec) -> float:
    """Seconds for one matrix-vector product on one array of ``chip`` (``chip.timing``)."""
    dac, adc, timing = chip.dac, chip.adc, chip.timing
    if dac.encoding == "pulse_width":
        bits = dac.bits or 8
        integrate = 2 ** (bits - 1) * timing.dac_lsb_s
    else:
        integrate = timing.integration_s
    if adc.kind == "sar":
        convert = (adc.bits - 1) * timing.adc_clock_s
    elif adc.kind == "ramp":
        convert = 2 ** (adc.bits - 1) * timing.adc_clock_s
    else:
        convert = timing.adc_s
    return timing.phases * (integrate + convert * adc.columns_per_adc)


def peak_ops(chip: ChipSpec) -> float:
    """Peak operations per second of the whole chip (all cores busy)."""
    return chip.cores * 2 * chip.array.rows * chip.array.cols / mvm_time(chip)


@dataclass
class Schedule:
    """Pipelined schedule of a mapped network."""

    mvm_s: float
    stage_s: dict[str, float]  # per analog layer: vectors / replicas * t_MVM
    tokens: int = 1  # tokens (time steps) per inference

    @property
    def latency_per_token_s(self) -> float:
        """The sequence's latency over its tokens (time steps run one after another)."""
        return self.latency_s / self.tokens

    @property
    def latency_s(self) -> float:
        """One inference through all analog stages in turn."""
        return sum(self.stage_s.values())

    @property
    def throughput(self) -> float:
        """Inferences per second once the pipeline is full."""
        return 1.0 / max(self.stage_s.values())


def schedule(mapping: Mapping) -> Schedule:
    """Stage times of every analog layer of ``mapping`` on its chip."""
    t = mvm_time(mapping.chip)
    stages = {layer.name: layer.vectors / layer.replicas * t for layer in mapping.analog_layers}
    return Schedule(t, stages, mapping.tokens)
