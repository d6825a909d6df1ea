"""Benchmark: wfm's JEPA and MAE train steps side by side with the official I-JEPA and MAE steps.

The reference implementations are *not* part of wfm: give paths to local checkouts of
facebookresearch/ijepa and facebookresearch/mae; their modules are imported from there (nothing is copied).
All steps run at the LatentWave size (1-channel 112 x 112, patch 16, 256-d, 8 blocks, 8 heads; predictor /
decoder 128-d, 4 blocks, 4 heads), the same batch, thread count and precision, with the same mask geometry
(I-JEPA multi-block: context scale 0.85-1.0, 4 targets of scale 0.15-0.2, aspect 0.75-1.5; MAE 75 % random).
The I-JEPA collator runs with its default ``min_keep=4``: with wfm's ``min_context=10`` it does not terminate
on the 7 x 7 grid.
Each step is forward + backward + AdamW (+ the EMA update for the JEPAs). Writes the table into
docs/benchmarks.md (section "Against the reference implementations").

    python tools/bench_reference.py --ijepa ~/src/ijepa --mae ~/src/mae
    python tools/bench_reference.py            # wfm alone (says so in the table)
    python tools/bench_reference.py --ijepa ~/src/ijepa --mae ~/src/mae --device cuda --bf16 --batch 256 --steps 20

Adapting the 2021-22 reference code to today's libraries, done here at import time and reported in the output:
MAE's ``util/pos_embed.py`` uses ``np.float`` (removed in numpy 1.24: aliased to ``float`` while building the model),
and its ``Block(..., qk_scale=None)`` call predates timm 0.9 (the argument is dropped; it was None anyway).
MAE's ``patchify`` hard-codes 3 input channels, so the MAE reference runs on 3-channel inputs (wider patch
embedding and pixel head; the same blocks).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_step import autocast, bench, device_name, matmul_peak, time_steps  # noqa: E402
from benchdoc import publish  # noqa: E402

from wfm.views import Masks, RegionMask  # noqa: E402

IMG, PATCH, DIM, DEPTH, HEADS = 112, 16, 256, 8, 8
HEAD_DIM, HEAD_DEPTH, HEAD_HEADS = 128, 4, 4  # predictor (JEPA) / decoder (MAE)


@contextlib.contextmanager
def imported_from(root: Path):
    """Import a checkout's top-level packages (``src``, ``util``, ...) without leaving them on sys.path."""
    before = set(sys.modules)
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path.remove(str(root))
        for name in set(sys.modules) - before:  # both repos have top-level names that could collide
            if name.split(".")[0] in ("src", "util", "models_mae"):
                sys.modules.pop(name, None)


def count_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def ijepa_collator(root: Path):
    """The official multi-block mask collator, at the LatentWave settings (see the module docstring)."""
    with imported_from(root):
        multiblock = importlib.import_module("src.masks.multiblock")
    # min_keep=4 is I-JEPA's default; with wfm's min_context of 10 this collator never returns on a 7 x 7 grid with
    # 4 targets (measured: still "decreasing acceptable-regions" after 10 min), which wfm's sampler is built to avoid
    return multiblock.MaskCollator(input_size=(IMG, IMG), patch_size=PATCH, enc_mask_scale=(0.85, 1.0),
                                   pred_mask_scale=(0.15, 0.2), aspect_ratio=(0.75, 1.5), nenc=1, npred=4,
                                   min_keep=4, allow_overlap=False)


#: mask draws before a step's timed ones: the FLOP count, the compile (compiled steps only) and the warm-up
UNTIMED_DRAWS = 3


def draw_ijepa_masks(root: Path, batch_size: int, size: int) -> list[tuple[list, list]]:
    """``size`` batches of the official collator's (encoder, predictor) masks, drawn once, before any timing.

    Every JEPA step of the comparison replays these same batches (:class:`IJEPAMaskPool`): the collator seeds
    only the block sizes and places the blocks with torch's global generator, so two collators would not give
    the same masks. In training the official collator runs in the DataLoader's worker processes and wfm draws its
    masks vectorised in the step; neither belongs to the GPU step being compared, and at batch 256 the official
    per-sample Python collator would otherwise dominate a step of a few milliseconds."""
    collator = ijepa_collator(root)
    samples = [(torch.zeros(1), 0)] * batch_size
    return [collator(samples)[1:] for _ in range(size)]


