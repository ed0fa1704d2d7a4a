"""Continuous recordings with keywords at known times, for streaming keyword spotting.

A recording is a sequence of segments on a background of noise. Each segment is a pause drawn
uniformly from ``pause_s`` (s) followed, with probabilities ``P_KEYWORD``, ``P_UNKNOWN`` and
``1 - P_KEYWORD - P_UNKNOWN``, by a keyword, an unknown word, or nothing (a longer silence). A
word is spoken by ``espeak-ng`` (:func:`aimc.data.keywords.speak`) with a voice drawn from
``voices``, a speed and a pitch drawn from :data:`aimc.data.keywords.SPEEDS` (words per minute)
and :data:`~aimc.data.keywords.PITCHES` (espeak's 0-99 scale); the leading and trailing silence
left by :func:`~aimc.data.keywords.speak` is cut (10 ms frames more than 35 dB below the word's
loudest frame), so an event's ``start_s``/``end_s`` are
where the speech energy begins and ends. Each word gets a level of ``SPEECH_RMS`` times a gain
uniform in ±6 dB (a talker moving), and the whole recording a background noise
(:func:`aimc.data.keywords.noise`, its kind drawn from ``noise_kinds``) whose RMS is
``SPEECH_RMS / 10**(snr_db / 20)``: ``snr_db`` is the ratio of the nominal speech level to the
noise level. Everything is drawn from ``numpy.random.default_rng(SeedSequence(seed))``: same
arguments, same samples; a recording is cached to disk (safetensors audio + JSON events) under
a key of all the arguments.

Per-frame training targets (:meth:`Recording.frame_targets`): a frame's time is the end of its
25 ms analysis window (``j * 10 ms + 25 ms``, as :mod:`aimc.stream` counts). Frames within
``after_s`` after a keyword's end (``[end, end + after_s]``) are labelled with the keyword, so a
model learns to answer just after the word; frames inside the keyword (``[start, end)``) are
ignored (``IGNORE``, PyTorch's default ``ignore_index``): the word is not yet identifiable and
the model may answer early or not; frames in ``[start, end + after_s]`` of an unknown word are
``_unknown_``; all other frames ``_silence_`` (noise only).

Example:
    >>> rec = generate_recording(30.0, seed=1)                 # doctest: +SKIP
    >>> rec.audio.shape, rec.events[0]                          # doctest: +SKIP
    ((480000,), Event(label='left', start_s=0.73, end_s=1.12))
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000  # Hz (= aimc.data.keywords.SAMPLE_RATE)
HOP_S, WINDOW_S = 0.010, 0.025  # frame hop and analysis window of the log-mel features (s)
IGNORE = -100  # target of frames the loss skips (torch.nn.CrossEntropyLoss ignore_index)
P_KEYWORD, P_UNKNOWN = 0.55, 0.3  # segment is a keyword / an unknown word / nothing
SPEECH_RMS = 0.05  # nominal speech level (full scale 1)
TRIM_DB = 35.0  # a word's speech: 10 ms frames within this many dB of its loudest frame
VERSION = 1  # bump when the generator changes (part of the cache key)


def default_cache_dir() -> Path:
    """``$AIMC_CACHE`` or ``~/.cache/aimc``."""
    return Path(os.environ.get("AIMC_CACHE", Path.home() / ".cache" / "aimc")).expanduser()


@dataclass(frozen=True)
class Event:
    """A word in a recording: its label (a keyword, or ``_unknown_``) and where its speech is (s)."""

    label: str
    start_s: float
    end_s: float


@dataclass
class Recording:
    """Mono audio at ``sample_rate`` and the ground-truth word events in it."""

    audio: np.ndarray
    events: list[Event]
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate

    def frame_targets(self, classes: Sequence[str], frames: int | None = None, *, after_s: float = 0.3,
                      hop_s: float = HOP_S, window_s: float = WINDOW_S) -> np.ndarray:
        """Class index per feature frame (see the module docstring); ``frames`` defaults to the
        number of whole 25 ms windows at 10 ms hops in the audio."""
        classes = list(classes)
        if frames is None:
            frames = max(0, 1 + int((len(self.audio) - round(window_s * self.sample_rate))
                                    // round(hop_s * self.sample_rate)))
        t = np.arange(frames) * hop_s + window_s
        targets = np.full(frames, classes.index("_silence_"), dtype=np.int64)
        for e in self.events:
            if e.label in classes and not e.label.startswith("_"):
                targets[(t >= e.start_s) & (t < e.end_s)] = IGNORE
                targets[(t >= e.end_s) & (t <= e.end_s + after_s)] = classes.index(e.label)
            else:
                targets[(t >= e.start_s) & (t <= e.end_s + after_s)] = classes.index("_unknown_")
        return targets


def trim(speech: np.ndarray, sample_rate: int = SAMPLE_RATE, db: float = TRIM_DB) -> np.ndarray:
    """``speech`` without its leading and trailing silence: from the first to the end of the last
    10 ms frame whose RMS is within ``db`` dB of the loudest frame."""
    n = round(0.01 * sample_rate)
    frames = len(speech) // n
    if frames == 0:
        return speech
    rms = np.sqrt(np.mean(speech[:frames * n].reshape(frames, n).astype(np.float64) ** 2, axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-db / 20))
    return speech[loud[0] * n:(loud[-1] + 1) * n]


TEST_VARIANTS = ("+m7", "+f5")  # voice variants (timbres) only test recordings use
VAL_VARIANTS = ("+m6", "+f4")  # voice variants only validation recordings use


def voice_split() -> tuple[list[str], list[str], list[str]]:
    """Training, validation and test voices of :data:`aimc.data.keywords.VOICES`, disjoint by
    variant (timbre): test recordings are spoken only by the variants :data:`TEST_VARIANTS`,
    validation by :data:`VAL_VARIANTS`, training by the other 9 (with all 8 accents in each)."""
    from .keywords import VOICES

    def variant(v: str) -> str:
        return "+" + v.split("+", 1)[1] if "+" in v else ""

    test = [v for v in VOICES if variant(v) in TEST_VARIANTS]
    val = [v for v in VOICES if variant(v) in VAL_VARIANTS]
    train = [v for v in VOICES if v not in test and v not in val]
    return train, val, test


def _key(**kwargs) -> str:
    text = json.dumps(kwargs, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def generate_recording(
    seconds: float,
    seed: int,
    *,
    voices: Sequence[str] | None = None,
    snr_db: float = 15.0,
    pause_s: tuple[float, float] = (0.4, 1.4),
    p_keyword: float = P_KEYWORD,
    p_unknown: float = P_UNKNOWN,
    noise_kinds: Sequence[str] | None = None,
    keywords: Sequence[str] | None = None,
    unknown_words: Sequence[str] | None = None,
    cache_dir: str | Path | None = None,
) -> Recording:
    """A continuous recording of ``seconds`` (s) with keywords, unknown words and pauses at
    known times (see the module docstring), deterministic from ``seed`` and cached in
    ``cache_dir`` (default :func:`default_cache_dir`; ``False``-like ``""`` disables the cache).

    Args:
        voices: espeak-ng voices to draw from (default :data:`aimc.data.keywords.VOICES`); give
            disjoint lists to training and test recordings for held-out talkers.
        snr_db: nominal speech level over the background noise level (dB).
        pause_s: range of the pause before each segment (s).
        p_keyword, p_unknown: probabilities that a segment is a keyword, an unknown word
            (else a pause only); training recordings can be denser than test ones.
        noise_kinds: background noise kinds for :func:`aimc.data.keywords.noise` (default: all).
    """
    from . import keywords as kw

    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    voices = list(kw.VOICES if voices is None else voices)
    keywords = list(kw.KEYWORDS if keywords is None else keywords)
    unknown_words = list(kw.UNKNOWN_WORDS if unknown_words is None else unknown_words)
    noise_kinds = list(kw.NOISE_KINDS if noise_kinds is None else noise_kinds)
    if not (0 <= p_keyword and 0 <= p_unknown and p_keyword + p_unknown <= 1):
        raise ValueError(f"p_keyword={p_keyword}, p_unknown={p_unknown}: need probabilities summing to <= 1")
    if not voices:
        raise ValueError("voices must name at least one espeak-ng voice")
    params = dict(seconds=float(seconds), seed=int(seed), voices=voices, snr_db=float(snr_db),
                  pause_s=list(pause_s), p_keyword=float(p_keyword), p_unknown=float(p_unknown),
                  noise_kinds=noise_kinds, keywords=keywords,
                  unknown_words=unknown_words, version=VERSION)
    folder = None
    if cache_dir != "":
        folder = Path(default_cache_dir() if cache_dir is None else cache_dir) / "recordings"
        path = folder / f"{_key(**params)}.safetensors"
        if path.is_file() and path.with_suffix(".json").is_file():
            return _load(path)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    n = round(seconds * SAMPLE_RATE)
    speech = np.zeros(n, dtype=np.float64)
    events: list[Event] = []
    t = 0.0
    while True:
        t += rng.uniform(*pause_s)
        u = rng.random()
        if u >= p_keyword + p_unknown:
            continue
        if u < p_keyword:
            word = label = keywords[rng.integers(len(keywords))]
        else:
            word, label = unknown_words[rng.integers(len(unknown_words))], "_unknown_"
        voice = voices[rng.integers(len(voices))]
        speed, pitch = int(rng.choice(kw.SPEEDS)), int(rng.choice(kw.PITCHES))
        gain = 10 ** (rng.uniform(-6, 6) / 20)
        clip = trim(np.asarray(kw.speak(word, voice=voice, speed=speed, pitch=pitch), dtype=np.float64))
        start = round(t * SAMPLE_RATE)
        if start + len(clip) > n or len(clip) == 0:
            break
        rms = np.sqrt(np.mean(clip ** 2))
        speech[start:start + len(clip)] += clip * (SPEECH_RMS * gain / max(rms, 1e-12))
        end = start + len(clip)
        events.append(Event(label, round(start / SAMPLE_RATE, 4), round(end / SAMPLE_RATE, 4)))
        t = end / SAMPLE_RATE
    kind = noise_kinds[rng.integers(len(noise_kinds))]
    background = np.asarray(kw.noise(kind, n, rng), dtype=np.float64)
    background *= SPEECH_RMS / 10 ** (snr_db / 20) / max(np.sqrt(np.mean(background ** 2)), 1e-12)
    audio = np.clip(speech + background, -1.0, 1.0).astype(np.float32)
    recording = Recording(audio, events)
    if folder is not None:
        _save(recording, path, params | {"noise_kind": kind})
    return recording


def _save(recording: Recording, path: Path, params: dict) -> None:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({"audio": recording.audio}, str(tmp))
    meta = {"params": params, "sample_rate": recording.sample_rate,
            "events": [asdict(e) for e in recording.events]}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    tmp.replace(path)


def _load(path: Path) -> Recording:
    from safetensors.numpy import load_file

    meta = json.loads(path.with_suffix(".json").read_text())
    audio = load_file(str(path))["audio"]
    return Recording(audio, [Event(**e) for e in meta["events"]], meta["sample_rate"])


def load_wav(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A WAV file as mono float32 samples in [-1, 1] at ``sample_rate`` (Hz).

    16-bit, 32-bit integer and float WAV files are read with :mod:`scipy.io.wavfile`; several
    channels are averaged. A file at another rate is resampled with ``sox`` (Debian package
    ``sox``); without sox it is refused with a message saying so.
    """
    import shutil
    import subprocess
    import tempfile

    from scipy.io import wavfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"WAV file not found: {path}")
    try:
        rate, data = wavfile.read(str(path))
    except Exception as err:  # scipy raises ValueError or its own for a non-WAV file
        raise ValueError(f"{path} is not a readable WAV file ({err})") from err
    if rate != sample_rate:
        if shutil.which("sox") is None:
            raise ValueError(f"{path} is sampled at {rate} Hz, the model needs {sample_rate} Hz: install "
                             f"the Debian package 'sox' to resample, or resample the file yourself")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "resampled.wav"
            done = subprocess.run(["sox", str(path), "-b", "16", "-c", "1", "-r", str(sample_rate), str(out)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise ValueError(f"sox could not resample {path}: {done.stderr.strip()}")
            rate, data = wavfile.read(str(out))
    data = np.asarray(data)
    if data.dtype.kind == "i":  # signed PCM: full scale is 2**(bits - 1)
        data = data.astype(np.float64) / (int(np.iinfo(data.dtype).max) + 1)
    elif data.dtype.kind == "u":  # 8-bit WAV is unsigned, offset 128
        data = (data.astype(np.float64) - 128) / 128
    if data.ndim == 2:
        data = data.mean(axis=1)
    if data.size == 0:
        raise ValueError(f"{path} holds no samples")
    return np.asarray(data, dtype=np.float32)
