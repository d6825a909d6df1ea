"""Write tiny RadioML fixtures in the released layouts: a 2016.10a-style pickle (protocol 2, ``bytes`` and ``str``
modulation keys, numpy-int SNRs), an RML22-style pickle, a 2018.01A-style HDF5 (``X`` / ``Y`` / ``Z``) and a
malicious pickle whose ``__reduce__`` would run ``os.system`` (it creates a sentinel file if ever loaded)."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import h5py
import numpy as np

MODS_2016 = (b"QPSK", "8PSK", b"AM-DSB", "WBFM")  # as the release: modulation names, here mixed bytes / str
MODS_RML22 = ("BPSK", "QAM16", "QAM64", "GFSK", "CPFSK", "PAM4", "AM-SSB", "AM-DSB", "WBFM", "QPSK")
SNRS_2016 = (-20, -10, 0, 10, 18)
SNRS_RML22 = (-20, 0, 20)
CLASSES_2018 = 24


def _captures(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    return (rng.normal(size=(n, 2, length)) * 0.01).astype(np.float32)


def make_2016(root: str | Path, per_key: int = 3) -> Path:
    """``RML2016.10a_dict.pkl``: ``{(mod, snr): float32 (per_key, 2, 128)}``, protocol 2 (as Python 2's cPickle
    wrote the release); some modulation keys are ``bytes``, some SNRs ``numpy.int64``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2016)
    data = {(mod, np.int64(snr) if snr < 0 else snr): _captures(rng, per_key, 128)
            for mod in MODS_2016 for snr in SNRS_2016}
    path = root / "RML2016.10a_dict.pkl"
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=2)
    return path


def make_rml22(root: str | Path, per_key: int = 2) -> Path:
    """``RML22.pickle.01A``: the 2016.10a layout with the RML22 modulation set."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(22)
    data = {(mod, snr): _captures(rng, per_key, 128) for mod in MODS_RML22 for snr in SNRS_RML22}
    path = root / "RML22.pickle.01A"
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=2)
    return path


def make_2018(root: str | Path, per_cell: int = 2, snrs: tuple[int, ...] = (-20, -6, 8, 30),
              length: int = 1024) -> Path:
    """``GOLD_XYZ_OSC.0001_1024.hdf5``: ``X`` float32 (N, length, 2), ``Y`` int64 one-hot (N, 24), ``Z`` int64
    (N, 1), ordered as the release (by class, then SNR), ``per_cell`` captures per (class, SNR)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2018)
    cls = np.repeat(np.arange(CLASSES_2018), len(snrs) * per_cell)
    snr = np.tile(np.repeat(np.asarray(snrs), per_cell), CLASSES_2018)
    n = len(cls)
    path = root / "GOLD_XYZ_OSC.0001_1024.hdf5"
    with h5py.File(path, "w") as f:
        f["X"] = (rng.normal(size=(n, length, 2)) * 0.5).astype(np.float32)
        f["Y"] = np.eye(CLASSES_2018, dtype=np.int64)[cls]
        f["Z"] = snr.astype(np.int64)[:, None]
    return path

#: The bytes Python 2.7 ``cPickle.dumps(d, 2)`` wrote (numpy 1.16) for ``d = {('QPSK', 2): arange(4, float32)
#: .reshape(1, 2, 2), ('BPSK', numpy.int64(-4)): [[[0.5, -1.5], [255, 1e-3]]] float32}``: ``str`` data as BINSTRING,
#: no ``_codecs``; globals numpy.core.multiarray._reconstruct / scalar, numpy.ndarray, numpy.dtype.
PY2_CPICKLE = (
    b'\x80\x02}q\x01(U\x04QPSKq\x02K\x02\x86q\x03cnumpy.core.multiarray\n_reconstruct\nq\x04cnumpy\nndarray\nq\x05K\x00\x85U\x01b'
    b'\x87Rq\x06(K\x01K\x01K\x02K\x02\x87cnumpy\ndtype\nq\x07U\x02f4K\x00K\x01\x87Rq\x08(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89U\x10\x00\x00\x00\x00\x00\x00\x80?\x00\x00\x00@\x00'
    b'\x00@@tbU\x04BPSKq\tcnumpy.core.multiarray\nscalar\nq\nh\x07U\x02i8K\x00K\x01\x87Rq\x0b(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00'
    b'tbU\x08\xfc\xff\xff\xff\xff\xff\xff\xff\x86Rq\x0c\x86h\x04h\x05K\x00\x85U\x01b\x87Rq\r(K\x01K\x01K\x02K\x02\x87h\x08\x89U\x10\x00\x00\x00?\x00\x00\xc0\xbf\x00\x00\x7fCo\x12\x83:tbu.'
)
PY2_CPICKLE_VALUES = {
    ("QPSK", 2): np.arange(4, dtype=np.float32).reshape(1, 2, 2),
    ("BPSK", -4): np.array([[[0.5, -1.5], [255.0, 1e-3]]], np.float32),
}


def make_python2(root: str | Path) -> Path:
    """``py2.pkl``: :data:`PY2_CPICKLE` (a pickle exactly as Python 2's cPickle wrote it)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "py2.pkl"
    path.write_bytes(PY2_CPICKLE)
    return path


class _Payload:
    """Unpickling this calls ``os.system("touch <sentinel>")``."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch '{self.sentinel}'",))


def make_malicious(root: str | Path, sentinel: str | Path) -> Path:
    """``evil.pkl``: a RadioML-looking dict whose second value runs ``os.system`` when unpickled (``sentinel``
    appears if it ever does)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    data = {("QPSK", 0): np.zeros((1, 2, 128), np.float32), ("BPSK", 0): _Payload(Path(sentinel))}
    path = root / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=2)
    return path


def make(root: str | Path) -> dict[str, Path]:
    """Every fixture in ``root``: ``{"radioml2016", "rml22", "radioml2018", "malicious"}`` -> path (the malicious
    pickle's sentinel is ``root/SENTINEL``)."""
    root = Path(root)
    return {"radioml2016": make_2016(root), "rml22": make_rml22(root), "radioml2018": make_2018(root),
            "malicious": make_malicious(root, root / "SENTINEL")}


if __name__ == "__main__":
    print(make(sys.argv[1] if len(sys.argv) > 1 else "radioml_tiny"))
