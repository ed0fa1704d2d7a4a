"""compile maps the matrices of recurrent, attention, transformer, registered and embedding layers
with the exact shapes and vectors per inference (hand-counted from the layer definitions)."""

import warnings

import pytest
import torch
from torch import nn

import aimc
from aimc.nn import MatrixAdapter, register_layer, unregister_layer

HERMES = "ibm-hermes-pcm"


def table(mapping):
    return {lay.name: (lay.rows, lay.cols, lay.vectors) for lay in mapping.layers}


def test_lstm_two_layers_bidirectional_with_projection():
    torch.manual_seed(0)
    lstm = nn.LSTM(10, 16, num_layers=2, bidirectional=True, proj_size=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch: oneDNN does not do projections
        m = aimc.compile(lstm, HERMES, torch.zeros(7, 1, 10))  # [T, B, F], batch_first=False
    expected = {}
    for k, inputs in ((0, 10), (1, 2 * 8)):  # layer 1 reads both directions' projected h
        for d in ("", "_reverse"):
            expected |= {f"l{k}{d}.ih": (inputs, 4 * 16, 7), f"l{k}{d}.hh": (8, 4 * 16, 7),
                         f"l{k}{d}.hr": (16, 8, 7)}
    assert table(m) == expected
    assert m.tokens == 7 and all(lay.analog and lay.kind == "LSTM" for lay in m.layers)
    assert {lay.name for lay in m.layers if lay.recurrent} == {n for n in expected if not n.endswith("ih")}


def test_gru_batch_first_divides_by_its_own_batch_and_names_follow_the_model():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(10, 16, batch_first=True)
            self.head = nn.Linear(16, 3)

        def forward(self, x):
            return self.head(self.gru(x)[0])  # a prediction per frame

    m = aimc.compile(Net(), HERMES, torch.zeros(2, 7, 10))
    assert table(m) == {"gru.l0.ih": (10, 48, 7), "gru.l0.hh": (16, 48, 7), "head": (16, 3, 7)}
    # time-major input: the batch comes from the GRU's own layout, not the first dimension
    tm = nn.GRU(10, 16)
    assert table(aimc.compile(tm, HERMES, torch.zeros(7, 3, 10)))["l0.ih"] == (10, 48, 7)
    assert table(aimc.compile(tm, HERMES, torch.zeros(7, 10)))["l0.hh"] == (16, 48, 7)  # unbatched


def test_policy_by_layer_name_type_and_no_replicas_for_recurrent_matrices():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(4, 8, batch_first=True)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.rnn(x)[0])

    x = torch.zeros(1, 30, 4)
    kept = aimc.compile(Net(), HERMES, x, digital=["rnn"])
    assert [lay.analog for lay in kept.layers] == [False, False, True]
    assert not any(lay.analog for lay in aimc.compile(Net(), HERMES, x, digital=["RNN"]).layers
                   if lay.kind == "RNN")
    rep = aimc.compile(Net(), HERMES, x, replicate=True)
    replicas = {lay.name: lay.replicas for lay in rep.layers}
    assert replicas["rnn.l0.hh"] == 1  # 30 sequential reads: a copy cannot take half
    # replication stops when a recurrent matrix is the slowest stage (ties included)
    assert replicas["rnn.l0.ih"] == 1 and replicas["head"] == 1


@pytest.mark.parametrize("batch_first", [True, False])
def test_mha_packed_per_token_reads(batch_first):
    mha = nn.MultiheadAttention(8, 2, batch_first=batch_first)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = mha

        def forward(self, x):
            return self.attn(x, x, x)[0]

    x = torch.zeros(2, 5, 8) if batch_first else torch.zeros(5, 2, 8)
    m = aimc.compile(Net(), HERMES, x)
    assert table(m) == {f"attn.{p}_proj": (8, 8, 5) for p in ("q", "k", "v", "out")}
    assert m.tokens == 5


def test_mha_kdim_vdim_cross_attention_counts_key_and_value_tokens():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, kdim=6, vdim=4, batch_first=True)

        def forward(self, x):
            memory = torch.zeros(x.shape[0], 3, 6), torch.zeros(x.shape[0], 3, 4)
            return self.attn(x, *memory)[0]

    m = aimc.compile(Net(), HERMES, torch.zeros(1, 5, 8))
    assert table(m) == {"attn.q_proj": (8, 8, 5), "attn.k_proj": (6, 8, 3), "attn.v_proj": (4, 8, 3),
                        "attn.out_proj": (8, 8, 5)}


