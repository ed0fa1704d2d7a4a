"""Vision reference networks: the demo CNN for 8x8 digits, an MLP, ResNet-18 and VGG-8."""

from __future__ import annotations

import torch
from torch import nn


def digits_cnn() -> nn.Sequential:
    """The demo CNN for 8x8 digits: two 3x3 convolutions, max-pool, two linear layers.

    Example:
        >>> import torch
        >>> digits_cnn()(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 4 * 4, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


def mnist_cnn() -> nn.Sequential:
    """A LeNet-style CNN for 28x28 grey images (MNIST, Fashion-MNIST): two 5x5 convolutions with
    max-pooling, two linear layers.

    Example:
        >>> import torch
        >>> mnist_cnn()(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def mlp(sizes: tuple[int, ...] = (784, 512, 512, 10)) -> nn.Sequential:
    """A ReLU multilayer perceptron with the given layer widths."""
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"mlp needs at least two positive layer sizes, got {sizes}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class _BasicBlock(nn.Module):
    """ResNet basic block (He et al., CVPR 2016): two 3x3 convolutions and a shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


def resnet18(num_classes: int = 10) -> nn.Module:
    """ResNet-18 for 32x32 inputs (the CIFAR variant used in most analog-AI papers): 3x3 stem,
    four stages of two basic blocks (64, 128, 256, 512 channels), global pooling, linear head.
    11.2 M weights; no trained weights are needed for mapping and cost."""
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    c_in = 64
    for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [_BasicBlock(c_in, c_out, stride), _BasicBlock(c_out, c_out, 1)]
        c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


def vgg8(num_classes: int = 10) -> nn.Sequential:
    """VGG-8 for 32x32 inputs as in DNN+NeuroSim's benchmark (Peng et al., IEDM 2019): six 3x3
    convolutions (128, 128, 256, 256, 512, 512) with max-pooling, FC 8192-1024 and 1024-classes."""
    def block(c_in, c_out, pool):
        mods = [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
        return mods + ([nn.MaxPool2d(2)] if pool else [])
    return nn.Sequential(
        *block(3, 128, False), *block(128, 128, True), *block(128, 256, False),
        *block(256, 256, True), *block(256, 512, False), *block(512, 512, True),
        nn.Flatten(), nn.Linear(512 * 4 * 4, 1024), nn.ReLU(), nn.Linear(1024, num_classes),
    )


MODELS = {
    "digits-cnn": (digits_cnn, (1, 1, 8, 8)),
    "mlp": (mlp, (1, 784)),
    "mnist-cnn": (mnist_cnn, (1, 1, 28, 28)),
    "resnet18": (resnet18, (1, 3, 32, 32)),
    "vgg8": (vgg8, (1, 3, 32, 32)),
}
