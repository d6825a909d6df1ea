"""The tokenizer registry: which tokenizer the encoder embeds each input modality with.

A batch says which data modality it holds (``batch["modality"]``: the file's ``spectrogram``, ``csi``,
``iq``, ...); each registered tokenizer names the modalities it embeds and its token *family* (``image`` for
per-channel patches, ``iq`` for raw IQ segments), the name per-family settings are keyed by (a method's
regulariser or masking per family, the encoder's per-family affine row). A new input family is one
tokenizer module and one line in ``TOKENIZERS``.

A tokenizer is an ``nn.Module`` with class attributes ``family``, ``modalities``, ``attr`` (the encoder
attribute and state-dict prefix it lives under), ``identity`` (the encoder's channel-identity table it uses,
or None), ``description`` (what its inputs are, for messages); a ``grid`` ``(gh, gw)`` of token positions per
channel, a ``pos_embed`` ``(gh * gw, D)`` buffer, a
``tokens(x) -> (B, C, N, D)`` method, a ``check_sample((H, W), who)`` method that refuses a per-channel sample
shape it cannot take, and a ``build(config, embed_dim)`` classmethod that returns the
tokenizer for an encoder config, or None when that encoder does not take the family.
"""

from __future__ import annotations

from wfm.models.tokenizers.iq import IQTokenizer
from wfm.models.tokenizers.patch import PatchTokenizer

#: token family -> tokenizer class, in the order of the encoder's per-family affine rows
TOKENIZERS: dict[str, type] = {
    PatchTokenizer.family: PatchTokenizer,
    IQTokenizer.family: IQTokenizer,
}


def register_tokenizer(cls: type) -> type:
    """Add a tokenizer class to the registry (usable as a decorator); a family's name is taken once."""
    if cls.family in TOKENIZERS and TOKENIZERS[cls.family] is not cls:
        raise ValueError(f"a tokenizer for the family {cls.family!r} is already registered")
    TOKENIZERS[cls.family] = cls
    return cls


def family_of(modality: str) -> str:
    """The token family that embeds a data modality (a family's own name is accepted as well)."""
    if modality in TOKENIZERS:
        return modality
    for family, cls in TOKENIZERS.items():
        if modality in cls.modalities:
            return family
    known = sorted({m for cls in TOKENIZERS.values() for m in cls.modalities} | set(TOKENIZERS))
    raise ValueError(f"no tokenizer embeds the modality {modality!r}; known: {known}")


__all__ = ["TOKENIZERS", "IQTokenizer", "PatchTokenizer", "family_of", "register_tokenizer"]
