"""The HDF5 reader checks the type of everything it reads from a file: a ``labels`` attribute that is a JSON list,
``inputs`` stored as a group, an attribute of the wrong type... each is one ValueError naming the file and what was
expected, raised where the file is opened, and it reaches the user as itself: ``ProbeSuite`` used to report such a
file as "tasks[0] (DownstreamDataModule) is not a downstream DataModule" (``hasattr`` on the ``task`` property
swallowed the AttributeError the reader raised), or a traceback followed.

Sequence files (``wfm.data.sequence.load_sequence``) are checked the same way."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from wfm.data.datamodules import DownstreamDataModule
from wfm.data.datamodules.probe_suite import ProbeSuite
from wfm.data.hdf5 import label_meta, read_attrs, write_h5
from wfm.data.sequence import load_sequence, write_sequence_file


def _good(path: Path) -> Path:
    write_h5(path, np.random.default_rng(0).random((10, 1, 8, 8)).astype("f4"), {"label": np.arange(10) % 2},
             {"source": "t", "modality": "spectrogram", "preprocessing": {},
              "labels": label_meta({"label": "classification"}, {"label": ["a", "b"]})})
    return path


def _attr(key: str, value) -> Callable[[h5py.File], None]:
    return lambda f: f.attrs.__setitem__(key, value)


def _inputs_group(f: h5py.File) -> None:
    del f["inputs"]
    f.create_group("inputs").create_dataset("x", data=np.zeros(3))


def _label_group(f: h5py.File) -> None:
    del f["label"]
    f.create_group("label")


def _inputs_int16(f: h5py.File) -> None:
    x = (f["inputs"][:] * 100).astype(np.int16)
    del f["inputs"]
    f["inputs"] = x


def _label_scalar(f: h5py.File) -> None:
    del f["label"]
    f["label"] = 3


CASES = {
    "labels_a_list": (_attr("labels", json.dumps(["label"])),
                      "attribute 'labels' is a JSON list, expected an object {label key: {\"kind\": ...}}"),
    "labels_an_array": (_attr("labels", np.arange(3)),
                        "attribute 'labels' is an array of int64 (3,), expected JSON text of an object"),
    "labels_not_json": (_attr("labels", "{label: classification"), "attribute 'labels' is not valid JSON"),
    "label_entry_a_string": (_attr("labels", json.dumps({"label": "classification"})),
                             "label 'label' in the 'labels' attribute is a str, expected an object {\"kind\": ..."),
    "num_classes_a_string": (_attr("labels", json.dumps({"label": {"kind": "classification", "num_classes": "2"}})),
                             "label 'label' in the 'labels' attribute: num_classes is a str, expected an integer"),
    "num_classes_missing": (_attr("labels", json.dumps({"label": {"kind": "classification"}})),
                            "label 'label' in the 'labels' attribute: num_classes is None, expected an integer >= 2"),
    "class_names_a_string": (_attr("labels", json.dumps({"label": {"kind": "classification", "num_classes": 2,
                                                                   "class_names": "ab"}})),
                             "label 'label' in the 'labels' attribute: class_names is a str, expected a list"),
    "class_names_too_few": (_attr("labels", json.dumps({"label": {"kind": "classification", "num_classes": 2,
                                                                  "class_names": ["a"]}})),
                            "label 'label' in the 'labels' attribute: 1 class_names for num_classes=2"),
    "kind_unknown": (_attr("labels", json.dumps({"label": {"kind": "ranking"}})), "label 'label' has kind 'ranking'"),
    "inputs_a_group": (_inputs_group, "'inputs' is a group, expected a dataset (N, C, H, W) float32"),
    "inputs_integers": (_inputs_int16, "'inputs' has dtype int16, expected floating point (float32); convert "
                                       "integer samples"),
    "label_a_group": (_label_group, "label 'label' is a group, expected a dataset of 10 rows"),
    "label_a_scalar": (_label_scalar, "label 'label' has no rows, expected N=10"),
    "mean_a_string": (_attr("mean", "zero"), "attribute 'mean' is a str, expected 1 finite number(s) (one per "
                                             "channel)"),
    "format_version_a_string": (_attr("format_version", "3"), "attribute 'format_version' is '3', expected an "
                                                              "integer >= 1"),
    "format_version_a_fraction": (_attr("format_version", 2.5), "attribute 'format_version' is 2.5, expected an "
                                                                "integer >= 1"),
    "source_a_number": (_attr("source", 5), "attribute 'source' is an int, expected a text"),
    "preprocessing_a_list": (_attr("preprocessing", "[]"), "attribute 'preprocessing' is a JSON list, expected an "
                                                           "object"),
    "complex_pairs_fraction": (_attr("complex_pairs", "[[0, 0.5]]"),
                               "complex_pairs must be a list of [re, im] channel index pairs, got [[0, 0.5]]"),
    "complex_pairs_an_object": (_attr("complex_pairs", "{}"), "attribute 'complex_pairs' is a JSON object, expected "
                                                              "a list"),
}


def _refused_in_one_line(path: Path, edit: Callable[[h5py.File], None], read: Callable[[Path], object],
                         message: str) -> None:
    """``edit`` the valid file at ``path``, then ``read`` it: one ValueError line that starts with the file."""
    with h5py.File(path, "r+") as f:
        edit(f)
    with pytest.raises(ValueError) as exc:
        read(path)
    text = str(exc.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text, text


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_mistyped_file_is_one_line_naming_the_file(tmp_path, case):
    edit, message = CASES[case]
    _refused_in_one_line(_good(tmp_path / f"{case}.h5"), edit, read_attrs, message)


@pytest.mark.parametrize("case", ["labels_a_list", "inputs_a_group", "label_entry_a_string"])
def test_probe_suite_reports_the_file_not_a_missing_contract(tmp_path, case):
    edit, message = CASES[case]
    path = _good(tmp_path / "bad.h5")
    with h5py.File(path, "r+") as f:
        edit(f)
    with pytest.raises(ValueError, match="bad.h5: ") as exc:
        ProbeSuite(dataset=str(path), size=8)
    assert message in str(exc.value) and "not a downstream DataModule" not in str(exc.value)
    with pytest.raises(ValueError, match="bad.h5: "):
        ProbeSuite(tasks=[DownstreamDataModule(str(path), size=8)])


def test_probe_suite_still_names_a_missing_contract():
    class NotATask:
        task = None

    with pytest.raises(TypeError, match=r"tasks\[0\] \(NotATask\) is not a downstream DataModule: it lacks "
                                        r"\['probe_dataloader', 'split_indices'\]"):
        ProbeSuite(tasks=[NotATask()])


def _sequence(path: Path) -> Path:
    rng = np.random.default_rng(0)
    n, t = 6, 4
    return write_sequence_file(
        path, {"gps": rng.normal(size=(n, t, 2)).astype(np.float32)}, {"beam": rng.integers(0, 8, (n, t))},
        {"sequence": np.arange(n) % 2, "start": np.arange(n), "block": np.arange(n) % 2},
        history=2, num_beams=8, frame_rate_hz=10.0, source="t", preprocessing={})


def _index_float(f: h5py.File) -> None:
    del f["index/start"]
    f["index/start"] = np.arange(6) + 0.5


SEQUENCE_CASES = {
    "modalities_a_string": (_attr("modalities", json.dumps("gps")),
                            "attribute 'modalities' is a JSON string, expected a list of modality names"),
    "modalities_unknown": (_attr("modalities", json.dumps(["sonar"])),
                           "attribute 'modalities' is ['sonar'], expected distinct names from"),
    "labels_a_list": (_attr("labels", json.dumps(["beam"])), "attribute 'labels' is a JSON list, expected an object"),
    "stats_wrong_shape": (_attr("stats", json.dumps({"gps": {"mean": 0, "std": [1]}})),
                          "attribute 'stats' has {'mean': 0, 'std': [1]} for modality 'gps', expected"),
    "frames_a_string": (_attr("frames", "4"), "attribute 'frames' is '4', expected an integer >= 1"),
    "history_not_below_frames": (_attr("history", 4), "attribute 'history' is 4, expected fewer than the 4 frames"),
    "frame_rate_zero": (_attr("frame_rate_hz", 0.0), "attribute 'frame_rate_hz' is 0.0, expected a finite number > 0"),
    "format_version_an_array": (_attr("format_version", np.arange(2)), "attribute 'format_version' is array([0, 1]), "
                                                                       "expected an integer >= 1"),
    "index_of_floats": (_index_float, "index/start has dtype float64, expected integers"),
}


@pytest.mark.parametrize("case", sorted(SEQUENCE_CASES))
def test_a_mistyped_sequence_file_is_one_line_naming_the_file(tmp_path, case):
    edit, message = SEQUENCE_CASES[case]
    _refused_in_one_line(_sequence(tmp_path / f"{case}.h5"), edit, load_sequence, message)
