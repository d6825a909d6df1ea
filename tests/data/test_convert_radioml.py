"""The RadioML converters (``radioml2016``, ``rml22``, ``radioml2018``) on tiny fixtures in the released layouts
(tests/data/radioml/make.py): both views written, values and labels equal to the source's, the SNR recorded as
the stratification variable and read back by the DataModule; selection (SNR range, balanced ``--max-samples``),
``--classes``; bad values refused in one line naming the key / sample; the restricted unpickler refuses a
pickle that would run code, before importing anything; ``wfm-convert`` dispatch."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import load_module

from wfm.data import transforms
from wfm.data.converters import main as convert_main
from wfm.data.converters import radioml, radioml2016, radioml2018, rml22, safe_pickle
from wfm.data.datamodules import DownstreamDataModule
from wfm.data.datasets import H5Dataset
from wfm.data.hdf5 import read_attrs
from wfm.data.split import train_test_split
from wfm.data.synthetic.spectrogram import power_spectrogram
from wfm.data.task import TaskInfo

mk = load_module("tests/data/radioml/make.py", "make_radioml")


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> dict[str, Path]:
    """The read-only fixtures (tests that alter one write their own)."""
    root = tmp_path_factory.mktemp("radioml_raw")
    return {"radioml2016": mk.make_2016(root), "rml22": mk.make_rml22(root), "radioml2018": mk.make_2018(root)}


@pytest.fixture
def small_chunks(monkeypatch):
    """Several chunks even for the tiny fixtures: the streamed paths are the ones exercised."""
    monkeypatch.setattr(radioml, "CHUNK", 50)
    monkeypatch.setattr(radioml, "LABEL_CHUNK", 64)


def _source_pickle(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(sorted classes, x (N, 2, 128), label, snr) of a pickle in the converter's documented order: keys sorted by
    (modulation, SNR), captures of a key in their order."""
    d = safe_pickle.load(path)
    items = sorted(((m.decode() if isinstance(m, bytes) else m, int(s)), v) for (m, s), v in d.items())
    classes = sorted({m for (m, _), _ in items})
    x = np.concatenate([v for _, v in items])
    label = np.concatenate([[classes.index(m)] * len(v) for (m, _), v in items])
    snr = np.concatenate([[s] * len(v) for (_, s), v in items])
    return classes, x, label, snr


def _spec(iq: np.ndarray, nfft: int, frames: int, size: int) -> np.ndarray:
    return transforms.preprocess(power_spectrogram(iq[:, 0] + 1j * iq[:, 1], nfft, frames)[:, None], True, size)


def _steps(path: Path) -> dict[str, dict]:
    return {s["step"]: s for s in read_attrs(path)["preprocessing"]["steps"]}


def _check_pair(report, out: Path, name: str, n: int, length: int, size: int, classes: list[str]):
    """Both files of one conversion: names, shapes, modality, labels, stratify; returns (iq, spectrogram) paths."""
    iq, spec = report.outputs
    assert (iq, spec) == ((out / f"{name}_iq.h5").resolve(), (out / f"{name}_spectrogram.h5").resolve())
    assert sorted(p.name for p in out.iterdir()) == sorted([iq.name, spec.name])  # no temporary file left
    assert report.files_read == 1 and report.samples_written == n
    for path, modality, shape in ((iq, "iq", (1, 2, length)), (spec, "spectrogram", (1, size, size))):
        a = read_attrs(path)
        assert (a["n"], a["shape"], a["modality"]) == (n, shape, modality)
        assert a["labels"]["label"] == {"kind": "classification", "num_classes": len(classes), "class_names": classes,
                                        "units": None, "stratify": "snr_db"}
        assert a["labels"]["snr_db"]["kind"] == "regression" and a["labels"]["snr_db"]["units"] == "dB"
        assert a["label_shapes"] == {"label": (), "snr_db": (1,)}
    with h5py.File(iq) as f, h5py.File(spec) as g:  # the two views hold the same captures, labelled alike
        np.testing.assert_array_equal(f["label"][:], g["label"][:])
        np.testing.assert_array_equal(f["snr_db"][:], g["snr_db"][:])
        assert f["snr_db"].dtype == np.float32
    return iq, spec


