"""SigMF recordings (``.sigmf-meta`` + ``.sigmf-data``) -> a wfm spectrogram HDF5 file.

Each labelled segment is cut into windows of ``frames`` STFT frames of ``nfft`` bins; power -> dB -> bicubic
resize; statistics from the training part of the seed-0 split. Labels (``--label``, see
:mod:`wfm.data.converters.common`) default to ``annotation:core:label``: every annotation carrying that
field is a segment with its own label, and a recording with no such annotation is one segment labelled by
its folder name. Any other source labels whole recordings (``global:core:description``, ``filename:REGEX``,
``folder``, ``json:KEY.PATH`` into the meta document).

With ``--iq-length T`` the windows are raw IQ instead: every segment is cut into non-overlapping windows of
``T`` samples, written as ``(n, A, 2, T)`` (modality ``iq``; a recording of ``core:num_channels`` interleaved
channels gives ``A`` antennas), for encoders with an IQ tokenizer.

    wfm-convert sigmf RAW_DIR OUT_DIR [--size 112] [--nfft 256] [--frames 256] [--label annotation:core:label]
    wfm-convert sigmf RAW_DIR OUT_DIR --iq-length 1024
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wfm.data.converters.common import (
    IQ_DTYPES,
    LabelSource,
    Report,
    check_int,
    check_number,
    find_raw,
    iq_arguments,
    iq_sample_windows,
    iq_windows,
    json_object,
    positive_int,
    read_interleaved_iq,
    read_json,
    write_labelled_iq,
    write_labelled_windows,
)

DEFAULT_LABEL = "annotation:core:label"


def read_sigmf(meta_path: Path) -> tuple[dict, np.ndarray]:
    """The metadata and complex64 samples ``(channels, samples)`` of one SigMF recording (``core:num_channels``
    channels interleaved sample by sample, as the SigMF specification stores them). Every field used is checked
    for its JSON type and value first (``global`` an object, ``core:datatype`` a supported name,
    ``core:sample_rate`` a number > 0, ``core:num_channels`` an integer >= 1, ``annotations`` a list of objects)."""
    meta = json_object(read_json(meta_path, "SigMF metadata"), str(meta_path), "the metadata document")
    if "global" not in meta:
        raise ValueError(f"{meta_path}: no 'global' object; expected SigMF metadata (global.core:datatype ...)")
    glob = json_object(meta["global"], f"{meta_path}", "'global'")
    datatype = glob.get("core:datatype")
    if not isinstance(datatype, str) or datatype not in IQ_DTYPES:
        raise ValueError(f"{meta_path}: core:datatype {datatype!r} not supported; expected one of "
                         f"{sorted(IQ_DTYPES)}")
    if "core:sample_rate" not in glob:
        raise ValueError(f"{meta_path}: global.core:sample_rate missing")
    check_number(glob["core:sample_rate"], f"{meta_path}: global", "core:sample_rate", positive=True)
    channels = check_int(glob.get("core:num_channels", 1), f"{meta_path}: global", "core:num_channels", lo=1)
    annotations = json_object(meta.get("annotations", []), f"{meta_path}", "'annotations'", kind=list)
    for i, a in enumerate(annotations):
        json_object(a, f"{meta_path}: annotations[{i}]", "the annotation")
    data_path = meta_path.with_name(meta_path.name[: -len(".sigmf-meta")] + ".sigmf-data")
    if not data_path.exists():
        raise FileNotFoundError(f"{data_path}: data file of {meta_path.name} missing")
    iq = read_interleaved_iq(data_path, datatype)
    if iq.size % channels:
        raise ValueError(f"{meta_path}: {iq.size} samples do not split into core:num_channels={channels} channels")
    return meta, iq.reshape(-1, channels).T


def _segments(meta: dict, path: Path, source: LabelSource, samples: int) -> list[tuple[int, int, str | None]]:
    """(start, stop, label) of every segment of one recording of ``samples`` samples (per channel). An
    annotation's ``core:sample_start`` must be an integer in ``[0, samples]`` and its ``core:sample_count`` an
    integer >= 0 that ends inside the recording, each checked before it slices anything."""
    if source.kind == "annotation":
        segs = []
        for i, a in enumerate(meta.get("annotations", [])):
            where = f"{path}: annotations[{i}]"
            start = check_int(a.get("core:sample_start", 0), where, "core:sample_start", lo=0, hi=samples)
            count = a.get("core:sample_count")
            if count is None:
                stop = samples
            else:
                stop = start + check_int(count, where, "core:sample_count", lo=0)
                if stop > samples:
                    raise ValueError(f"{where}: core:sample_count {count} from core:sample_start {start} ends at "
                                     f"sample {stop}, past the end of the recording ({samples} samples); expected a "
                                     "segment inside the data file")
            segs.append((start, stop, source.read(path, a)))
        if source.arg == "core:label" and all(s[2] is None for s in segs):
            return [(0, samples, path.parent.name)]  # the documented layout: unannotated recording = folder label
        return segs
    document = meta.get("global", {}) if source.kind == "global" else meta
    return [(0, samples, source.read(path, document))]


def convert(
    raw_dir: str | Path,
    out_dir: str | Path,
    size: int = 112,
    nfft: int = 256,
    frames: int = 256,
    max_windows: int | None = None,
    name: str | None = None,
    label: str = DEFAULT_LABEL,
    iq_length: int | None = None,
) -> Report:
    """Convert every ``*.sigmf-meta`` under ``raw_dir``; the report lists the written file.

    ``iq_length``: write raw IQ windows of that many samples (modality ``iq``) instead of spectrograms.

    The output name is ``name``, else ``global.core:collection`` of the first recording, else the folder
    name; it must be a plain file name (checked by ``safe_output_path``).
    """
    raw_dir = Path(raw_dir)
    source = LabelSource.parse(label)
    metas = find_raw(raw_dir, "*.sigmf-meta")
    report = Report()
    specs: list[np.ndarray] = []
    names: list[str] = []
    collection = None
    for mp in metas:
        meta, iq = read_sigmf(mp)
        report.files_read += 1
        collection = collection or meta["global"].get("core:collection")
        segments = _segments(meta, mp, source, iq.shape[1])
        if not segments:
            report.skip(f"recording without a label at {source}")
        for start, stop, lab in segments:
            if lab is None:
                report.skip(f"segment without a label at {source}")
                continue
            seg = iq[:, start:stop]
            if iq_length:
                s = iq_sample_windows(seg, iq_length, max_windows)
                window = iq_length
            else:
                if seg.shape[0] != 1:
                    raise ValueError(f"{mp}: {seg.shape[0]} channels (core:num_channels); spectrogram output "
                                     "takes one: convert with --iq-length for multi-antenna IQ")
                s = iq_windows(seg[0], nfft, frames, max_windows)
                window = nfft + (frames - 1) * (nfft // 2)
            if not len(s):
                report.skip(f"segment shorter than one window ({window} samples)")
            specs.append(s)
            names += [lab] * len(s)
    out_name = name or collection or raw_dir.name
    if iq_length:
        return write_labelled_iq(out_dir, out_name, specs, names, raw_dir, source, iq_length, f"sigmf:{raw_dir.name}",
                                 report)
    return write_labelled_windows(out_dir, out_name, specs, names, raw_dir, source, size, nfft, frames,
                                  f"sigmf:{raw_dir.name}", report)


def main(argv: list[str] | None = None) -> Report:
    p = iq_arguments("wfm-convert sigmf", __doc__.splitlines()[0], None, DEFAULT_LABEL, "segment")
    p.add_argument("--iq-length", type=positive_int, default=None,
                   help="write raw IQ windows of this many samples (modality iq) instead of spectrograms")
    a = p.parse_args(argv)
    return convert(a.raw_dir, a.out_dir, a.size, a.nfft, a.frames, a.max_windows, a.name, a.label, a.iq_length)