class IJEPAMaskPool:
    """Replays mask batches in order, from the first; ``tokens`` records the context / target token counts of
    every batch replayed."""

    def __init__(self, batches: list[tuple[list, list]]) -> None:
        self.batches = batches
        self.calls = 0
        self.tokens: list[tuple[int, int]] = []

    def next(self) -> tuple[list, list]:
        enc, pred = self.batches[self.calls % len(self.batches)]
        self.calls += 1
        self.tokens.append((enc[0].shape[1], sum(p.shape[1] for p in pred)))
        return enc, pred


class IJEPAMasks:
    """A wfm mask source that replays the official collator's masks, so both steps do the same token work."""

    strategy = "region"

    def __init__(self, batches: list[tuple[list, list]]) -> None:
        self.pool = IJEPAMaskPool(batches)

    @property
    def tokens(self) -> list[tuple[int, int]]:
        return self.pool.tokens

    def __call__(self, batch_size: int, grid_size, rng) -> Masks:  # noqa: ANN001
        n = grid_size[0] * grid_size[1]
        enc, pred = self.pool.next()
        context = torch.zeros(batch_size, n, dtype=torch.bool)
        context.scatter_(1, enc[0], True)
        targets = torch.zeros(batch_size, len(pred), n, dtype=torch.bool)
        for m, idx in enumerate(pred):
            targets[:, m].scatter_(1, idx, True)
        return Masks(context, targets, "region")

    def check(self, grid_size) -> None:  # noqa: ANN001
        pass


def ijepa_step(root: Path, batch_size: int, bf16: bool, device: str, masks: list[tuple[list, list]]):
    """The official I-JEPA step (src/train.py's train_step) on the official encoder, predictor and masks."""
    with imported_from(root):
        vit = importlib.import_module("src.models.vision_transformer")
        mask_utils = importlib.import_module("src.masks.utils")
        tensors = importlib.import_module("src.utils.tensors")
    torch.manual_seed(0)
    encoder = vit.VisionTransformer(img_size=[IMG], patch_size=PATCH, in_chans=1, embed_dim=DIM, depth=DEPTH,
                                    num_heads=HEADS).to(device)
    predictor = vit.VisionTransformerPredictor(num_patches=(IMG // PATCH) ** 2, embed_dim=DIM,
                                               predictor_embed_dim=HEAD_DIM, depth=HEAD_DEPTH,
                                               num_heads=HEAD_HEADS).to(device)
    target = copy.deepcopy(encoder).requires_grad_(False)
    opt = torch.optim.AdamW(list(encoder.parameters()) + list(predictor.parameters()), lr=1e-4)
    pool = IJEPAMaskPool(masks)
    imgs = torch.randn(batch_size, 1, IMG, IMG, device=device)

    def masks(masks_enc, masks_pred):  # the collator's masks are host tensors, as in the official loader
        return ([m.to(device, non_blocking=True) for m in masks_enc],
                [m.to(device, non_blocking=True) for m in masks_pred])

    def loss_of(masks_enc, masks_pred):
        masks_enc, masks_pred = masks(masks_enc, masks_pred)
        with torch.no_grad():
            h = target(imgs)
            h = F.layer_norm(h, (h.size(-1),))
            h = mask_utils.apply_masks(h, masks_pred)
            h = tensors.repeat_interleave_batch(h, batch_size, repeat=len(masks_enc))
        z = predictor(encoder(imgs, masks_enc), masks_enc, masks_pred)
        return F.smooth_l1_loss(z, h)

    def run(_: int) -> None:
        masks_enc, masks_pred = pool.next()
        with autocast(device, bf16):
            loss = loss_of(masks_enc, masks_pred)
        loss.backward()
        opt.step()
        opt.zero_grad()
        with torch.no_grad():  # the reference's momentum update, parameter by parameter
            for q, k in zip(encoder.parameters(), target.parameters(), strict=True):
                k.data.mul_(0.996).add_((1.0 - 0.996) * q.detach().data)

    def once() -> None:
        me, mp = pool.next()
        with autocast(device, bf16):
            loss_of(me, mp).backward()
        opt.zero_grad()

    return run, once, pool.tokens


def mae_step(root: Path, batch_size: int, bf16: bool, device: str):
    """The official MAE step (engine_pretrain.py: model(imgs, mask_ratio) -> loss, backward, step)."""
    import timm.models.vision_transformer as timm_vit

    def block(*args, qk_scale=None, **kwargs):  # timm >= 0.9 has no qk_scale (MAE always passes None)
        return timm_vit.Block(*args, **kwargs)

    aliased = not hasattr(np, "float")
    if aliased:
        np.float = float  # MAE's pos_embed (called while building the model) predates numpy 1.24
    try:
        with imported_from(root):
            models_mae = importlib.import_module("models_mae")
        models_mae.Block = block
        torch.manual_seed(0)
        model = models_mae.MaskedAutoencoderViT(
            img_size=IMG, patch_size=PATCH, in_chans=3, embed_dim=DIM, depth=DEPTH, num_heads=HEADS,
            decoder_embed_dim=HEAD_DIM, decoder_depth=HEAD_DEPTH, decoder_num_heads=HEAD_HEADS, mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), norm_pix_loss=False,
        ).to(device)
    finally:
        if aliased:
            del np.float
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95))
    # MAE's patchify hard-codes 3 input channels: the reference gets RGB-shaped inputs (its patch embedding and
    # pixel head are 3x wider than wfm's 1-channel ones; the 8 encoder + 4 decoder blocks are the same)
    imgs = torch.randn(batch_size, 3, IMG, IMG, device=device)

    def run(_: int) -> None:
        with autocast(device, bf16):
            loss, _, _ = model(imgs, mask_ratio=0.75)
        loss.backward()
        opt.step()
        opt.zero_grad()

    def once() -> None:
        with autocast(device, bf16):
            model(imgs, mask_ratio=0.75)[0].backward()
        opt.zero_grad()

    return run, once, None


