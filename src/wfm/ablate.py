"""Masking ablation runner: the paper's Table III (strategy x number of targets M, plus random masking).

For every grid point it runs ``wfm fit`` with the masking overrides, then ``wfm test`` with the linear-probe
config on the last checkpoint, collects each run's ``probe_results.csv`` and writes a Markdown table with
one row per task and one column per (strategy, M)::

    wfm-ablate --config configs/jepa_region.yaml --probe-config configs/probe/all.yaml --out runs/ablation

``--dry-run`` prints the commands; ``--collect-only`` rebuilds the table from finished runs. The override
keys are arguments because the config layout is owned by the methods (defaults below).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from wfm.eval.tables import atomic_write_text, read_results_csv
from wfm.views import class_path

STRATEGY_KEY = "model.init_args.masking"  # takes a geometry's class_path (wfm.views.class_path)
TARGETS_KEY = "model.init_args.masking.init_args.num_targets"
BACKBONE_KEY = "model.init_args.backbone"
OUTPUT_KEY = "model.init_args.output_dir"
RANDOM = "random"
# Run key: (strategy, M) with M None for the random-masking baseline.
RunKey = tuple[str, int | None]
# Cell: "<task>/<metric>" -> (mean, std).
Cells = Mapping[str, tuple[float, float]]


def grid(strategies: Sequence[str], targets: Sequence[int], include_random: bool) -> list[RunKey]:
    runs: list[RunKey] = [(s, int(m)) for s in strategies for m in targets]
    if include_random:
        runs.append((RANDOM, None))
    return runs


def run_name(key: RunKey) -> str:
    return key[0] if key[1] is None else f"{key[0]}_M{key[1]}"


def fit_command(
    wfm: str,
    config: str,
    key: RunKey,
    run_dir: Path,
    strategy_key: str,
    targets_key: str,
    extra: Sequence[str],
    values: Mapping[str, str] | None = None,
) -> list[str]:
    """The ``wfm fit`` command of one grid point; ``values`` maps a strategy name to what ``strategy_key`` is
    set to (``main`` passes each geometry's class_path), else the name itself."""
    cmd = [
        wfm,
        "fit",
        "--config",
        config,
        f"--{strategy_key}={(values or {}).get(key[0], key[0])}",
        f"--trainer.default_root_dir={run_dir}",
    ]
    if key[1] is not None:
        cmd.append(f"--{targets_key}={key[1]}")
    return cmd + logger_dir_override(config, run_dir) + list(extra)


def logger_dir_override(config: str, run_dir: Path) -> list[str]:
    """Point the base config's logger (and so its checkpoints) into ``run_dir``.

    Lightning puts checkpoints under the logger's directory; a recipe whose logger has a fixed ``save_dir``
    (``runs``) would put every grid point into the same tree. Returns the override, or nothing when the config
    has no logger with a ``save_dir`` (then ``--trainer.default_root_dir`` already decides).
    """
    if not Path(config).is_file():
        return []  # `wfm fit` reports the missing config itself
    with open(config) as fh:
        cfg = yaml.safe_load(fh) or {}
    logger = (cfg.get("trainer") or {}).get("logger")
    if isinstance(logger, dict) and "save_dir" in (logger.get("init_args") or {}):
        return [f"--trainer.logger.init_args.save_dir={run_dir}"]
    return []


def test_command(
    wfm: str,
    probe_config: str,
    ckpt: Path,
    run_dir: Path,
    backbone_key: str,
    output_key: str,
    extra: Sequence[str],
) -> list[str]:
    return [
        wfm,
        "test",
        "--config",
        probe_config,
        f"--{backbone_key}={ckpt}",
        f"--{output_key}={run_dir}",
        f"--trainer.default_root_dir={run_dir}",
        *extra,
    ]


def find_checkpoint(run_dir: Path) -> Path:
    """``last.ckpt`` if the run saved one, else the newest ``.ckpt`` under the run directory."""
    ckpts = sorted(run_dir.rglob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not ckpts:
        raise FileNotFoundError(f"no checkpoint under {run_dir}; did `wfm fit` finish?")
    last = [p for p in ckpts if p.name == "last.ckpt"]
    return (last or ckpts)[-1]


def _fmt(mean: float, std: float, metric_key: str) -> str:
    d = 1 if metric_key.endswith("/acc") else 2
    return f"{mean:.{d}f} ± {std:.{d}f}"


def assemble_table(results: Mapping[RunKey, Cells], runs: Sequence[RunKey] | None = None) -> str:
    """Table III in Markdown: rows = ``<task>/<metric>`` (with its arrow), columns = runs in ``runs`` order.

    Missing runs or tasks show ``—``; within each row the best mean is bold (max for accuracy, min for error).
    """
    runs = list(runs) if runs is not None else list(results)
    metrics: list[str] = []
    for key in runs:
        for m in results.get(key, {}):
            if m not in metrics:
                metrics.append(m)
    header = ["task"] + [key[0] if key[1] is None else f"{key[0]} M={key[1]}" for key in runs]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * len(runs)) + "|"]
    for m in metrics:
        higher = m.endswith("/acc")
        values = [results.get(k, {}).get(m) for k in runs]
        present = [v[0] for v in values if v is not None]
        best = (max(present) if higher else min(present)) if present else None
        cells = []
        for v in values:
            if v is None:
                cells.append("—")
                continue
            text = _fmt(v[0], v[1], m)
            cells.append(f"**{text}**" if v[0] == best else text)
        label = f"{m} {'↑' if higher else '↓'}"
        lines.append("| " + " | ".join([label] + cells) + " |")
    return "\n".join(lines) + "\n"


