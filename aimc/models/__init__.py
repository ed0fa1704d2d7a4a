"""Reference networks built in code (no weights to download), one module per family:

- ``vision``: the demo CNN for 8x8 digits, a CNN for 28x28 images, an MLP, ResNet-18 and VGG-8;
- ``kws``: LSTM/GRU keyword spotters on log-mel frames (clip classification);
- ``streaming``: the frame-by-frame keyword spotter used by :mod:`aimc.stream`;
- ``vit``: a small vision transformer for 28x28 images;
- ``gpt``: a GPT-2 decoder (character-level preset and the 124 M-parameter GPT-2 small).
"""

import torch

from .gpt import GPT, GPTConfig, char_small, gpt2_small
from .kws import KeywordSpotter, kws_gru, kws_lstm
from .vision import MODELS as VISION_MODELS
from .vision import digits_cnn, mlp, mnist_cnn, resnet18, vgg8
from .vit import ViT, analog_matrix_count, vit


def char_gpt() -> GPT:
    """The character-level GPT of ``benchmarks/charlm_fortunes.py`` (100 characters, context 64),
    random seeded weights: for mapping and cost."""
    return GPT(char_small(100, context=64), generator=torch.Generator().manual_seed(0))


def gpt2_small_model() -> GPT:
    """GPT-2 small (124 M parameters), random seeded weights: for mapping and cost."""
    return GPT(gpt2_small(), generator=torch.Generator().manual_seed(0))


# name -> (builder, example input shape) for `aimc compile --model NAME`; a model whose first
# layer is an nn.Embedding takes token ids (the command makes an integer example input)
MODELS = {
    **VISION_MODELS,
    "kws-lstm": (kws_lstm, (1, 98, 40)),  # 98 log-mel frames of 40 bands (1 s of audio)
    "vit": (vit, (1, 1, 28, 28)),
    "char-gpt": (char_gpt, (1, 64)),  # a 64-character context
    "gpt2-small": (gpt2_small_model, (1, 1)),  # one generated token (key/value cache)
}

__all__ = [
    "GPT",
    "MODELS",
    "GPTConfig",
    "KeywordSpotter",
    "ViT",
    "analog_matrix_count",
    "char_gpt",
    "char_small",
    "digits_cnn",
    "gpt2_small",
    "gpt2_small_model",
    "kws_gru",
    "kws_lstm",
    "mlp",
    "mnist_cnn",
    "resnet18",
    "vgg8",
    "vit",
]