def compile_error(err: Exception) -> str:
    """A one-line account of a ``torch.compile`` failure for the table (the torch build, the error type)."""
    return f"torch {torch.__version__}: {type(err).__name__}"


def checkout_commit(root: Path) -> str:
    import subprocess

    out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "unknown commit"


def reference_row(name: str, make, root: Path, batch: int, steps: int, bf16: bool, device: str) -> dict:
    name = f"{name} @ {checkout_commit(root)}"
    run, once, tokens = make(root, batch, bf16, device)
    flops = count_flops(once)
    dt = time_steps(run, steps, device)
    row = {"impl": name, "samples_s": batch / dt, "step_ms": dt * 1e3, "gflops": flops / dt / 1e9}
    if tokens:
        row["tokens"] = tuple(float(np.mean(v)) for v in zip(*tokens, strict=True))
    return row


def wfm_tokens(batch: int, draws: int = 20) -> tuple[float, float]:
    """Mean context and total target positions of wfm's region masks (the I-JEPA geometry) on the 7 x 7 grid."""
    gen = RegionMask(num_targets=4)
    rng = np.random.default_rng(0)
    ctx, tgt = [], []
    for _ in range(draws):
        m = gen(batch, (IMG // PATCH, IMG // PATCH), rng)
        ctx.append(float(m.context.sum(-1).float().mean()))
        tgt.append(float(m.targets.sum(-1).sum(-1).float().mean()))
    return float(np.mean(ctx)), float(np.mean(tgt))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ijepa", type=Path, help="local checkout of facebookresearch/ijepa")
    ap.add_argument("--mae", type=Path, help="local checkout of facebookresearch/mae")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast for every implementation")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N] (CUDA steps are synchronised before timing)")
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file to update, or - to print only")
    args = ap.parse_args()
    for flag, path in (("--ijepa", args.ijepa), ("--mae", args.mae)):
        if path is not None and not path.is_dir():
            ap.error(f"{flag} {path}: not a directory (give a local checkout of the reference repository)")
    precision = "bf16" if args.bf16 else "fp32"
    peak = matmul_peak(torch.bfloat16 if args.bf16 else torch.float32, device=args.device)
    rows: list[dict] = []

    def wfm_row(impl: str, same_work: bool, **kw) -> dict:
        """Time one wfm step (``bench``'s arguments); a compiler failure of this torch build becomes a row."""
        try:
            r = bench(batch_size=args.batch, steps=args.steps, bf16=args.bf16, channels=1, device=args.device, **kw)
        except Exception as err:
            if not kw.get("compile"):
                raise
            row = {"impl": f"{impl}: failed ({compile_error(err)})"}
        else:  # same_work: the official step's work, so it gets a speed-up against it
            row = {"impl": impl, "samples_s": r["samples_s"], "step_ms": r["step_ms"], "gflops": r["gflops"],
                   "same_work": same_work}
            if kw.get("masking") is not None:
                row["tokens"] = tuple(float(np.mean(v)) for v in zip(*kw["masking"].tokens, strict=True))
            elif kw["name"] == "jepa":
                row["tokens"] = wfm_tokens(args.batch)
        rows.append(row)
        print(row, flush=True)
        return row

    # one draw of the official masks, replayed from its start by every JEPA step that uses them
    masks = draw_ijepa_masks(args.ijepa, args.batch, args.steps + UNTIMED_DRAWS) if args.ijepa else []
    for method, ref_name, make, root in (("jepa", "I-JEPA (official)", partial(ijepa_step, masks=masks),
                                          args.ijepa),
                                         ("mae", "MAE (official)", mae_step, args.mae)):
        # MAE's random masking is the same geometry in both; wfm's own JEPA masks are not the official ones
        wfm_row(f"wfm {method.upper()}", same_work=method == "mae", name=method)
        if method == "jepa" and root is not None:  # the same masks as the official step, eager and compiled
            for compiled in (False, True):
                wfm_row(f"wfm JEPA{', compiled' if compiled else ''}, I-JEPA's masks", same_work=True, name=method,
                        masking=IJEPAMasks(masks), compile=compiled)
        elif method == "mae":
            wfm_row("wfm MAE, compiled", same_work=True, name=method, compile=True)
        if root is None:
            rows.append({"impl": f"{ref_name}: not run (no --{'ijepa' if method == 'jepa' else 'mae'} checkout)"})
            continue
        ref = reference_row(ref_name, make, root, args.batch, args.steps, args.bf16, args.device)
        for row in rows:  # every wfm row of this method that does the official step's work, eager and compiled
            if row.pop("same_work", False):
                row["speedup"] = row["samples_s"] / ref["samples_s"]
        rows.append(ref)
        print(ref, flush=True)
    lines = [
        f"{device_name(args.device)}, {torch.get_num_threads()} threads, torch {torch.__version__}, {precision}, "
        f"batch {args.batch}, "
        f"median of {args.steps} steps after one warm-up; 1-channel 112 x 112 inputs, 7 x 7 grid. "
        f"Measured {precision} matmul peak: {peak:.0f} GFLOP/s. GFLOP/s = counted forward + backward FLOPs of "
        "one step / step time (each implementation's own FLOPs: their attention and masking differ). "
        "wfm speed-up = samples/s of that wfm row / the official step's, for the rows that do the official "
        "step's work (for JEPA: wfm fed I-JEPA's own masks, so both encode the same tokens). The official "
        "collator's masks are drawn before the timing (in training they come from its loader's workers) and "
        "replayed to both JEPA steps; wfm's own masks (first row) are drawn in its step, as in training.",
        "",
        "| implementation | samples/s | step ms | GFLOP/s | % of peak | context / target tokens | wfm speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "samples_s" not in r:  # a reference that was not run
            lines.append(f"| {r['impl']} | — | — | — | — | — | — |")
            continue
        tok = f"{r['tokens'][0]:.1f} / {r['tokens'][1]:.1f}" if "tokens" in r else "—"
        sp = f"{r['speedup']:.2f}×" if "speedup" in r else ""
        lines.append(f"| {r['impl']} | {r['samples_s']:.1f} | {r['step_ms']:.0f} | {r['gflops']:.0f} | "
                     f"{100 * r['gflops'] / peak:.0f} % | {tok} | {sp} |")
    if args.ijepa is None and args.mae is None:
        lines += ["", "wfm alone: no reference checkout was given, so there is no comparison in this table."]
    gpu = torch.device(args.device).type == "cuda"
    publish(lines, args.out, "Against the reference implementations" + (" (GPU)" if gpu else ""))


if __name__ == "__main__":
    main()