# --------------------------------------------------------------------------------------- end to end
def test_radioml2016_both_views_equal_the_source(raw, tmp_path, small_chunks):
    out = tmp_path / "out"
    report = radioml2016.convert(raw["radioml2016"], out, size=16)
    classes, x, label, snr = _source_pickle(raw["radioml2016"])
    assert classes == ["8PSK", "AM-DSB", "QPSK", "WBFM"]  # bytes keys decoded, sorted
    iq, spec = _check_pair(report, out, "radioml2016", 60, 128, 16, classes)
    assert dict(report.skipped) == {}
    with h5py.File(iq) as f, h5py.File(spec) as g:
        np.testing.assert_array_equal(f["inputs"][:, 0], x)  # raw values, exactly
        np.testing.assert_array_equal(f["label"][:], label)
        np.testing.assert_array_equal(f["snr_db"][:, 0], snr)
        np.testing.assert_allclose(g["inputs"][:], _spec(x, 16, 15, 16), rtol=1e-5, atol=1e-4)
        # statistics: the training part of the seed-0 80/20 split, per I / Q component (streamed over chunks)
        tr, _ = train_test_split(60, 0, 0.8)
        np.testing.assert_allclose(f.attrs["mean"], x[tr].mean(axis=(0, 2)), rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(f.attrs["std"], x[tr].std(axis=(0, 2)), rtol=1e-4)
        np.testing.assert_allclose(g.attrs["mean"], g["inputs"][tr].mean(), rtol=1e-4)
        assert json.loads(f.attrs["stats_split"]) == {"seed": 0, "train_frac": 0.8}
    assert _steps(spec)["source"]["stft"] == {**radioml.stft_description(16, 15), "scaling": "|X|^2",
                                              "hann": "periodic",
                                              "function": "wfm.data.synthetic.spectrogram.power_spectrogram"}
    assert list(_steps(spec)) == ["source", "to_db", "resize", "standardise"]
    assert list(_steps(iq)) == ["source", "standardise"]
    assert read_attrs(iq)["source"] == "radioml2016:RML2016.10a_dict.pkl"


def test_rml22_and_snr_filter(raw, tmp_path):
    out = tmp_path / "out"
    report = rml22.convert(raw["rml22"], out, size=16)
    classes, x, label, snr = _source_pickle(raw["rml22"])
    assert classes == sorted(mk.MODS_RML22)
    iq, _ = _check_pair(report, out, "rml22", 60, 128, 16, classes)
    with h5py.File(iq) as f:
        np.testing.assert_array_equal(f["inputs"][:, 0], x)
        np.testing.assert_array_equal(f["label"][:], label)
    # an SNR range keeps only its captures, the class list stays the file's
    out2 = tmp_path / "out2"
    report = rml22.convert(raw["rml22"], out2, size=16, name="rml22_0db", snr_min=0, snr_max=0)
    iq, _ = _check_pair(report, out2, "rml22_0db", 20, 128, 16, classes)
    assert dict(report.skipped) == {"SNR outside [0, 0] dB": 40}
    with h5py.File(iq) as f:
        assert set(f["snr_db"][:, 0]) == {0.0}
        np.testing.assert_array_equal(f["inputs"][:, 0], x[snr == 0])
    with pytest.raises(ValueError, match=r"RML22.pickle.01A: 0 sample\(s\) with SNR in \[25, 30\] dB"):
        rml22.convert(raw["rml22"], tmp_path / "out3", snr_min=25, snr_max=30)
    assert not (tmp_path / "out3").exists() or not list((tmp_path / "out3").iterdir())


def test_radioml2018_streamed_values_and_labels(raw, tmp_path, small_chunks):
    out = tmp_path / "out"
    report = radioml2018.convert(raw["radioml2018"], out, size=16)
    classes = list(radioml.RADIOML2018_CLASSES)
    assert len(classes) == 24 and classes[:3] == ["OOK", "4ASK", "8ASK"] and classes[-1] == "OQPSK"
    iq, spec = _check_pair(report, out, "radioml2018", 192, 1024, 16, classes)
    with h5py.File(raw["radioml2018"]) as src, h5py.File(iq) as f, h5py.File(spec) as g:
        x = src["X"][:]
        np.testing.assert_array_equal(f["inputs"][:, 0], x.transpose(0, 2, 1))  # (N, T, 2) -> (N, 2, T), exact
        np.testing.assert_array_equal(f["label"][:], src["Y"][:].argmax(axis=1))
        np.testing.assert_array_equal(f["snr_db"][:], src["Z"][:])
        np.testing.assert_allclose(g["inputs"][:5], _spec(x[:5].transpose(0, 2, 1), 64, 31, 16), rtol=1e-5,
                                   atol=1e-4)
    assert _steps(spec)["source"]["stft"]["frames"] == 31 and _steps(spec)["source"]["stft"]["nfft"] == 64


def test_radioml2018_max_samples_is_balanced_and_seeded(raw, tmp_path, small_chunks):
    with h5py.File(raw["radioml2018"]) as src:
        x, y, z = src["X"][:], src["Y"][:].argmax(axis=1), src["Z"][:, 0]
    where = {x[i].tobytes(): i for i in range(len(x))}

    def run(n, seed, name, **kw):
        report = radioml2018.convert(raw["radioml2018"], tmp_path / name, size=16, max_samples=n, seed=seed, **kw)
        with h5py.File(report.outputs[0]) as f:
            inputs, label, snr = f["inputs"][:, 0], f["label"][:], f["snr_db"][:, 0]
        rows = np.array([where[v.transpose().tobytes()] for v in inputs])  # each written capture is a source row
        np.testing.assert_array_equal(label, y[rows])
        np.testing.assert_array_equal(snr, z[rows])
        assert len(set(rows)) == len(rows) and (np.diff(rows) > 0).all()  # distinct, in file order
        return report, rows

    report, a = run(48, 1, "a")
    assert dict(report.skipped) == {"not drawn by --max-samples 48 (seed 1)": 144}
    assert set(np.bincount(y[a], minlength=24)) == {2}  # 48 of 24 classes x 4 SNRs: 2 per class, 12 per SNR
    assert sorted(np.unique(z[a], return_counts=True)[1]) == [12] * 4
    _, again = run(48, 1, "b")
    _, other = run(48, 2, "c")
    np.testing.assert_array_equal(a, again)  # deterministic given the seed
    assert not np.array_equal(a, other)
    _, odd = run(30, 5, "d")
    counts = np.bincount(y[odd], minlength=24)
    assert counts.max() - counts.min() <= 1 and np.ptp(np.unique(z[odd], return_counts=True)[1]) <= 1
    # the SNR range first, then the draw from what it kept
    report, r = run(10, 0, "e", snr_min=-6, snr_max=8)
    assert set(z[r]) <= {-6, 8} and len(r) == 10
    assert dict(report.skipped) == {"SNR outside [-6, 8] dB": 96, "not drawn by --max-samples 10 (seed 0)": 86}
    report = radioml2018.convert(raw["radioml2018"], tmp_path / "f", size=16, snr_min=30)
    assert report.samples_written == 48
    with pytest.raises(ValueError, match=r"--max-samples 1: expected at least 2"):
        radioml2018.convert(raw["radioml2018"], tmp_path / "g", max_samples=1)


def test_radioml2018_classes_override_and_mismatch(raw, tmp_path):
    names = [f"mod{i}" for i in range(24)]
    (tmp_path / "classes.json").write_text(json.dumps(names))
    (tmp_path / "classes.txt").write_text("\n".join(names) + "\n")
    for k, spec in enumerate((",".join(names), str(tmp_path / "classes.json"), str(tmp_path / "classes.txt"), names)):
        report = radioml2018.convert(raw["radioml2018"], tmp_path / f"out{k}", size=16, classes=spec, max_samples=24)
        assert read_attrs(report.outputs[0])["labels"]["label"]["class_names"] == names
        assert read_attrs(report.outputs[1])["labels"]["label"]["class_names"] == names
    with pytest.raises(ValueError, match=r"GOLD_XYZ_OSC.0001_1024.hdf5: Y has 24 columns but 3 class names are "
                                         r"given \(--classes\); expected one name per column"):
        radioml2018.convert(raw["radioml2018"], tmp_path / "bad", classes="a,b,c")
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ValueError, match="two or more distinct class names"):
        radioml2018.convert(raw["radioml2018"], tmp_path / "bad", classes="a,a")


