"""``complex_tokens="pair"``: a complex channel's (re, im) patches -> ONE token through a two-input projection, so a
pair is one token slot of the encoder; JEPA, MAE, supervised training and the probe path take it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import rotate_pairs
from torch.utils.data import DataLoader

from wfm.checkpoint import BACKBONE_KEY, backbone_entry, load_backbone
from wfm.data.collate import pad_collate
from wfm.data.datasets.h5 import H5Dataset
from wfm.data.hdf5 import write_dataset_file
from wfm.data.task import TaskInfo
from wfm.eval.features import extract_features
from wfm.eval.probe import linear_probe
from wfm.models import ViTEncoder
from wfm.models.tokenizers.complex import ComplexPairTokenizer

PAIRS = ((0, 1), (2, 3))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _enc(**kw) -> ViTEncoder:
    torch.manual_seed(0)
    opts = dict(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2, channel_embed="fixed",
                complex_tokens="pair")
    return ViTEncoder(**{**opts, **kw})


def test_a_pair_is_one_token_slot_and_padding_stays_hidden() -> None:
    enc = _enc().eval()
    assert enc.config["complex_tokens"] == "pair"
    assert tuple(enc.state_dict()["complex_embed.proj.weight"].shape) == (32, 2, 4, 4)  # both parts, one token
    x = torch.randn(3, 4, 16, 16)
    tokens, valid = enc(x, complex_pairs=PAIRS)
    assert tokens.shape == (3, 2 * 16, 32) and bool(valid.all())  # half the split layout's 4 * 16
    assert enc.slot_stride(PAIRS, 4) == 2 and enc.slot_stride(None, 4) == 1
    # real inputs (no pairs: spectrograms, CSI magnitudes) keep one token per channel
    assert enc(x)[0].shape == (3, 4 * 16, 32)
    # a sample with one complex channel in a batch of two: one valid token slot, and the padded slot never
    # changes its features
    channels = torch.tensor([4, 2, 4])
    tokens, valid = enc(x, channels, complex_pairs=PAIRS)
    assert valid.view(3, 2, 16)[1].tolist() == [[True] * 16, [False] * 16]
    with torch.no_grad():
        alone = enc.features(x[1:2, :2], complex_pairs=PAIRS[:1])
        padded = enc.features(x, channels, complex_pairs=PAIRS)[1:2]
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=0)
    # re and im meet in the token: swapping the parts of a pair changes it (a split encoder's pooled tokens
    # would not tell, a permutation of two channels without channel codes)
    swapped = x[:, [1, 0, 3, 2]]
    assert not torch.allclose(enc.features(swapped, complex_pairs=PAIRS), enc.features(x, complex_pairs=PAIRS))


@pytest.mark.parametrize("mode", ["strongest", "sum"])
def test_with_a_phase_reference_pair_tokens_are_exactly_invariant_to_a_global_rotation(mode: str) -> None:
    enc = _enc(phase_reference=mode).eval()
    x = torch.randn(5, 4, 16, 16)
    with torch.no_grad():
        ref = enc.features(x, complex_pairs=PAIRS)
        for theta in (0.3, 1.7, math.pi, -2.5):
            rotated = rotate_pairs(x, PAIRS, theta)
            assert not torch.allclose(rotated, x, atol=1e-3)
            torch.testing.assert_close(enc.features(rotated, complex_pairs=PAIRS), ref, atol=1e-5, rtol=0)


def test_without_a_phase_reference_pair_tokens_see_the_global_phase() -> None:
    enc = _enc().eval()
    x = torch.randn(4, 4, 16, 16)
    with torch.no_grad():
        ref = enc.features(x, complex_pairs=PAIRS)
        assert not torch.allclose(enc.features(rotate_pairs(x, PAIRS, 1.0), complex_pairs=PAIRS), ref, atol=1e-3)


def _batch(channels=(4, 2, 4, 4)) -> dict:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(len(channels), 4, 16, 16, generator=g)
    channels = torch.tensor(channels)
    x[torch.arange(4)[None, :] >= channels[:, None]] = 0.0  # padding slots hold zeros, as pad_collate's
    return {"x": x, "channels": channels, "modality": "csi", "complex_pairs": PAIRS}


def test_a_jepa_step_on_pair_tokens_trains_the_pair_projection() -> None:
    from wfm.methods import JEPA
    from wfm.views import RegionMask

    enc = _enc(depth=1, phase_reference="sum")
    model = JEPA(encoder=enc, masking=RegionMask(num_targets=2, min_context=4), predictor_dim=16,
                 predictor_depth=1, predictor_heads=2, channel_holdout=0.5, pixel_weight=0.5)
    assert tuple(model.pixel_head["pair"].weight.shape) == (2 * 16, 32)  # a token decodes into re and im
    held = False
    for seed in range(4):
        rng = np.random.default_rng(seed)
        views = model.sample_views(_batch(), np.random.default_rng(seed), "train", model.channel_holdout)
        held |= views.held_out is not None
        out = model.shared_step(_batch(), rng, "train")
        assert torch.isfinite(out["loss"]) and torch.isfinite(out["pixel"])
    assert held  # the steps covered a held-out complex channel
    out["loss"].backward()
    grad = enc.complex_embed.proj.weight.grad
    assert grad is not None and bool(grad.abs().sum() > 0) and enc.patch_embed.weight.grad is None
    # validation (channel_variance over the token slots) and a real batch (per-channel tokens) as well
    with torch.no_grad():
        assert torch.isfinite(model.shared_step(_batch(), np.random.default_rng(0), "val")["loss"])
        real = {"x": torch.randn(2, 3, 16, 16), "channels": torch.tensor([3, 2]), "modality": "spectrogram"}
        assert torch.isfinite(model.shared_step(real, np.random.default_rng(0), "train")["loss"])


def test_an_mae_step_reconstructs_both_parts_through_the_pair_token() -> None:
    from wfm.methods import MAE

    enc = _enc(depth=1, phase_reference="strongest")
    model = MAE(encoder=enc, decoder_dim=16, decoder_depth=1, decoder_heads=2, channel_holdout=0.5)
    for seed in range(4):
        out = model.shared_step(_batch(), np.random.default_rng(seed), "train")
        assert torch.isfinite(out["loss"])
    out["loss"].backward()
    grad = enc.complex_embed.proj.weight.grad
    assert grad is not None and bool(grad.abs().sum() > 0)
    # the decoder's targets are both parts' pixels, per input channel
    assert model.reconstruction_target(_batch()["x"]).shape == (4, 4, 16, 16)


def test_supervised_training_on_pair_tokens() -> None:
    from wfm.methods.supervised import Supervised

    enc = _enc(depth=1, phase_reference="sum")
    model = Supervised(encoder=enc, num_classes=2, channel_sampling="sample")
    batch = {**_batch(), "label": torch.tensor([0, 1, 0, 1])}
    out = model.shared_step(batch, np.random.default_rng(0), "train")
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert enc.complex_embed.proj.weight.grad is not None


def _file(tmp_path: Path, name: str, theta: float) -> str:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(40, 2, 16, 16)) + 1j * rng.normal(size=(40, 2, 16, 16))
    z[: 20] += 1.0  # class 1 has a line-of-sight component
    w = z * np.exp(1j * theta)
    x = np.stack([w[:, 0].real, w[:, 0].imag, w[:, 1].real, w[:, 1].imag], 1).astype(np.float32)
    labels = {"label": (np.arange(40) < 20).astype(np.int64)}
    meta = {"label": {"kind": "classification", "num_classes": 2, "class_names": ["a", "b"]}}
    return str(write_dataset_file(tmp_path, name, x, labels, meta, "t", "csi", {}, complex_pairs=list(PAIRS)))


def test_the_probe_path_extracts_phase_invariant_pair_features_and_probes_them(tmp_path) -> None:
    enc = _enc(phase_reference="strongest").eval()
    feats = []
    for k, theta in enumerate((0.0, 2.2)):
        ds = H5Dataset(_file(tmp_path, f"f{k}", theta))
        assert ds.complex_pairs == PAIRS
        f, labels = extract_features(enc, DataLoader(ds, batch_size=16, collate_fn=pad_collate))
        feats.append(f)
    assert feats[0].shape == (40, 32)
    np.testing.assert_allclose(feats[0], feats[1], atol=1e-4, rtol=0)
    # a channel limit of whole complex channels (channel robustness) keeps the first complex channel
    cut, _ = extract_features(enc, DataLoader(ds, batch_size=16, collate_fn=pad_collate), max_channels=2)
    assert cut.shape == (40, 32) and np.isfinite(cut).all() and not np.allclose(cut, feats[1])

    def split(seed):
        perm = np.random.default_rng(seed).permutation(40)
        return np.sort(perm[:32]), np.sort(perm[32:])

    res = linear_probe(feats[0], labels, TaskInfo("los", "label", "classification", num_classes=2), split,
                       seeds=(0,))
    assert 0.0 <= res.mean <= 100.0


def test_the_config_round_trips_through_a_checkpoint_and_old_ones_load_as_before(tmp_path) -> None:
    enc = _enc(phase_reference="sum").eval()
    path = tmp_path / "pair.ckpt"
    torch.save({BACKBONE_KEY: backbone_entry(enc, enc.config, method="JEPA", encoder="target")}, path)
    back = load_backbone(path).eval()
    assert back.config == enc.config and back.complex_tokens == "pair"
    assert isinstance(back.complex_embed, ComplexPairTokenizer)
    x = torch.randn(2, 4, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(back.features(x, complex_pairs=PAIRS), enc.features(x, complex_pairs=PAIRS))
    # the option is recorded only when used: a split encoder's config and state are as they always were
    plain = ViTEncoder(img_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2)
    assert "complex_tokens" not in plain.config and not any(k.startswith("complex_embed") for k in plain.state_dict())
    # a checkpoint written before the option existed loads and encodes as it did
    old = load_backbone(FIXTURES / "legacy_jepa_tiny.ckpt").eval()
    ref = torch.load(FIXTURES / "legacy_jepa_tiny_features.pt", weights_only=True)
    assert old.complex_tokens == "split" and old.complex_embed is None and "complex_tokens" not in old.config
    with torch.no_grad():
        torch.testing.assert_close(old.features(ref["x"]), ref["features"], atol=1e-5, rtol=1e-5)


def test_bad_choices_and_layouts_are_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"complex_tokens must be one of \('split', 'modulus', 'pair'\)"):
        ViTEncoder(img_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2, complex_tokens="pairs")
    enc = _enc(depth=1)
    x = torch.randn(2, 4, 16, 16)
    for pairs in (((0, 2), (1, 3)), ((1, 0), (3, 2)), ((0, 1),)):  # not (re, im) interleaved over all slots
        with pytest.raises(ValueError, match=r"complex_tokens='pair' needs every channel in interleaved") as err:
            enc.features(x, complex_pairs=pairs)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="in .re, im. pairs, got 3 channels"):
        enc.complex_embed.tokens(torch.randn(1, 3, 16, 16))
