"""A toy input family added the way a contributor adds one: this tokenizer module plus one registry line
(``wfm.models.tokenizers.register_tokenizer``; the tests add it with ``monkeypatch.setitem``).

"vector" inputs ``(B, C, 1, L)``: each channel a 1-D vector, cut into chunks of ``chunk`` values; one shared
linear projection per chunk and 1-D sine-cosine positions, laid out like the other tokenizers' ``(B, C, N, D)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from wfm.models.pos_embed import sincos_1d


class VectorTokenizer(nn.Module):
    family = "vector"
    modalities = ("vector",)
    attr, identity = "vector", "channel_embed"
    description = "vectors"

    def check_sample(self, hw: tuple[int, int], who: str) -> None:
        if tuple(hw) != (1, self.length):
            raise ValueError(f"vector samples are {hw}, but {who} takes (1, {self.length})")

    def __init__(self, length: int, chunk: int, embed_dim: int) -> None:
        super().__init__()
        if length % chunk:
            raise ValueError(f"vector length {length} is not a multiple of chunk {chunk}")
        self.length, self.chunk = int(length), int(chunk)
        self.grid = (1, self.length // self.chunk)
        self.proj = nn.Linear(self.chunk, embed_dim)
        self.register_buffer("pos_embed", sincos_1d(embed_dim, torch.arange(self.grid[1])), persistent=False)

    @classmethod
    def build(cls, config: dict[str, Any], embed_dim: int) -> VectorTokenizer | None:
        options = config.get("tokenizer_options", {}).get(cls.family)
        return None if options is None else cls(int(options["length"]), int(options.get("chunk", 4)), embed_dim)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[2] != 1 or x.shape[3] != self.length:
            raise ValueError(f"vector input must be (B, C, 1, {self.length}), got shape {tuple(x.shape)}")
        b, c = x.shape[:2]
        return self.proj(x.reshape(b, c, self.grid[1], self.chunk))
