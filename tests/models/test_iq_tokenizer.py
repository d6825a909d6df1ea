"""Raw IQ streams in the shared encoder: segmenting, padding / antenna-subset invariance, per-modality parts."""

from __future__ import annotations

import pytest
import torch

from wfm.checkpoint import backbone_entry, build_encoder
from wfm.models import ViTEncoder
from wfm.models.tokenizers.iq import segment_iq, unsegment_iq

IQ_LEN = 128


def iq_encoder(**kw) -> ViTEncoder:
    torch.manual_seed(0)
    args = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, iq_length=IQ_LEN, iq_segment=16)
    return ViTEncoder(**{**args, **kw}).eval()


def test_segmenting_layout_and_inverse() -> None:
    x = torch.randn(2, 3, 2, 64)
    seg = segment_iq(x, 16)
    assert seg.shape == (2, 3, 4, 32)
    # segment s of antenna a: its 16 I values, then its 16 Q values
    assert torch.equal(seg[1, 2, 3, :16], x[1, 2, 0, 48:64])
    assert torch.equal(seg[1, 2, 3, 16:], x[1, 2, 1, 48:64])
    assert torch.equal(unsegment_iq(seg, 16), x)
    with pytest.raises(ValueError, match="multiple of the segment length"):
        segment_iq(torch.randn(1, 1, 2, 60), 16)
    with pytest.raises(ValueError, match=r"\(B, antennas, 2, T\)"):
        segment_iq(torch.randn(1, 1, 3, 64), 16)


def test_iq_tokens_and_modality_from_the_batch() -> None:
    enc = iq_encoder()
    assert enc.modalities == ("image", "iq")
    x = torch.randn(3, 4, 2, IQ_LEN)
    # the data's modality names the tokenizer; an encoder of several families never guesses from shapes
    assert enc.family("iq") == "iq" and enc.family("csi") == "image" and enc.family("spectrogram") == "image"
    with pytest.raises(ValueError, match="several token families"):
        enc(x)
    tokens, valid = enc(x, modality="iq")
    assert tokens.shape == (3, 4 * IQ_LEN // 16, 32) and bool(valid.all())
    assert enc.grid("iq") == (1, IQ_LEN // 16) and enc.grid("csi") == (4, 4)
    assert enc.features(torch.randn(2, 1, 32, 32), modality="spectrogram").shape == (2, 32)
    with pytest.raises(ValueError, match="IQ streams of 128 samples"):
        enc(torch.randn(1, 1, 2, 64), modality="iq")


def test_padded_antennas_never_change_real_tokens() -> None:
    enc = iq_encoder()
    x = torch.randn(3, 4, 2, IQ_LEN)
    antennas = torch.tensor([2, 4, 1])
    ref = enc.features(x, antennas, modality="iq")
    noisy = x.clone()
    noisy[0, 2:] = 50.0
    noisy[2, 1:] = -7.0
    assert torch.allclose(enc.features(noisy, antennas, modality="iq"), ref, atol=1e-5)
    # a sample alone, unpadded, encodes as it does inside the padded batch
    assert torch.allclose(enc.features(x[:1, :2], modality="iq"), ref[:1], atol=1e-5)


def test_an_antenna_subset_keeps_its_identity() -> None:
    enc = iq_encoder()
    x = torch.randn(1, 4, 2, IQ_LEN)
    ids = torch.tensor([[3, 1]])
    sub = enc.features(x[:, [3, 1]], channel_ids=ids, modality="iq")
    # the same antennas in slots 0, 1 without their ids are different tokens: identity follows the antenna
    assert not torch.allclose(sub, enc.features(x[:, [3, 1]], modality="iq"), atol=1e-4)
    # and order does not matter once ids travel with the antennas (mean pooling, no slot information)
    swapped = enc.features(x[:, [1, 3]], channel_ids=torch.tensor([[1, 3]]), modality="iq")
    assert torch.allclose(sub, swapped, atol=1e-5)


def test_affine_and_antenna_embedding_are_per_modality() -> None:
    enc = iq_encoder(channel_embed="fixed")
    img, iq = torch.randn(2, 2, 32, 32), torch.randn(2, 2, 2, IQ_LEN)
    before_img, before_iq = enc.embed(img, modality="csi").clone(), enc.embed(iq, modality="iq").clone()
    with torch.no_grad():
        enc.modality_scale[1].mul_(3.0)
        enc.modality_shift[1].add_(0.5)
    assert torch.equal(enc.embed(img, modality="csi"), before_img)  # the image affine (row 0) is untouched
    assert not torch.allclose(enc.embed(iq, modality="iq"), before_iq)
    # antenna codes are not the channel codes: an antenna is never mistaken for an image channel
    codes_img, codes_iq = enc.channel_embed.weight, enc.antenna_embed.weight
    assert codes_img.shape == codes_iq.shape
    assert (codes_img @ codes_iq.T).abs().max() < 1e-4
    assert torch.allclose(codes_iq.norm(dim=1), torch.full((codes_iq.shape[0],), 4.0), atol=1e-4)  # sqrt(32/2)


def test_the_checkpoint_records_the_modalities() -> None:
    enc = iq_encoder()
    entry = backbone_entry(enc, enc.config)
    assert entry["modalities"] == ["image", "iq"]
    again = build_encoder(entry["config"], entry["state_dict"], "test")
    assert again.modalities == ("image", "iq")
    x = torch.randn(2, 2, 2, IQ_LEN)
    assert torch.allclose(again.eval().features(x, modality="iq"), enc.features(x, modality="iq"), atol=1e-6)
    image_only = ViTEncoder(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)
    assert "iq_length" not in image_only.config and image_only.modalities == ("image",)
    assert not any(k.startswith(("iq.", "modality_", "antenna_")) for k in image_only.state_dict())
    with pytest.raises(ValueError, match="no IQ tokenizer"):
        image_only(torch.randn(1, 1, 2, IQ_LEN), modality="iq")


def test_inputs_of_one_shape_are_told_apart_by_their_modality() -> None:
    # an image the size of an IQ stream (2 x 64) was refused as ambiguous while the shape told the modality
    enc = ViTEncoder(img_size=(2, 64), patch_size=2, embed_dim=32, depth=1, num_heads=2, iq_length=64).eval()
    x = torch.randn(2, 1, 2, 64)
    assert enc.features(x, modality="csi").shape == enc.features(x, modality="iq").shape == (2, 32)
    assert not torch.allclose(enc.features(x, modality="csi"), enc.features(x, modality="iq"))
    with pytest.raises(ValueError, match="multiple of iq_segment"):
        ViTEncoder(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, iq_length=100, iq_segment=16)
