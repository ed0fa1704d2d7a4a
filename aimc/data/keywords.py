"""Synthetic keyword-spotting data: the ten Speech-Commands words spoken by ``espeak-ng``, in noise.

No keyword corpus is available offline, so this module makes one. The classes follow Google's
Speech Commands v0.02 task (Warden, 2018, arXiv:1804.03209): ten keywords, ``_unknown_`` (other
short words) and ``_silence_`` (background noise only), one-second clips at 16 kHz.

How a clip is made (:func:`keyword_dataset`)
---------------------------------------------
1. A word is drawn for the class (``_unknown_``: one of :data:`UNKNOWN_WORDS`) and spoken by
   ``espeak-ng`` (Debian package ``espeak-ng``) with a voice drawn from :data:`VOICES` (8 English
   accents x 13 voice variants: the bare voice, male ``+m1..+m7``, female ``+f1..+f5``), a speed
   from :data:`SPEEDS` (words per minute) and a pitch from :data:`PITCHES` (espeak's 0..99 scale).
   ``sox`` (Debian package ``sox``) resamples espeak's 22.05 kHz output to 16 kHz
   (``rate -v``, no dither). Each distinct (word, voice, speed, pitch) is synthesised once and
   reused across clips and noise draws; two espeak-ng processes run in parallel.
2. The utterance (trimmed, peak-normalised: see :func:`speak`) is placed at a uniformly random
   offset in a ``clip_s`` second frame of zeros (an utterance longer than the clip is cut to it).
3. Background noise of a random kind (white, pink, brown or babble: :func:`noise`) is mixed in at
   an SNR drawn from ``snr_db``, the SNR measured against the power of the utterance itself, not
   of the whole clip (:func:`mix` with ``signal_power``).
4. The mixture gets a random gain uniform in ``[-20, 0]`` dB, so the level carries no class
   information. A ``_silence_`` clip is noise alone, its power set as if it were mixed with a
   reference utterance (mean power :data:`REFERENCE_POWER`) at the drawn SNR.
5. Features: :func:`log_mel` (25 ms Hann windows every 10 ms, 40 HTK mel bands, natural log with
   a floor), ``[98, 40]`` per one-second clip.

Everything is drawn from ``numpy.random.SeedSequence(seed)``; the same arguments give the same
array, bit for bit, on any machine with the same espeak-ng and sox (their versions are part of the
cache key). The set is cached as ``.npz`` (no pickled objects) under ``cache_dir``,
``$AIMC_CACHE/keywords`` or ``~/.cache/aimc/keywords``, keyed by a hash of every parameter.

What makes it harder than clean TTS: 104 voices with different formants and accents, speeds from
120 to 200 words per minute, pitches 25..75, random placement (the model must find the word in
time), four noise kinds including babble (other synthesised speech, which looks like speech to the
model), SNRs down to 0 dB, random level, and ~25 unknown words including near-misses of keywords
("yet", "know", "cup", "town", "lift", "write", "one", "of", "top", "goat").

Limits. TTS voices are not real speakers: espeak-ng is a formant synthesiser, so every voice shares
the same phoneme rules and prosody model; there is no coarticulation with a real speaker's
habits, no room reverberation, no microphone colouring, no real background sounds (babble is
synthetic too). Accuracy on this set says how well a model separates espeak's words in noise and
how much an analog chip degrades that; it is not a proxy for Speech Commands accuracy.
Held-out *variants* (:func:`split_by_voice`) test generalisation to unseen timbres, the closest
this set gets to unseen speakers.

Example:
    >>> ks = keyword_dataset(n_per_class=20, seed=0)        # doctest: +SKIP
    >>> ks.features.shape, ks.classes[ks.labels[0]]         # doctest: +SKIP
    ((240, 98, 40), 'yes')
    >>> train, val, test = split_by_voice(ks)               # doctest: +SKIP
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

KEYWORDS: tuple[str, ...] = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN_WORDS: tuple[str, ...] = (
    "yet", "know", "cup", "town", "lift", "write", "one", "of", "top", "goat",
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
    "zero", "three", "seven", "nine", "learn", "follow", "forward", "visual",
)
CLASSES: tuple[str, ...] = KEYWORDS + ("_unknown_", "_silence_")
SAMPLE_RATE = 16000
"""Sample rate of every waveform in this module, Hz."""

ACCENTS: tuple[str, ...] = (
    "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
    "en-029", "en-us-nyc",
)
"""espeak-ng English voices (``espeak-ng --voices=en``; the mbrola ``mb-*`` voices are left out:
they need the separate mbrola packages)."""
VARIANTS: tuple[str, ...] = ("",) + tuple(f"+m{i}" for i in range(1, 8)) + tuple(
    f"+f{i}" for i in range(1, 6)
)
"""espeak-ng voice variants (``espeak-ng --voices=variant``): formant and pitch-range changes."""
VOICES: tuple[str, ...] = tuple(a + v for a in ACCENTS for v in VARIANTS)
"""Every ``accent+variant`` voice the data set draws from (104)."""
SPEEDS: tuple[int, ...] = (120, 140, 160, 180, 200)
"""Speaking rates drawn from, words per minute (espeak-ng ``-s``)."""
PITCHES: tuple[int, ...] = (25, 40, 50, 60, 75)
"""Base pitches drawn from (espeak-ng ``-p``, 0..99, default 50)."""
NOISE_KINDS: tuple[str, ...] = ("white", "pink", "brown", "babble")
REFERENCE_POWER = 0.02
"""Mean power of a typical peak-normalised utterance; sets the level of ``_silence_`` clips."""
BABBLE_SENTENCES: tuple[str, ...] = (
    "the quick brown fox jumps over the lazy dog",
    "she sells sea shells by the sea shore",
    "a small boat drifted across the quiet lake at dawn",
    "please bring me the green box from the kitchen table",
    "many people were waiting for the train this morning",
    "the weather will be cold and windy later this week",
)
"""Sentences of the babble noise (none contains a keyword)."""
BABBLE_VOICES: tuple[str, ...] = tuple(a + ("+m3" if i % 2 else "+f2") for i, a in enumerate(ACCENTS))
"""Voices of the babble noise (one per accent, alternating male/female variants), at 160 wpm,
pitch 50: 48 sentences in all, synthesised once per process."""
TRIM_DB = -40.0
"""Trim threshold of :func:`speak`, dB relative to the utterance's peak."""
_VERSION = 1  # bump when the generation changes: it is part of the cache key

