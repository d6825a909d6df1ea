"""Network building blocks shared by every method: the per-channel ViT encoder, predictor, decoder, LoRA."""

from wfm.models.encoder import ViTEncoder

__all__ = ["ViTEncoder"]
