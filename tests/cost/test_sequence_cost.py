"""Cost of sequence models: per sequence and per token, the critical path of recurrent and
attention layers, one-stream and pipelined throughput."""

import warnings

import pytest
import torch
from rich.console import Console
from torch import nn

import aimc
from aimc.cost import estimate, mvm_time, schedule

HERMES = "ibm-hermes-pcm"


class Streamer(nn.Module):
    """A keyword-spotter-shaped model that emits a prediction for every frame (every layer runs
    once per token), so that a sequence costs exactly its frames."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(40, 64, batch_first=True)
        self.head = nn.Linear(64, 12)

    def forward(self, x):
        return self.head(self.lstm(x)[0])


def cost(model, steps, **kw):
    torch.manual_seed(0)
    return estimate(aimc.compile(model, HERMES, torch.zeros(1, steps, 40), **kw))


def test_per_token_is_per_sequence_over_tokens_and_equals_a_one_frame_compile():
    torch.manual_seed(0)
    model = Streamer()
    seq = estimate(aimc.compile(model, HERMES, torch.zeros(1, 98, 40)))
    frame = estimate(aimc.compile(model, HERMES, torch.zeros(1, 1, 40)))
    assert seq.tokens == 98 and frame.tokens == 1
    assert seq.energy_per_token_j == pytest.approx(seq.total_j / 98, rel=1e-12)
    assert seq.latency_per_token_s == pytest.approx(seq.latency_s / 98, rel=1e-12)
    assert seq.energy_per_token_j == pytest.approx(frame.total_j, rel=1e-9)
    assert seq.latency_per_token_s == pytest.approx(frame.latency_s, rel=1e-9)
    assert seq.tokens_per_s == pytest.approx(98 * seq.throughput)
    i = seq.intervals["energy_per_token_j"]
    assert i.low < i.nominal < i.high and i.nominal == pytest.approx(frame.intervals["energy_j"].nominal)


def test_energy_and_latency_scale_linearly_with_sequence_length():
    model = Streamer()
    e = {t: cost(model, t) for t in (10, 20, 40)}
    for t in (20, 40):
        assert e[t].total_j == pytest.approx(e[10].total_j * t / 10, rel=1e-9)
        assert e[t].latency_s == pytest.approx(e[10].latency_s * t / 10, rel=1e-9)
        assert e[t].energy_per_token_j == pytest.approx(e[10].energy_per_token_j, rel=1e-9)


def test_recurrent_stage_is_sequential_and_sets_the_pipelined_throughput():
    model = Streamer()
    m = aimc.compile(model, HERMES, torch.zeros(1, 50, 40), replicate=True)
    s = schedule(m)
    t = mvm_time(m.chip)
    assert s.stage_s["lstm.l0.hh"] == pytest.approx(50 * t)  # one read per step, no replica
    assert 1 / s.pipelined_throughput == pytest.approx(50 * t)
    # one stream: the LSTM's 50 steps (ih and hh in parallel), then the head's 50 reads
    assert s.latency_s == pytest.approx(100 * t) and s.throughput == pytest.approx(1 / (100 * t))
    assert s.latency_per_token_s == pytest.approx(2 * t) and s.streams == 2


def lstm_report(steps, **kw):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch: oneDNN does not do projections
        return estimate(aimc.compile(nn.LSTM(40, 128, batch_first=True, **kw), HERMES,
                                     torch.zeros(1, steps, 40)))


def test_two_layer_lstm_critical_path_one_stream_and_pipelined_tokens_per_s():
    r = lstm_report(98, num_layers=2)
    t = mvm_time(r.mapping.chip)
    # per step: layer 0 max(ih, hh), then layer 1 max(ih, hh): 2 reads (was 4: every matrix summed)
    assert r.latency_per_token_s == pytest.approx(2 * t, rel=1e-12)
    # whole sequence as a wavefront: layer 1 runs step t while layer 0 runs step t+1: T + 1 reads
    assert r.latency_s == pytest.approx(99 * t, rel=1e-12)
    assert r.tokens_per_s == pytest.approx(98 / r.latency_s, rel=1e-12)  # one stream, the headline
    assert r.pipelined_tokens_per_s == pytest.approx(1 / t, rel=1e-12) and r.streams == 2
    s = r.summary()
    assert s["analog"]["tokens_per_s"] == pytest.approx(r.tokens_per_s)
    assert s["digital"]["tokens_per_s"] == pytest.approx(98 / r.digital["latency_s"])  # one stream too
    assert r.intervals["latency_s"].nominal == pytest.approx(r.latency_s)
    assert r.intervals["latency_per_token_s"].nominal == pytest.approx(2 * t)
    i = r.intervals["tokens_per_s"]
    assert i.low < i.high and i.nominal == pytest.approx(r.tokens_per_s)
    console = Console(width=140, record=True)
    console.print(r)
    text = console.export_text()
    assert "tokens/s pipelined" in text and "≥ 2 streams" in text


def test_projection_follows_the_gates_and_a_bidirectional_layer_waits_for_its_reverse_pass():
    proj = lstm_report(10, proj_size=32)
    t = mvm_time(proj.mapping.chip)
    # W_hr reads o * tanh(c), which needs both the ih and hh reads: 2 reads a step, no overlap
    assert proj.latency_per_token_s == pytest.approx(2 * t) and proj.latency_s == pytest.approx(20 * t)
    bi = lstm_report(3, num_layers=2, bidirectional=True)
    # directions in parallel: 1 read per layer and step; layer 1 at position 0 needs the reverse
    # direction's last step (ready after [3, 2, 3] reads), so each direction of layer 1 ends at 6
    assert bi.latency_per_token_s == pytest.approx(2 * t) and bi.latency_s == pytest.approx(6 * t)


def test_attention_projections_q_k_v_read_in_parallel():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(64, 4, batch_first=True)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = mha

        def forward(self, x):
            return self.attn(x, x, x)[0]

    r = estimate(aimc.compile(Net(), HERMES, torch.zeros(1, 16, 64)))
    t = mvm_time(r.mapping.chip)
    assert r.latency_s == pytest.approx(32 * t)  # max(q, k, v) + out: 16 + 16 reads (was 64)
    assert r.latency_per_token_s == pytest.approx(2 * t)
    assert r.throughput == pytest.approx(1 / (16 * t))  # no recurrent layer: pipelined as before


def test_digital_baseline_runs_recurrent_steps_one_by_one():
    m = aimc.compile(nn.RNN(8, 8, batch_first=True), HERMES, torch.zeros(1, 10, 8))
    d = estimate(m).digital["layers"]
    # 128x128 systolic array, 1 weight tile: ih streams (10 + 256 cycles), hh fills and drains
    # for every step (10 x (1 + 256))
    assert d["l0.ih"]["latency_s"] == pytest.approx((10 + 256) * 1e-9)
    assert d["l0.hh"]["latency_s"] == pytest.approx(10 * (1 + 256) * 1e-9)


def test_embedding_lookup_costs_a_row_not_a_matrix():
    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(1000, 64)
            self.attn = nn.MultiheadAttention(64, 4, batch_first=True)

        def forward(self, idx):
            x = self.emb(idx)
            return self.attn(x, x, x)[0]

    torch.manual_seed(0)
    idx = torch.zeros(1, 16, dtype=torch.long)
    digital = estimate(aimc.compile(LM(), HERMES, idx))
    analog = estimate(aimc.compile(LM(), HERMES, idx, analog_embeddings=True))
    d_emb, a_emb = digital.layers[0], analog.layers[0]
    assert d_emb.macs == 0 and a_emb.macs == 0
    # a one-hot read drives one row: its array energy is a small fraction of a full 1000-row read
    q = analog.layers[1]  # q_proj: 64 rows, 16 vectors
    assert 0 < a_emb.energy_j["dac"] < q.energy_j["dac"] / 32
    assert digital.tokens == analog.tokens == 16
    assert digital.to_dict()["layers"][0]["tops"] == 0.0  # a digital lookup: no MACs, no time


def test_report_table_and_dict_show_per_token_figures():
    report = cost(Streamer(), 98)
    console = Console(width=120, record=True)
    console.print(report)
    text = console.export_text()
    assert "(98" in text and "energy/token (µJ)" in text and "latency/token (µs)" in text
    data = report.to_dict()
    assert data["tokens"] == 98 and data["energy_per_token_j"] == pytest.approx(data["total_j"] / 98)
    assert data["summary"]["digital"]["energy_per_token_j"] > 0
    assert data["intervals"]["latency_per_token_s"]["nominal"] == pytest.approx(data["latency_s"] / 98)
    plain = Console(width=120, record=True)
    plain.print(estimate(aimc.compile(nn.Linear(4, 4), HERMES, torch.zeros(1, 4))))
    assert "token" not in plain.export_text()
