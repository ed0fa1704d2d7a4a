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

Sequence models: the critical path. Matrices of one recurrent layer (``W_ih``, ``W_hh``, ``W_hr``),
and the four projections of an attention layer, sit on their own arrays and read in parallel
whenever their inputs allow it; each read takes ``t_MVM`` (a matrix kept digital:
``rows * cols / digital_macs_per_s``). Layers are taken in call order as *blocks*:

* a plain layer (linear, convolution, embedding): its stage time, ``vectors / replicas * t_MVM``,
  as for a CNN or MLP (unchanged; blocks follow one another);
* an attention layer: ``max(q_proj, k_proj, v_proj) + out_proj`` stage times (the three input
  projections do not depend on each other; before 2026-12-01 they were summed);
* a recurrent layer (``nn.RNN``/``LSTM``/``GRU``, all its layers and directions): ``W_ih x_t`` does
  not depend on ``h_{t-1}``, so per layer and step the read of ``W_ih`` and of ``W_hh`` run in
  parallel and ``W_hr`` (``proj_size``) follows both (it reads ``o * tanh(c)``, which needs both):
  one step of layer ``k`` takes ``max(ih, hh) + hr`` reads. Both directions run in parallel.

Two latencies follow. *Per token* (one streaming frame: a token's input to its output, nothing
read ahead): per recurrent block the sum over its layers of ``max(ih, hh) + hr`` (the slower
direction), plus every other block's time divided by the tokens (per frame, as before). *Per
sequence* (``latency_s``, the whole input available at the start): the recurrent block is a
wavefront pipelined over time, computed exactly by :func:`recurrent_sequence_s`: layer ``k`` at
step ``t`` reads ``W_ih`` once layer ``k-1`` has finished step ``t`` (both directions, for a
bidirectional layer below) and its ``W_ih`` array is free (``replicas`` arrays take turns), reads
``W_hh`` once it has finished step ``t-1``, and ``W_hr`` after both; the reverse direction walks
the steps backwards. A unidirectional ``L``-layer LSTM of ``T`` steps so takes ``(T + L - 1)``
reads, against ``L * T`` with the layers one after another and ``2 * L * T`` with every matrix
a stage of its own (the model before 2026-12-01). The digital gate update between steps is not
timed (as the digital operations between layers).

