"""Export the backbone of a wfm Lightning checkpoint as a self-describing model folder (or the older file pair).

    wfm-export runs/jepa/checkpoints/last.ckpt exports/jepa_region              # folder exports/jepa_region/
    wfm-export runs/jepa/checkpoints/last.ckpt exports/jepa_ctx --encoder context
    wfm-export runs/jepa/checkpoints/last.ckpt exports/jepa.safetensors         # the pair jepa.safetensors + .json

The folder is the layout model hubs use: ``config.json`` (architecture, encoder config, input geometry,
preprocessing, which encoder, training recipe and data with hashes where known, wfm version),
``model.safetensors`` and a generated ``README.md`` model card (with the probe table when ``probe_results.md``
sits next to the checkpoint). It is written atomically and nothing is uploaded. An output ending in
``.safetensors`` / ``.json`` (or ``--format pair``) writes the first export format, a pair, instead.

The checkpoint is read with ``weights_only=True`` (nothing in it is executed); both formats load with
``wfm.load_pretrained(PATH)`` / ``wfm.checkpoint.load_backbone(PATH)`` / ``--model.init_args.backbone PATH`` and
need neither Lightning nor pickle.
"""

from __future__ import annotations

import sys

from wfm.checkpoint import export_backbone, export_model
from wfm.data.converters.common import ArgumentParser, nonnegative_float
from wfm.oneline import debug_flag, run_one_line


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="wfm-export", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="Lightning .ckpt written by a wfm method")
    parser.add_argument("output", help="model folder to write (or a path ending in .safetensors/.json: the pair)")
    parser.add_argument(
        "--encoder", choices=("backbone", "context"), default="backbone",
        help="backbone: the encoder the method probes (JEPA: EMA target); context: the online encoder",
    )
    parser.add_argument("--format", choices=("auto", "folder", "pair"), default="auto",
                        help="auto: a pair when the output ends in .safetensors/.json, else a folder")
    parser.add_argument("--hash-limit-mb", type=nonnegative_float, default=1024.0,
                        help="hash data files the checkpoint names up to this size (MiB) into config.json")
    debug, argv = debug_flag(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    fmt = args.format
    if fmt == "auto":
        fmt = "pair" if args.output.endswith((".safetensors", ".json")) else "folder"

    def export() -> str:
        if fmt == "pair":
            st, js = export_backbone(args.checkpoint, args.output, which=args.encoder)
            return f"wrote {st} and {js}"
        folder = export_model(args.checkpoint, args.output, which=args.encoder,
                              hash_limit=int(args.hash_limit_mb * (1 << 20)))
        return f"wrote {folder}/ (config.json, model.safetensors, README.md)"

    # a missing or bad checkpoint, an occupied output, a full disk: one line naming the file
    code, done = run_one_line("wfm-export", export, debug)
    if code == 0:
        print(done)
    return code


if __name__ == "__main__":
    sys.exit(main())
