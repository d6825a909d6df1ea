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


# --- the built-in sets of the registry (wfm.data.synthetic.tr38901) -----------------------------------------------
def test_builtin_sets_cut_any_range_from_fixed_blocks_and_cycle_the_cdl_models(monkeypatch):
    from wfm.data import synthetic
    from wfm.data.synthetic import tr38901

    calls = []
    real = sionna_source.generate

    def spy(scenario, task, samples, seed, **kw):
        calls.append((scenario, seed))
        return real(scenario, task, samples, seed, **kw)

    monkeypatch.setattr(sionna_source, "generate", spy)
    b = tr38901.BLOCK
    x, _ = synthetic.generate("sionna_cdl", b - 2, 2 * b + 1, seed=5)  # touches blocks 0, 1 and 2
    assert x.shape == (b + 3, 2, 16, 64)
    assert [s for s, _ in calls] == ["CDL-A", "CDL-B", "CDL-C"] and len({s for _, s in calls}) == 3
    # a sample is the same whichever range it is cut from: block 1 alone gives rows 2 .. b + 1 of the above
    one, _ = synthetic.generate("sionna_cdl", b, 2 * b, seed=5)
    np.testing.assert_array_equal(one, x[2:b + 2])
    assert calls[-1] == calls[1]


def test_heldout_tasks_differ_from_the_pretraining_sets_in_scenario_carrier_and_array(tmp_path):
    from wfm.data import synthetic
    from wfm.data.datasets.builtin import build_builtin

    pre = [synthetic.BUILTIN[n].options for n in ("sionna_umi", "sionna_rma", "sionna_cdl")]
    for task in ("sionna_uma_los", "sionna_uma_position", "sionna_uma_beam"):
        spec = synthetic.BUILTIN[task]
        assert spec.downstream and spec.complex_pairs == ((0, 1),)
        for o in pre:
            assert spec.options["scenario"] not in ((o["scenario"],) if isinstance(o["scenario"], str)
                                                    else o["scenario"])
            assert spec.options["carrier"] != o["carrier"] and spec.options["bs_antennas"] != o["bs_antennas"]
    assert synthetic.describe("sionna_uma_beam", beams=8).class_names["beam"] == tuple(f"beam{k}" for k in range(8))
    assert synthetic.describe("sionna_uma_los", bs_antennas=8).raw_shape == (8, 64)
    # the recorded supervised references hold at the calibrated link only (the probe's `gap closed` column)
    assert synthetic.describe("sionna_uma_los").supervised == {"los": 75.7}
    assert synthetic.describe("sionna_uma_beam", beams=8).supervised == {}
    assert synthetic.describe("sionna_uma_position", carrier=3.5e9).supervised == {}
    path = build_builtin("sionna_uma_los", 12, seed=0, size=16, root=tmp_path)
    meta = read_attrs(path)
    assert meta["shape"] == (2, 16, 16) and meta["complex_pairs"] == [(0, 1)] and list(meta["labels"]) == ["los"]
    dm = DownstreamDataModule(dataset="sionna_uma_los", n=12, size=16, batch_size=4, cache_dir=str(tmp_path))
    dm.setup()
    assert dm.task.target == "los" and dm.task.num_classes == 2


def test_a_builtin_sionna_set_without_the_extra_fails_naming_the_set(monkeypatch):
    from wfm.data import synthetic

    def missing():
        raise ImportError("wfm-generate sionna needs the optional extra: pip install -e \".[sionna]\"")

    monkeypatch.setattr(sionna_source, "_sionna", missing)
    with pytest.raises(ImportError, match=r"built-in dataset 'sionna_umi' is made with Sionna: .*\[sionna\]"):
        synthetic.generate("sionna_umi", 0, 4)
