"""Network building blocks shared by every method: the per-channel ViT encoder, predictor, decoder, LoRA."""

from wfm.models.decoder import MAEDecoder
from wfm.models.encoder import ViTEncoder
from wfm.models.predictor import Predictor

__all__ = ["MAEDecoder", "Predictor", "ViTEncoder"]