def test_transformer_encoder_every_matrix_despite_the_fast_path():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 2,
                                enable_nested_tensor=False)
    m = aimc.compile(enc.eval(), HERMES, torch.zeros(1, 9, 16))
    expected = {}
    for k in range(2):
        expected |= {f"layers.{k}.self_attn.{p}_proj": (16, 16, 9) for p in ("q", "k", "v", "out")}
        expected |= {f"layers.{k}.linear1": (16, 32, 9), f"layers.{k}.linear2": (32, 16, 9)}
    assert table(m) == expected and m.tokens == 9
    assert not enc.layers[0]._forward_pre_hooks  # trace hooks removed


def test_decoder_layer_with_memory_as_a_tuple_input():
    dec = nn.TransformerDecoderLayer(16, 2, 32)
    m = aimc.compile(dec, HERMES, (torch.zeros(4, 1, 16), torch.zeros(6, 1, 16)))
    t = table(m)
    assert t["multihead_attn.q_proj"] == (16, 16, 4) and t["multihead_attn.k_proj"] == (16, 16, 6)
    assert t["self_attn.v_proj"] == (16, 16, 4) and t["linear2"] == (32, 16, 4) and m.tokens == 4


def test_registered_conv1d_maps_its_adapter_matrix():
    class Conv1D(nn.Module):  # Hugging Face GPT-2 layout: weight [in, out], x @ W + b
        def __init__(self, nf, nx):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(nx, nf) * 0.02)
            self.bias = nn.Parameter(torch.zeros(nf))

        def forward(self, x):
            return (x.reshape(-1, x.shape[-1]) @ self.weight + self.bias).view(*x.shape[:-1], -1)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = Conv1D(24, 8)
            self.inner = nn.Linear(4, 4)  # held inside, never called: not a matrix of the trace

        def forward(self, x):
            return self.c_attn(x)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unregistered = aimc.compile(nn.Sequential(Block(), nn.Linear(24, 2)), HERMES, torch.zeros(1, 5, 8))
    assert table(unregistered) == {"1": (24, 2, 5)}  # unregistered: not a weight layer
    register_layer(Conv1D, MatrixAdapter(weight=lambda mod: mod.weight.T))
    try:
        m = aimc.compile(nn.Sequential(Block(), nn.Linear(24, 2)), HERMES, torch.zeros(1, 5, 8))
    finally:
        unregister_layer(Conv1D)
    assert table(m) == {"0.c_attn": (8, 24, 5), "1": (24, 2, 5)} and m.layers[0].kind == "Conv1D"
    assert m.tokens == 1  # no recurrent or attention layer


def test_custom_adapter_without_a_matrix_is_named_in_a_warning():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x * self.w

    class Adapter:
        @staticmethod
        def from_digital(module, chip):
            return module

    register_layer(Odd, Adapter)
    try:
        with pytest.warns(UserWarning, match=r"odd \(Odd\)"):
            net = nn.Sequential()
            net.add_module("lin", nn.Linear(3, 3))
            net.add_module("odd", Odd())
            m = aimc.compile(net, HERMES, torch.zeros(1, 3))
    finally:
        unregister_layer(Odd)
    assert [lay.name for lay in m.layers] == ["lin"]


def test_embedding_digital_by_default_analog_when_asked_and_tokens_override():
    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(300, 8)
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, idx):
            x = self.emb(idx)
            return self.attn(x, x, x)[0]

    idx = torch.zeros(1, 6, dtype=torch.long)
    m = aimc.compile(LM(), HERMES, idx)
    emb = m.layers[0]
    assert (emb.name, emb.rows, emb.cols, emb.vectors, emb.analog) == ("emb", 300, 8, 6, False)
    assert "analog_embeddings=True" in emb.reason and emb.macs == 0
    on = aimc.compile(LM(), HERMES, idx, analog_embeddings=True, tokens=3)
    emb = on.layers[0]
    assert emb.analog and emb.lookup and (emb.row_arrays, emb.col_arrays) == (2, 1) and on.tokens == 3
    with pytest.raises(ValueError, match="tokens must be a positive integer"):
        aimc.compile(LM(), HERMES, idx, tokens=0)


