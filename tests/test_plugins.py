"""Adding a part through the registries alone: a toy mask geometry (one module, chosen by class_path) and a toy
input family (one tokenizer module + one registry line) work end to end without editing wfm."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from plugins.toy_geometry import CheckerMask
from plugins.toy_tokenizer import VectorTokenizer
from tiny import tiny_jepa

from wfm.checkpoint import backbone_entry, build_encoder
from wfm.models import ViTEncoder
from wfm.models.tokenizers import TOKENIZERS, family_of


def test_a_toy_geometry_draws_disjoint_masks_and_trains_a_jepa_step() -> None:
    geometry = CheckerMask()
    geometry.check((4, 4))
    masks = geometry(8, (4, 4), np.random.default_rng(0))
    assert masks.strategy == "checker" and masks.targets.shape == (8, 1, 16)
    assert not (masks.context[:, None] & masks.targets).any()
    assert (masks.context.sum(-1) == 8).all()  # a checkerboard: half the 4 x 4 grid stays visible
    again = geometry(8, (4, 4), np.random.default_rng(0))
    assert torch.equal(masks.targets, again.targets)
    model = tiny_jepa(masking=geometry)
    out = model.shared_step({"x": torch.randn(4, 2, 32, 32), "channels": torch.tensor([2, 1, 2, 2])},
                            np.random.default_rng(0), "train")
    assert torch.isfinite(out["loss"]) and float(out["mask_ratio"]) == pytest.approx(0.5)


def test_a_toy_geometry_is_chosen_by_class_path_in_a_config(tmp_path) -> None:
    from jsonargparse import ArgumentParser

    from wfm.views import MaskGeometry

    parser = ArgumentParser()
    parser.add_argument("--masking", type=MaskGeometry)
    cfg = parser.parse_args(["--masking", '{"class_path": "plugins.toy_geometry.CheckerMask", '
                                          '"init_args": {"min_context": 3}}'])
    built = parser.instantiate_classes(cfg).masking
    assert isinstance(built, CheckerMask) and built.min_context == 3


def _vector_encoder(**kw) -> ViTEncoder:
    torch.manual_seed(0)
    return ViTEncoder(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, channel_embed="fixed",
                      tokenizer_options={"vector": {"length": 24, "chunk": 4}}, **kw).eval()


def test_a_toy_tokenizer_adds_a_modality_with_one_registry_line(monkeypatch) -> None:
    monkeypatch.setitem(TOKENIZERS, VectorTokenizer.family, VectorTokenizer)  # the one registry line
    enc = _vector_encoder()
    assert enc.modalities == ("image", "vector") and family_of("vector") == "vector"
    x = torch.randn(3, 2, 1, 24)
    feats = enc.features(x, torch.tensor([2, 1, 2]), modality="vector")
    assert feats.shape == (3, 32) and enc.grid("vector") == (1, 6)
    # padding channels never change a sample's features, as for every other family
    noisy = x.clone()
    noisy[1, 1] = 99.0
    assert torch.allclose(enc.features(noisy, torch.tensor([2, 1, 2]), modality="vector"), feats, atol=1e-5)
    # the image path is unchanged beside it, and each family has its own affine row
    assert enc.features(torch.randn(2, 1, 32, 32), modality="spectrogram").shape == (2, 32)
    assert enc.modality_scale.shape == (2, 32)
    # a checkpoint record rebuilds it (the options travel in the encoder config)
    entry = backbone_entry(enc, enc.config)
    again = build_encoder(entry["config"], entry["state_dict"], "test").eval()
    assert torch.allclose(again.features(x, modality="vector"), enc.features(x, modality="vector"), atol=1e-6)


def test_an_unregistered_modality_is_refused_by_name() -> None:
    enc = ViTEncoder(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2)
    with pytest.raises(ValueError, match="no tokenizer embeds the modality 'radar'"):
        enc.features(torch.randn(1, 1, 32, 32), modality="radar")
    with pytest.raises(ValueError, match="no IQ tokenizer"):
        enc.features(torch.randn(1, 1, 2, 64), modality="iq")


def test_jepa_trains_on_a_toy_family_with_the_batch_modality(monkeypatch) -> None:
    from wfm.methods import JEPA
    from wfm.views import TimeMask

    monkeypatch.setitem(TOKENIZERS, VectorTokenizer.family, VectorTokenizer)
    model = JEPA(encoder=_vector_encoder(), masking=TimeMask(num_targets=2, band_fraction=1 / 6, min_context=2),
                 predictor_dim=16, predictor_depth=1, predictor_heads=2)
    batch = {"x": torch.randn(4, 2, 1, 24), "channels": torch.tensor([2, 2, 1, 2]), "modality": "vector"}
    out = model.shared_step(batch, np.random.default_rng(0), "train")
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and model.encoder.vector.proj.weight.grad is not None
    assert model.encoder.patch_embed.weight.grad is None  # the batch said vector: the patch path never ran