def collect(out: Path, runs: Sequence[RunKey]) -> dict[RunKey, Cells]:
    """Read the backbone row (the first row) of every finished run's ``probe_results.csv``; a missing one is a
    warning (its cells stay empty) when some other run has results, a malformed one an error naming it."""
    results: dict[RunKey, Cells] = {}
    missing = []
    for key in runs:
        path = out / run_name(key) / "probe_results.csv"
        if not path.is_file():
            missing.append(path)
            continue
        rows = read_results_csv(path)  # a malformed table is a ValueError naming the file
        first = next(iter(rows.values()), None)  # row 0 is the checkpoint, later rows e.g. random-init
        if first is not None:
            results[key] = first
    if results:
        for path in missing:
            print(f"warning: {path} missing; the cell stays empty", file=sys.stderr)
    return results


def _count(text: str) -> int:
    """A number of mask targets M: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1 (targets per mask), got {text!r}")
    return value


def _run(cmd: list[str], what: str) -> None:
    """Run one grid point's command, its stderr passed through; a failure is one line naming the grid point,
    with the command's own error line (``wfm: error: ...``) folded into it instead of printed twice."""
    try:
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, errors="replace")
    except OSError as err:
        raise RuntimeError(f"{what}: cannot run {cmd[0]!r} ({err.strerror or err}); set --wfm to the wfm "
                           "executable") from None
    said = ""
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("wfm: error: "):
            said = line.strip().removeprefix("wfm: error: ").removesuffix("(--debug shows the traceback)").strip()
        else:
            sys.stderr.write(line)
    if proc.wait() != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {said or shlex.join(cmd)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="wfm-ablate", description="masking ablation (Table III)")
    p.add_argument("--config", required=False, help="base `wfm fit` config (a JEPA recipe)")
    p.add_argument("--probe-config", required=False, help="`wfm test` config with the LinearProbeEvaluator")
    p.add_argument("--out", default="runs/ablation", help="one sub-directory per run")
    p.add_argument("--strategies", nargs="+", default=["region", "frequency", "time"])
    p.add_argument("--targets", nargs="+", type=_count, default=[2, 3, 4, 5, 6])
    p.add_argument("--no-random", action="store_true", help="skip the random-masking baseline")
    p.add_argument("--strategy-key", default=STRATEGY_KEY)
    p.add_argument("--targets-key", default=TARGETS_KEY)
    p.add_argument("--backbone-key", default=BACKBONE_KEY)
    p.add_argument("--output-key", default=OUTPUT_KEY)
    p.add_argument("--wfm", default="wfm", help="the wfm executable")
    p.add_argument("--fit-args", default="", help="extra `wfm fit` arguments (one shell-quoted string)")
    p.add_argument("--test-args", default="", help="extra `wfm test` arguments (one shell-quoted string)")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--collect-only", action="store_true")
    args = p.parse_args(argv)

    for opt in ("fit_args", "test_args"):
        try:
            setattr(args, opt.replace("_args", "_list"), shlex.split(getattr(args, opt)))
        except ValueError as err:
            p.error(f"--{opt.replace('_', '-')} {getattr(args, opt)!r}: {err} (one shell-quoted string)")
    out = Path(args.out)
    if args.strategy_key == STRATEGY_KEY:  # the standard geometries by name: an unknown one before any run
        for name in args.strategies:
            try:
                class_path(name)
            except ValueError as err:
                p.error(f"--strategies: {err}")
    runs = grid(args.strategies, args.targets, not args.no_random)
    if not args.collect_only:
        if not args.config or not args.probe_config:
            p.error("--config and --probe-config are required unless --collect-only")
        for opt, path in (("--config", args.config), ("--probe-config", args.probe_config)):
            if not Path(path).is_file():
                p.error(f"{opt} {path}: no such file")
        try:
            _grid(args, runs, out)
        except (RuntimeError, FileNotFoundError) as err:
            print(f"wfm-ablate: error: {err}; finished grid points are kept (--collect-only tables them)",
                  file=sys.stderr)
            return 1
        if args.dry_run:
            return 0
    try:
        results = collect(out, runs)
    except ValueError as err:
        print(f"wfm-ablate: error: {err}", file=sys.stderr)
        return 1
    if not results:
        print(f"wfm-ablate: error: {out}: no grid point has results (looked for {out}/<run>/probe_results.csv, "
              f"<run> one of {run_name(runs[0])}, ...); run the grid first (without --collect-only)",
              file=sys.stderr)
        return 1
    table = assemble_table(results, runs)
    path = atomic_write_text(out / "ablation_masking.md", table)
    print(table)
    print(f"wrote {path}")
    return 0


def _grid(args: argparse.Namespace, runs: Sequence[RunKey], out: Path) -> None:
    """``wfm fit`` then ``wfm test`` of every grid point (``--dry-run``: print them)."""
    for key in runs:
        run_dir = out / run_name(key)
        fit = fit_command(
            args.wfm,
            args.config,
            key,
            run_dir,
            args.strategy_key,
            args.targets_key,
            args.fit_list,
            values={key[0]: class_path(key[0])} if args.strategy_key == STRATEGY_KEY else None,
        )
        if args.dry_run:
            print(shlex.join(fit))
            print(
                shlex.join(
                    test_command(
                        args.wfm,
                        args.probe_config,
                        run_dir / "<ckpt>",
                        run_dir,
                        args.backbone_key,
                        args.output_key,
                        args.test_list,
                    )
                )
            )
            continue
        run_dir.mkdir(parents=True, exist_ok=True)
        _run(fit, f"{run_name(key)}: `wfm fit`")
        test = test_command(
            args.wfm,
            args.probe_config,
            find_checkpoint(run_dir),
            run_dir,
            args.backbone_key,
            args.output_key,
            args.test_list,
        )
        _run(test, f"{run_name(key)}: `wfm test`")


if __name__ == "__main__":
    sys.exit(main())
