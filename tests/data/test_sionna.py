"""``wfm-generate sionna``: TR 38.901 channels from Sionna (the optional extra) as wfm HDF5 sets."""

from __future__ import annotations

import numpy as np
import pytest

from wfm.generate import main as generate_main

pytest.importorskip("sionna.phy", reason="the optional extra: pip install -e '.[sionna]'")

from wfm.data import sionna_source  # noqa: E402
from wfm.data.datamodules import DownstreamDataModule  # noqa: E402
from wfm.data.hdf5 import read_attrs  # noqa: E402


def test_help_runs(capsys):
    with pytest.raises(SystemExit) as exc:
        generate_main(["sionna", "--help"])
    assert exc.value.code == 0 and "--scenario" in capsys.readouterr().out
    assert generate_main(["nope"]) == 2


@pytest.mark.parametrize(("scenario", "task", "key"), [("UMi", "los", "los"), ("UMa", "position", "position"),
                                                       ("RMa", "beam", "beam"), ("CDL-C", "none", None)])
def test_the_form_of_the_issue_writes_a_readable_complex_channel_set(tmp_path, capsys, scenario, task, key):
    out = tmp_path / f"{scenario}.h5"
    assert generate_main(["sionna", str(out), "--scenario", scenario, "--task", task, "--samples", "20",
                          "--batch", "12", "--seed", "0"]) == 0
    meta = read_attrs(out)
    assert meta["shape"] == (2, 16, 64) and meta["complex_pairs"] == [(0, 1)] and meta["modality"] == "csi"
    assert meta["preprocessing"]["scenario"] == scenario and meta["preprocessing"]["seed"] == 0
    assert list(meta["labels"]) == ([key] if key else [])
    if key is not None:
        dm = DownstreamDataModule(dataset=str(out), size=(16, 64), batch_size=8)
        dm.setup()
        assert dm.task.target == key


def test_deterministic_per_seed_and_labels_follow_the_channels():
    a = sionna_source.generate("UMi", "beam", 16, seed=3, batch=8, beams=8)
    b = sionna_source.generate("UMi", "beam", 16, seed=3, batch=8, beams=8)
    c = sionna_source.generate("UMi", "beam", 16, seed=4, batch=8, beams=8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1]["beam"], b[1]["beam"])
    assert not np.array_equal(a[0], c[0])
    # unit mean power per sample plus noise at an SNR of 0..20 dB: mean power between 1 + 0.01 and 1 + 1
    p = np.mean(a[0][:, 0] ** 2 + a[0][:, 1] ** 2, axis=(1, 2))
    assert np.all((p > 0.9) & (p < 2.2))
    # the beam label is the codebook beam with most power over the subcarriers, on the clean channel
    x, labels, _ = sionna_source.generate("UMi", "beam", 16, seed=3, batch=8, beams=8, snr_db=(200.0, 200.0))
    h = x[:, 0] + 1j * x[:, 1]
    w = sionna_source.dft_codebook(16, 8)
    gain = np.sum(np.abs(np.einsum("ka,nas->nks", w.conj(), h)) ** 2, axis=-1)
    assert np.array_equal(np.argmax(gain, 1), labels["beam"])


def test_los_and_positions_are_the_scenarios():
    x, labels, _ = sionna_source.generate("UMi", "position", 20, seed=0, batch=20)
    d = np.linalg.norm(labels["position"][:, :2], axis=1)
    assert labels["position"].shape == (20, 3) and np.all(d >= 10.0)  # UMi keeps users >= 10 m from the BS
    _, los, _ = sionna_source.generate("InH", "los", 20, seed=0, batch=20)
    assert set(np.unique(los["los"])) <= {0, 1}


def test_bad_requests_are_one_line_errors(tmp_path, capsys):
    assert generate_main(["sionna", str(tmp_path / "x.h5"), "--scenario", "CDL-A", "--task", "los",
                          "--samples", "4"]) == 1
    assert "CDL links have none" in capsys.readouterr().err
    assert generate_main(["sionna", str(tmp_path / "x.h5"), "--snr-db", "10", "0", "--samples", "4"]) == 1
