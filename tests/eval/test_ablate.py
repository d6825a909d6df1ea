"""wfm.ablate (the ``wfm-ablate`` command, was tools/ablate.py): grid, commands and Table III assembly from
probe_results.csv files."""

from __future__ import annotations

import wfm.ablate as ablate
from wfm.eval.probe import ProbeResult
from wfm.eval.tables import write_results


def test_grid_and_commands(tmp_path):
    runs = ablate.grid(["region", "time"], [2, 3], include_random=True)
    assert runs == [("region", 2), ("region", 3), ("time", 2), ("time", 3), ("random", None)]
    assert [ablate.run_name(r) for r in runs[-2:]] == ["time_M3", "random"]
    cmd = ablate.fit_command(
        "wfm", "base.yaml", ("region", 4), tmp_path, "a.strategy", "a.num_targets", ["--x=1"]
    )
    assert cmd[:4] == ["wfm", "fit", "--config", "base.yaml"]
    assert "--a.strategy=region" in cmd and "--a.num_targets=4" in cmd and cmd[-1] == "--x=1"
    assert not any(
        "num_targets" in c for c in ablate.fit_command("wfm", "b", ("random", None), tmp_path, "s", "n", [])
    )


def test_fit_command_moves_a_fixed_logger_dir_into_the_run(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(
        "trainer:\n  logger:\n    class_path: lightning.pytorch.loggers.CSVLogger\n    init_args: {save_dir: runs}\n"
    )
    run_dir = tmp_path / "region_M4"
    cmd = ablate.fit_command("wfm", str(base), ("region", 4), run_dir, "s", "n", [])
    assert f"--trainer.logger.init_args.save_dir={run_dir}" in cmd
    base.write_text("trainer:\n  logger: false\n")
    assert not any("logger" in c for c in ablate.fit_command("wfm", str(base), ("region", 4), run_dir, "s", "n", []))


def test_assemble_table_exact():
    results = {
        ("region", 2): {"rfs/acc": (73.3, 0.4), "positioning/error": (3.19, 0.1)},
        ("region", 3): {"rfs/acc": (74.4, 0.5), "positioning/error": (2.3, 0.05)},
        ("random", None): {"rfs/acc": (71.2, 1.0)},
    }
    runs = [("region", 2), ("region", 3), ("frequency", 2), ("random", None)]
    assert ablate.assemble_table(results, runs) == (
        "| task | region M=2 | region M=3 | frequency M=2 | random |\n"
        "|:---|---:|---:|---:|---:|\n"
        "| rfs/acc ↑ | 73.3 ± 0.4 | **74.4 ± 0.5** | — | 71.2 ± 1.0 |\n"
        "| positioning/error ↓ | 3.19 ± 0.10 | **2.30 ± 0.05** | — | — |\n"
    )


def test_collect_reads_backbone_row(tmp_path):
    for name, acc in (("region_M2", 70.0), ("random", 60.0)):
        write_results(
            {
                "last": [ProbeResult("rfs", "acc", [acc], acc, 0.0, "%", True, [0])],
                "random-init": [ProbeResult("rfs", "acc", [10.0], 10.0, 0.0, "%", True, [0])],
            },
            tmp_path / name,
        )
    runs = [("region", 2), ("region", 3), ("random", None)]
    got = ablate.collect(tmp_path, runs)
    assert got == {("region", 2): {"rfs/acc": (70.0, 0.0)}, ("random", None): {"rfs/acc": (60.0, 0.0)}}
    assert (
        ablate.main(
            ["--out", str(tmp_path), "--collect-only", "--strategies", "region", "--targets", "2", "3"]
        )
        == 0
    )
    assert "**70.0 ± 0.0**" in (tmp_path / "ablation_masking.md").read_text(encoding="utf-8")
