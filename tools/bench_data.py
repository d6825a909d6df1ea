"""Throughput (samples/s) of the PretrainDataModule train loader: num_workers 0 / 2 / 8, grouped vs padded, and
the device-resident mix (``resident=True``; here resident in CPU memory).

Built-in datasets are generated into a temporary cache first (not timed). If the synthetic generator is not
available, random stand-in files with the same channel counts (1, 3, 2) are timed instead, and the table
says so. Prints a Markdown table and the command that produced it.

    python tools/bench_data.py [--n 512] [--size 112] [--batch-size 256] [--epochs 2] [--workers 0 2 8]
    python tools/bench_data.py --datasets iq1 iq2 iq4 --iq-length 1024    # raw IQ (1, 2, 4 antennas)
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from wfm.data.datamodules import PretrainDataModule
from wfm.data.hdf5 import write_h5

BUILTINS = ("spectrogram", "csi", "csi2", "csi_ri", "csi2_ri")


def _standins(root: Path, n: int, size: int) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for name, c in zip(BUILTINS, (1, 4, 5, 2, 2), strict=True):
        x = rng.normal(size=(n, c, size, size)).astype(np.float32)
        attrs = {"source": f"standin:{name}", "modality": "csi", "preprocessing": {}, "labels": {}}
        paths.append(str(write_h5(root / f"{name}.h5", x, {}, attrs)))
    return paths


def bench(datasets: list[str], n: int, size: int, batch_size: int, workers: int, group: bool, epochs: int,
          cache: str, resident: bool = False, iq_length: int = 0) -> float:
    dm = PretrainDataModule(datasets, n=n, size=size, batch_size=batch_size, num_workers=workers,
                            val_fraction=0.0, group_by_channels=group, cache_dir=cache, resident=resident,
                            **({"iq_length": iq_length} if iq_length else {}))
    dm.prepare_data()
    dm.setup("fit")
    loader = dm.train_dataloader()
    seen = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        sampler = loader.batch_sampler if group else loader.sampler
        sampler.set_epoch(epoch)  # type: ignore[union-attr]
        for batch in loader:
            seen += batch["x"].shape[0]
    return seen / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=512, help="samples per dataset")
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2, 8])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--datasets", nargs="+", default=list(BUILTINS), help="built-in pretraining sets to time")
    p.add_argument("--iq-length", type=int, default=0, help="samples per antenna of raw-IQ sets (iq1, iq2, iq4)")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            from wfm.data.synthetic import BUILTIN  # noqa: F401

            datasets, what = list(a.datasets), "built-in " + "+".join(a.datasets)
            PretrainDataModule(datasets, n=a.n, size=a.size, cache_dir=tmp,
                               **({"iq_length": a.iq_length} if a.iq_length else {})).prepare_data()
        except ImportError:
            datasets, what = _standins(Path(tmp), a.n, a.size), "random stand-ins (C=1,4,5,2,2)"
        rows = []
        for workers in a.workers:
            for group in (True, False):
                rate = bench(datasets, a.n, a.size, a.batch_size, workers, group, a.epochs, tmp,
                             iq_length=a.iq_length)
                rows.append(f"| {workers} | {'grouped' if group else 'padded'} | {rate:,.0f} |")
        rate = bench(datasets, a.n, a.size, a.batch_size, 0, True, a.epochs, tmp, resident=True,
                     iq_length=a.iq_length)
        rows.append(f"| 0 | grouped, resident in memory | {rate:,.0f} |")
    shape = f"{a.iq_length} IQ samples per antenna" if a.iq_length else f"{a.size}x{a.size}"
    print(f"Data: {what}, n={a.n} each, {shape}, batch {a.batch_size}, {a.epochs} epochs\n")
    print("| num_workers | batching | samples/s |\n|---|---|---|")
    print("\n".join(rows))
    cmd = " ".join(["python tools/bench_data.py", shlex.join(sys.argv[1:] if argv is None else argv)])
    print(f"\nCommand: `{cmd.strip()}`")


if __name__ == "__main__":
    main()
