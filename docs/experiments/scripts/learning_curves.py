"""Learning curves: probe metric vs optimizer step (step 0 = the initial weights) of several runs, with the
random-init baselines, as one figure per task and a Markdown table.

Experiment record: docs/experiments/learning_proof.md, "Learning curves" and "Learning curves of the recipe
with SIGReg on tokens" (was tools/learning_curves.py). Run from the repository root with wfm installed:

    python docs/experiments/scripts/learning_curves.py --run JEPA=runs/cpu_proof/version_0 \\
        --run MAE=runs/cpu_proof_mae/version_0 --figures docs/figures --out docs/experiments/learning_proof.md

Reads the ``probe_history.json`` that :class:`wfm.callbacks.ProbeCallback` writes next to a run's probe table
(history of one-seed probes on a fixed sample subset, plus the random-init encoders of every init scheme
probed the same way at the start).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from wfm.doc_section import publish, script_command  # noqa: E402


def load(run_dir: Path) -> dict:
    path = run_dir / "probe_history.json" if run_dir.is_dir() else run_dir
    if not path.is_file():
        raise SystemExit(f"{path}: no probe_history.json (run with ProbeCallback(final_seeds=...))")
    return json.loads(path.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", required=True, help="NAME=RUN_DIR (repeatable)")
    ap.add_argument("--figures", type=Path, default=Path("docs/figures"))
    ap.add_argument("--out", default="-", help="Markdown file to update (section 'Learning curves'), or - to print")
    args = ap.parse_args()
    runs = {}
    for spec in args.run:
        name, _, path = spec.partition("=")
        runs[name] = load(Path(path))
    keys = sorted({k for r in runs.values() for h in r["history"] for k in h
                   if k.startswith("probe/") and k != "probe/seconds"})
    baselines: dict[str, dict[str, float]] = {}
    for r in runs.values():  # same encoder config -> same random rows; the first run's are drawn
        for row, values in r["baselines"].items():
            baselines.setdefault(row, values)
    args.figures.mkdir(parents=True, exist_ok=True)
    lines = []
    for key in keys:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        for i, (name, r) in enumerate(runs.items()):
            pts = sorted((h["step"], h[key]) for h in r["history"] if key in h)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=f"C{i}", label=name)
        for j, (row, values) in enumerate(baselines.items()):
            if key in values:
                ax.axhline(values[key], linestyle="--", color=f"C{len(runs) + j}", label=row)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        png = args.figures / f"learning_{key.replace('/', '_')}.png"
        fig.savefig(png, dpi=120, bbox_inches="tight")
        plt.close(fig)
        steps = sorted({h["step"] for r in runs.values() for h in r["history"] if key in h})
        lines += [f"**{key}** ({'higher' if key.endswith('/acc') else 'lower'} is better; figure `{png}`)", "",
                  "| step | " + " | ".join(runs) + " | " + " | ".join(baselines) + " |",
                  "|---|" + "---|" * (len(runs) + len(baselines))]
        for step in steps:
            cells = []
            for r in runs.values():
                v = [h[key] for h in r["history"] if h["step"] == step and key in h]
                cells.append(f"{v[0]:.2f}" if v else "—")
            base = [f"{b[key]:.2f}" if key in b and step == 0 else "" for b in baselines.values()]
            lines.append(f"| {int(step)} | " + " | ".join(cells) + " | " + " | ".join(base) + " |")
        lines.append("")
    publish(lines, args.out, "Learning curves", script_command())


if __name__ == "__main__":
    main()
