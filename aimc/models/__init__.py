"""Reference networks built in code (no weights to download), one module per family:
``vision`` (the demo CNN, MLP, ResNet-18, VGG-8) and the sequence models beside it."""

from .vision import MODELS, digits_cnn, mlp, resnet18, vgg8

__all__ = ["MODELS", "digits_cnn", "mlp", "resnet18", "vgg8"]
