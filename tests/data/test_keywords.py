"""Synthetic keyword data: espeak-ng synthesis, noise, mixing, log-mel (batch and streaming), cache."""

import shutil

import numpy as np
import pytest

from aimc.data import keywords as kw

needs_tts = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng or sox not installed (Debian packages espeak-ng, sox)",
)


@needs_tts
def test_speak_is_16k_audio_of_plausible_length_trimmed_and_normalised():
    x = kw.speak("yes", voice="en-us", speed=160)
    assert x.dtype == np.float32 and x.ndim == 1
    # a one-syllable word at 160 wpm lasts a few hundred ms (not the 22.05 kHz sample count)
    assert 0.15 * kw.SAMPLE_RATE < len(x) < 1.0 * kw.SAMPLE_RATE
    assert np.max(np.abs(x)) == pytest.approx(1.0)
    thr = 10 ** (kw.TRIM_DB / 20)
    assert abs(x[0]) >= thr and abs(x[-1]) >= thr  # trimmed to the first/last loud sample
    slow = kw.speak("yes", voice="en-us", speed=100)
    assert len(slow) > 1.2 * len(x)  # speed is passed through


@needs_tts
def test_speak_voices_differ_and_synthesis_is_deterministic(tmp_path):
    a = kw.speak("left", voice="en-us+m1")
    b = kw.speak("left", voice="en-gb-scotland+f2")
    assert len(a) != len(b) or not np.allclose(a, b, atol=1e-2)
    kw._speak_memo.cache_clear()
    assert np.array_equal(a, kw.speak("left", voice="en-us+m1"))
    c = kw.speak("left", voice="en-us+m1", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("tts-*.npy"))) == 1
    assert np.array_equal(c, a) and np.array_equal(kw.speak("left", voice="en-us+m1", cache_dir=tmp_path), a)


def test_missing_tool_names_the_debian_package(monkeypatch):
    monkeypatch.setattr(kw.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        kw._tool("espeak-ng")
    with pytest.raises(RuntimeError, match="apt-get install sox"):
        kw._tool("sox")


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="pitch"):
        kw.speak("yes", pitch=120)
    with pytest.raises(ValueError, match="noise kind"):
        kw.noise("purple", 100, np.random.default_rng(0))
    with pytest.raises(ValueError, match="same shape"):
        kw.mix(np.ones(10), np.ones(11), 10.0)


@pytest.mark.parametrize("snr", [-5.0, 0.0, 7.5, 20.0])
@pytest.mark.parametrize("kind", ["white", "pink", "brown"])
def test_mix_hits_the_requested_snr(snr, kind):
    rng = np.random.default_rng(3)
    t = np.arange(8000) / kw.SAMPLE_RATE
    sig = 0.3 * np.sin(2 * np.pi * 440 * t)
    n = kw.noise(kind, len(sig), rng)
    assert np.mean(n.astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-4)
    out = kw.mix(sig, n, snr).astype(np.float64)
    resid = out - sig
    measured = 10 * np.log10(np.mean(sig**2) / np.mean(resid**2))
    # only float32 rounding of the output separates the two: 0.1 dB is ~2 % in power
    assert abs(measured - snr) < 0.1


def test_noise_colours_have_the_right_spectral_slope():
    rng = np.random.default_rng(0)
    slopes = {}
    for kind in ("white", "pink", "brown"):
        x = kw.noise(kind, 1 << 16, rng).astype(np.float64)
        p = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / kw.SAMPLE_RATE)
        band = (f > 50) & (f < 5000)
        slopes[kind] = np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]
    # PSD ∝ f^-0, f^-1, f^-2; a fit over 2 decades of 30k bins is within ±0.1 of the exponent
    assert slopes["white"] == pytest.approx(0.0, abs=0.1)
    assert slopes["pink"] == pytest.approx(-1.0, abs=0.1)
    assert slopes["brown"] == pytest.approx(-2.0, abs=0.1)


