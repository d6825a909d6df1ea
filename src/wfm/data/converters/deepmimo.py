"""DeepMIMO user channels -> a wfm HDF5 file with beam and LoS/NLoS labels.

Input: ``.npz`` (or MATLAB v5 ``.mat``) with ``channels`` complex ``(N, M, K)`` (M base-station antennas of a
uniform linear array, K subcarriers), ``los`` ``(N,)`` (1 LoS, 0 NLoS, -1 no path: dropped), optional
``scenario`` (used for the output name, which must be a plain file name). Each channel becomes 2 real
channels (real, imaginary) of ``(M, K)``, recorded as one complex pair (``complex_pairs`` [[0, 1]]),
resized bicubically. ``beam`` is the best beam of a ``B``-beam DFT codebook, ``argmax_b Σ_k |f_bᴴ h_k|²``
with ``f_b[m] = exp(j2π·m·b/B)/√M``.

    wfm-convert deepmimo CHANNELS.npz OUT_DIR [--beams 64] [--size 112] [--name NAME]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wfm.data import transforms
from wfm.data.converters.common import (
    ArgumentParser,
    Report,
    check_int_array,
    error_name,
    load_mat,
    positive_int,
    require_file,
)
from wfm.data.hdf5 import label_meta, write_dataset_file


def dft_codebook(m: int, beams: int) -> np.ndarray:
    """``(M, B)`` DFT codebook (oversampled when ``B > M``), unit-norm columns."""
    return np.exp(2j * np.pi * np.outer(np.arange(m), np.arange(beams)) / beams) / np.sqrt(m)


def best_beam(channels: np.ndarray, beams: int) -> np.ndarray:
    """Index of the codebook beam with the most received power summed over subcarriers, per user."""
    gain = np.abs(np.einsum("mb,nmk->nbk", dft_codebook(channels.shape[1], beams).conj(), channels)) ** 2
    return gain.sum(axis=2).argmax(axis=1).astype(np.int64)


def _load(path: Path) -> dict:
    """The variables of a ``.npz`` (no pickles) or MATLAB v5 ``.mat`` export; a corrupt or foreign file is a
    one-line ValueError naming it."""
    expected = "a DeepMIMO export (.npz or .mat) with channels (N, M, K) and los (N,)"
    require_file(path, "a DeepMIMO export file (.npz or .mat) with channels (N, M, K) and los (N,)")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except MemoryError:
            raise ValueError(f"{path}: an array claims more memory than there is (corrupt?); expected {expected}"
                             ) from None
        except Exception as err:  # noqa: BLE001 - zipfile / numpy raise many types on a bad file; one line each
            text = " ".join(str(err).split())[:200] or "no detail"
            raise ValueError(f"{path}: not a readable .npz file ({error_name(err)}: {text}); expected "
                             f"{expected}") from None
    try:
        return load_mat(path, expected)
    except NotImplementedError:
        raise ValueError(f"{path}: a MATLAB v7.3 (HDF5) file; expected a v5 .mat (save -v7) or .npz "
                         "export") from None


def convert(
    src: str | Path, out_dir: str | Path, beams: int = 64, size: int = 112, name: str | None = None
) -> Report:
    """Convert one DeepMIMO export to ``out_dir/<name>.h5`` (default ``deepmimo_<scenario>_b<beams>``).

    ``los`` is checked per user before any cast (numeric, integer-valued, one of -1, 0, 1) and ``channels`` as
    complex and finite, each failure naming the file and the user."""
    src = Path(src)
    d = _load(src)
    for key in ("channels", "los"):
        if key not in d:
            raise ValueError(f"{src}: variable {key!r} missing; expected channels (N, M, K) and los (N,)")
    h = np.asarray(d["channels"])
    if h.ndim != 3 or not np.iscomplexobj(h) or h.dtype.kind != "c" or min(h.shape) < 1:
        raise ValueError(f"{src}: channels has shape {h.shape} dtype {h.dtype}, expected complex (N, M, K)")
    flat = h.reshape(len(h), -1)
    finite = np.isfinite(flat).all(axis=1)
    if not finite.all():
        raise ValueError(f"{src}: user {int(np.argmin(finite))} has NaN/Inf values in channels; expected finite "
                         "complex gains")
    inside = ((np.abs(flat.real) <= np.finfo(np.float32).max) & (np.abs(flat.imag) <= np.finfo(np.float32).max)
              ).all(axis=1)
    if not inside.all():
        raise ValueError(f"{src}: user {int(np.argmin(inside))} has a channel gain beyond the float32 range; "
                         "expected |re|, |im| < 3.4e38")
    los_raw = np.asarray(d["los"])
    if los_raw.size != h.shape[0]:
        raise ValueError(f"{src}: los has {los_raw.size} entries, channels {h.shape[0]} users")
    los = check_int_array(los_raw.reshape(-1), str(src), "los", allowed=(-1, 0, 1), item="user")
    keep = los >= 0  # users without any path carry no channel to learn from
    if not keep.any():
        raise ValueError(f"{src}: every user has los = -1 (no path); expected users with a channel")
    h, los = h[keep], los[keep]
    x = transforms.preprocess(np.stack([h.real, h.imag], axis=1).astype(np.float32), power=False, size=size)
    scenario_raw = np.asarray(d.get("scenario", "scenario")).reshape(-1)
    if scenario_raw.size != 1 or scenario_raw.dtype.kind not in "US":
        raise ValueError(f"{src}: scenario is {scenario_raw.dtype} of {scenario_raw.size} value(s); expected one "
                         "name (a string)")
    scenario = str(scenario_raw[0].decode("utf-8", "replace") if scenario_raw.dtype.kind == "S" else scenario_raw[0])
    out_name = name or f"deepmimo_{scenario}_b{beams}"
    meta = label_meta(
        {"beam": "classification", "los": "classification"},
        {"los": ("nlos", "los")},
        num_classes={"beam": beams},
    )
    prep = transforms.describe(
        False,
        size,
        channels="complex (M, K) -> (real, imag)",
        dropped_no_path=int((~keep).sum()),
        beam_codebook={"type": "DFT", "beams": beams, "ula_antennas": int(h.shape[1])},
    )
    out = write_dataset_file(
        out_dir,
        out_name,
        x,
        {"beam": best_beam(h, beams), "los": los},
        meta,
        f"deepmimo:{scenario}",
        "csi",
        prep,
        complex_pairs=[(0, 1)],  # channel 0 and 1 are the real and imaginary parts of the one complex channel
    )
    report = Report(files_read=1, samples_written=int(keep.sum()), outputs=[out])
    if (~keep).any():
        report.skip("user without any path (los = -1)", int((~keep).sum()))
    return report


def main(argv: list[str] | None = None) -> Report:
    p = ArgumentParser(prog="wfm-convert deepmimo", description=__doc__.splitlines()[0])
    p.add_argument("src")
    p.add_argument("out_dir")
    p.add_argument("--beams", type=positive_int, default=64, choices=(16, 32, 64))
    p.add_argument("--size", type=positive_int, default=112)
    p.add_argument("--name", default=None)
    a = p.parse_args(argv)
    return convert(a.src, a.out_dir, a.beams, a.size, a.name)

