"""Complex channels: the file says which channels are (re, im) pairs, readers keep a pair together and
standardise it as one complex value, and the phase reference makes features invariant to the global phase."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import rotate_pairs

from wfm.data.collate import pad_collate
from wfm.data.datasets.h5 import H5Dataset
from wfm.data.hdf5 import read_attrs, write_dataset_file
from wfm.models import ViTEncoder
from wfm.models.phase import reference_phase
from wfm.views.channels import holdout_views, interleaved_pairs


@pytest.mark.parametrize("mode", ["strongest", "sum"])
def test_the_phase_reference_is_exactly_invariant_to_a_global_rotation(mode: str) -> None:
    torch.manual_seed(0)
    enc = ViTEncoder(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2, phase_reference=mode).eval()
    x = torch.randn(5, 4, 16, 16)
    pairs = ((0, 1), (2, 3))
    ref = enc.features(x, complex_pairs=pairs)
    for theta in (0.3, 1.7, math.pi, -2.5):
        rotated = rotate_pairs(x, pairs, theta)
        assert not torch.allclose(rotated, x, atol=1e-3)
        torch.testing.assert_close(enc.features(rotated, complex_pairs=pairs), ref, atol=1e-5, rtol=0)
    # the reference entry is real and positive after the turn
    z = reference_phase(x, pairs, "strongest")
    zc = torch.complex(z[:, [0, 2]], z[:, [1, 3]]).reshape(5, -1)
    strongest = zc.gather(1, zc.abs().argmax(1, keepdim=True))[:, 0]
    assert torch.allclose(strongest.imag, torch.zeros(5), atol=1e-6) and (strongest.real > 0).all()
    # without the option (or without pairs) nothing is turned
    plain = ViTEncoder(img_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2)
    assert torch.equal(plain.reference_phase(x, pairs), x) and torch.equal(enc.reference_phase(x, None), x)
    assert "phase_reference" not in plain.config and enc.config["phase_reference"] == mode


def test_pairs_stay_together_through_channel_sampling_and_holdout() -> None:
    x = torch.arange(6 * 6 * 2 * 2, dtype=torch.float32).reshape(6, 6, 2, 2)
    channels = torch.tensor([6, 6, 4, 2, 6, 4])
    pairs = ((0, 1), (2, 3), (4, 5))
    assert interleaved_pairs(pairs, 6) and not interleaved_pairs(((1, 0),), 2)
    for seed in range(20):
        v = holdout_views(x, channels, np.random.default_rng(seed), "sample", 0.5, pairs=pairs)
        ids = v.channel_ids
        assert (v.channels % 2 == 0).all() and (v.context_channels % 2 == 0).all() and v.context_slots % 2 == 0
        for b in range(6):
            k = int(v.channels[b])
            got = ids[b, :k].view(-1, 2)
            assert (got[:, 0] % 2 == 0).all() and (got[:, 1] == got[:, 0] + 1).all()  # (re, im) adjacent
            for slot in range(k):  # every slot holds its channel's data
                assert torch.equal(v.x[b, slot], x[b, int(ids[b, slot])])
            if v.held_out is not None:
                held = v.held_out[b].view(-1, 2)
                assert (held[:, 0] == held[:, 1]).all()  # a pair is held out whole or not at all


def _file(tmp_path, pairs=((0, 1),), scale=(3.0, 1.0)) -> str:
    rng = np.random.default_rng(0)
    z = (rng.normal(size=(40, 8, 8)) + 1j * rng.normal(size=(40, 8, 8))) * np.exp(1j * 0.7)
    x = np.stack([z.real * scale[0], z.imag * scale[1]], 1).astype(np.float32)
    labels = {"label": np.arange(40) % 2}
    meta = {"label": {"kind": "classification", "num_classes": 2, "class_names": ["a", "b"]}}
    return str(write_dataset_file(tmp_path, "c", x, labels, meta, "test", "csi", {}, complex_pairs=pairs))


def test_a_file_records_its_pairs_and_readers_standardise_a_pair_as_one_complex_value(tmp_path) -> None:
    path = _file(tmp_path)
    assert read_attrs(path)["complex_pairs"] == [(0, 1)]
    ds = H5Dataset(path)
    assert ds.complex_pairs == ((0, 1),)
    assert ds.mean.ravel().tolist() == [0.0, 0.0] and ds.std.ravel()[0] == ds.std.ravel()[1]
    batch = pad_collate([ds[0], ds[1]])
    assert batch["complex_pairs"] == ((0, 1),) and batch["x"].shape == (2, 2, 8, 8)
    # a channel subset that splits a pair keeps no pair
    assert H5Dataset(path, channels=[0]).complex_pairs == ()
    with pytest.raises(ValueError, match="different complex channel pairs"):
        pad_collate([ds[0], {"x": torch.zeros(2, 8, 8), "channels": 2, "modality": "csi"}])


def test_files_without_pairs_read_as_before_and_bad_pairs_are_refused(tmp_path) -> None:
    plain = _file(tmp_path / "a", pairs=())
    assert read_attrs(plain)["complex_pairs"] == []
    ds = H5Dataset(plain)
    assert ds.complex_pairs == () and "complex_pairs" not in ds[0]
    assert not np.allclose(ds.std.ravel()[0], ds.std.ravel()[1])  # per-channel statistics as always
    with pytest.raises(ValueError, match=r"complex_pairs .* must name distinct channels"):
        _file(tmp_path / "b", pairs=((0, 0),))


def test_modulus_tokens_are_exactly_phase_invariant_and_keep_the_channel_layout() -> None:
    torch.manual_seed(0)
    enc = ViTEncoder(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2, channel_embed="fixed",
                     complex_tokens="modulus").eval()
    assert enc.config["complex_tokens"] == "modulus" and "complex_embed.proj.weight" in enc.state_dict()
    x = torch.randn(3, 4, 16, 16)
    pairs = ((0, 1), (2, 3))
    tokens, valid = enc(x, complex_pairs=pairs)
    assert tokens.shape == (3, 4 * 16, 32) and bool(valid.all())  # two tokens per pair: the layout of 4 slots
    ref = enc.features(x, complex_pairs=pairs)
    for theta in (0.4, 2.0, -1.1):
        torch.testing.assert_close(enc.features(rotate_pairs(x, pairs, theta), complex_pairs=pairs), ref,
                                   atol=1e-5, rtol=0)
    # each token sees one complex patch: the phases between patches (and between pairs) are dropped as well
    partial = rotate_pairs(x, ((0, 1),), 1.0)
    torch.testing.assert_close(enc.features(partial, complex_pairs=pairs), ref, atol=1e-5, rtol=0)
    # what a patch holds is kept: conjugating a channel (mirroring its phases) changes the features
    mirrored = x.clone()
    mirrored[:, 1] = -x[:, 1]
    assert not torch.allclose(enc.features(mirrored, complex_pairs=pairs), ref, atol=1e-3)
    # without pairs the encoder splits re/im as before
    assert enc.features(x).shape == (3, 32)
    with pytest.raises(ValueError, match="interleaved"):
        enc.features(x, complex_pairs=((0, 2), (1, 3)))


def test_a_jepa_step_on_complex_csi_with_the_complex_options() -> None:
    from wfm.methods import JEPA
    from wfm.views import RegionMask

    torch.manual_seed(0)
    enc = ViTEncoder(img_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2, channel_embed="fixed",
                     complex_tokens="modulus", phase_reference="strongest")
    model = JEPA(encoder=enc, masking=RegionMask(num_targets=2, min_context=4), predictor_dim=16,
                 predictor_depth=1, predictor_heads=2, channel_holdout=0.5)
    batch = {"x": torch.randn(4, 4, 16, 16), "channels": torch.tensor([4, 2, 4, 4]), "modality": "csi",
             "complex_pairs": ((0, 1), (2, 3))}
    for seed in range(3):
        out = model.shared_step(batch, np.random.default_rng(seed), "train")
        assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert enc.complex_embed.proj.weight.grad is not None and enc.patch_embed.weight.grad is None


@pytest.mark.parametrize("options", [{"complex_tokens": "modulus"}, {"phase_reference": "strongest"}])
def test_a_file_rotated_by_a_global_phase_gives_the_same_features_end_to_end(tmp_path, options) -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(12, 16, 16)) + 1j * rng.normal(size=(12, 16, 16)) + 0.3
    meta = {"label": {"kind": "classification", "num_classes": 2, "class_names": ["a", "b"]}}
    feats = []
    for k, theta in enumerate((0.0, 2.2)):
        w = z * np.exp(1j * theta)
        x = np.stack([w.real, w.imag], 1).astype(np.float32)
        path = write_dataset_file(tmp_path, f"f{k}", x, {"label": np.arange(12) % 2}, meta, "t", "csi", {},
                                  complex_pairs=[(0, 1)])
        ds = H5Dataset(path)
        batch = pad_collate([ds[i] for i in range(12)])
        torch.manual_seed(0)
        enc = ViTEncoder(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2, **options).eval()
        feats.append(enc.features(batch["x"], batch["channels"], modality=batch["modality"],
                                  complex_pairs=batch["complex_pairs"]))
    torch.testing.assert_close(feats[0], feats[1], atol=1e-4, rtol=0)
