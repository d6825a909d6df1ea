"""Export the backbone of a wfm Lightning checkpoint as ``<name>.safetensors`` + ``<name>.json``.

    wfm-export runs/jepa/checkpoints/last.ckpt exports/jepa_region
    wfm-export runs/jepa/checkpoints/last.ckpt exports/jepa_ctx --encoder context

The checkpoint is read with ``weights_only=True`` (nothing in it is executed); the export loads with
``wfm.checkpoint.load_backbone("exports/jepa_region.safetensors")`` and needs neither Lightning nor pickle.
"""

from __future__ import annotations

import argparse
import sys

from wfm.checkpoint import BackboneLoadError, export_backbone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wfm-export", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="Lightning .ckpt written by a wfm method")
    parser.add_argument("output", help="output path without suffix (or ending in .safetensors/.json)")
    parser.add_argument(
        "--encoder", choices=("backbone", "context"), default="backbone",
        help="backbone: the encoder the method probes (JEPA: EMA target); context: the online encoder",
    )
    args = parser.parse_args(argv)
    try:
        st, js = export_backbone(args.checkpoint, args.output, which=args.encoder)
    except (FileNotFoundError, BackboneLoadError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {st} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
