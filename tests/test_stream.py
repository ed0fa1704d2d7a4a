"""Streaming runtime: state carried across chunks, the detector's rule, the scoring rule, and the
continuous-recording generator."""

import shutil

import numpy as np
import pytest
import torch

from aimc.data.keywords import log_mel
from aimc.data.recording import IGNORE, Event, Recording, generate_recording
from aimc.models.streaming import StreamingKWS, load_model, save_model
from aimc.stream import Detection, KeywordStreamer, moving_average, score_detections

CLASSES = ("yes", "no", "_unknown_", "_silence_")


def _model(seed: int = 0) -> StreamingKWS:
    torch.manual_seed(seed)
    return StreamingKWS(hidden=8, classes=len(CLASSES)).eval()


def _audio(seconds: float = 0.8, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(round(16000 * seconds))).astype(np.float32)


def _one_pass(model, audio) -> np.ndarray:
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(log_mel(audio))[None])
    return torch.softmax(logits[0], -1).numpy()


@pytest.mark.parametrize("chunk_s", [0.0137, 0.1, 1.0])
def test_streaming_in_chunks_equals_one_pass_digital(chunk_s):
    model, audio = _model(), _audio()
    result = KeywordStreamer(model, CLASSES).run(audio, chunk_s=chunk_s)
    whole = _one_pass(model, audio)
    assert result.posteriors.shape == whole.shape == (78, len(CLASSES))
    # the same frames and the same LSTM steps; only the batched input matmul's summation order can
    # differ with the chunk length: float32 rounding, far below 1e-6 on posteriors in [0, 1]
    np.testing.assert_allclose(result.posteriors, whole, rtol=0, atol=1e-6)
    assert result.duration_s == pytest.approx(0.8) and result.wall_s > 0


def test_streaming_on_the_ideal_chip_equals_the_digital_one_pass():
    import aimc

    model, audio = _model(1), _audio(0.5, seed=1)
    analog, _ = aimc.convert(model, "ideal")
    aimc.program(analog, seed=0)
    result = KeywordStreamer(analog, CLASSES).run(audio, chunk_s=0.05)
    np.testing.assert_allclose(result.posteriors, _one_pass(model, audio), rtol=0, atol=1e-5)


def test_state_is_carried_not_reset_between_pushes():
    model, audio = _model(), _audio()
    s = KeywordStreamer(model, CLASSES)
    s.push(audio[:8000])
    assert s.state is not None and s.frames == 48
    later = s.posteriors(log_mel(audio)[48:])  # the next frames, state carried
    fresh = KeywordStreamer(model, CLASSES).posteriors(log_mel(audio)[48:])  # state zero
    np.testing.assert_allclose(later, _one_pass(model, audio)[48:], atol=1e-6)
    assert np.abs(later - fresh).max() > 1e-3  # the state matters, so carrying it is tested


