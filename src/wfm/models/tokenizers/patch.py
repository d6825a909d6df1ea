"""Per-channel patches as tokens: the image path of the encoder (spectrograms, CSI, any ``(C, H, W)`` grid).

Every input channel is cut into ``P x P`` patches on its own and one shared single-channel projection maps
each patch to ``embed_dim``, so the same weights take any channel count; a 2-D sine-cosine table gives the
patch's grid position.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from wfm.models.pos_embed import sincos_2d


class PatchTokenizer(nn.Conv2d):
    """The patch projection (a ``P x P``-strided convolution of one channel) and the fixed 2-D positions.

    A ``Conv2d`` itself, so its parameters keep the names checkpoints have always had (``patch_embed.weight``).

    Args:
        img_size: ``(H, W)`` the encoder takes; ``patch_size`` must divide both.
        patch_size: side ``P`` of the square patches.
        embed_dim: token width.
    """

    family = "image"
    #: the data modalities this tokenizer embeds
    modalities = ("spectrogram", "csi")
    #: the encoder attribute it lives under (state-dict prefix) and the channel-identity table it uses
    attr, identity = "patch_embed", "channel_embed"
    #: what its inputs are, in messages
    description = "images (channels x frequency x time)"

    def __init__(self, img_size: tuple[int, int], patch_size: int, embed_dim: int) -> None:
        super().__init__(1, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.img_size = tuple(img_size)
        self.grid = (img_size[0] // patch_size, img_size[1] // patch_size)
        self.num_positions = self.grid[0] * self.grid[1]
        self.register_buffer("pos_embed", sincos_2d(embed_dim, *self.grid), persistent=False)

    @classmethod
    def build(cls, config: dict[str, Any], embed_dim: int) -> PatchTokenizer:
        """Every encoder has the patch path."""
        return cls(tuple(config["img_size"]), int(config["patch_size"]), embed_dim)

    def check_sample(self, hw: tuple[int, int], who: str) -> None:
        """Raise if one channel of a sample, ``(H, W)``, cannot be tokenized (``who`` names the encoder)."""
        h, w = hw
        if (h, w) != self.img_size:
            raise ValueError(f"samples are {h} x {w}, but {who} takes {self.img_size[0]} x {self.img_size[1]} "
                             "inputs; convert the file at that size (or set the task's size)")

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> projected patches (B, C, N, D), row-major over the grid."""
        if x.ndim != 4:
            raise ValueError(f"image input must be (B, C, H, W), got shape {tuple(x.shape)}")
        b, c, h, w = x.shape
        if (h, w) != self.img_size:
            raise ValueError(f"encoder expects inputs of size {self.img_size}, got ({h}, {w})")
        tok = super().forward(x.reshape(b * c, 1, h, w))  # (B*C, D, gh, gw)
        return tok.flatten(2).transpose(1, 2).reshape(b, c, self.num_positions, -1)