_PACKAGES = {"espeak-ng": "espeak-ng", "sox": "sox"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"'{name}' not found on PATH; install the Debian package: apt-get install {_PACKAGES[name]}"
        )
    return path


@functools.cache
def tool_versions() -> str:
    """``espeak-ng`` and ``sox`` version strings (part of the data set's cache key)."""
    es = subprocess.run([_tool("espeak-ng"), "--version"], capture_output=True, text=True).stdout
    sx = subprocess.run([_tool("sox"), "--version"], capture_output=True, text=True).stdout
    return (es.split("Data at")[0].strip() + " | " + sx.strip()).strip()


def _check_voice(voice: str) -> None:
    if not voice or any(c.isspace() for c in voice) or voice.startswith("-"):
        raise ValueError(f"voice must be an espeak-ng voice name such as 'en-us+f2', got {voice!r}")


def _synthesise(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    espeak = subprocess.run(
        [_tool("espeak-ng"), "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "--stdout", text],
        capture_output=True,
    )
    if espeak.returncode != 0 or len(espeak.stdout) < 44:
        raise RuntimeError(
            f"espeak-ng failed for voice {voice!r} (see `espeak-ng --voices=en`): "
            f"{espeak.stderr.decode(errors='replace').strip()}"
        )
    sox = subprocess.run(
        [_tool("sox"), "-V1", "-t", "wav", "-", "-D", "-t", "raw", "-e", "floating-point", "-b", "32",
         "-c", "1", "-L", "-", "rate", "-v", str(SAMPLE_RATE)],
        input=espeak.stdout, capture_output=True,
    )
    if sox.returncode != 0:
        raise RuntimeError(f"sox could not resample espeak-ng's output: {sox.stderr.decode().strip()}")
    return np.frombuffer(sox.stdout, dtype="<f4").astype(np.float32)


def _trim_normalise(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return np.zeros(0, dtype=np.float32)
    loud = np.flatnonzero(np.abs(x) >= peak * 10 ** (TRIM_DB / 20))
    return (x[loud[0]:loud[-1] + 1] / peak).astype(np.float32)


def speak(
    text: str, *, voice: str = "en-us", speed: int = 160, pitch: int = 50,
    cache_dir: str | Path | None = None,
) -> np.ndarray:
    """``text`` spoken by espeak-ng: float32 mono at :data:`SAMPLE_RATE`, trimmed, peak 1.

    espeak-ng writes a 22.05 kHz WAV to stdout; sox resamples it to 16 kHz (very-high-quality
    ``rate -v``, no dither). Leading and trailing samples quieter than :data:`TRIM_DB` (-40 dB)
    relative to the peak are cut, and the result is divided by its peak (``max |x| == 1``).
    Deterministic: the same arguments give the same samples (espeak-ng and sox use no
    randomness). With ``cache_dir`` the waveform is kept as a ``.npy`` file keyed by the arguments
    and the tool versions.

    Args:
        text: what to say (a word or a sentence).
        voice: espeak-ng voice, optionally with a variant: ``"en-gb"``, ``"en-us+f2"`` (:data:`VOICES`).
        speed: words per minute (espeak-ng ``-s``, 80..450).
        pitch: base pitch, 0..99 (espeak-ng ``-p``).
        cache_dir: folder for cached waveforms, or ``None`` for no disk cache.

    Raises:
        RuntimeError: ``espeak-ng`` or ``sox`` is missing (names the Debian package) or fails.

    Example:
        >>> x = speak("yes", voice="en-gb+m3")       # doctest: +SKIP
        >>> x.dtype, float(abs(x).max())             # doctest: +SKIP
        (dtype('float32'), 1.0)
    """
    if not text.strip():
        raise ValueError("text must contain something to say, got an empty string")
    _check_voice(voice)
    if not 80 <= int(speed) <= 450:
        raise ValueError(f"speed must be 80..450 words per minute, got {speed}")
    if not 0 <= int(pitch) <= 99:
        raise ValueError(f"pitch must be 0..99, got {pitch}")
    if cache_dir is None:
        return _speak_memo(text, voice, int(speed), int(pitch)).copy()
    key = _hash({"text": text, "voice": voice, "speed": int(speed), "pitch": int(pitch),
                 "tools": tool_versions(), "v": _VERSION})
    path = Path(cache_dir) / f"tts-{key}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    x = _speak_memo(text, voice, int(speed), int(pitch)).copy()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, x, allow_pickle=False)
    os.replace(tmp, path)
    return x


@functools.lru_cache(maxsize=4096)
def _speak_memo(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    x = _trim_normalise(_synthesise(text, voice, speed, pitch))
    x.setflags(write=False)
    return x


# ----------------------------------------------------------------------------------------- noise


def _coloured(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Gaussian noise with power spectral density ∝ 1/f**exponent (0 white, 1 pink, 2 brown),
    made by shaping white noise in the frequency domain (Timmer & König, A&A 300, 707, 1995,
    without the random amplitudes); the DC bin is zeroed."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = np.inf
    x = np.fft.irfft(spec / f ** (exponent / 2), n)
    return x


def noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of background noise at unit mean power (float32).

    Kinds: ``white`` (flat spectrum), ``pink`` (1/f), ``brown`` (1/f², like rumble), ``babble``
    (three of :data:`BABBLE_SENTENCES`, each in a random voice of :data:`BABBLE_VOICES`, overlapped at
    random offsets; speech-like noise without keywords). All randomness comes from ``rng``.
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind must be one of {NOISE_KINDS}, got {kind!r}")
    if n < 2:
        raise ValueError(f"n must be at least 2 samples, got {n}")
    if kind == "babble":
        x = np.zeros(n)
        for _ in range(3):
            s = BABBLE_SENTENCES[rng.integers(len(BABBLE_SENTENCES))]
            v = BABBLE_VOICES[rng.integers(len(BABBLE_VOICES))]
            talk = _speak_memo(s, v, 160, 50)
            talk = np.tile(talk, int(np.ceil(2 * n / len(talk))) + 1)  # loop to cover n from any start
            start = int(rng.integers(len(talk) - n + 1))
            x += talk[start:start + n]
    else:
        x = _coloured(n, rng, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind])
    power = float(np.mean(x**2))
    return (x / np.sqrt(power) if power > 0 else x).astype(np.float32)


def mix(
    signal: np.ndarray, noise: np.ndarray, snr_db: float, *, signal_power: float | None = None
) -> np.ndarray:
    """``signal + g·noise`` with ``g`` such that 10·log10(P_signal / P_(g·noise)) = ``snr_db``.

    Powers are mean squares over the whole arrays (same length). ``signal_power`` overrides
    P_signal, e.g. the power of the utterance alone when ``signal`` is a clip padded with zeros.
    """
    signal = np.asarray(signal, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if signal.shape != noise.shape:
        raise ValueError(f"signal and noise must have the same shape, got {signal.shape} and {noise.shape}")
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite, got {snr_db}")
    p_sig = float(np.mean(signal**2)) if signal_power is None else float(signal_power)
    p_noise = float(np.mean(noise**2))
    if p_noise == 0.0:
        raise ValueError("noise is all zeros: no gain reaches a finite SNR")
    gain = np.sqrt(p_sig / (p_noise * 10 ** (snr_db / 10)))
    return (signal + gain * noise).astype(np.float32)


# ---------------------------------------------------------------------------------------- log-mel


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@functools.cache
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 20.0,
                   f_max: float | None = None) -> np.ndarray:
    """HTK mel filterbank ``[n_fft//2 + 1, n_mels]``: triangles of peak 1, equally spaced on the
    mel scale mel = 2595·log10(1 + f/700) (Young et al., *The HTK Book* 3.4, §5.4, 2006).

    Triangles are evaluated at each FFT bin's frequency (not snapped to bins), so no band is empty
    at 40 bands, 512 points, 16 kHz. ``f_max`` defaults to the Nyquist frequency.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    edges = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    fb = np.maximum(0.0, np.minimum(up, down)).T
    fb.setflags(write=False)
    return fb


LOG_FLOOR = 1e-6
"""Floor added to the mel power before the log (power of a signal at unit full scale)."""


@dataclass(frozen=True)
class _MelParams:
    sample_rate: int
    n_mels: int
    win: int
    hop: int
    n_fft: int

    @classmethod
    def make(cls, sample_rate: int, n_mels: int, win_s: float, hop_s: float) -> _MelParams:
        win, hop = round(win_s * sample_rate), round(hop_s * sample_rate)
        if sample_rate <= 0 or n_mels <= 0 or win < 2 or hop < 1:
            raise ValueError(
                f"need sample_rate > 0, n_mels > 0, a window of at least 2 samples and a hop of at "
                f"least 1 sample; got sample_rate={sample_rate}, n_mels={n_mels}, win_s={win_s}, "
                f"hop_s={hop_s}"
            )
        return cls(sample_rate, n_mels, win, hop, 1 << (win - 1).bit_length())

    def frames_to_log_mel(self, frames: np.ndarray) -> np.ndarray:
        """``[n, win]`` samples → ``[n, n_mels]`` float32 log-mel (one row at a time, so a row's
        value does not depend on how many rows come with it)."""
        window = np.hanning(self.win + 1)[:-1]  # periodic Hann
        spec = np.fft.rfft(frames * window, n=self.n_fft, axis=-1)
        power = spec.real**2 + spec.imag**2
        fb = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels)
        mel = np.einsum("tf,fm->tm", power, fb, optimize=False)
        return np.log(mel + LOG_FLOOR).astype(np.float32)


def log_mel(
    audio: np.ndarray, sample_rate: int = SAMPLE_RATE, n_mels: int = 40,
    win_s: float = 0.025, hop_s: float = 0.010,
) -> np.ndarray:
    """Log-mel spectrogram ``[frames, n_mels]`` (float32) of a mono signal.

    Frame ``i`` covers samples ``[i·hop, i·hop + win)`` (no padding: ``1 + (len - win) // hop``
    frames, 98 for one second at the defaults); a periodic Hann window, a zero-padded FFT of the
    next power of two (512 at 16 kHz), the power spectrum ``|X|²``, the HTK mel filterbank
    (:func:`mel_filterbank`), then ``ln(mel + LOG_FLOOR)``. numpy only.
    """
    p = _MelParams.make(sample_rate, n_mels, win_s, hop_s)
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"audio must be 1-D (mono samples), got shape {x.shape}")
    n = 0 if len(x) < p.win else 1 + (len(x) - p.win) // p.hop
    if n == 0:
        return np.zeros((0, n_mels), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, p.win)[:: p.hop][:n]
    return p.frames_to_log_mel(frames)


class LogMelStream:
    """:func:`log_mel` for a signal that arrives in chunks of any size.

    ``push(samples)`` returns the frames completed by these samples; the frames of all pushes
    together equal ``log_mel`` of the whole signal (each frame is computed from the same samples by
    the same per-row code). Only the last ``win - hop`` samples (plus a partial hop) are kept.

    Example:
        >>> s = LogMelStream()
        >>> x = np.random.default_rng(0).standard_normal(16000)
        >>> f = np.concatenate([s.push(x[:7000]), s.push(x[7000:])])
        >>> bool(np.array_equal(f, log_mel(x)))
        True
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, n_mels: int = 40, win_s: float = 0.025,
                 hop_s: float = 0.010) -> None:
        self._p = _MelParams.make(sample_rate, n_mels, win_s, hop_s)
        self.reset()

    @property
    def n_mels(self) -> int:
        return self._p.n_mels

    @property
    def hop(self) -> int:
        """Samples per frame step."""
        return self._p.hop

    def reset(self) -> None:
        """Forget buffered samples (start a new signal)."""
        self._buf = np.zeros(0, dtype=np.float64)

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Append ``samples`` (1-D) and return the ``[new_frames, n_mels]`` frames they complete."""
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"samples must be 1-D, got shape {x.shape}")
        buf = np.concatenate([self._buf, x])
        p = self._p
        n = 0 if len(buf) < p.win else 1 + (len(buf) - p.win) // p.hop
        if n == 0:
            self._buf = buf
            return np.zeros((0, p.n_mels), dtype=np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(buf, p.win)[:: p.hop][:n]
        out = p.frames_to_log_mel(frames)
        self._buf = buf[n * p.hop:]
        return out


# ---------------------------------------------------------------------------------------- dataset


@dataclass(frozen=True)
class KeywordSet:
    """A keyword-spotting set: features ``[N, frames, n_mels]`` float32, labels ``[N]`` int64
    (indices into ``classes``) and per-clip metadata (arrays of length N)."""

    features: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    word: np.ndarray       # spoken word ('' for silence)
    voice: np.ndarray      # espeak-ng voice ('' for silence)
    speed: np.ndarray      # words per minute (0 for silence)
    pitch: np.ndarray      # espeak-ng pitch (0 for silence)
    snr_db: np.ndarray     # SNR of the word against the noise, dB
    noise_kind: np.ndarray  # white / pink / brown / babble
    offset_s: np.ndarray   # start of the word in the clip, s (0 for silence)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> KeywordSet:
        """The clips at ``index`` (integer indices or a boolean mask)."""
        return KeywordSet(**{
            f.name: (getattr(self, f.name) if f.name == "classes" else getattr(self, f.name)[index])
            for f in fields(self)
        })

    @property
    def variant(self) -> np.ndarray:
        """The voice variant of each clip (``'+m3'``, ``''`` for the bare voice or silence)."""
        return np.array([("+" + v.split("+", 1)[1]) if "+" in v else "" for v in self.voice])


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def default_cache_dir() -> Path:
    """``$AIMC_CACHE/keywords`` if ``AIMC_CACHE`` is set, else ``~/.cache/aimc/keywords``."""
    root = os.environ.get("AIMC_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "aimc") / "keywords"


def keyword_dataset(
    n_per_class: int = 200, *, seed: int = 0, cache_dir: str | Path | None = None,
    snr_db: Sequence[float] = (20.0, 10.0, 5.0, 0.0), clip_s: float = 1.0,
    voices: Sequence[str] = VOICES, n_mels: int = 40, workers: int = 2, progress: bool = True,
) -> KeywordSet:
    """Generate (or load from the cache) ``n_per_class`` clips of each of :data:`CLASSES`.

    See the module docstring for how a clip is made. Clips come class by class in the order of
    :data:`CLASSES`. Deterministic from ``seed``; cached as ``keywords-<hash>.npz`` in
    ``cache_dir`` (default :func:`default_cache_dir`), the hash covering every argument that
    changes the data, the generator version and the espeak-ng/sox versions.

    Args:
        n_per_class: clips per class (12 classes).
        seed: seed of ``numpy.random.SeedSequence`` for every draw.
        cache_dir: where the ``.npz`` lives.
        snr_db: SNRs (dB) drawn from uniformly, word power against noise power.
        clip_s: clip length in seconds.
        voices: espeak-ng voices drawn from.
        n_mels: mel bands of the features.
        workers: parallel espeak-ng/sox processes.
        progress: show a rich progress bar.

    Raises:
        RuntimeError: espeak-ng or sox is missing (names the Debian package).
    """
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be at least 1, got {n_per_class}")
    if clip_s < 0.1:
        raise ValueError(f"clip_s must be at least 0.1 s, got {clip_s}")
    if not snr_db or not all(np.isfinite(s) for s in snr_db):
        raise ValueError(f"snr_db must be a non-empty list of finite dB values, got {snr_db}")
    if not voices:
        raise ValueError("voices must name at least one espeak-ng voice")
    for v in voices:
        _check_voice(v)
    params = {
        "n_per_class": int(n_per_class), "seed": int(seed), "snr_db": [float(s) for s in snr_db],
        "clip_s": float(clip_s), "voices": list(voices), "n_mels": int(n_mels),
        "classes": list(CLASSES), "unknown": list(UNKNOWN_WORDS), "speeds": list(SPEEDS),
        "pitches": list(PITCHES), "tools": tool_versions(), "v": _VERSION,
    }
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"keywords-{_hash(params)}.npz"
    if path.exists():
        return _load(path)

    ss = np.random.SeedSequence(seed)
    plan_rng = np.random.default_rng(ss.spawn(1)[0])
    clip_seeds = ss.spawn(len(CLASSES) * n_per_class)
    plan: list[dict] = []
    for c, name in enumerate(CLASSES):
        for _ in range(n_per_class):
            if name == "_silence_":
                plan.append({"label": c, "word": "", "voice": "", "speed": 0, "pitch": 0})
                continue
            word = name if name in KEYWORDS else UNKNOWN_WORDS[plan_rng.integers(len(UNKNOWN_WORDS))]
            plan.append({
                "label": c, "word": word, "voice": voices[plan_rng.integers(len(voices))],
                "speed": int(plan_rng.choice(SPEEDS)), "pitch": int(plan_rng.choice(PITCHES)),
            })
    utterances = sorted({(p["word"], p["voice"], p["speed"], p["pitch"]) for p in plan if p["word"]})
    from rich.progress import Progress

    n_clip = round(clip_s * SAMPLE_RATE)
    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("espeak-ng: synthesising words", total=len(utterances))
        audio: dict[tuple, np.ndarray] = {}
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for key, x in zip(utterances, pool.map(lambda u: _speak_memo(*u), utterances), strict=True):
                audio[key] = x
                bar.advance(task)
        task2 = bar.add_task("mixing clips, log-mel", total=len(plan))
        feats, meta = [], {k: [] for k in ("snr_db", "noise_kind", "offset_s")}
        for p, cs in zip(plan, clip_seeds, strict=True):
            rng = np.random.default_rng(cs)
            snr = float(snr_db[rng.integers(len(snr_db))])
            kind = NOISE_KINDS[rng.integers(len(NOISE_KINDS))]
            gain = 10 ** (rng.uniform(-20.0, 0.0) / 20)
            clip = np.zeros(n_clip)
            offset = 0
            if p["word"]:
                word = audio[(p["word"], p["voice"], p["speed"], p["pitch"])][:n_clip]
                offset = int(rng.integers(n_clip - len(word) + 1))
                clip[offset:offset + len(word)] = word
                p_sig = float(np.mean(word.astype(np.float64) ** 2))
            else:
                p_sig = REFERENCE_POWER
            x = mix(clip, noise(kind, n_clip, rng), snr, signal_power=p_sig) * gain
            feats.append(log_mel(x, n_mels=n_mels))
            meta["snr_db"].append(snr)
            meta["noise_kind"].append(kind)
            meta["offset_s"].append(offset / SAMPLE_RATE)
            bar.advance(task2)
    ks = KeywordSet(
        features=np.stack(feats).astype(np.float32),
        labels=np.array([p["label"] for p in plan], dtype=np.int64),
        classes=CLASSES,
        word=np.array([p["word"] for p in plan], dtype=str),
        voice=np.array([p["voice"] for p in plan], dtype=str),
        speed=np.array([p["speed"] for p in plan], dtype=np.int64),
        pitch=np.array([p["pitch"] for p in plan], dtype=np.int64),
        snr_db=np.array(meta["snr_db"], dtype=np.float64),
        noise_kind=np.array(meta["noise_kind"], dtype=str),
        offset_s=np.array(meta["offset_s"], dtype=np.float64),
    )
    _save(ks, path)
    return ks


def _save(ks: KeywordSet, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f.name: np.asarray(getattr(ks, f.name)) for f in fields(ks)}
    arrays["classes"] = np.array(ks.classes, dtype=str)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _load(path: Path) -> KeywordSet:
    with np.load(path, allow_pickle=False) as z:
        kw = {f.name: z[f.name] for f in fields(KeywordSet)}
    kw["classes"] = tuple(str(c) for c in kw["classes"])
    return KeywordSet(**kw)


def split_by_voice(
    ks: KeywordSet, *, n_val: int = 2, n_test: int = 2, seed: int = 0
) -> tuple[KeywordSet, KeywordSet, KeywordSet]:
    """Train / validation / test split holding out whole voice *variants* (speaker timbres).

    The variants present (``''``, ``+m1``…``+f5``) are shuffled with ``seed``; ``n_test`` go to
    test and ``n_val`` to validation, the rest to training, so no test clip is spoken by a timbre
    seen in training (accents are shared: every accent appears with every variant).
    ``_silence_`` clips carry no voice; they are dealt to the three parts in proportion to the
    number of variants by a seeded draw.
    """
    variants = sorted(set(ks.variant[ks.voice != ""].tolist()))
    if len(variants) < n_val + n_test + 1:
        raise ValueError(
            f"need at least {n_val + n_test + 1} voice variants for n_val={n_val}, n_test={n_test}; "
            f"the set has {len(variants)}"
        )
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    order = [variants[i] for i in rng.permutation(len(variants))]
    test_v, val_v = set(order[:n_test]), set(order[n_test:n_test + n_val])
    part = np.zeros(len(ks), dtype=np.int64)  # 0 train, 1 val, 2 test
    var = ks.variant
    spoken = ks.voice != ""
    part[spoken & np.isin(var, list(val_v))] = 1
    part[spoken & np.isin(var, list(test_v))] = 2
    silent = np.flatnonzero(~spoken)
    probs = np.array([len(variants) - n_val - n_test, n_val, n_test], dtype=np.float64)
    part[silent] = rng.choice(3, size=len(silent), p=probs / probs.sum())
    return ks.subset(part == 0), ks.subset(part == 1), ks.subset(part == 2)


__all__ = [
    "ACCENTS", "CLASSES", "KEYWORDS", "NOISE_KINDS", "PITCHES", "SAMPLE_RATE", "SPEEDS",
    "UNKNOWN_WORDS", "VARIANTS", "VOICES", "KeywordSet", "LogMelStream", "default_cache_dir",
    "keyword_dataset", "log_mel", "mel_filterbank", "mix", "noise", "speak", "split_by_voice",
]