def test_converted_sequence_model_is_refused():
    analog, _ = aimc.convert(nn.LSTM(4, 4), "ideal")
    with pytest.raises(ValueError, match="already analog"):
        aimc.compile(analog, "ideal", torch.zeros(3, 1, 4))


def test_mapping_table_and_dict_name_tokens_and_recurrent_matrices():
    from rich.console import Console

    m = aimc.compile(nn.LSTM(4, 8, batch_first=True), HERMES, torch.zeros(1, 12, 4))
    console = Console(width=100, record=True)
    console.print(m)
    text = console.export_text()
    assert "12 tokens" in text and "step after step" in text
    data = m.to_dict()
    assert data["tokens"] == 12 and [lay["recurrent"] for lay in data["layers"]] == [False, True]


def test_tokens_of_a_model_without_attention_modules_come_from_its_embedding():
    from aimc.models.gpt import GPT, GPTConfig  # attention through F.scaled_dot_product_attention

    gpt = GPT(GPTConfig(vocab=64, context=16, layers=1, heads=2, dim=32),
              generator=torch.Generator().manual_seed(0))
    m = aimc.compile(gpt, HERMES, torch.zeros(2, 12, dtype=torch.long))
    assert m.tokens == 12
    assert table(m)["h.0.attn.c_attn"] == (32, 96, 12) and table(m)["wte"] == (64, 32, 12)


def test_matrices_inside_nn_transformer_stay_digital_as_convert_leaves_them():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.Transformer(8, 2, 1, 1, 16)
            self.head = nn.Linear(8, 3)

        def forward(self, src, tgt):
            return self.head(self.transformer(src, tgt))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's nested-tensor notice
        m = aimc.compile(Net(), HERMES, (torch.zeros(5, 1, 8), torch.zeros(3, 1, 8)))
    inner = [lay for lay in m.layers if lay.name.startswith("transformer.")]
    assert len(inner) == 4 + 2 + 4 + 4 + 2  # encoder MHA + FF, decoder self/cross MHA + FF
    assert not any(lay.analog for lay in inner) and "inside transformer" in inner[0].reason
    assert m.layers[-1].name == "head" and m.layers[-1].analog and m.layers[-1].vectors == 3


def test_a_module_registered_twice_is_counted_once_per_call():
    shared = nn.Linear(4, 4)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    m = aimc.compile(net, HERMES, torch.zeros(1, 4))
    assert table(m) == {"0": (4, 4, 2)}  # called twice: two vectors, one matrix


def test_a_position_index_without_batch_dimension_counts_per_sample():
    from aimc.models.gpt import GPT, GPTConfig  # wpe(pos) with pos [T], broadcast over the batch

    gpt = GPT(GPTConfig(vocab=64, context=16, layers=1, heads=2, dim=32),
              generator=torch.Generator().manual_seed(0))
    for batch in (1, 2, 3):
        m = aimc.compile(gpt, HERMES, torch.zeros(batch, 8, dtype=torch.long), analog_embeddings=True)
        assert table(m)["wte"][2] == 8 and table(m)["wpe"][2] == 8, batch  # was 8 // batch


def test_padded_positions_are_not_counted_as_lookups():
    class Net(nn.Module):
        def __init__(self, padding_idx):
            super().__init__()
            self.emb = nn.Embedding(20, 8, padding_idx=padding_idx)
            self.head = nn.Linear(8, 2)

        def forward(self, idx):
            return self.head(self.emb(idx))

    idx = torch.tensor([[3, 4, 5, 0, 0, 0], [3, 4, 0, 0, 0, 0]])  # 5 of 12 indices are real tokens
    m = aimc.compile(Net(0), HERMES, idx, analog_embeddings=True)
    assert table(m)["emb"][2] == 5 // 2 and m.tokens == 6  # AnalogEmbedding reads no padded row
    assert table(aimc.compile(Net(None), HERMES, idx, analog_embeddings=True))["emb"][2] == 6
    nonzero = Net(0)
    with torch.no_grad():
        nonzero.emb.weight[0] = 1.0  # a non-zero padding row is read like any other
    assert table(aimc.compile(nonzero, HERMES, idx, analog_embeddings=True))["emb"][2] == 6
