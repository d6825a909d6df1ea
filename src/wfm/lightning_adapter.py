"""Every use of Lightning's internals in wfm, in one place. Written against Lightning 2.6 (2.6.6).

Lightning has no public API for these things; each function or hook below says what it reads. When
Lightning changes one of them, this is the file to update (``tests/test_lightning_adapter.py`` checks that
every attribute read here still exists on the installed Lightning).
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import LightningCLI

#: the Lightning release this adapter was written against
WRITTEN_AGAINST = "2.6.6"


def should_update_logs(trainer: Trainer) -> bool:
    """Whether this training step is one whose logged values get written (``log_every_n_steps``).

    Reads ``trainer._logger_connector.should_update_logs``; a Lightning without it falls back to the step
    count, which differs only in edge cases (the last step before ``should_stop``).
    """
    connector = getattr(trainer, "_logger_connector", None)
    if connector is not None and hasattr(connector, "should_update_logs"):
        return bool(connector.should_update_logs)
    return (trainer.global_step + 1) % max(int(trainer.log_every_n_steps), 1) == 0


def uses_distributed_sampler(trainer: Trainer) -> bool:
    """Whether the trainer will replace a DataLoader's sampler by a ``DistributedSampler``
    (``Trainer(use_distributed_sampler=...)``, kept on ``trainer._accelerator_connector``)."""
    connector = getattr(trainer, "_accelerator_connector", None)
    return bool(getattr(connector, "use_distributed_sampler", False))


def attached_trainer(module: LightningModule) -> Trainer | None:
    """The trainer a module is attached to, or None outside a run (``module.trainer`` raises then; Lightning
    keeps the reference in ``module._trainer``)."""
    return getattr(module, "_trainer", None)


def epoch_batches_done(trainer: Trainer) -> int:
    """Training batches processed so far in the current epoch (what a resumable loader skips on resume):
    ``trainer.fit_loop.epoch_loop.batch_progress.current.processed``."""
    return int(trainer.fit_loop.epoch_loop.batch_progress.current.processed)


class AdaptedCLI(LightningCLI):
    """LightningCLI with three public-named hooks on its private steps.

    - :meth:`check_checkpoint` runs before ``LightningCLI._parse_ckpt_path`` merges a ``--ckpt_path``
      checkpoint's hyperparameters into the config (so the configured model class can still be compared);
    - :meth:`after_checkpoint_hyperparameters` runs right after that merge, with the config as it was before
      (Lightning lets the checkpoint's values replace everything, explicit command-line flags too);
    - :meth:`extra_callbacks` adds callbacks that depend on the trainer config, in
      ``LightningCLI._instantiate_trainer``.

    ``command_line`` is the argument list this CLI parsed (``args``, else ``sys.argv[1:]``; None when the
    arguments were given as a dict).
    """

    command_line: list[str] | None = None

    def parse_arguments(self, parser: Any, args: Any) -> None:
        if args is None:
            import sys

            self.command_line = list(sys.argv[1:])
        elif isinstance(args, (list, tuple)):
            self.command_line = [str(a) for a in args]
        super().parse_arguments(parser, args)

    def check_checkpoint(self) -> None:
        """Validate the parsed config against its ``ckpt_path`` before Lightning restores hyperparameters."""

    def after_checkpoint_hyperparameters(self, before: Any) -> None:
        """Adjust the config after Lightning merged the checkpoint's hyperparameters; ``before``: a copy of the
        config as it was parsed."""

    def extra_callbacks(self, trainer_config: dict[str, Any]) -> list[Callback]:
        """Callbacks to add to the trainer built from ``trainer_config``."""
        return []

    def _parse_ckpt_path(self) -> None:
        self.check_checkpoint()
        before = self.config.clone()
        super()._parse_ckpt_path()
        self.after_checkpoint_hyperparameters(before)

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> Trainer:
        return super()._instantiate_trainer(config, [*callbacks, *self.extra_callbacks(config)])
