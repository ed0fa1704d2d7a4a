"""Reference networks built in code (no weights to download), one module per family:

- ``vision``: the demo CNN for 8x8 digits, an MLP, ResNet-18 and VGG-8;
- ``kws``: LSTM/GRU keyword spotters on log-mel frames (clip classification);
- ``streaming``: the frame-by-frame keyword spotter used by :mod:`aimc.stream`;
- ``vit``: a small vision transformer for 28x28 images;
- ``gpt``: a GPT-2 decoder (character-level preset and the 124 M-parameter GPT-2 small).
"""

from .gpt import GPT, GPTConfig, char_small, gpt2_small
from .kws import KeywordSpotter, kws_gru, kws_lstm
from .vision import MODELS, digits_cnn, mlp, resnet18, vgg8
from .vit import ViT, analog_matrix_count, vit

__all__ = [
    "GPT",
    "MODELS",
    "GPTConfig",
    "KeywordSpotter",
    "ViT",
    "analog_matrix_count",
    "char_small",
    "digits_cnn",
    "gpt2_small",
    "kws_gru",
    "kws_lstm",
    "mlp",
    "resnet18",
    "vgg8",
    "vit",
]
