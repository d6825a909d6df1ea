"""wfm-import: released WavesFM and LWM v1.1 checkpoints become wfm model folders with the published features.

No machine here can download the weights, so every checkpoint is built in the test: a minimal re-implementation
of the published module (WavesFM's ``models_vit.ModalityAdapterViT``, LWM v1.1's ``lwm_model.lwm`` and its
``input_preprocess`` tokenizer), written from the published code with its key layout and the released shapes,
random weights. The imported model must give the reference's features on the same input (to 1e-5).
"""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block, PatchEmbed
from torch import nn

import wfm
from wfm.checkpoint import BackboneLoadError, load_backbone, load_backbone_with_meta
from wfm.importers import main as import_main
from wfm.importers.lwm import LWMEncoder, import_lwm
from wfm.importers.wavesfm import import_wavesfm
from wfm.models.encoder import ViTEncoder

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------ WavesFM, as models_vit.py builds it
def ref_1d(dim: int, pos: np.ndarray) -> np.ndarray:
    """pos_embed.get_1d_sincos_pos_embed_from_grid: float32 frequencies, sin then cos."""
    omega = np.arange(dim // 2, dtype=np.float32)
    omega /= dim / 2.0
    omega = 1.0 / 10000**omega
    out = np.einsum("m,d->md", pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def ref_2d(dim: int, g: int) -> np.ndarray:
    """pos_embed.get_2d_sincos_pos_embed with cls_token=True: the meshgrid puts w first, and the first half of
    the row is computed from grid[0] (the column index)."""
    gh = np.arange(g, dtype=np.float32)
    gw = np.arange(g, dtype=np.float32)
    grid = np.stack(np.meshgrid(gw, gh), axis=0).reshape(2, 1, g, g)
    emb = np.concatenate([ref_1d(dim // 2, grid[0]), ref_1d(dim // 2, grid[1])], axis=1)
    return np.concatenate([np.zeros([1, dim]), emb], axis=0)


class RefWavesFM(nn.Module):
    """ModalityAdapterViT's encoder path (both adapters, so one state dict holds a multimodal checkpoint)."""

    def __init__(self, embed_dim=256, depth=8, num_heads=8, vis_img_size=224, vis_patch=16, in_chans=1,
                 iq_segment_len=16, iq_max_tokens=1024, iq_max_antennas=16, film=False, global_pool="token",
                 vision=True, iq=True):
        super().__init__()
        d = embed_dim
        # timm 1.0.11 (pinned by WavesFM) builds Block's norms with nn.LayerNorm (eps 1e-5)
        self.blocks = nn.ModuleList([Block(d, num_heads, 4.0, qkv_bias=True, norm_layer=nn.LayerNorm)
                                     for _ in range(depth)])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.head = nn.Linear(d, 10)
        self.global_pool = global_pool
        self.film = film
        if film:
            self.mod_ln_scale = nn.ParameterDict({m: nn.Parameter(1 + 0.3 * torch.randn(d)) for m in ("vision", "iq")})
            self.mod_ln_bias = nn.ParameterDict({m: nn.Parameter(0.1 * torch.randn(d)) for m in ("vision", "iq")})
        if vision:
            self.vis_patch_embed = PatchEmbed(vis_img_size, vis_patch, 1, d)
            g = vis_img_size // vis_patch
            self.register_buffer("vis_pos_embed", torch.from_numpy(ref_2d(d, g)).float()[None], persistent=False)
            self.channel_adapter = None
            if in_chans != 1:  # the 1x1 adapter at its 'avg' init
                self.channel_adapter = nn.Conv2d(in_chans, 1, kernel_size=1, bias=False)
                self.channel_adapter.weight.data.fill_(1.0 / in_chans)
        if iq:
            self.seg = iq_segment_len
            self.iq_segment_embed = nn.Conv1d(2, d, kernel_size=iq_segment_len, stride=1, bias=True)
            pe = np.concatenate([np.zeros([1, d]), ref_1d(d, np.arange(iq_max_tokens))], axis=0)
            self.register_buffer("iq_time_pos_embed", torch.from_numpy(pe).float()[None], persistent=False)
            self.iq_ant_embed = nn.Embedding(iq_max_antennas, d)
            nn.init.normal_(self.iq_ant_embed.weight, std=0.02)

    def tokens(self, x, modality):
        if modality == "vision":
            if self.channel_adapter is not None:
                x = self.channel_adapter(x)
            return self.vis_patch_embed(x) + self.vis_pos_embed[:, 1:, :]
        n, _, c, t = x.shape  # (N, 2, C, T), hop = segment
        m = self.seg
        win = x.unfold(3, m, m)  # (N, 2, C, S, M)
        s = win.shape[3]
        x_seg = win.permute(0, 3, 1, 2, 4)  # (N, S, 2, C, M)
        tok = self.iq_segment_embed(x_seg.permute(0, 1, 3, 2, 4).reshape(n * s * c, 2, m)).squeeze(-1)
        tok = tok.view(n, s * c, -1)
        pe_time = self.iq_time_pos_embed[:, 1:1 + s, :].repeat_interleave(c, dim=1)
        ant = self.iq_ant_embed(torch.arange(c).repeat(s))[None]
        return tok + pe_time + ant

    def features(self, x, modality):
        tok = self.tokens(x, modality)
        z = torch.cat([self.cls_token.expand(tok.shape[0], 1, -1), tok], dim=1)
        if self.film:
            z = z * self.mod_ln_scale[modality] + self.mod_ln_bias[modality]
        for blk in self.blocks:
            z = blk(z)
        z = self.norm(z)
        return z[:, 0] if self.global_pool == "token" else z[:, 1:].mean(1)


def wavesfm_ckpt(path: Path, ref: RefWavesFM, **args) -> Path:
    """A checkpoint saved the way main_finetune.save_checkpoint saves one, with an MAE decoder's tensors too."""
    state = dict(ref.state_dict())
    state["decoder_pred.weight"] = torch.randn(256, state["cls_token"].shape[-1])
    state["mask_token"] = torch.zeros(1, 1, state["cls_token"].shape[-1])
    torch.save({"model": state, "optimizer": {"state": {}, "param_groups": []}, "epoch": 99,
                "args": {"global_pool": ref.global_pool, **args}}, path)
    return path


def _seeded(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


# ---------------------------------------------------------------------------------------------- tests
def test_wavesfm_released_shapes_give_the_reference_features(tmp_path: Path) -> None:
    _seeded(0)
    ref = RefWavesFM().eval()  # vit_multi_small: 256 wide, 8 blocks, 8 heads, 224 / 16
    ckpt = wavesfm_ckpt(tmp_path / "wavesfm-v1p0.pth", ref, vis_img_size=224, model="vit_multi_small")
    out = tmp_path / "wavesfm"
    assert import_main(["wavesfm", str(ckpt), str(out), "--iq-length", "128"]) == 0
    model = wfm.load_pretrained(out)
    assert isinstance(model.encoder, ViTEncoder) and model.encoder.config["pool"] == "cls"
    img = torch.randn(2, 1, 224, 224)
    iq = torch.randn(2, 3, 2, 128)  # wfm's (B, antennas, 2, T)
    with torch.no_grad():
        torch.testing.assert_close(model.features(img, modality="spectrogram"), ref.features(img, "vision"),
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.features(iq, modality="iq"), ref.features(iq.permute(0, 2, 1, 3), "iq"),
                                   atol=1e-5, rtol=1e-5)
    meta = json.loads((out / "config.json").read_text())
    assert meta["architecture"] == "vit" and meta["adjust"]["block_norm_eps"] == 1e-5
    assert meta["imported"]["unused_keys"] == ["decoder_pred.weight", "head.bias", "head.weight", "mask_token"]
    assert meta["imported"]["mapped"]["iq_segment_embed.weight"] == "iq.proj.weight"
    assert [s["step"] for s in meta["preprocessing"]["steps"]] == ["channel_mean", "resize"]
    assert meta["parameters"] == sum(p.numel() for p in model.encoder.parameters())
    # a plain wfm ViT (fine-tuning loads it), and its checkpoint record carries the adjustments
    enc = load_backbone(out)
    assert enc.blocks[0].norm1.eps == 1e-5
    from wfm.checkpoint import backbone_entry, build_backbone

    rebuilt = build_backbone(backbone_entry(enc, enc.config), backbone_entry(enc, enc.config)["state_dict"], "x")
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.features(img, modality="csi"), enc.features(img, modality="csi"))


def test_wavesfm_preprocessing_is_applied(tmp_path: Path) -> None:
    """Multi-channel images go through the channel adapter's average, other sizes through the bicubic resize."""
    _seeded(1)
    ref = RefWavesFM(embed_dim=128, depth=2, num_heads=4, vis_img_size=32, vis_patch=8, iq=False,
                     global_pool="avg").eval()
    ckpt = wavesfm_ckpt(tmp_path / "w.pth", ref, vis_img_size=32)
    folder, km = import_wavesfm(ckpt, tmp_path / "w")
    model = wfm.load_pretrained(folder)
    assert model.encoder.config["pool"] == "mean" and model.encoder.iq is None
    x = torch.randn(3, 3, 32, 32)
    adapted = RefWavesFM(embed_dim=128, depth=2, num_heads=4, vis_img_size=32, vis_patch=8, iq=False, in_chans=3,
                         global_pool="avg").eval()
    adapted.load_state_dict(ref.state_dict(), strict=False)  # + its avg-initialised adapter
    with torch.no_grad():
        torch.testing.assert_close(model.features(x, modality="csi"), adapted.features(x, "vision"), atol=1e-5,
                                   rtol=1e-5)
        # samples padded to 3 channels, the second one with 2 real channels: the mean is over the real ones
        got = model.features(x, torch.tensor([3, 2, 1]), modality="csi")
        torch.testing.assert_close(got[2], ref.features(x[2:, :1], "vision")[0], atol=1e-5, rtol=1e-5)
        small = torch.randn(2, 1, 16, 16)
        from wfm.data.transforms import resize

        torch.testing.assert_close(model.features(small, modality="spectrogram"),
                                   ref.features(resize(small, 32), "vision"), atol=1e-5, rtol=1e-5)
    model.check_input("spectrogram", 5, (16, 16), "w")  # any channel count and size: preprocessing adapts them
    with pytest.raises(ValueError, match="no IQ tokenizer"):
        model.check_input("iq", 1, (2, 64), "w")


def test_wavesfm_film_is_folded_exactly(tmp_path: Path) -> None:
    _seeded(2)
    ref = RefWavesFM(embed_dim=64, depth=2, num_heads=4, vis_img_size=32, vis_patch=8, iq_max_antennas=4,
                     film=True).eval()
    ckpt = wavesfm_ckpt(tmp_path / "film.pth", ref, vis_img_size=32, use_conditional_ln=True)
    with pytest.raises(BackboneLoadError, match="mod_ln_scale.vision.*--modality vision or --modality iq"):
        import_wavesfm(ckpt, tmp_path / "both")
    vis, _ = import_wavesfm(ckpt, tmp_path / "vis", modality="vision", num_heads=4)
    iqf, _ = import_wavesfm(ckpt, tmp_path / "iq", modality="iq", iq_length=64, num_heads=4)
    img, iq = torch.randn(2, 1, 32, 32), torch.randn(2, 4, 2, 64)
    with torch.no_grad():
        torch.testing.assert_close(wfm.load_pretrained(vis).features(img, modality="spectrogram"),
                                   ref.features(img, "vision"), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(wfm.load_pretrained(iqf).features(iq, modality="iq"),
                                   ref.features(iq.permute(0, 2, 1, 3), "iq"), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"takes only \['iq'\]"):
        wfm.load_pretrained(iqf).check_input("spectrogram", 1, (32, 32), "iq model")


def test_wavesfm_key_errors_name_the_key(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _seeded(3)
    ref = RefWavesFM(embed_dim=64, depth=3, num_heads=4, vis_img_size=32, vis_patch=8, iq=False)
    good = ref.state_dict()

    def run(state: dict, name: str) -> str:
        torch.save({"model": state, "args": {"vis_img_size": 32}}, tmp_path / f"{name}.pth")
        assert import_main(["wavesfm", str(tmp_path / f"{name}.pth"), str(tmp_path / name)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and not (tmp_path / name).exists()
        return err[0]

    assert "key 'blocks.1.attn.qkv.weight' not found" in run(
        {k: v for k, v in good.items() if k != "blocks.1.attn.qkv.weight"}, "missing")
    assert "key 'blocks.2.mlp.fc1.weight' has shape (128, 64), expected (256, 64)" in run(
        {**good, "blocks.2.mlp.fc1.weight": torch.zeros(128, 64)}, "shape")
    assert "unexpected key 'blocks.0.attn.q_norm.weight'" in run(
        {**good, "blocks.0.attn.q_norm.weight": torch.ones(16)}, "unexpected")
    assert "LoRA" in run({**good, "blocks.0.attn.qkv.lora_q.weight": torch.ones(4, 64)}, "lora")
    # a DataParallel prefix is stripped, a bare state dict is read as the model
    torch.save({f"module.{k}": v for k, v in good.items()}, tmp_path / "dp.pth")
    folder, _ = import_wavesfm(tmp_path / "dp.pth", tmp_path / "dp", img_size=32)
    assert load_backbone_with_meta(folder)[1]["config"]["depth"] == 3


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_malicious_pickle_is_refused_and_never_executed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    marker = tmp_path / "pwned"
    torch.save({"model": {"cls_token": torch.zeros(1, 1, 8)}, "args": _Evil(str(marker))}, tmp_path / "evil.pth")
    with open(tmp_path / "raw.pth", "wb") as f:
        pickle.dump({"state_dict": _Evil(str(marker))}, f)
    for kind in ("wavesfm", "lwm"):
        for name in ("evil.pth", "raw.pth"):
            assert import_main([kind, str(tmp_path / name), str(tmp_path / "out")]) == 1
            err = capsys.readouterr().err
            assert "refusing to load" in err and "nothing was executed" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "out").exists()
    # training scripts' argparse.Namespace args are plain data and are allowed
    import argparse

    ref = RefWavesFM(embed_dim=64, depth=1, num_heads=4, vis_img_size=16, vis_patch=8, iq=False)
    torch.save({"model": ref.state_dict(), "args": argparse.Namespace(vis_img_size=16, global_pool="avg")},
               tmp_path / "ns.pth")
    folder, _ = import_wavesfm(tmp_path / "ns.pth", tmp_path / "ns")
    assert load_backbone(folder).config["pool"] == "mean"


# ------------------------------------------------------------------------------- LWM v1.1, as published
class RefNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.alpha = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return self.alpha * (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + self.eps) + self.bias


class RefEmbedding(nn.Module):
    def __init__(self, e, d, max_len):
        super().__init__()
        self.proj = nn.Linear(e, d)
        self.pos_embed = nn.Embedding(max_len, d)
        self.norm = RefNorm(d)

    def forward(self, x):
        return self.norm(self.proj(x.float()) + self.pos_embed(torch.arange(x.shape[1])))


class RefMHA(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h, self.dk = h, d // h
        self.W_Q, self.W_K, self.W_V, self.linear = (nn.Linear(d, d) for _ in range(4))

    def forward(self, q, k, v):
        b = q.shape[0]
        qs, ks, vs = (w(t).view(b, -1, self.h, self.dk).transpose(1, 2)
                      for w, t in ((self.W_Q, q), (self.W_K, k), (self.W_V, v)))
        attn = F.softmax(qs @ ks.transpose(-1, -2) / np.sqrt(self.dk), dim=-1)
        ctx = (attn @ vs).transpose(1, 2).contiguous().view(b, -1, self.h * self.dk)
        return q + self.linear(ctx)  # the published module returns residual + output


class RefFFN(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, f), nn.Linear(f, d)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class RefLayer(nn.Module):
    def __init__(self, d, h, f):
        super().__init__()
        self.enc_self_attn, self.pos_ffn = RefMHA(d, h), RefFFN(d, f)
        self.norm1, self.norm2 = RefNorm(d), RefNorm(d)

    def forward(self, x):
        a = self.norm1(x + self.enc_self_attn(x, x, x))
        return self.norm2(a + self.pos_ffn(a))


class RefLWM(nn.Module):
    """lwm_model.lwm (v1.1 defaults): element_length 32, d_model 128, 12 layers, max_len 513, 8 heads."""

    def __init__(self, e=32, d=128, layers=12, max_len=513, heads=8):
        super().__init__()
        self.embedding = RefEmbedding(e, d, max_len)
        self.layers = nn.ModuleList([RefLayer(d, heads, 4 * d) for _ in range(layers)])
        self.linear = nn.Linear(d, d)
        self.norm = RefNorm(d)
        self.decoder = nn.Linear(d, e, bias=False)
        self.decoder_bias = nn.Parameter(torch.zeros(e))

    def forward(self, ids):
        out = self.embedding(ids)
        for layer in self.layers:
            out = layer(out)
        return out


def ref_tokens(h: np.ndarray) -> torch.Tensor:
    """input_preprocess.patch_maker (4 x 4, re/im interleaved, zero padding) + make_sample's [CLS] = 0.2."""
    n, rows, cols = h.shape
    inter = np.empty((n, rows, cols * 2), dtype=np.float32)
    inter[:, :, 0::2], inter[:, :, 1::2] = h.real, h.imag
    pr, pc = math.ceil(rows / 4) * 4 - rows, math.ceil(cols / 4) * 4 - cols
    inter = np.pad(inter, ((0, 0), (0, pr), (0, pc * 2)))
    patches = [inter[:, i:i + 4, j * 2:(j + 4) * 2].reshape(n, -1)
               for i in range(0, inter.shape[1], 4) for j in range(0, inter.shape[2] // 2, 4)]
    patches = np.stack(patches, axis=1)
    cls = np.full((n, 1, 32), 0.2, dtype=np.float32)
    return torch.from_numpy(np.concatenate([cls, patches], axis=1))


def lwm_ckpt(path: Path, ref: RefLWM) -> Path:
    # the README's loading code strips "module." (the weights were saved from DataParallel)
    torch.save({f"module.{k}": v for k, v in ref.state_dict().items()}, path)
    return path


def test_lwm_released_shapes_give_the_reference_embeddings(tmp_path: Path) -> None:
    _seeded(4)
    ref = RefLWM().eval()
    assert 2.4e6 < sum(p.numel() for p in ref.parameters()) < 2.6e6  # "2.5 M parameters"
    ckpt = lwm_ckpt(tmp_path / "model.pth", ref)
    assert import_main(["lwm", str(ckpt), str(tmp_path / "lwm")]) == 0
    model = wfm.load_pretrained(tmp_path / "lwm")
    assert isinstance(model.encoder, LWMEncoder) and model.feature_dim == 128
    for shape in ((32, 32), (18, 30)):  # a multiple of the patch, and one LWM zero-pads
        h = (np.random.randn(2, *shape) + 1j * np.random.randn(2, *shape)).astype(np.complex64)
        x = torch.from_numpy(np.stack([h.real, h.imag], axis=1))  # a wfm CSI batch: (re, im) channels
        with torch.no_grad():
            want = ref(ref_tokens(h))[:, 0]  # LWM's cls_emb
            torch.testing.assert_close(model.features(x, modality="csi", complex_pairs=((0, 1),)), want,
                                       atol=1e-5, rtol=1e-5)
    # two complex channels per sample: the mean of their embeddings; a sample with one real pair uses it alone
    h2 = (np.random.randn(2, 2, 16, 16) + 1j * np.random.randn(2, 2, 16, 16)).astype(np.complex64)
    x2 = torch.from_numpy(np.concatenate([h2.real[:, :1], h2.imag[:, :1], h2.real[:, 1:], h2.imag[:, 1:]], 1))
    with torch.no_grad():
        a, b = ref(ref_tokens(h2[:, 0]))[:, 0], ref(ref_tokens(h2[:, 1]))[:, 0]
        got = model.features(x2, torch.tensor([4, 2]), modality="csi", complex_pairs=((0, 1), (2, 3)))
        torch.testing.assert_close(got, torch.stack([(a[0] + b[0]) / 2, a[1]]), atol=1e-5, rtol=1e-5)
    meta = json.loads((tmp_path / "lwm" / "config.json").read_text())
    assert meta["architecture"] == "lwm" and meta["imported"]["unused_keys"] == [
        "decoder.weight", "decoder_bias", "linear.bias", "linear.weight", "norm.alpha", "norm.bias"]
    assert meta["imported"]["mapped"]["layers.3.enc_self_attn.W_Q.weight"] == "blocks.3.attn.q.weight"
    assert meta["input"]["csi"]["max_patches"] == 512
    with pytest.raises(ValueError, match="complex_pairs"):
        model.features(x, modality="csi")
    with pytest.raises(ValueError, match="takes only"):
        model.check_input("spectrogram", 1, (32, 32), "lwm")
    with pytest.raises(ValueError, match="exceed"):
        model.check_input("csi", 2, (64, 160), "lwm")
    with pytest.raises(BackboneLoadError, match="imported 'lwm' model"):
        load_backbone(tmp_path / "lwm")  # not a ViT: fine-tuning refuses it


def test_lwm_sees_a_deepmimo_file_at_its_pretraining_scale(tmp_path: Path) -> None:
    """--input-scale-from: wfm standardises the file, the export multiplies it back to raw channels x 1e6."""
    from wfm.data.datasets.h5 import H5Dataset
    from wfm.data.hdf5 import label_meta, write_dataset_file

    _seeded(8)
    h = ((np.random.randn(10, 16, 32) + 1j * np.random.randn(10, 16, 32)) * 3e-6).astype(np.complex64)  # raw units
    x = np.stack([h.real, h.imag], axis=1).astype(np.float32)
    f = write_dataset_file(tmp_path, "dm", x, {"los": np.arange(10) % 2},
                           label_meta({"los": "classification"}, {"los": ("nlos", "los")}), "test", "csi", {},
                           complex_pairs=((0, 1),))
    ref = RefLWM(layers=2).eval()
    assert import_main(["lwm", str(lwm_ckpt(tmp_path / "m.pth", ref)), str(tmp_path / "lwm"),
                        "--input-scale-from", str(f)]) == 0
    model = wfm.load_pretrained(tmp_path / "lwm")
    ds = H5Dataset(f)
    batch = torch.stack([ds[i]["x"] for i in range(4)])  # what the probe's loader gives
    with torch.no_grad():
        torch.testing.assert_close(model.features(batch, modality="csi", complex_pairs=ds.complex_pairs),
                                   ref(ref_tokens(h[:4] * 1e6))[:, 0], atol=1e-5, rtol=1e-5)
    assert "x 1e6" in (tmp_path / "lwm" / "README.md").read_text()


def test_lwm_key_errors_and_v10(tmp_path: Path) -> None:
    _seeded(5)
    good = RefLWM(layers=2).state_dict()
    torch.save({k: v for k, v in good.items() if k != "layers.1.norm2.alpha"}, tmp_path / "m.pth")
    with pytest.raises(BackboneLoadError, match=r"key 'layers.1.norm2.alpha' not found"):
        import_lwm(tmp_path / "m.pth", tmp_path / "a")
    torch.save({**good, "layers.0.pos_ffn.fc2.weight": torch.zeros(128, 256)}, tmp_path / "s.pth")
    with pytest.raises(BackboneLoadError, match=r"'layers.0.pos_ffn.fc2.weight' has shape \(128, 256\), expected "
                                                r"\(128, 512\)"):
        import_lwm(tmp_path / "s.pth", tmp_path / "b")
    torch.save({**good, "extra.weight": torch.zeros(3)}, tmp_path / "u.pth")
    with pytest.raises(BackboneLoadError, match="unexpected key 'extra.weight'"):
        import_lwm(tmp_path / "u.pth", tmp_path / "c")
    folder, km = import_lwm(tmp_path / "u.pth", tmp_path / "c", allow_unused=True)
    assert "extra.weight" in json.loads((folder / "config.json").read_text())["imported"]["unused_keys"]
    v10 = {k.replace("norm1", "norm"): v for k, v in good.items() if "norm2" not in k}
    torch.save(v10, tmp_path / "v10.pth")
    with pytest.raises(BackboneLoadError, match="LWM v1.0"):
        import_lwm(tmp_path / "v10.pth", tmp_path / "d")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def _probe_args(backbone_arg: str, dataset: str, size: str, out: Path) -> list[str]:
    return ["test", f"--config={ROOT / 'configs/probe/file.yaml'}", backbone_arg,
            f"--data.init_args.dataset={dataset}", f"--data.init_args.size={size}", "--data.init_args.n=40",
            "--data.init_args.batch_size=20", "--model.init_args.seeds=[0]", "--model.init_args.plots=false",
            f"--model.init_args.output_dir={out}", "--trainer.enable_progress_bar=false"]


def test_imported_models_probe_end_to_end_with_wfm_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """wfm test on built-in tasks: WavesFM (resized from 16 to its 32) and LWM on complex CSI, with random rows."""
    from wfm.eval.tables import read_results_csv
    from wfm.main import main as wfm_main

    monkeypatch.setenv("WFM_CACHE", str(tmp_path / "cache"))
    _seeded(6)
    w = RefWavesFM(embed_dim=64, depth=1, num_heads=4, vis_img_size=32, vis_patch=8, iq=False)
    import_wavesfm(wavesfm_ckpt(tmp_path / "w.pth", w, vis_img_size=32), tmp_path / "wavesfm", num_heads=4)
    import_lwm(lwm_ckpt(tmp_path / "l.pth", RefLWM(layers=1)), tmp_path / "lwm")
    wfm_main(args=_probe_args(f"--model.init_args.backbone={tmp_path / 'wavesfm'}", "rfs", "16", tmp_path / "a"))
    table = read_results_csv(tmp_path / "a" / "probe_results.csv")
    assert set(table) == {"wavesfm", "random-init", "random-init (ijepa)", "strongest random"}
    wfm_main(args=_probe_args(f"--model.init_args.backbone={tmp_path / 'lwm'}", "los", "[16, 32]", tmp_path / "b"))
    table = read_results_csv(tmp_path / "b" / "probe_results.csv")
    assert set(table) == {"lwm", "random-init"} and 0 <= table["lwm"]["los/acc"][0] <= 100


def test_one_table_for_wfm_wavesfm_and_lwm_on_one_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison recipe: three architectures, one built-in CSI task, the same splits and probe; each model
    gets its own preprocessing (WavesFM: channel mean + resize to 32; LWM: its complex tokenisation)."""
    from helpers import PROBE_ENCODER_CFG

    from wfm.checkpoint import backbone_entry
    from wfm.eval.tables import read_results_csv
    from wfm.main import main as wfm_main

    monkeypatch.setenv("WFM_CACHE", str(tmp_path / "cache"))
    _seeded(7)
    own = ViTEncoder(**{**PROBE_ENCODER_CFG, "img_size": [16, 32]})
    torch.save({"wfm_backbone": backbone_entry(own, own.config, method="JEPA")}, tmp_path / "jepa.ckpt")
    w = RefWavesFM(embed_dim=64, depth=1, num_heads=4, vis_img_size=32, vis_patch=8, iq=False)
    import_wavesfm(wavesfm_ckpt(tmp_path / "w.pth", w, vis_img_size=32), tmp_path / "wavesfm", num_heads=4)
    import_lwm(lwm_ckpt(tmp_path / "l.pth", RefLWM(layers=1)), tmp_path / "lwm")
    arg = f"--model.init_args.backbones={{jepa: {tmp_path / 'jepa.ckpt'}, wavesfm: {tmp_path / 'wavesfm'}, " \
          f"lwm: {tmp_path / 'lwm'}}}"
    wfm_main(args=_probe_args(arg, "los", "[16, 32]", tmp_path / "c"))
    table = read_results_csv(tmp_path / "c" / "probe_results.csv")
    assert list(table)[:3] == ["jepa", "wavesfm", "lwm"] and "strongest random" in table
    md = (tmp_path / "c" / "probe_backbones.md").read_text()
    assert "| wavesfm | vit |" in md and "bicubic resize to 32 x 32" in md and "| lwm | lwm |" in md
