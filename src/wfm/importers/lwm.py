"""LWM v1.1 (Large Wireless Model, Alikhani, Charan & Alkhateeb, arXiv:2411.08872) as a wfm backbone.

Read from the published ``lwm_model.py`` and ``input_preprocess.py`` of ``wi-lab/lwm-v1.1`` (not copied):

* **Tokenisation** (``patch_maker`` + ``make_sample``): a complex channel matrix ``H`` (antennas x
  subcarriers) has its real and imaginary parts interleaved along the subcarrier axis (``re, im, re, im``),
  is zero-padded to multiples of 4, and cut into 4 x 4 blocks of complex entries, each flattened row by row
  into 32 reals; blocks are ordered row-block major. A ``[CLS]`` token of constant value 0.2 (32 values) is
  prepended. (``[MASK]`` = 0.1 only appears in pretraining.) The channels were DeepMIMO's scaled by 1e6, with
  no per-sample normalisation.
* **Embedding**: ``Linear(32, 128)`` + a learned position table ``Embedding(513, 128)`` indexed by sequence
  position (0 = CLS), then LWM's ``LayerNormalization``.
* **LayerNormalization**: ``alpha * (x - mean) / (std + eps) + bias`` with the *unbiased* standard deviation
  and ``eps = 1e-6`` added to the std (not to the variance, as ``nn.LayerNorm`` does).
* **Encoder layer** (post-norm): the attention module returns ``x + Attn(x)`` and the layer adds its input
  again, so ``a = norm1(2 x + Attn(x))``; then ``norm2(a + fc2(relu(fc1(a))))``; 8 heads, ``d_ff = 512``.
* **Pretraining head** (``linear``, ``norm``, ``decoder``, ``decoder_bias``): masked channel modelling only;
  not part of the encoder (reported as unused by the importer).

The features are the CLS output (LWM's ``cls_emb``; ``pool="mean"`` averages its ``channel_emb`` instead).
A wfm CSI sample with several complex channels (``complex_pairs``) is encoded one complex channel at a time
and the features are averaged over the sample's channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from wfm.importers.common import KeyMap, MappingError, read_released

#: what LWM v1.1 was published with
LWM_V11 = dict(d_model=128, n_layers=12, n_heads=8, max_len=513, d_ff=512)
CLS_VALUE = 0.2
#: DeepMIMO channels were multiplied by this before tokenisation (``deepmimo_data_cleaning``)
DEEPMIMO_SCALE = 1e6


class LWMNorm(nn.Module):
    """LWM's LayerNormalization: ``weight * (x - mean) / (std_unbiased + eps) + bias`` over the last axis."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(-1, keepdim=True)
        std = x.std(-1, keepdim=True)
        return self.weight * (x - mean) / (std + self.eps) + self.bias


