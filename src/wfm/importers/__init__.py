"""``wfm-import``: published wireless foundation models as wfm model folders, probed like wfm's own.

    wfm-import wavesfm wavesfm-v1p0.pth exports/wavesfm          # WavesFM -> a wfm ViT (vision + IQ)
    wfm-import lwm model.pth exports/lwm                          # LWM v1.1 -> a thin wrapper module
    wfm test --config configs/probe/file.yaml --model.init_args.backbone exports/wavesfm \\
        --data.init_args.dataset my.h5

Each importer maps the released state dict key by key (shapes checked; the first key that does not fit is
named in one line; every tensor of the source is either used or listed as unused), records the preprocessing
the model was trained with, and writes a model folder (``config.json`` + ``model.safetensors`` + ``README.md``)
that ``--model.init_args.backbone``, ``wfm.load_pretrained`` and ``wfm predict`` accept. Released files are
read with ``torch.load(..., weights_only=True)``: a pickle that wants to build other objects is refused,
never executed. See docs/published_models.md.
"""

from __future__ import annotations

import sys

from wfm.data.converters.common import ArgumentParser, positive_float, positive_int
from wfm.oneline import debug_flag, run_one_line

IMPORTERS = ("wavesfm", "lwm")


def _parser() -> ArgumentParser:
    p = ArgumentParser(prog="wfm-import", description="Import a published wireless foundation model "
                       "(WavesFM, LWM v1.1) as a wfm model folder; see docs/published_models.md.")
    sub = p.add_subparsers(dest="model", required=True, metavar="{wavesfm,lwm}")
    w = sub.add_parser("wavesfm", help="WavesFM (models_vit.ModalityAdapterViT) -> a wfm ViT model folder")
    w.add_argument("checkpoint", help="released .pth (e.g. wavesfm-v1p0.pth) or a WavesFM run checkpoint")
    w.add_argument("output", help="model folder to write")
    w.add_argument("--modality", choices=("auto", "vision", "iq", "both"), default="auto",
                   help="tokenizers to import (auto: every one in the file)")
    w.add_argument("--pool", choices=("cls", "mean"), default=None,
                   help="pooled feature: CLS output or token mean (default: the checkpoint's args.global_pool, "
                        "else cls)")
    w.add_argument("--img-size", type=positive_int, default=None,
                   help="vision input side (default args.vis_img_size, 224)")
    w.add_argument("--iq-length", type=positive_int, default=1024,
                   help="IQ samples per antenna the encoder takes")
    w.add_argument("--num-heads", type=positive_int, default=None,
                   help="attention heads (default: from args.model)")
    w.add_argument("--channels", choices=("mean", "separate"), default="mean",
                   help="multi-channel images: averaged into one (WavesFM's adapter init) or one token each")
    w.add_argument("--name", default=None, help="model name in config.json and the card (default: folder name)")
    w.add_argument("--allow-unused", action="store_true",
                   help="import even if the file holds tensors that are neither mapped nor a known head/decoder")
    lw = sub.add_parser("lwm", help="LWM v1.1 (lwm_model.lwm) -> a wfm model folder of its wrapper module")
    lw.add_argument("checkpoint", help="released state dict (e.g. models/model.pth of wi-lab/lwm-v1.1)")
    lw.add_argument("output", help="model folder to write")
    lw.add_argument("--pool", choices=("cls", "mean"), default="cls",
                    help="cls: LWM's CLS embedding; mean: the average of its channel embeddings")
    lw.add_argument("--input-scale", type=positive_float, default=1.0,
                    help="multiply wfm's standardised CSI by this before tokenising (LWM saw DeepMIMO x 1e6)")
    lw.add_argument("--input-scale-from", default=None, metavar="FILE.h5",
                    help="a wfm CSI file of raw DeepMIMO channels (wfm-convert deepmimo): undo its standardisation "
                         "and apply LWM's x 1e6, so LWM sees that file's channels as in pretraining")
    lw.add_argument("--num-heads", type=positive_int, default=None, help="attention heads (v1.1: 8)")
    lw.add_argument("--name", default=None, help="model name in config.json and the card (default: folder name)")
    lw.add_argument("--allow-unused", action="store_true",
                    help="import even if the file holds tensors that are neither mapped nor the MCM head")
    return p


def main(argv: list[str] | None = None) -> int:
    debug, argv = debug_flag(list(sys.argv[1:] if argv is None else argv))
    args = _parser().parse_args(argv)
    from wfm.importers.common import report

    def run() -> str:
        if args.model == "wavesfm":
            from wfm.importers.wavesfm import import_wavesfm

            folder, km = import_wavesfm(args.checkpoint, args.output, modality=args.modality, pool=args.pool,
                                        img_size=args.img_size, iq_length=args.iq_length,
                                        num_heads=args.num_heads, channels=args.channels, name=args.name,
                                        allow_unused=args.allow_unused)
        else:
            from wfm.importers.lwm import import_lwm

            folder, km = import_lwm(args.checkpoint, args.output, pool=args.pool, input_scale=args.input_scale,
                                    n_heads=args.num_heads, name=args.name, allow_unused=args.allow_unused,
                                    input_scale_from=args.input_scale_from)
        return report(args.model, km, folder)

    code, text = run_one_line(f"wfm-import {args.model}", run, debug)
    if code == 0:
        print(text)
    return code

if __name__ == "__main__":
    sys.exit(main())
