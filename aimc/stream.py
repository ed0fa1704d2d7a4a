"""Streaming keyword spotting: a recurrent model fed a continuous signal chunk by chunk.

The runtime. :class:`KeywordStreamer` turns each chunk of audio into new feature frames
(:class:`aimc.data.keywords.LogMelStream`: 25 ms Hann windows every 10 ms, the same frames as one
pass over the whole signal, however it is cut), runs them through the model with the recurrent
state carried from the previous call (the model's ``(h, c)``, passed explicitly as ``hx`` as
PyTorch's ``nn.LSTM`` takes it, so a converted :class:`aimc.nn.AnalogLSTM` streams the same way:
every time step is a fresh read of its tiles), and turns the per-frame class posteriors into
detection events as they happen.

Detection rule (Chen, Parada & Heigold, "Small-footprint keyword spotting using deep neural
networks", ICASSP 2014, Sec. 2.3): the posteriors ``p_j`` of frame ``j`` are smoothed by a moving
average over the last ``w_smooth`` frames, ``p'_j = 1/(j - h + 1) * sum_{k=h}^{j} p_k`` with
``h = max(0, j - w_smooth + 1)`` (a shorter window at the very start). The keyword score of a frame
is its largest smoothed keyword posterior (``_unknown_`` and ``_silence_`` excluded); a detection
(keyword, time, score) is emitted at the first frame whose score reaches ``threshold``, and no
other detection (any keyword) is emitted for ``refractory_s`` seconds after it, so one spoken
word gives one event. Chen et al. take the maximum over a second window of 100 frames for
multi-unit keywords; with one output per keyword that maximum is the threshold crossing itself.
The time of a frame is the end of its analysis window (``j * hop + window``): when it exists.

Model protocol. ``model(x, state) -> (logits, state)`` with ``x`` of shape ``[1, frames,
features]`` and ``state`` ``None`` at the start of a stream (:class:`aimc.models.streaming.
StreamingKWS`, digital or converted, follows it).

Cost. :func:`frame_cost` compiles the digital model on a one-frame example on a chip
(:func:`aimc.compile`) and reads the per-inference latency and energy of that one step from
:func:`aimc.cost.estimate`: the cost of one 10 ms frame (``W_ih``, ``W_hh`` and the classifier
each read once). :meth:`KeywordStreamer.run` also measures the real-time factor on this CPU
(simulation wall-clock time / audio duration).

Scoring. :func:`score_detections` matches detections to ground-truth keyword events one to one:
a detection matches an event of the same keyword when its time lies in ``[start, end +
tolerance_s]``; detections are taken in time order, each matched to the still unmatched eligible
event that ends first (the greedy rule that maximises the number of matches of points to
intervals). Unmatched detections are false alarms, unmatched events misses.

Example:
    >>> from aimc.models.streaming import StreamingKWS
    >>> from aimc.data.keywords import CLASSES
    >>> streamer = KeywordStreamer(StreamingKWS(classes=len(CLASSES)), CLASSES, threshold=0.9)
    >>> hits = streamer.push(np.zeros(1600, dtype=np.float32))   # 100 ms of audio  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["Detection", "DetectionScore", "FrameCost", "KeywordStreamer", "Spotter", "StreamResult",
           "default_spotter", "frame_cost", "moving_average", "score_detections", "select_detector"]

SAMPLE_RATE = 16000  # Hz, = aimc.data.keywords.SAMPLE_RATE
HOP_S = 0.010  # s between feature frames
WINDOW_S = 0.025  # s, analysis window of a frame


@dataclass(frozen=True)
class Detection:
    """One detection: the keyword, the stream time (s) at which it fired, its smoothed score."""

    keyword: str
    time_s: float
    score: float


@dataclass(frozen=True)
class FrameCost:
    """Modelled chip cost of one feature frame (one time step of the model)."""

    chip: str
    latency_s: float
    energy_j: float
    arrays: int
    chips: int

    @property
    def power_w(self) -> float:
        """Mean power at one frame per ``HOP_S`` (s): energy per frame / frame period."""
        return self.energy_j / HOP_S


@dataclass
class DetectionScore:
    """Precision, recall and F1 of detections against ground-truth keyword events."""

    true_positives: int
    false_positives: int
    misses: int
    duration_s: float | None = None

    @property
    def precision(self) -> float:
        n = self.true_positives + self.false_positives
        return self.true_positives / n if n else math.nan

    @property
    def recall(self) -> float:
        n = self.true_positives + self.misses
        return self.true_positives / n if n else math.nan

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def false_alarms_per_hour(self) -> float:
        return self.false_positives / (self.duration_s / 3600) if self.duration_s else math.nan


@dataclass
class StreamResult:
    """What :meth:`KeywordStreamer.run` returns."""

    detections: list[Detection]
    posteriors: np.ndarray  # [frames, classes], raw softmax outputs
    smoothed: np.ndarray  # [frames, classes], moving average (see the module docstring)
    duration_s: float  # audio length
    wall_s: float  # time this process took to stream it
    cost: FrameCost | None = None
    load: tuple[float, float, float] = field(default_factory=lambda: (math.nan,) * 3)

    @property
    def frames(self) -> int:
        return len(self.posteriors)

    @property
    def real_time_factor(self) -> float:
        """Wall-clock seconds per second of audio (below 1: faster than real time)."""
        return self.wall_s / self.duration_s


def frame_cost(model: nn.Module, chip, features: int = 40) -> FrameCost:
    """Latency and energy of one frame of ``model`` (digital, before :func:`aimc.convert`) on
    ``chip`` (a :class:`~aimc.chips.ChipSpec` or preset name): :func:`aimc.compile` on a
    one-frame example ``[1, 1, features]``, then :func:`aimc.cost.estimate`."""
    from .compiler import compile as compile_model
    from .cost import estimate

    mapping = compile_model(model, chip, torch.zeros(1, 1, features))
    report = estimate(mapping)
    return FrameCost(mapping.chip.name, report.latency_s, report.total_j, mapping.arrays_needed,
                     mapping.chips_needed)


def moving_average(posteriors: np.ndarray, window: int, history: np.ndarray | None = None) -> np.ndarray:
    """Chen et al. (2014) smoothing of ``posteriors`` ``[frames, classes]``: each frame the mean
    of itself and up to ``window - 1`` frames before it, ``history`` (the last frames of the
    stream before these, at most ``window - 1``) included."""
    if window < 1:
        raise ValueError(f"smoothing window must be at least 1 frame, got {window}")
    classes = posteriors.shape[1]
    past = np.zeros((0, classes)) if history is None or window == 1 else history[-(window - 1):]
    x = np.concatenate([past, posteriors]).astype(np.float64)
    csum = np.concatenate([np.zeros((1, classes)), np.cumsum(x, axis=0)])
    end = np.arange(len(past) + 1, len(x) + 1)  # exclusive end of each new frame's window
    start = np.maximum(end - window, 0)
    out = (csum[end] - csum[start]) / (end - start)[:, None]
    return out.astype(np.float32)


class KeywordStreamer:
    """A keyword spotter on a continuous stream (see the module docstring for the rule).

    Args:
        model: follows the protocol ``model(x [1, T, F], state) -> (logits [1, T, C], state)``;
            digital or converted by :func:`aimc.convert` (programmed and drifted by the caller).
        classes: the names of the model's outputs, e.g. :data:`aimc.data.keywords.CLASSES`.
        keywords: the classes that fire detections (default: every class not starting with ``_``).
        threshold: smoothed posterior at which a keyword fires, in (0, 1].
        smooth_frames: moving-average window in frames (Chen et al. use 30 frames).
        refractory_s: seconds after a detection during which no other one is emitted.
        chip_cost: the modelled cost of one frame (:func:`frame_cost`), reported by :meth:`run`.
        features: a factory of feature streams with ``.push(samples) -> [new_frames, F]``
            (default :class:`aimc.data.keywords.LogMelStream`).
        hop_s, window_s: frame hop and analysis window (s) of those features.
    """

    def __init__(
        self,
        model: nn.Module,
        classes: Sequence[str],
        *,
        keywords: Iterable[str] | None = None,
        threshold: float = 0.5,
        smooth_frames: int = 30,
        refractory_s: float = 1.0,
        chip_cost: FrameCost | None = None,
        features: Callable[[], object] | None = None,
        hop_s: float = HOP_S,
        window_s: float = WINDOW_S,
    ) -> None:
        self.classes = tuple(classes)
        keywords = [c for c in self.classes if not c.startswith("_")] if keywords is None else list(keywords)
        unknown = [k for k in keywords if k not in self.classes]
        if unknown:
            raise ValueError(f"keywords {unknown} are not among the classes {list(self.classes)}")
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if smooth_frames < 1:
            raise ValueError(f"smooth_frames must be at least 1, got {smooth_frames}")
        if refractory_s < 0:
            raise ValueError(f"refractory_s must be >= 0, got {refractory_s}")
        self.keyword_index = np.array([self.classes.index(k) for k in keywords])
        self.model = model.eval()
        self.threshold, self.smooth_frames, self.refractory_s = threshold, smooth_frames, refractory_s
        self.chip_cost = chip_cost
        if features is None:
            from .data.keywords import LogMelStream

            features = LogMelStream
        self._make_features = features
        self.hop_s, self.window_s = hop_s, window_s
        self.reset()

    def reset(self) -> None:
        """Start a new stream: zero state, no history, time 0."""
        self.state = None
        self.frames = 0
        self._features = self._make_features()
        self._history = np.zeros((0, len(self.classes)), dtype=np.float32)
        self._last_fire = -math.inf

    @torch.no_grad()
    def posteriors(self, frames: np.ndarray | torch.Tensor) -> np.ndarray:
        """Run feature ``frames`` ``[n, F]`` through the model with the carried state; the class
        posteriors ``[n, C]`` (softmax). Advances the state, not the detector."""
        x = torch.as_tensor(np.asarray(frames, dtype=np.float32))[None]
        logits, self.state = self.model(x, self.state)
        return torch.softmax(logits[0].float(), dim=-1).numpy()

    def detect(self, posteriors: np.ndarray) -> tuple[list[Detection], np.ndarray]:
        """Smooth the next frames' ``posteriors`` and return the detections they fire and the
        smoothed posteriors; advances the stream time by ``len(posteriors)`` frames."""
        smoothed = moving_average(posteriors, self.smooth_frames, self._history)
        keep = max(self.smooth_frames - 1, 0)
        self._history = np.concatenate([self._history, posteriors])[-keep:] if keep else self._history[:0]
        found = []
        scores = smoothed[:, self.keyword_index]
        best = scores.argmax(axis=1)
        for j in np.flatnonzero(scores.max(axis=1) >= self.threshold):
            t = (self.frames + j) * self.hop_s + self.window_s
            if t - self._last_fire >= self.refractory_s:
                k = int(best[j])
                found.append(Detection(self.classes[self.keyword_index[k]], float(t), float(scores[j, k])))
                self._last_fire = t
        self.frames += len(posteriors)
        return found, smoothed

    def push(self, audio: np.ndarray) -> list[Detection]:
        """Feed the next chunk of audio (mono float samples at the features' sample rate); the
        detections it completes, in time order."""
        return self._push(audio)[0]

    def _push(self, audio: np.ndarray) -> tuple[list[Detection], np.ndarray, np.ndarray]:
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"audio must be a 1-D array of mono samples, got shape {audio.shape}")
        frames = np.asarray(self._features.push(audio))
        if len(frames) == 0:
            empty = np.zeros((0, len(self.classes)), dtype=np.float32)
            return [], empty, empty
        post = self.posteriors(frames)
        found, smoothed = self.detect(post)
        return found, post, smoothed

    def run(self, audio: np.ndarray, *, chunk_s: float = 0.1, sample_rate: int = SAMPLE_RATE,
            on_detection: Callable[[Detection], None] | None = None) -> StreamResult:
        """Stream a whole signal from a fresh state in chunks of ``chunk_s`` seconds (as a
        microphone would deliver it); ``on_detection`` is called as each detection happens.
        The wall-clock time covers features, model and detector."""
        import os

        audio = np.asarray(audio, dtype=np.float32)
        step = max(1, round(chunk_s * sample_rate))
        self.reset()
        found, posts, smooth = [], [], []
        load = os.getloadavg()
        start = time.perf_counter()
        for i in range(0, len(audio), step):
            new, post, smoothed = self._push(audio[i:i + step])
            posts.append(post)
            smooth.append(smoothed)
            for d in new:
                found.append(d)
                if on_detection is not None:
                    on_detection(d)
        wall = time.perf_counter() - start
        classes = len(self.classes)

        def cat(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros((0, classes), dtype=np.float32)

        return StreamResult(found, cat(posts), cat(smooth), len(audio) / sample_rate, wall, self.chip_cost,
                            load)


def score_detections(detections: Sequence[Detection], events: Iterable, keywords: Iterable[str] | None = None,
                     *, tolerance_s: float = 0.5, duration_s: float | None = None) -> DetectionScore:
    """Precision, recall and F1 of ``detections`` against ground-truth ``events`` (objects with
    ``label``, ``start_s``, ``end_s``, e.g. :class:`aimc.data.recording.Event`).

    Only events whose label is in ``keywords`` (default: labels not starting with ``_``) are
    targets; unknown words and silence are not. Matching (one to one): a detection matches an
    event of the same keyword when ``start_s <= time_s <= end_s + tolerance_s``; detections in
    time order each take the unmatched eligible event that ends first.

    Example:
        >>> from aimc.data.recording import Event
        >>> s = score_detections([Detection("yes", 1.2, 0.9), Detection("no", 5.0, 0.8)],
        ...                      [Event("yes", 0.8, 1.1), Event("up", 3.0, 3.4)])
        >>> s.true_positives, s.false_positives, s.misses
        (1, 1, 1)
    """
    if tolerance_s < 0:
        raise ValueError(f"tolerance_s must be >= 0, got {tolerance_s}")
    events = list(events)
    if keywords is None:
        targets = [e for e in events if not e.label.startswith("_")]
    else:
        wanted = set(keywords)
        targets = [e for e in events if e.label in wanted]
    targets.sort(key=lambda e: e.end_s)
    taken = [False] * len(targets)
    tp = 0
    for d in sorted(detections, key=lambda d: d.time_s):
        for i, e in enumerate(targets):
            if not taken[i] and e.label == d.keyword and e.start_s <= d.time_s <= e.end_s + tolerance_s:
                taken[i] = True
                tp += 1
                break
    return DetectionScore(tp, len(detections) - tp, len(targets) - tp, duration_s)


# ------------------------------------------------------------------ the default streaming model
TRAIN_RECORDINGS, TRAIN_SECONDS = 128, 60.0  # training audio: 128 recordings of 60 s, training voices
TRAIN_DENSITY = {"pause_s": (0.2, 0.8), "p_keyword": 0.6, "p_unknown": 0.35}  # denser than test audio
MODEL_VERSION = 3  # part of the cached model's name: bump when the recipe changes
VAL_RECORDINGS, VAL_SECONDS = 2, 150.0  # validation audio (threshold, smoothing): validation voices
TRAIN_SNR_DB = (20.0, 10.0, 5.0)  # training recordings cycle through these SNRs
TEST_SNR_DB = 10.0  # SNR of validation and test recordings
TOLERANCE_S = 0.5  # detection within [start, end + 0.5 s] of its keyword counts
GRID = {"smooth_frames": (5, 10, 20, 30), "threshold": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
        "refractory_s": (0.5, 1.0)}


@dataclass
class Spotter:
    """A trained streaming model with the detector settings chosen for it on validation audio."""

    model: nn.Module
    classes: list[str]
    threshold: float
    smooth_frames: int
    refractory_s: float
    info: dict = field(default_factory=dict)

    def streamer(self, model: nn.Module | None = None, **overrides) -> KeywordStreamer:
        """A :class:`KeywordStreamer` with these settings, on ``model`` (default the digital one,
        or e.g. its converted twin)."""
        settings = {"threshold": self.threshold, "smooth_frames": self.smooth_frames,
                    "refractory_s": self.refractory_s} | {k: v for k, v in overrides.items() if v is not None}
        return KeywordStreamer(self.model if model is None else model, self.classes, **settings)


def select_detector(model: nn.Module, classes: Sequence[str], recordings: Sequence,
                    grid: dict | None = None, tolerance_s: float = TOLERANCE_S) -> tuple[dict, float]:
    """The detector settings of ``grid`` with the best F1 summed over validation ``recordings``
    (ties: the first in grid order) and that F1. Posteriors are computed once per recording."""
    import itertools

    grid = grid or GRID
    posts = [KeywordStreamer(model, classes).run(r.audio).posteriors for r in recordings]
    best, best_f1 = {}, -1.0
    for values in itertools.product(*grid.values()):
        settings = dict(zip(grid, values, strict=True))
        tp = fp = fn = 0
        for r, post in zip(recordings, posts, strict=True):
            s = KeywordStreamer(model, classes, features=lambda: None, **settings)
            found, _ = s.detect(post)
            score = score_detections(found, r.events, tolerance_s=tolerance_s)
            tp, fp, fn = tp + score.true_positives, fp + score.false_positives, fn + score.misses
        f1 = DetectionScore(tp, fp, fn).f1
        if f1 > best_f1:
            best, best_f1 = settings, f1
    return best, best_f1


def default_spotter(seed: int = 0, cache_dir=None, *, progress: bool = True, console=None) -> Spotter:
    """The streaming keyword spotter of ``aimc stream``: trained once (seeded) and cached.

    Training: :data:`TRAIN_RECORDINGS` generated recordings of :data:`TRAIN_SECONDS` s spoken by
    the training voices of :func:`aimc.data.recording.voice_split` at the SNRs
    :data:`TRAIN_SNR_DB`, with words closer together than in test audio (:data:`TRAIN_DENSITY`),
    :func:`aimc.models.streaming.train_streaming`. Detector settings:
    :func:`select_detector` on :data:`VAL_RECORDINGS` validation recordings (validation voices,
    :data:`TEST_SNR_DB`). Cached as ``streaming-kws-v{MODEL_VERSION}-seed{seed}.safetensors`` in
    ``cache_dir/models`` (default ``$AIMC_CACHE`` or ``~/.cache/aimc``); the settings and the
    validation F1 are in its metadata.
    """
    from .data.keywords import CLASSES
    from .data.recording import default_cache_dir, generate_recording, voice_split
    from .models.streaming import TrainConfig, load_model, save_model, train_streaming

    root = default_cache_dir() if cache_dir is None else Path(cache_dir)
    path = root / "models" / f"streaming-kws-v{MODEL_VERSION}-seed{seed}.safetensors"
    if not path.is_file():
        say = console.print if console is not None else (lambda *_: None)
        train_voices, val_voices, _ = voice_split()
        say(f"training the streaming keyword spotter (seed {seed}, once; cached in {path.parent})")
        train = [generate_recording(TRAIN_SECONDS, 1000 * (seed + 1) + i, voices=train_voices,
                                    snr_db=TRAIN_SNR_DB[i % len(TRAIN_SNR_DB)], cache_dir=root,
                                    **TRAIN_DENSITY)
                 for i in range(TRAIN_RECORDINGS)]
        model = train_streaming(train, CLASSES, TrainConfig(seed=seed), progress=progress)
        val = [generate_recording(VAL_SECONDS, 1000 * (seed + 1) + 500 + i, voices=val_voices,
                                  snr_db=TEST_SNR_DB, cache_dir=root) for i in range(VAL_RECORDINGS)]
        settings, f1 = select_detector(model, CLASSES, val)
        save_model(model, path, CLASSES, {"detector": settings, "val_f1": f1, "seed": seed})
    model, classes, info = load_model(path)
    return Spotter(model, classes, **info.get("detector", {}), info=info)