def test_moving_average_with_history_equals_one_pass():
    x = np.random.default_rng(0).random((50, 3)).astype(np.float32)
    whole = moving_average(x, 7)
    parts, history = [], np.zeros((0, 3), np.float32)
    for a, b in ((0, 3), (3, 4), (4, 30), (30, 50)):
        parts.append(moving_average(x[a:b], 7, history))
        history = np.concatenate([history, x[a:b]])[-6:]
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-6)
    np.testing.assert_allclose(whole[10], x[4:11].mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(whole[2], x[:3].mean(axis=0), atol=1e-6)  # a shorter window at the start


def _posteriors(frames: int, blocks: dict[int, tuple[int, int]]) -> np.ndarray:
    """Silence everywhere; class ``k`` at 0.9 on frames ``[a, b)`` for each ``a: (b, k)``."""
    p = np.zeros((frames, len(CLASSES)), np.float32)
    p[:, 3] = 1.0
    for a, (b, k) in blocks.items():
        p[a:b] = 0.0
        p[a:b, k], p[a:b, 2] = 0.9, 0.1
    return p


def _detector(**kwargs) -> KeywordStreamer:
    return KeywordStreamer(_model(), CLASSES, features=lambda: None, **kwargs)


def test_detector_threshold_smoothing_and_refractory():
    post = _posteriors(300, {50: (70, 0), 80: (100, 0), 200: (220, 1)})
    found, smoothed = _detector(threshold=0.5, smooth_frames=10, refractory_s=1.0).detect(post)
    # the 10-frame mean of 0.9 reaches 0.5 on the 6th frame of a block (6 * 0.9 / 10 = 0.54):
    # frame 55, time 55 * 10 ms + 25 ms; the block at 80 falls within 1 s of it; the one at 200 fires
    assert [(d.keyword, round(d.time_s, 3)) for d in found] == [("yes", 0.575), ("no", 2.075)]
    assert found[0].score == pytest.approx(0.54, abs=1e-6)
    assert smoothed[60, 0] == pytest.approx(0.9, abs=1e-6)
    short = _detector(threshold=0.5, smooth_frames=10, refractory_s=0.2).detect(post)[0]
    assert [round(d.time_s, 3) for d in short] == [0.575, 0.875, 2.075]
    assert _detector(threshold=0.95, smooth_frames=1).detect(post)[0] == []  # never reaches 0.95
    raw = _detector(threshold=0.5, smooth_frames=1, refractory_s=1.0).detect(post)[0]
    assert round(raw[0].time_s, 3) == 0.525  # unsmoothed: fires on the block's first frame


def test_detector_in_pieces_equals_one_call():
    post = _posteriors(300, {50: (70, 0), 150: (170, 1), 260: (280, 0)})
    whole = _detector(threshold=0.6, smooth_frames=8, refractory_s=0.5).detect(post)[0]
    s = _detector(threshold=0.6, smooth_frames=8, refractory_s=0.5)
    pieces = [d for a in range(0, 300, 7) for d in s.detect(post[a:a + 7])[0]]
    assert pieces == whole and len(whole) == 3


def test_bad_detector_settings_are_clear():
    with pytest.raises(ValueError, match="threshold must be in"):
        _detector(threshold=0.0)
    with pytest.raises(ValueError, match="smooth_frames must be at least 1"):
        _detector(smooth_frames=0)
    with pytest.raises(ValueError, match="not among the classes"):
        _detector(keywords=["maybe"])


def test_scoring_rule_one_to_one_within_start_to_end_plus_tolerance():
    events = [Event("yes", 1.0, 1.4), Event("_unknown_", 2.0, 2.3), Event("no", 3.0, 3.5),
              Event("yes", 5.0, 5.4)]
    det = [Detection("yes", 1.9, 0.9),  # 1.4 + 0.5: on the window's edge, matches
           Detection("yes", 1.95, 0.9),  # a second hit of the same word: false alarm
           Detection("no", 2.1, 0.9),  # during an unknown word: false alarm
           Detection("yes", 3.2, 0.9),  # wrong keyword in the 'no' event: false alarm ('no' missed)
           Detection("yes", 4.99, 0.9)]  # just before the last 'yes' starts: false alarm, miss
    s = score_detections(det, events, tolerance_s=0.5, duration_s=3600.0)
    assert (s.true_positives, s.false_positives, s.misses) == (1, 4, 2)
    assert s.precision == pytest.approx(0.2) and s.recall == pytest.approx(1 / 3)
    assert s.f1 == pytest.approx(2 * 0.2 / 3 / (0.2 + 1 / 3)) and s.false_alarms_per_hour == 4
    late = score_detections([Detection("yes", 1.91, 0.9)], events[:1], tolerance_s=0.5)
    assert late.true_positives == 0 and late.misses == 1
    # two close events of one keyword, two detections in their overlap: both matched
    close = [Event("go", 0.0, 0.3), Event("go", 0.5, 0.8)]
    both = score_detections([Detection("go", 0.6, 1), Detection("go", 0.7, 1)], close, tolerance_s=0.5)
    assert both.true_positives == 2 and both.false_positives == 0
    assert np.isnan(score_detections([], events).precision)


def test_frame_targets_label_after_the_keyword_ignore_inside():
    rec = Recording(np.zeros(16000, np.float32), [Event("no", 0.2, 0.4), Event("_unknown_", 0.7, 0.8)])
    t = rec.frame_targets(CLASSES, after_s=0.1)  # frame j at j * 10 ms + 25 ms
    # 'no' [0.2, 0.4): frames 18-37 ignored; [0.4, 0.5]: frames 38-47 'no' (frame 48 ends at 0.505 s)
    assert len(t) == 98
    assert t[17] == 3 and (t[18:38] == IGNORE).all() and (t[38:48] == 1).all() and t[48] == 3
    assert (t[68:88] == 2).all() and t[67] == 3 and t[88] == 3  # [start, end + after_s]


def test_model_round_trip_through_safetensors(tmp_path):
    model = _model()
    save_model(model, tmp_path / "m.safetensors", CLASSES, {"detector": {"threshold": 0.7}})
    loaded, classes, info = load_model(tmp_path / "m.safetensors")
    assert classes == list(CLASSES) and info["detector"] == {"threshold": 0.7}
    x = torch.randn(1, 4, 40)
    torch.testing.assert_close(loaded(x)[0], model(x)[0], rtol=0, atol=0)
    (tmp_path / "bad.safetensors").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a streaming keyword model"):
        load_model(tmp_path / "bad.safetensors")


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                    reason="needs the Debian packages espeak-ng and sox")
def test_recording_events_are_where_the_speech_energy_is(tmp_path):
    rec = generate_recording(8.0, seed=3, voices=["en-us"], snr_db=40.0, noise_kinds=["white"],
                             cache_dir=tmp_path)
    assert len(rec.audio) == 128000 and rec.audio.dtype == np.float32 and len(rec.events) >= 3
    x = rec.audio.astype(np.float64)
    noise_rms = 0.05 / 10 ** (40 / 20)
    for e in rec.events:
        a, b = round(e.start_s * 16000), round(e.end_s * 16000)
        inside = np.sqrt(np.mean(x[a:b] ** 2))
        before = np.sqrt(np.mean(x[max(a - 800, 0):a] ** 2))  # the 50 ms before the word
        assert inside > 10 * noise_rms, e  # speech at ~0.05 (±6 dB) over noise at 0.0005
        assert before < 2 * noise_rms, e  # only the background before it
    again = generate_recording(8.0, seed=3, voices=["en-us"], snr_db=40.0, noise_kinds=["white"],
                               cache_dir=tmp_path)  # from the cache
    fresh = generate_recording(8.0, seed=3, voices=["en-us"], snr_db=40.0, noise_kinds=["white"],
                               cache_dir="")  # generated again
    assert np.array_equal(again.audio, rec.audio) and np.array_equal(fresh.audio, rec.audio)
    assert again.events == rec.events == fresh.events
    other = generate_recording(8.0, seed=4, voices=["en-us"], cache_dir="")
    assert other.events != rec.events


def test_frame_cost_reads_each_matrix_once_per_frame():
    from aimc.stream import frame_cost

    one = frame_cost(_model(), "ibm-speech-pcm")
    assert one.arrays == 3 and one.chips == 1  # W_ih, W_hh, classifier: one array each
    assert 0 < one.latency_s < 1e-3 and 0 < one.energy_j < 1e-6  # far below a 10 ms frame, < 1 µJ
    assert one.power_w == pytest.approx(one.energy_j / 0.01)
    wider = frame_cost(StreamingKWS(hidden=32, classes=len(CLASSES)), "ibm-speech-pcm")
    assert wider.energy_j > one.energy_j  # more weights read per frame