def test_log_mel_shape_and_a_tone_peaks_in_its_band():
    t = np.arange(kw.SAMPLE_RATE) / kw.SAMPLE_RATE
    feats = kw.log_mel(np.sin(2 * np.pi * 1000.0 * t))
    assert feats.shape == (98, 40) and feats.dtype == np.float32  # 1 + (16000 - 400) // 160
    assert kw.log_mel(np.zeros(399)).shape == (0, 40)
    centres = kw._mel_to_hz(np.linspace(kw._hz_to_mel(20.0), kw._hz_to_mel(8000.0), 42))[1:-1]
    expected = int(np.argmin(np.abs(centres - 1000.0)))
    assert set(np.argmax(feats, axis=1).tolist()) == {expected}


def test_mel_filterbank_has_no_empty_band():
    fb = kw.mel_filterbank(kw.SAMPLE_RATE, 512, 40)
    assert fb.shape == (257, 40) and (fb.max(axis=0) > 0.3).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_mel_stream_equals_log_mel_for_any_chunking(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(rng.integers(300, 9000)))
    stream = kw.LogMelStream()
    out, i = [], 0
    while i < len(x):
        k = int(rng.integers(0, 700))  # empty pushes and chunks shorter than a hop included
        out.append(stream.push(x[i:i + k]))
        i += k
    got = np.concatenate(out)
    assert np.array_equal(got, kw.log_mel(x))  # same per-row code on the same samples: bit-exact


@needs_tts
def test_tiny_dataset_is_deterministic_and_cached(tmp_path, monkeypatch):
    a = kw.keyword_dataset(2, seed=5, cache_dir=tmp_path / "a", progress=False)
    assert a.features.shape == (2 * len(kw.CLASSES), 98, 40) and a.features.dtype == np.float32
    assert a.labels.dtype == np.int64 and a.labels.tolist() == np.repeat(np.arange(12), 2).tolist()
    assert a.classes == kw.CLASSES
    assert (a.word[a.labels == 0] == "yes").all() and (a.word[a.labels == 11] == "").all()
    assert set(a.word[a.labels == 10]) <= set(kw.UNKNOWN_WORDS)
    b = kw.keyword_dataset(2, seed=5, cache_dir=tmp_path / "b", progress=False)
    assert np.array_equal(a.features, b.features) and np.array_equal(a.voice, b.voice)
    c = kw.keyword_dataset(2, seed=6, cache_dir=tmp_path / "b", progress=False)
    assert not np.array_equal(a.features, c.features)
    assert len(list((tmp_path / "a").glob("keywords-*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("regenerated instead of loading the cache")

    monkeypatch.setattr(kw, "log_mel", fail)
    monkeypatch.setattr(kw, "_speak_memo", fail)
    d = kw.keyword_dataset(2, seed=5, cache_dir=tmp_path / "a", progress=False)
    assert np.array_equal(d.features, a.features) and np.array_equal(d.snr_db, a.snr_db)
    assert d.classes == a.classes and d.voice.tolist() == a.voice.tolist()


@needs_tts
def test_split_by_voice_holds_out_variants(tmp_path):
    ks = kw.keyword_dataset(3, seed=0, cache_dir=tmp_path, progress=False)
    tr, va, te = kw.split_by_voice(ks, n_val=2, n_test=2, seed=0)
    assert len(tr) + len(va) + len(te) == len(ks)
    spoken = lambda s: set(s.variant[s.voice != ""].tolist())  # noqa: E731
    assert not spoken(tr) & spoken(te) and not spoken(tr) & spoken(va) and not spoken(va) & spoken(te)


@needs_tts
def test_babble_is_speech_noise_at_unit_power_and_seeded():
    a = kw.noise("babble", 8000, np.random.default_rng(4))
    b = kw.noise("babble", 8000, np.random.default_rng(4))
    assert np.array_equal(a, b) and a.dtype == np.float32
    assert np.mean(a.astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-4)
    # speech energy sits below 4 kHz: far more power in 100-1000 Hz than in 4-8 kHz
    p = np.abs(np.fft.rfft(a)) ** 2
    f = np.fft.rfftfreq(len(a), 1 / kw.SAMPLE_RATE)
    assert p[(f > 100) & (f < 1000)].sum() > 10 * p[f > 4000].sum()


def test_default_cache_dir_follows_aimc_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("AIMC_CACHE", str(tmp_path))
    assert kw.default_cache_dir() == tmp_path / "keywords"
    monkeypatch.delenv("AIMC_CACHE")
    assert kw.default_cache_dir().parts[-3:] == (".cache", "aimc", "keywords")
