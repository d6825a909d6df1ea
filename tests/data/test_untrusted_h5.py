"""Files that are not what they claim: data living outside the file, rows claimed but never stored, values the
format has no reading for. Each is refused with one line naming the file and the object, before any is read."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from wfm.data.datasets.h5 import H5Dataset
from wfm.data.hdf5 import label_meta, read_attrs, write_dataset_file


def _good(tmp_path, n: int = 8):
    x = np.random.default_rng(0).normal(size=(n, 1, 4, 4)).astype(np.float32)
    return write_dataset_file(tmp_path, "good", x, {"label": np.arange(n) % 2},
                              label_meta({"label": "classification"}, {"label": ["a", "b"]}),
                              source="test", modality="spectrogram", preprocessing={})


def _replace_inputs(path, make) -> None:
    with h5py.File(path, "r+") as f:
        del f["inputs"]
        make(f)


@pytest.mark.fault(what=('an HDF5 file whose `inputs` use external storage (`create_dataset(..., external=[(any '
                         'local file, ...)])`)'),
                   survives=("refused when the file is opened, naming the object: `<file>: dataset '/inputs' uses "
                             'external storage ...`; the outside file is never read'))
def test_external_storage_is_refused_and_the_outside_file_never_read(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(128, dtype=np.float32).tobytes())
    path = _good(tmp_path)
    _replace_inputs(path, lambda f: f.create_dataset("inputs", shape=(8, 1, 4, 4), dtype="f4",
                                                     external=[(str(secret), 0, h5py.h5f.UNLIMITED)]))
    with pytest.raises(ValueError, match=r"good.h5: dataset '/inputs' uses external storage"):
        read_attrs(path)
    with pytest.raises(ValueError, match="external storage"):
        H5Dataset(path)


@pytest.mark.fault(what='an HDF5 file whose `inputs` is an `ExternalLink` to another file',
                   survives="refused naming the link (`'/inputs' is a ExternalLink`); the link is not followed")
def test_an_external_link_is_refused_without_following_it(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["inputs"] = np.zeros((8, 1, 4, 4), np.float32)
    path = _good(tmp_path)
    _replace_inputs(path, lambda f: f.__setitem__("inputs", h5py.ExternalLink(str(other), "inputs")))
    with pytest.raises(ValueError, match=r"'/inputs' is a ExternalLink"):
        read_attrs(path)


@pytest.mark.fault(what='an HDF5 file whose `inputs` is a virtual dataset over another file',
                   survives='refused (`... virtual dataset ...`); no byte of the other file is read')
def test_a_virtual_dataset_is_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros((8, 1, 4, 4), np.float32)
    layout = h5py.VirtualLayout(shape=(8, 1, 4, 4), dtype="f4")
    layout[:] = h5py.VirtualSource(str(other), "x", shape=(8, 1, 4, 4))
    path = _good(tmp_path)
    _replace_inputs(path, lambda f: f.create_virtual_dataset("inputs", layout))
    with pytest.raises(ValueError, match="virtual dataset"):
        read_attrs(path)


@pytest.mark.fault(what='a 2 KB file whose chunked `inputs` claims N = 10⁹ samples',
                   survives=('refused before any sample is read: `<file>: inputs claims shape (1000000000, 1, 4, '
                             '4) but stores 0 of its ... chunks`'))
def test_rows_claimed_but_never_stored_are_refused(tmp_path):
    path = _good(tmp_path)
    # a 2 KB file whose chunked inputs claim 10^9 samples (unallocated chunks read as fill values)
    _replace_inputs(path, lambda f: f.create_dataset("inputs", shape=(10 ** 9, 1, 4, 4), dtype="f4",
                                                     chunks=(1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"inputs claims shape \(1000000000, 1, 4, 4\) but stores 0 of its"):
        read_attrs(path)


@pytest.mark.fault(what='complex `inputs`',
                   survives='refused (`inputs has dtype complex64, expected real numbers`), not cast to its real part')
def test_complex_inputs_are_refused_not_cast(tmp_path):
    path = _good(tmp_path)
    _replace_inputs(path, lambda f: f.create_dataset("inputs", data=np.ones((8, 1, 4, 4), np.complex64)))
    with pytest.raises(ValueError, match="inputs has dtype complex64, expected real numbers"):
        read_attrs(path)


@pytest.mark.fault(what='a float class label such as 1.5',
                   survives=('that sample is refused (`sample 3 has label label=1.5, expected an integer in [0, '
                             '2)`), not truncated to 1; the other samples read'))
def test_a_non_integer_class_label_is_refused_not_truncated(tmp_path):
    path = _good(tmp_path)
    with h5py.File(path, "r+") as f:
        del f["label"]
        f["label"] = np.array([0, 1, 0, 1.5, 0, 1, 0, 1], np.float32)
    ds = H5Dataset(path, target="label")
    assert int(ds[2]["label"]) == 0
    with pytest.raises(ValueError, match=r"sample 3 has label label=1.5, expected an integer in \[0, 2\)"):
        ds[3]