# ------------------------------------------------------------------------------------ the safe unpickler
@pytest.mark.fault(what='a RadioML pickle carrying code',
                   survives=('refused by the restricted unpickler (numpy arrays only) with one line; the payload '
                             'never runs'))
def test_malicious_pickle_refused_and_never_run(tmp_path, capsys):
    sentinel = tmp_path / "SENTINEL"
    evil = mk.make_malicious(tmp_path / "raw", sentinel)
    line = (r"evil.pkl: refusing to unpickle (posix|nt|os)\.system: a RadioML pickle holds only numpy arrays "
            r"\(the file may carry code\)")
    for tool in (radioml2016, rml22):
        with pytest.raises(ValueError, match=line):
            tool.convert(evil, tmp_path / "out")
    with pytest.raises(ValueError, match=line):
        safe_pickle.load(evil)
    assert not sentinel.exists() and not (tmp_path / "out").exists()
    assert convert_main(["radioml2016", str(evil), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("wfm-convert radioml2016: error: ") and "refusing to unpickle" in err
    assert not sentinel.exists()
    # the fixture is really malicious: the plain loader runs its payload
    armed = tmp_path / "ARMED"
    with open(mk.make_malicious(tmp_path / "raw2", armed), "rb") as f:
        pickle.load(f)  # on purpose: proves the payload is live
    assert armed.exists()


@pytest.mark.fault(what='a RadioML pickle naming a global of a module not yet imported',
                   survives='refused before the module is imported (its import would have left a file)')
def test_refused_before_import(tmp_path, monkeypatch):
    """A global of a module not yet imported is refused without importing it (its import would leave a file)."""
    module = "wfm_radioml_trap_module"
    trap = tmp_path / "IMPORTED"
    (tmp_path / f"{module}.py").write_text(f"open({str(trap)!r}, 'w').close()\ndef f():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "trap.pkl"
    path.write_bytes(b"\x80\x02c" + module.encode() + b"\nf\n)R.")
    with pytest.raises(ValueError, match=rf"trap.pkl: refusing to unpickle {module}\.f: "):
        safe_pickle.load(path)
    assert not trap.exists() and module not in sys.modules


@pytest.mark.parametrize("payload, message", [
    ((eval, ("1",)), r"refusing to unpickle (__builtin__|builtins)\.eval"),
    ((getattr, ("x", "upper")), r"refusing to unpickle (__builtin__|builtins)\.getattr"),
    ((__import__("codecs").encode, ("x", "rot13")), r"_codecs.encode called as encode\(str, 'rot13'\)"),
    ((bytes, (4,)), r"bytes called with arguments"),
])
def test_allowed_globals_only_as_released_pickles_call_them(tmp_path, payload, message):
    class Payload:
        def __reduce__(self):
            return payload

    path = tmp_path / "odd.pkl"
    path.write_bytes(pickle.dumps({("QPSK", 0): Payload()}, protocol=2))
    with pytest.raises(ValueError, match=r"odd.pkl: .*" + message):
        safe_pickle.load(path)


def test_what_released_pickles_reference_loads(tmp_path):
    """Python 2 cPickle bytes (latin-1 str data, numpy.core names) and Python 3 protocol-2 / 4 pickles (bytes via
    _codecs.encode, empty arrays via bytes(), numpy-int SNRs) load to the same arrays as the plain loader."""
    d = safe_pickle.load(mk.make_python2(tmp_path))
    assert list(d) == list(mk.PY2_CPICKLE_VALUES) and all(type(k[0]) is str for k in d)
    for key, value in mk.PY2_CPICKLE_VALUES.items():
        np.testing.assert_array_equal(d[key], value)
        assert d[key].dtype == np.float32
    src = {(b"QPSK", np.int64(-2)): np.arange(256, dtype=np.float32).reshape(1, 2, 128),
           ("BPSK", 4): np.zeros((0, 2, 128), np.float32)}
    for protocol in (2, 4):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(src, protocol=protocol))
        got = safe_pickle.load(path)
        assert list(got) == list(src)
        for key in src:
            np.testing.assert_array_equal(got[key], src[key])
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match=r"junk.pkl: not a readable pickle \("):
        safe_pickle.load(tmp_path / "junk.pkl")
    with pytest.raises(FileNotFoundError, match=r"missing.pkl: no such file"):
        safe_pickle.load(tmp_path / "missing.pkl")


# ---------------------------------------------------------------------------------------- bad values
def _pickle(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_bytes(pickle.dumps(data, protocol=2))
    return path


def _good(n: int = 2) -> np.ndarray:
    return np.full((n, 2, 128), 0.25, np.float32)


@pytest.mark.parametrize("data, message", [
    ({("QPSK", 2): np.concatenate([_good(1), np.full((1, 2, 128), np.nan, np.float32)]), ("BPSK", 2): _good()},
     r"key \('QPSK', 2\), sample 1: NaN/Inf values, expected finite floats"),
    ({("QPSK", 2): _good(), (b"BPSK", 0): np.zeros((3, 2, 64), np.float32)},
     r"key \(b'BPSK', 0\): array of shape \(3, 2, 64\), expected \(n, 2, 128\)"),
    ({("QPSK", 2.5): _good(), ("BPSK", 0): _good()}, r"key \('QPSK', 2.5\): SNR 2.5 is not an integer \(dB\)"),
    ({("QPSK", 2): _good().astype(np.int16), ("BPSK", 0): _good()},
     r"key \('QPSK', 2\): array of dtype int16, expected floats"),
    ({("QPSK", 2): [1, 2], ("BPSK", 0): _good()}, r"key \('QPSK', 2\): holds a list, expected a float array"),
    ({("QPSK",): _good()}, r"key \('QPSK',\): expected a \(modulation, snr\) pair"),
    ({("QPSK", 2): _good(), ("QPSK", 4): _good()}, r"every key has modulation 'QPSK'; a classification needs two"),
    ([_good()], r"holds a list, expected a dict"),
])
def test_bad_pickle_values_refused_naming_the_key(tmp_path, data, message):
    path = _pickle(tmp_path, "bad.pkl", data)
    with pytest.raises(ValueError, match=r"bad.pkl: " + message):
        radioml2016.convert(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _bad_2018(tmp_path: Path, what: str) -> Path:
    path = mk.make_2018(tmp_path / what)
    with h5py.File(path, "r+") as f:
        if what == "two_ones":
            f["Y"][5, 7] = 1
        elif what == "no_one":
            f["Y"][70] = 0
        elif what == "nan":
            x = f["X"][150]
            x[3, 1] = np.nan
            f["X"][150] = x
        elif what == "float_snr":
            z = f["Z"][:].astype(np.float32)
            z[3] = 2.5
            del f["Z"]
            f["Z"] = z
        elif what == "no_z":
            del f["Z"]
        elif what == "x_shape":
            del f["X"]
            f["X"] = np.zeros((192, 2, 1024), np.float32)
    return path


@pytest.mark.parametrize("what, message", [
    ("two_ones", r"sample 5: Y row has non-zero entries at columns \[0, 7\], expected one-hot \(exactly one 1"),
    ("no_one", r"sample 70: Y row has non-zero entries at columns \[\], expected one-hot"),
    ("nan", r"sample 150: X has NaN/Inf values, expected finite floats"),
    ("float_snr", r"sample 3: Z = 2.5, expected an integer SNR in dB"),
    ("no_z", r"no dataset Z; expected RadioML 2018.01A datasets X \(N, 1024, 2\)"),
    ("x_shape", r"X has shape \(192, 2, 1024\), expected \(N, T, 2\)"),
])
def test_bad_2018_values_refused_naming_the_sample(tmp_path, small_chunks, what, message):
    path = _bad_2018(tmp_path, what)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match=r"GOLD_XYZ_OSC.0001_1024.hdf5: " + message):
        radioml2018.convert(path, out, size=16)
    assert list(out.iterdir()) == []  # atomic: no output, no temporary file (the NaN is found mid-stream)


def test_bad_options(raw, tmp_path):
    with pytest.raises(ValueError, match=r"--nfft 15: expected an even number of bins in \[4, 128\]"):
        radioml2016.convert(raw["radioml2016"], tmp_path / "out", nfft=15)
    with pytest.raises(ValueError, match=r"--snr-min 10 is above --snr-max 0"):
        radioml2016.convert(raw["radioml2016"], tmp_path / "out", snr_min=10, snr_max=0)
    with pytest.raises(ValueError, match="unsafe output name"):
        radioml2016.convert(raw["radioml2016"], tmp_path / "out", name="../escape")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------- CLI and readers
def test_wfm_convert_dispatch(raw, tmp_path, capsys):
    out = tmp_path / "out"
    assert convert_main(["radioml2016", str(raw["radioml2016"]), str(out), "--size", "16"]) == 0
    text = capsys.readouterr().out
    assert "read 1 file(s), wrote 60 sample(s) to" in text and "radioml2016_iq.h5" in text
    assert "radioml2016_spectrogram.h5" in text
    assert convert_main(["rml22", str(raw["rml22"]), str(out), "--size", "16", "--snr-max", "-20",
                         "--name", "low"]) == 0
    assert "skipped 40: SNR outside [-inf, -20] dB" in capsys.readouterr().out
    assert convert_main(["radioml2018", str(raw["radioml2018"]), str(out), "--size", "16", "--nfft", "32",
                         "--max-samples", "20", "--seed", "3"]) == 0
    assert "wrote 20 sample(s)" in capsys.readouterr().out
    assert _steps(out / "radioml2018_spectrogram.h5")["source"]["stft"]["frames"] == 63
    assert convert_main(["radioml2016", str(tmp_path / "missing.pkl"), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.pkl: no such file" in err and "Traceback" not in err
    assert convert_main(["radioml2018", str(raw["radioml2018"]), str(out), "--classes", "a,b"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Y has 24 columns but 2 class names" in err


def test_converted_files_load_as_stratified_tasks(raw, tmp_path):
    report = radioml2016.convert(raw["radioml2016"], tmp_path / "out", size=16)
    iq, spec = report.outputs
    ds = H5Dataset(iq, size=128)
    s = ds[0]
    assert s["x"].shape == (1, 2, 128) and s["modality"] == "iq" and set(s) >= {"label", "snr_db"}
    for path, size in ((iq, 128), (spec, 16)):
        dm = DownstreamDataModule(str(path), size=size, batch_size=8)
        dm.setup()
        task = dm.task
        assert (task.target, task.kind, task.stratify, task.num_classes) == ("label", "classification", "snr_db", 4)
        assert task.class_names == ("8PSK", "AM-DSB", "QPSK", "WBFM")
        batch = next(iter(dm.train_dataloader()))
        assert batch["label"].shape == (8,) and batch["snr_db"].shape == (8, 1)
        a = read_attrs(path)
        assert TaskInfo.from_labels("r", "label", a["labels"]["label"]).stratify == "snr_db"
