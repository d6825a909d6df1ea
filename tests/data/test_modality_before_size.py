"""An IQ file given to an encoder without an IQ tokenizer is refused for its modality, not its size: the size
advice ("re-convert with that size") would not help (tools/bad_inputs.py: "an IQ file to a spectrogram encoder")."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from wfm.data.datamodules import ProbeSuite
from wfm.data.datasets.h5 import SampleSizeError
from wfm.data.hdf5 import label_meta, write_dataset_file
from wfm.models.encoder import ViTEncoder

ENC = dict(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=4, channel_embed="fixed", max_channels=4)


def _file(tmp_path, name, modality, shape):
    x = np.random.default_rng(0).normal(size=(12, *shape)).astype(np.float32)
    labels = {"label": np.arange(12) % 3}
    return write_dataset_file(tmp_path, name, x, labels, label_meta({"label": "classification"},
                                                                    {"label": ["a", "b", "c"]}),
                              source="test", modality=modality, preprocessing={})


def _trainer():
    return SimpleNamespace(lightning_module=SimpleNamespace(rows=[ViTEncoder(**ENC)]))


def test_iq_file_to_an_encoder_without_iq_is_refused_for_its_modality_first(tmp_path):
    path = _file(tmp_path, "iq", "iq", (1, 2, 256))
    suite = ProbeSuite(dataset=str(path), size=112)  # built: the size error waits for the encoder's check
    suite.trainer = _trainer()
    with pytest.raises(ValueError) as err:
        suite.setup("test")
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"{path}: ") and "no IQ tokenizer" in line, line
    assert "re-convert" not in line


def test_iq_file_of_the_wrong_size_without_an_encoder_check_still_names_the_size(tmp_path):
    path = _file(tmp_path, "iq", "iq", (1, 2, 256))
    suite = ProbeSuite(dataset=str(path), size=112)
    with pytest.raises(SampleSizeError, match=r"iq.h5: samples are \(2, 256\), expected \(2, 112\); re-convert"):
        suite.setup("test")
    with pytest.raises(SampleSizeError):  # no loader reads a sample of another size
        suite.test_dataloader()


def test_image_file_of_the_wrong_size_is_refused_when_built(tmp_path):
    path = _file(tmp_path, "small", "csi", (2, 16, 16))
    with pytest.raises(SampleSizeError, match=r"small.h5: samples are \(16, 16\), expected \(112, 112\)"):
        ProbeSuite(dataset=str(path), size=112)
