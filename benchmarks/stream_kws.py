"""Streaming keyword spotting on a generated 5-minute recording: digital vs analog, 1 day after
programming.

Command: ``python benchmarks/stream_kws.py --seeds 3`` prints the README's markdown table (about
4 min single-threaded on a quiet machine once the 3 models are cached; training them takes about
13 min each on the first run). Without ``--seeds`` one model (seed 0); ``--chips`` and
``--presets`` shorten it.

What runs. The streaming keyword spotter of ``aimc stream`` (:func:`aimc.stream.default_spotter`:
an LSTM of 128 units over 40 log-mel bands and a per-frame classifier, trained once per seed on
128 generated one-minute recordings by truncated BPTT; its detector settings, threshold, smoothing
window and refractory period, chosen by F1 on two 150 s validation recordings spoken by voices of
neither training nor test) streams a held-out test recording (:func:`aimc.data.recording.
generate_recording`, 300 s, seed 7, spoken only by the test voice variants, background noise at
10 dB below the nominal speech level) in 100 ms chunks with its state carried throughout.

Digital: the trained model itself. Analog: the model converted to a preset (``aimc.convert``: the
LSTM's ``W_ih`` and ``W_hh`` and the classifier on tiles, gates digital), programmed as chip
instance ``k`` (seeds 0..n-1), drifted to 1 day with the preset's drift compensation; every time
step reads the recurrent tile afresh. The detector settings are the digital model's (nothing is
tuned on the test audio or for the chip).

Scoring (:func:`aimc.stream.score_detections`): a detection counts when it names a keyword spoken
in ``[start, end + 0.5 s]``, one detection per keyword; unknown words are not targets.

Statistics. With one training seed (the default), mean ± standard error over the chip instances
(std/sqrt(n), ddof 1): the SE covers chip-to-chip variation only, not training seeds. With
``--seeds n`` each seed trains its own model on its own training recordings (cached after the
first run, several minutes each); each seed's figure is the mean over its chip instances and the
table gives mean ± SE over seeds, which covers both sources (as ``benchmarks/hwa_fashion.py``).
The test recording's own sampling error (which keywords, voices and noise were drawn) is in
neither.

With several seeds the script also prints the analog - digital difference of each figure, paired
by seed (each seed's chip mean minus its digital model), mean ± SE over seeds.

Cost and speed. The chip latency and energy per frame (mean over the seeds' models; one 10 ms
time step: ``W_ih``, ``W_hh`` and the classifier each read once) come from
:func:`aimc.stream.frame_cost` (``aimc.compile`` on a one-frame example, then
``aimc.cost.estimate``). The real-time factor is this process's wall-clock
time (features, model, detector) over the audio's duration, torch pinned to one thread; the
machine's load average is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import torch

import aimc
from aimc.data.recording import generate_recording, voice_split
from aimc.stream import TEST_SNR_DB, TOLERANCE_S, default_spotter, frame_cost, score_detections

DAY = 86400.0
TEST_SEED = 7


def mean_se(values: list[float], digits: int = 3) -> str:
    """``mean ± SE`` (SE = std / sqrt(n), ddof 1); the mean alone for one value."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return f"{v.mean():.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1) / np.sqrt(len(v)):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1, help="training seeds (models); each trains once, "
                                                               "then is cached")
    parser.add_argument("--chips", type=int, default=4, help="chip instances per preset and model")
    parser.add_argument("--presets", nargs="+", default=["ibm-speech-pcm", "ibm-hermes-pcm"])
    parser.add_argument("--seconds", type=float, default=300.0, help="test recording length")
    parser.add_argument("--time", type=float, default=DAY, help="seconds after programming")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load average at start: {os.getloadavg()}", flush=True)
    t0 = time.perf_counter()
    recording = generate_recording(args.seconds, TEST_SEED, voices=voice_split()[2], snr_db=TEST_SNR_DB)
    keywords = sum(not e.label.startswith("_") for e in recording.events)
    print(f"test recording: {recording.duration_s:.0f} s, {keywords} keywords, "
          f"{len(recording.events) - keywords} unknown words", flush=True)

    def run(spotter, model, label: str) -> tuple:
        result = spotter.streamer(model).run(recording.audio)
        score = score_detections(result.detections, recording.events, tolerance_s=TOLERANCE_S,
                                 duration_s=result.duration_s)
        print(f"  {label}: precision {score.precision:.3f} recall {score.recall:.3f} F1 {score.f1:.3f} "
              f"false alarms/h {score.false_alarms_per_hour:.0f} RTF {result.real_time_factor:.3f} "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
        return score, result.real_time_factor

    configs = ["digital", *args.presets]
    # per[config] = list over seeds of lists over chips of (score, rtf)
    per: dict[str, list[list[tuple]]] = {c: [] for c in configs}
    costs: dict[str, list] = {p: [] for p in args.presets}
    for seed in range(args.seeds):
        t1 = time.perf_counter()
        spotter = default_spotter(seed)
        print(f"model seed {seed} ready in {time.perf_counter() - t1:.0f} s; detector "
              f"{spotter.info.get('detector')}, validation F1 {spotter.info.get('val_f1', float('nan')):.3f}",
              flush=True)
        per["digital"].append([run(spotter, spotter.model, f"seed {seed} digital")])
        for preset in args.presets:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                costs[preset].append(frame_cost(spotter.model, preset))
            runs = []
            for k in range(args.chips):
                analog, _ = aimc.convert(spotter.model, preset)
                aimc.program(analog, seed=k)
                aimc.drift(analog, args.time)
                runs.append(run(spotter, analog, f"seed {seed} {preset} chip {k}"))
            per[preset].append(runs)

    def stat(config: str, key: str, digits: int = 3) -> str:
        # the mean over chips of each seed, then mean ± SE over seeds (chips alone with one seed)
        values = [[getattr(s, key) for s, _ in runs] for runs in per[config]]
        return mean_se([np.mean(v) for v in values] if args.seeds > 1 else values[0], digits)

    load = os.getloadavg()
    spread = (f"mean ± SE over {args.seeds} training seeds (each the mean over its chip instances)"
              if args.seeds > 1 else "one trained model (seed 0), mean ± SE over chip instances")
    print()
    print(f"Streaming keyword spotting, {recording.duration_s:.0f} s test recording ({keywords} keywords, "
          f"held-out voices, {TEST_SNR_DB:g} dB SNR), {args.time / DAY:g} day after programming; {spread}; "
          f"RTF on this CPU, 1 thread, load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")
    print()
    print("| model | seeds x chips | precision | recall | F1 | false alarms/h | real-time factor (CPU) "
          "| chip latency/frame (µs) | chip energy/frame (nJ) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for config in configs:
        chips = 1 if config == "digital" else args.chips
        rtf = np.mean([r for runs in per[config] for _, r in runs])
        cost = costs.get(config)
        latency = None if cost is None else np.mean([c.latency_s for c in cost])
        energy = None if cost is None else np.mean([c.energy_j for c in cost])
        label = "digital" if config == "digital" else f"{config}, 1 day" if args.time == DAY else config
        row = (label, f"{args.seeds} x {chips}", stat(config, "precision"), stat(config, "recall"),
               stat(config, "f1"), stat(config, "false_alarms_per_hour", 0), f"{rtf:.3f}",
               "-" if cost is None else f"{1e6 * latency:.3g}",
               "-" if cost is None else f"{1e9 * energy:.3g}")
        print("| " + " | ".join(row) + " |")
    if args.seeds > 1:  # paired by seed: the chip's mean over instances minus the digital model
        print()
        for preset in args.presets:
            parts = []
            for key in ("precision", "recall", "f1"):
                diff = [np.mean([getattr(s, key) for s, _ in chips]) - getattr(digital[0][0], key)
                        for chips, digital in zip(per[preset], per["digital"], strict=True)]
                parts.append(f"{key} {mean_se(diff)}")
            print(f"{preset} - digital (paired by seed, mean ± SE over {args.seeds} seeds): "
                  + ", ".join(parts))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