Throughput. ``1 / (slowest stage)`` (each array busy ``vectors / replicas`` reads per
inference) is reached only with enough independent inferences in flight to fill the pipeline:
``ceil(latency_s / slowest stage)`` concurrent streams. For a mapping with a recurrent layer the
cost report's headline throughput is that of one stream, ``1 / latency_s`` (tokens per second:
``tokens / latency_s``), the pipelined figure a separate number (``pipelined_throughput``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

import numpy as np

from ..chips import ChipSpec
from ..compiler import LayerMap, Mapping

RECURRENT_PARTS = ("ih", "hh", "hr")


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


def stage_time(layer: LayerMap, t_mvm, digital_macs_per_s):
    """Seconds the layer's arrays (or the digital unit) are busy per inference."""
    if layer.analog:
        return layer.vectors / layer.replicas * t_mvm
    return layer.macs / digital_macs_per_s


def read_time(layer: LayerMap, t_mvm, digital_macs_per_s):
    """Seconds of one read (one vector) of the layer's matrix."""
    return t_mvm if layer.analog else layer.rows * layer.cols * (not layer.lookup) / digital_macs_per_s


def _recurrent_step_s(reads: dict[tuple[int, bool, str], object]):
    """One step of a recurrent block through all its layers: sum over layers of the slower
    direction's ``max(ih, hh) + hr``."""
    total = 0.0
    for k in sorted({key[0] for key in reads}):
        per_direction = [np.maximum(reads.get((k, d, "ih"), 0.0), reads.get((k, d, "hh"), 0.0))
                         + reads.get((k, d, "hr"), 0.0) for d in (False, True) if (k, d, "hh") in reads
                         or (k, d, "ih") in reads]
        total = total + reduce_max(per_direction)
    return total


def recurrent_sequence_s(reads: dict[tuple[int, bool, str], object], steps: int,
                         replicas: dict[tuple[int, bool], int] | None = None):
    """Critical path of a recurrent block over a whole sequence of ``steps`` (see the module
    docstring): ``reads[(layer, reverse, part)]`` is the time of one read of that matrix
    (``part`` in ih, hh, hr; a missing matrix takes no time), ``replicas[(layer, reverse)]`` the
    arrays holding copies of ``W_ih``. Times may be arrays (Monte Carlo draws)."""
    replicas = replicas or {}
    ready = [0.0] * steps  # when layer k's input at step t is available
    for k in sorted({key[0] for key in reads}):
        done = []
        for d in (False, True):
            if not any((k, d, p) in reads for p in RECURRENT_PARTS):
                continue
            ih, hh, hr = (reads.get((k, d, p), 0.0) for p in RECURRENT_PARTS)
            copies = max(1, replicas.get((k, d), 1))
            finish, ih_end, previous = [0.0] * steps, [], 0.0
            for j, t in enumerate(range(steps - 1, -1, -1) if d else range(steps)):
                free = ih_end[j - copies] if j >= copies else 0.0
                ih_end.append(np.maximum(ready[t], free) + ih)
                previous = finish[t] = np.maximum(ih_end[j], previous + hh) + hr
            done.append(finish)
        ready = [reduce_max(f) for f in zip(*done, strict=True)]
    return reduce_max(ready)


def critical_path(layers: Sequence[LayerMap], t_mvm, digital_macs_per_s, tokens: int = 1):
    """(latency of one inference, latency per token) of ``layers`` in call order (see the module
    docstring); floats, or arrays when ``t_mvm``/``digital_macs_per_s`` are arrays of draws."""
    latency, per_token = 0.0, 0.0
    for _, block in groupby(layers, key=lambda layer: layer.group if layer.part else id(layer)):
        block = list(block)
        parts = {layer.part for layer in block}
        if parts & set(RECURRENT_PARTS):
            reads = {(layer.depth, layer.reverse, layer.part): read_time(layer, t_mvm, digital_macs_per_s)
                     for layer in block}
            replicas = {(layer.depth, layer.reverse): layer.replicas for layer in block
                        if layer.part == "ih" and layer.analog}
            steps = max(layer.vectors for layer in block)
            latency = latency + recurrent_sequence_s(reads, steps, replicas)
            per_token = per_token + _recurrent_step_s(reads)
            continue
        stage = {layer.part: stage_time(layer, t_mvm, digital_macs_per_s) for layer in block}
        if "out_proj" in stage:  # attention: q, k, v in parallel
            inputs = [stage[p] for p in ("q_proj", "k_proj", "v_proj") if p in stage]
            time = stage["out_proj"] + (reduce_max(inputs) if inputs else 0.0)
        else:
            time = sum(stage_time(layer, t_mvm, digital_macs_per_s) for layer in block)
        latency = latency + time
        per_token = per_token + time / tokens
    return latency, per_token


def reduce_max(values: Sequence):
    """Element-wise maximum of floats or arrays."""
    out = values[0]
    for v in values[1:]:
        out = np.maximum(out, v)
    return out


@dataclass
class Schedule:
    """Schedule of the analog layers of a mapped network (see the module docstring)."""

    mvm_s: float
    stage_s: dict[str, float]  # per analog layer: vectors / replicas * t_MVM
    tokens: int = 1  # tokens (time steps) per inference
    latency_s: float = 0.0  # critical path of one inference
    latency_per_token_s: float = 0.0  # one token through every block (one streaming frame)
    recurrent: bool = False  # a recurrent layer: the throughput is that of one stream

    @property
    def pipelined_throughput(self) -> float:
        """Inferences per second with the pipeline full (:attr:`streams` inferences in flight)."""
        return 1.0 / max(self.stage_s.values())

    @property
    def streams(self) -> int:
        """Independent inferences in flight needed for :attr:`pipelined_throughput`."""
        return max(1, math.ceil(self.latency_s * self.pipelined_throughput - 1e-9))

    @property
    def throughput(self) -> float:
        """Inferences per second: pipelined (:attr:`pipelined_throughput`), except for a model
        with a recurrent layer: one stream, ``1 / latency_s``."""
        return 1.0 / self.latency_s if self.recurrent else self.pipelined_throughput


def schedule(mapping: Mapping) -> Schedule:
    """Stage times and critical path of every analog layer of ``mapping`` on its chip."""
    t = mvm_time(mapping.chip)
    layers = mapping.analog_layers
    stages = {layer.name: stage_time(layer, t, 1.0) for layer in layers}
    latency, per_token = critical_path(layers, t, mapping.chip.cost.digital_macs_per_s, mapping.tokens)
    return Schedule(t, stages, mapping.tokens, float(latency), float(per_token),
                    any(layer.recurrent for layer in layers))
