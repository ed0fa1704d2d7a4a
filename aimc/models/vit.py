"""A small Vision Transformer for 28x28 grey images (Fashion-MNIST, MNIST).

The architecture of Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image
Recognition at Scale", ICLR 2021 (ViT), scaled down for CPU training:

* the image is cut into non-overlapping ``patch x patch`` patches (7x7 by default: 16 tokens),
  each flattened (row-major, 49 values) and projected to ``dim`` by one ``nn.Linear``
  (``patch_embed``; ViT eq. 1, ``x_p E``);
* a learned class token is prepended and a learned position embedding (one vector per token, 17
  by default) is added, as in ViT eq. 1 (ViT's 1-D learned position embedding);
* ``depth`` pre-norm encoder blocks (``nn.TransformerEncoderLayer`` with ``norm_first=True``,
  GELU MLP; ViT eqs. 2-3);
* a final LayerNorm on the class token and a linear head (ViT eq. 4; one linear layer, as ViT
  uses when fine-tuning).

On a chip (:func:`aimc.convert`): every matrix goes on tiles: ``patch_embed``, in each block the
attention's ``W_q``, ``W_k``, ``W_v``, ``W_out`` (:class:`aimc.nn.AnalogMultiheadAttention`) and the
two MLP matrices (``linear1``, ``linear2``), and the ``head``: ``2 + 6 * depth`` matrices. The
class token and position embedding are added digitally (they are additive vectors, not matrices);
LayerNorm, softmax, ``QKᵀ``, ``AV``, GELU and the residual sums stay digital. Dropout defaults to
0 (a 20k-image subset trained for a few epochs does not over-fit much; documented choice).

Example:
    >>> import torch
    >>> vit()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import torch
from torch import nn


class ViT(nn.Module):
    """Vision Transformer (class token, learned 1-D position embedding, pre-norm blocks).

    Args:
        image_size: side of the square input image in pixels.
        patch: side of a square patch in pixels; must divide ``image_size``.
        channels: input channels (1 for grey images).
        dim: token width (the model dimension ``D`` of ViT).
        depth: number of encoder blocks.
        heads: attention heads; must divide ``dim``.
        mlp_dim: hidden width of each block's MLP.
        num_classes: outputs of the head.
        dropout: dropout inside the blocks (attention and MLP).
    """

    def __init__(self, image_size: int = 28, patch: int = 7, channels: int = 1, dim: int = 64,
                 depth: int = 3, heads: int = 4, mlp_dim: int = 128, num_classes: int = 10,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if patch < 1 or image_size % patch:
            raise ValueError(f"patch must be a positive divisor of image_size={image_size}, got {patch}")
        if heads < 1 or dim % heads:
            raise ValueError(f"heads must be a positive divisor of dim={dim}, got {heads}")
        if min(channels, dim, depth, mlp_dim, num_classes) < 1:
            raise ValueError("channels, dim, depth, mlp_dim and num_classes must be >= 1")
        self.image_size, self.patch, self.channels = image_size, patch, channels
        self.tokens = (image_size // patch) ** 2
        self.patch_embed = nn.Linear(channels * patch * patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.tokens + 1, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)  # as the reference ViT code
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        block = nn.TransformerEncoderLayer(dim, heads, mlp_dim, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(block, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` images to ``[N, tokens, C * patch * patch]`` flattened patches
        (patches row-major over the image, pixels row-major inside a patch, channel first)."""
        if x.dim() != 4 or x.shape[1:] != (self.channels, self.image_size, self.image_size):
            raise ValueError(f"ViT expects images [N, {self.channels}, {self.image_size}, "
                             f"{self.image_size}], got {list(x.shape)}")
        n, p = x.shape[0], self.patch
        g = self.image_size // p
        x = x.reshape(n, self.channels, g, p, g, p).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(n, g * g, self.channels * p * p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(self.patches(x))
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        tokens = torch.cat([cls, tokens], dim=1) + self.pos_embed
        return self.head(self.norm(self.encoder(tokens)[:, 0]))


def vit(**kwargs) -> ViT:
    """The default small ViT: 7x7 patches (16 tokens + class token), dim 64, 4 heads, 3 blocks,
    MLP 128, 10 classes (about 105 k parameters); keyword arguments as :class:`ViT`."""
    return ViT(**kwargs)


def analog_matrix_count(model: ViT) -> int:
    """Weight matrices of ``model`` that :func:`aimc.convert` puts on tiles: patch embedding,
    head, and per block W_q, W_k, W_v, W_out, linear1, linear2."""
    return 2 + 6 * len(model.encoder.layers)
