"""``TextProgress``: plain-text progress lines for runs whose output is not a terminal (nohup, Slurm logs).

The Rich bar redraws one line in place and prints nothing useful into a log file; this bar prints a line every
``every_n_steps`` optimizer steps and at the end of every training epoch::

    epoch 2/6  step 140/270 (52%)  loss 0.1432  61.3 samples/s (now 64.0)  elapsed 2m17s  ETA 2m07s

The first rate is the average since training started (warm-up and compilation included); "now" is the rate
since the previous line, the steady-state throughput.

Rank 0 only, flushed at once. The ``wfm`` command uses it whenever stdout is not a TTY.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ProgressBar


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class TextProgress(ProgressBar):
    """Progress as plain lines (see the module docstring).

    Args:
        every_n_steps: print every this many optimizer steps (and at every epoch end); None: the trainer's
            ``log_every_n_steps``.
    """

    def __init__(self, every_n_steps: int | None = None) -> None:
        super().__init__()
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self._enabled = True
        self._start = 0.0
        self._start_step = 0
        self._samples = 0
        self._last_printed = -1
        self._mark = (0.0, 0)  # (time, samples) at the previous line
        self._rate_now = 0.0

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _emit(self, trainer: Trainer, text: str) -> None:
        if self._enabled and trainer.is_global_zero:
            print(text, file=sys.stdout, flush=True)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start = time.perf_counter()
        self._start_step = trainer.global_step
        self._samples = 0
        self._mark = (self._start, 0)
        self._rate_now = 0.0
        total = trainer.estimated_stepping_batches
        self._emit(trainer, f"training: {trainer.max_epochs} epoch(s), {total} optimizer steps "
                            f"(starting at step {trainer.global_step})")

    def _line(self, trainer: Trainer) -> str:
        step, total = trainer.global_step, max(int(trainer.estimated_stepping_batches), 1)
        now = time.perf_counter()
        elapsed = now - self._start
        done = step - self._start_step
        rate = self._samples / elapsed if elapsed > 0 else 0.0
        if self._samples > self._mark[1]:  # an epoch-end line right after a step line keeps that line's rate
            self._rate_now = (self._samples - self._mark[1]) / max(now - self._mark[0], 1e-9)
            self._mark = (now, self._samples)
        rate_now = self._rate_now
        eta = elapsed / done * (total - step) if done > 0 else float("nan")
        metrics = self.get_metrics(trainer, trainer.lightning_module)
        loss = metrics.get("train/loss_step", metrics.get("train/loss", metrics.get("loss")))
        loss_txt = f"  loss {float(loss):.4f}" if loss is not None else ""
        eta_txt = _duration(eta) if eta == eta else "?"
        return (f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}  step {step}/{total} "
                f"({100 * step / total:.0f}%){loss_txt}  {rate:.1f} samples/s (now {rate_now:.1f})  "
                f"elapsed {_duration(elapsed)}  ETA {eta_txt}")

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        x = batch.get("x") if isinstance(batch, dict) else None
        if x is None and isinstance(batch, dict) and isinstance(batch.get("inputs"), dict):  # sequence windows
            x = next(iter(batch["inputs"].values()), None)
        self._samples += int(x.shape[0]) if x is not None else 0
        step = trainer.global_step
        every = self.every_n_steps or max(int(trainer.log_every_n_steps), 1)
        if step != self._last_printed and step % every == 0 and step > 0:
            self._last_printed = step
            self._emit(trainer, self._line(trainer))

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._emit(trainer, self._line(trainer) + "  [epoch end]")

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        val = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/") and v.numel() == 1}
        if val:
            self._emit(trainer, "validation: " + "  ".join(f"{k} {v:.4f}" for k, v in sorted(val.items())))

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._emit(trainer, "testing ...")

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._emit(trainer, "predicting ...")