class LWMAttention(nn.Module):
    """Multi-head self-attention with separate Q, K, V projections (softmax(Q K^T / sqrt(d_k)) V)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"d_model={dim} is not divisible by n_heads={heads}")
        self.heads = heads
        self.q, self.k, self.v, self.proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = (lin(x).view(b, n, self.heads, d // self.heads).transpose(1, 2) for lin in (self.q, self.k, self.v))
        ctx = F.scaled_dot_product_attention(q, k, v)
        return self.proj(ctx.transpose(1, 2).reshape(b, n, d))


class LWMMlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


class LWMBlock(nn.Module):
    """LWM's post-norm encoder layer (the input enters the first residual twice, as published)."""

    def __init__(self, dim: int, heads: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.attn = LWMAttention(dim, heads)
        self.norm1 = LWMNorm(dim, eps)
        self.mlp = LWMMlp(dim, hidden)
        self.norm2 = LWMNorm(dim, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.norm1(x + (x + self.attn(x)))
        return self.norm2(a + self.mlp(a))


class LWMEncoder(nn.Module):
    """LWM v1.1's encoder on wfm CSI batches (``(B, C, H, W)`` with ``complex_pairs``).

    Args:
        d_model, n_layers, n_heads, max_len, d_ff: the transformer (v1.1: 128, 12, 8, 513, 512).
        patch_rows, patch_cols: complex entries per patch along antennas and subcarriers (v1.1: 4 x 4).
        cls_value: the constant of the ``[CLS]`` input token (0.2).
        pool: ``cls`` (LWM's CLS embedding) or ``mean`` (average of its channel embeddings).
        eps: LayerNormalization's eps (added to the std).
    """

    architecture = "lwm"
    modalities = ("csi",)
    num_prefix_tokens = 1
    #: what the module itself does to its inputs (shown in comparison tables)
    tokenisation = ("csi: each complex channel -> 4 x 4 patches of interleaved re/im + [CLS] (LWM's tokenizer)",)

    def __init__(self, d_model: int = 128, n_layers: int = 12, n_heads: int = 8, max_len: int = 513,
                 d_ff: int = 512, patch_rows: int = 4, patch_cols: int = 4, cls_value: float = CLS_VALUE,
                 pool: str = "cls", eps: float = 1e-6) -> None:
        super().__init__()
        if pool not in ("cls", "mean"):
            raise ValueError(f"pool must be 'cls' or 'mean', got {pool!r}")
        self.config = dict(d_model=int(d_model), n_layers=int(n_layers), n_heads=int(n_heads),
                           max_len=int(max_len), d_ff=int(d_ff), patch_rows=int(patch_rows),
                           patch_cols=int(patch_cols), cls_value=float(cls_value), pool=pool, eps=float(eps))
        self.d_model = self.embed_dim = int(d_model)
        self.patch = (int(patch_rows), int(patch_cols))
        self.element_length = 2 * self.patch[0] * self.patch[1]
        self.max_len = int(max_len)
        self.cls_value = float(cls_value)
        self.pool = pool
        # PyTorch's default inits, as the published model has no init of its own
        self.patch_embed = nn.Linear(self.element_length, d_model)
        self.pos_embed = nn.Parameter(torch.randn(max_len, d_model))  # nn.Embedding's N(0, 1)
        self.embed_norm = LWMNorm(d_model, eps)
        self.blocks = nn.ModuleList(LWMBlock(d_model, n_heads, d_ff, eps) for _ in range(n_layers))

    @property
    def feature_dim(self) -> int:
        return self.d_model

    def input_geometry(self) -> dict[str, Any]:
        pr, pc = self.patch
        return {"csi": {"complex_channels": "(antennas x subcarriers), re/im pairs (complex_pairs)",
                        "patch": [pr, pc], "max_patches": self.max_len - 1,
                        "max_complex_entries": (self.max_len - 1) * pr * pc}}

    def num_tokens(self, hw: Sequence[int]) -> int:
        """Sequence length (CLS included) of one complex channel of ``(H, W)``."""
        pr, pc = self.patch
        return 1 + math.ceil(hw[0] / pr) * math.ceil(hw[1] / pc)

    def check_input(self, modality: str, channels: int, hw: tuple[int, int], who: str = "the encoder") -> None:
        if modality != "csi":
            raise ValueError(f"samples are {modality}, but {who} (LWM) takes complex channel matrices: CSI with "
                             "real/imaginary channel pairs (complex_pairs), e.g. wfm-convert deepmimo")
        if channels < 2:
            raise ValueError(f"samples have {channels} channel, but {who} (LWM) needs (re, im) channel pairs")
        n = self.num_tokens(hw)
        if n > self.max_len:
            raise ValueError(f"samples are {hw[0]} x {hw[1]}: {n - 1} patches of {self.patch[0]} x {self.patch[1]} + "
                             f"CLS exceed {who}'s {self.max_len} positions (LWM v1.1 takes at most "
                             f"{(self.max_len - 1) * self.patch[0] * self.patch[1]} complex entries); convert at a "
                             "smaller size")

    def patchify(self, re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        """``(N, H, W)`` real and imaginary parts -> ``(N, P, 32)`` patch tokens in LWM's layout."""
        n, h, w = re.shape
        pr, pc = self.patch
        inter = torch.stack([re, im], dim=-1).reshape(n, h, 2 * w)  # re, im interleaved along subcarriers
        hp, wp = math.ceil(h / pr) * pr, math.ceil(w / pc) * pc
        if (hp, wp) != (h, w):
            inter = F.pad(inter, (0, 2 * (wp - w), 0, hp - h))
        blocks = inter.reshape(n, hp // pr, pr, wp // pc, 2 * pc).permute(0, 1, 3, 2, 4)
        return blocks.reshape(n, (hp // pr) * (wp // pc), self.element_length)

    def sequence(self, re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        """``[CLS]`` + patches: ``(N, 1 + P, 32)``, the published ``tokenizer``'s output."""
        patches = self.patchify(re, im)
        cls = torch.full((patches.shape[0], 1, self.element_length), self.cls_value, dtype=patches.dtype,
                         device=patches.device)
        return torch.cat([cls, patches], dim=1)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """``(N, L, 32)`` token sequences -> ``(N, L, d_model)`` contextual embeddings."""
        if seq.shape[1] > self.max_len:
            raise ValueError(f"sequence of {seq.shape[1]} tokens exceeds LWM's {self.max_len} positions")
        x = self.patch_embed(seq.float()) + self.pos_embed[: seq.shape[1]]
        x = self.embed_norm(x)
        for blk in self.blocks:
            x = blk(x)
        return x

    def pool_tokens(self, out: torch.Tensor) -> torch.Tensor:
        return out[:, 0] if self.pool == "cls" else out[:, 1:].mean(1)

    def features(
        self, x: torch.Tensor, channels: torch.Tensor | None = None, channel_ids: torch.Tensor | None = None,
        modality: str | None = None, complex_pairs: Sequence[Sequence[int]] | None = None,
    ) -> torch.Tensor:
        """Pooled ``(B, d_model)`` features of a wfm CSI batch: the mean over the sample's complex channels."""
        if modality is not None and modality != "csi":
            raise ValueError(f"LWM takes complex CSI, got {modality} inputs")
        if not complex_pairs:
            raise ValueError("LWM takes complex channels: the batch has no complex_pairs (use a CSI file with "
                             "real/imaginary channel pairs, e.g. from wfm-convert deepmimo)")
        if x.ndim != 4:
            raise ValueError(f"LWM input must be (B, C, H, W), got shape {tuple(x.shape)}")
        b = x.shape[0]
        pairs = [(int(r), int(i)) for r, i in complex_pairs]
        re = torch.stack([x[:, r] for r, _ in pairs], 1).flatten(0, 1)
        im = torch.stack([x[:, i] for _, i in pairs], 1).flatten(0, 1)
        pooled = self.pool_tokens(self(self.sequence(re, im))).view(b, len(pairs), -1)
        if channels is None:
            return pooled.mean(1)
        top = torch.tensor([max(p) for p in pairs], device=x.device)
        valid = (top[None, :] < channels.to(x.device)[:, None]).to(pooled.dtype)  # (B, P)
        return (pooled * valid[..., None]).sum(1) / valid.sum(1).clamp_min(1)[:, None]


# ------------------------------------------------------------------------------------------------- import
def scale_from_file(path: str | Path) -> dict[str, Any]:
    """The ``scale`` step that turns a wfm CSI file's standardised samples back into its raw channels x 1e6
    (LWM's DeepMIMO input scale): per channel, the file's standardisation scale times 1e6."""
    from wfm.data.datasets.h5 import H5Dataset

    ds = H5Dataset(path, labels=False)
    if ds.modality != "csi":
        raise ValueError(f"{path}: --input-scale-from needs a CSI file, this one holds {ds.modality} samples")
    if not ds.complex_pairs:
        raise ValueError(f"{path}: --input-scale-from needs complex (re, im) channel pairs; the file has none")
    return {"step": "scale", "factors": [float(v) * DEEPMIMO_SCALE for v in ds.std.reshape(-1)],
            "modalities": ["csi"], "note": f"x 1e6 / standardisation of {Path(path).name}"}


def target_keys(n_layers: int) -> dict[str, str]:
    """wfm key -> LWM v1.1 key of every tensor of :class:`LWMEncoder`."""
    out = {"patch_embed.weight": "embedding.proj.weight", "patch_embed.bias": "embedding.proj.bias",
           "pos_embed": "embedding.pos_embed.weight",
           "embed_norm.weight": "embedding.norm.alpha", "embed_norm.bias": "embedding.norm.bias"}
    for i in range(n_layers):
        s, t = f"layers.{i}.", f"blocks.{i}."
        for src, dst in (("W_Q", "q"), ("W_K", "k"), ("W_V", "v"), ("linear", "proj")):
            for p in ("weight", "bias"):
                out[f"{t}attn.{dst}.{p}"] = f"{s}enc_self_attn.{src}.{p}"
        for fc in ("fc1", "fc2"):
            for p in ("weight", "bias"):
                out[f"{t}mlp.{fc}.{p}"] = f"{s}pos_ffn.{fc}.{p}"
        for n in ("norm1", "norm2"):
            out[f"{t}{n}.weight"] = f"{s}{n}.alpha"
            out[f"{t}{n}.bias"] = f"{s}{n}.bias"
    return out


#: tensors of a released LWM that the encoder does not use: the masked-channel-modelling head
LWM_UNUSED = ("linear.", "norm.", "decoder.", "decoder_bias")


def import_lwm(
    ckpt: str | Path, out: str | Path, *, pool: str = "cls", input_scale: float = 1.0,
    n_heads: int | None = None, name: str | None = None, allow_unused: bool = False,
    input_scale_from: str | Path | None = None,
) -> tuple[Path, KeyMap]:
    """Map a released LWM v1.1 state dict onto :class:`LWMEncoder` and write a wfm model folder at ``out``.

    ``n_heads`` is not in the weights (8 for v1.1). ``input_scale`` multiplies wfm's standardised inputs
    before tokenisation (recorded as a preprocessing step; LWM saw DeepMIMO channels x 1e6).
    ``input_scale_from``: a wfm CSI file holding DeepMIMO channels in their raw units (``wfm-convert deepmimo``):
    the per-channel factors that undo its standardisation and apply LWM's x 1e6 are recorded instead, so LWM
    sees that file's channels exactly as it was trained to (the export then takes files of that channel count).
    """
    from wfm.importers.common import load_into
    from wfm.pretrained import sha256, write_model_folder

    ckpt = Path(ckpt)
    state, _ = read_released(ckpt)
    km = KeyMap(state, str(ckpt), "LWM v1.1")
    if km.has("layers.0.norm.alpha") and not km.has("layers.0.norm1.alpha"):
        raise MappingError(f"{ckpt}: key 'layers.0.norm.alpha': an LWM v1.0 layout (one norm per layer, 1-D "
                           "patches of 16); wfm imports LWM v1.1")
    d, e = km.shape("embedding.proj.weight")
    max_len = km.shape("embedding.pos_embed.weight")[0]
    layers = km.depth("layers.")
    if layers == 0:
        km.take("layers.0.norm1.alpha")  # names the missing key
    d_ff = km.shape("layers.0.pos_ffn.fc1.weight")[0]
    if e != 32:
        raise MappingError(f"{ckpt}: key 'embedding.proj.weight' has {e} input elements; LWM v1.1's 4 x 4 complex "
                           "patches have 32 (re/im interleaved)")
    heads = int(n_heads or LWM_V11["n_heads"])
    km.notes.append(f"n_heads {heads} ({'given' if n_heads else 'LWM v1.1: the weights do not say it'})")
    module = LWMEncoder(d_model=d, n_layers=layers, n_heads=heads, max_len=max_len, d_ff=d_ff, pool=pool)
    own = module.state_dict()
    mapped = {t: km.take(s, tuple(own[t].shape), into=t) for t, s in target_keys(layers).items()}
    load_into(module, mapped, str(ckpt))
    unused = km.finish(LWM_UNUSED, allow_unused)
    steps = [{"step": "scale", "factor": float(input_scale), "modalities": ["csi"]}] if input_scale != 1 else []
    if input_scale_from is not None:
        steps = [scale_from_file(input_scale_from)]
    n_params = sum(p.numel() for p in module.parameters())
    folder = write_model_folder(
        out, module, encoder_name="imported", name=name,
        source={"file": str(ckpt.resolve()), "sha256": sha256(ckpt)},
        preprocessing={"steps": steps, "accepts": ["csi"], "trained_with": {
            "data": "complex DeepMIMO channels (BS antennas x subcarriers, 20 (N, SC) pairs from (8, 32) to "
                    "(128, 64)), multiplied by 1e6, no per-sample normalisation",
            "tokenisation": "re/im interleaved along subcarriers, 4 x 4 complex patches flattened row by row "
                            "(32 reals), zero-padded to multiples of 4, [CLS] = 0.2 prepended (applied by the "
                            "wfm wrapper itself)",
            "wfm inputs": "standardised by the file's statistics (a complex pair shares one scale); "
                          + (f"multiplied back by {Path(input_scale_from).name}'s scale x 1e6 before tokenisation"
                             if input_scale_from is not None else
                             f"input_scale {input_scale:g} is applied before tokenisation"),
        }},
        imported={"importer": "lwm", "model": "LWM v1.1", "file": ckpt.name,
                  "trained_on": "1.05 M pretraining samples (1.3 M with validation) of 140 DeepMIMO scenarios, "
                                "masked channel modelling with 40 % of the patches masked (as published: "
                                "arXiv:2411.08872, huggingface.co/wi-lab/lwm-v1.1)",
                  "mapped": dict(km.used), "unused_keys": unused, "n_heads": heads,
                  "parameters_with_head": n_params + sum(state[k].numel() for k in unused)},
        limits=["LWM takes complex CSI only (a file with real/imaginary channel pairs); one complex channel at a "
                "time, features averaged over a sample's channels.",
                "LWM saw DeepMIMO channels x 1e6 with no normalisation, wfm gives it standardised inputs "
                "(dataset RMS 1 per complex channel); set --input-scale at import to change the scale.",
                "At most 512 patches (8192 complex entries) per channel: convert CSI at a size within that.",
                "wfm probes LWM (wfm test / predict, load_pretrained); it does not fine-tune it."],
    )
    return folder, km
