"""Tokens of complex channels, the image path's alternatives to embedding each (re, im) part as a channel of
its own (the encoder's ``complex_tokens``): :class:`ComplexModulusTokenizer` (``modulus``) and
:class:`ComplexPairTokenizer` (``pair``).

``modulus``: a (re, im) pair's two P x P patches -> two tokens, each the modulus of a complex linear projection
of the complex patch.

A complex patch ``z`` (``P * P`` complex entries) is projected by two learned complex matrices ``W = A + iB``
and ``V = C + iD`` (``D`` outputs each); the tokens are ``|W z|`` and ``|V z|`` (elementwise moduli), put in the
pair's two channel slots so channel sampling, padding, channel codes and the methods see the layout they
always did. ``|W (z e^{i theta})| = |W z|``: the tokens, and so everything the encoder computes from them, are
exactly invariant to the channel's global phase, and continuous in the input (a canonical rotation of the
sample is not, where its reference entry changes). It is what averaging a first linear layer's rectified
outputs over all phase rotations computes (the mean of ``relu(Re(e^{i theta} a))`` over theta is ``|a| / pi``),
the measured reason beam and LoS features improve when averaged over rotations (docs/experiments/
channel_phase.md, "Phase-rotated views"). What is lost is more than the global phase: each token sees one
patch, so the phase of every patch relative to the others (and of one complex channel to another) is dropped
too; the phase relations inside a patch (a beam's phase slope across its antennas, a delay's across its
subcarriers) are kept, and the encoder combines the patches' invariant descriptions.
"""

from __future__ import annotations

import torch
from torch import nn


class _ComplexTokenizer(nn.Module):
    """The shared part of the complex-channel tokenizers: the patch grid and the input check; a subclass sets
    ``proj`` and turns :meth:`pairs`' checked input into tokens."""

    what = "complex tokens"

    def __init__(self, img_size: tuple[int, int], patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.img_size = tuple(img_size)
        self.num_positions = (img_size[0] // patch_size) * (img_size[1] // patch_size)
        self.embed_dim = int(embed_dim)

    def pairs(self, x: torch.Tensor) -> tuple[int, int, int, int]:
        """``x``'s shape, checked: channels in (re, im) pairs, the encoder's image size."""
        b, c, h, w = x.shape
        if c % 2:
            raise ValueError(f"{self.what} need channels in (re, im) pairs, got {c} channels")
        if (h, w) != self.img_size:
            raise ValueError(f"encoder expects inputs of size {self.img_size}, got ({h}, {w})")
        return b, c, h, w


class ComplexModulusTokenizer(_ComplexTokenizer):
    """``(B, C, H, W)`` with channels ``(2k, 2k + 1)`` the (re, im) parts of complex channel ``k`` ->
    ``(B, C, N, D)`` phase-invariant tokens (slot ``2k``: ``|W z_k|``, slot ``2k + 1``: ``|V z_k|``).

    Args:
        img_size, patch_size, embed_dim: as the encoder's patch path.
    """

    def __init__(self, img_size: tuple[int, int], patch_size: int, embed_dim: int) -> None:
        super().__init__(img_size, patch_size, embed_dim)
        # the real and imaginary parts (A, B) of W and (C, D) of V as one single-channel projection
        self.proj = nn.Conv2d(1, 4 * embed_dim, kernel_size=patch_size, stride=patch_size, bias=False)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = self.pairs(x)
        out = self.proj(x.reshape(b * c, 1, h, w)).flatten(2).transpose(1, 2)  # (B*C, N, 4D)
        out = out.reshape(b, c // 2, 2, self.num_positions, 4, self.embed_dim)
        re, im = out[:, :, 0], out[:, :, 1]  # projections of the real and of the imaginary part
        # W z = (A re - B im) + i (B re + A im); V z alike with (C, D)
        wz = torch.stack([re[..., 0, :] - im[..., 1, :], re[..., 1, :] + im[..., 0, :]], -1)
        vz = torch.stack([re[..., 2, :] - im[..., 3, :], re[..., 3, :] + im[..., 2, :]], -1)
        tok = torch.stack([_modulus(wz), _modulus(vz)], 2)  # (B, C/2, 2, N, D)
        return tok.reshape(b, c, self.num_positions, self.embed_dim)


def _modulus(z: torch.Tensor) -> torch.Tensor:
    """|z| of (..., 2) real pairs, with a gradient at 0 (the square root of a floor)."""
    return (z.pow(2).sum(-1) + 1e-12).sqrt()


class ComplexPairTokenizer(_ComplexTokenizer):
    """``(B, C, H, W)`` with channels ``(2k, 2k + 1)`` the (re, im) parts of complex channel ``k`` ->
    ``(B, C/2, N, D)``: ONE token per complex channel and patch position, a linear projection of both parts'
    ``P x P`` patches (a convolution with two input channels, the pair), so the encoder sees half the tokens
    of the split layout and every token holds its patch's complex values whole (the phase between re and im
    is in the token, not only in attention between two tokens).

    The token of complex channel ``k`` takes the slot of its re part: the encoder's token slots are the pairs
    (``ViTEncoder.slot_stride``), looked up in the channel tables by the re channel's index. A linear map of
    (re, im) is not invariant to a rotation of the pair: ``pair`` tokens depend on the channel's global phase
    unless the encoder also has a ``phase_reference`` (``strongest`` / ``sum``), which turns every sample to
    one reference phase before tokenizing and makes the features exactly invariant.

    Args:
        img_size, patch_size, embed_dim: as the encoder's patch path.
    """

    what = "complex pair tokens"

    def __init__(self, img_size: tuple[int, int], patch_size: int, embed_dim: int) -> None:
        super().__init__(img_size, patch_size, embed_dim)
        self.proj = nn.Conv2d(2, embed_dim, kernel_size=patch_size, stride=patch_size)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = self.pairs(x)
        out = self.proj(x.reshape(b * (c // 2), 2, h, w)).flatten(2).transpose(1, 2)  # (B*C/2, N, D)
        return out.reshape(b, c // 2, self.num_positions, self.embed_dim)
