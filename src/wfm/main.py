"""The ``wfm`` command: plain LightningCLI in subclass mode (methods and DataModules chosen by ``class_path``).

    wfm fit  --config configs/jepa_region.yaml
    wfm test --config configs/probe/rfs.yaml --model.init_args.backbone path/to/last.ckpt
    wfm fit  --config configs/quickstart.yaml --ckpt_path last
"""

from __future__ import annotations

from lightning.pytorch.callbacks import ModelCheckpoint, RichModelSummary, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO

from wfm.checkpoint_io import AtomicCheckpointIO


class WFMCLI(LightningCLI):
    """LightningCLI with a checkpoint callback that is always there (``--ckpt_path last`` needs ``last.ckpt``)
    and checkpoints saved atomically (:class:`~wfm.checkpoint_io.AtomicCheckpointIO`)."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        # no version counter: a resumed run keeps writing the same last.ckpt even if checkpoint.* args changed
        parser.set_defaults(
            {"checkpoint.save_last": True, "checkpoint.save_top_k": 0, "checkpoint.enable_version_counter": False}
        )

    def instantiate_classes(self) -> None:
        # a bad value (patch size, pooling, masking...) is a usage error: say it in one line, exit code 2
        try:
            super().instantiate_classes()
        except ValueError as err:
            self.parser.error(_root_cause(err))
        strategy = self.trainer.strategy
        # Lightning's default IO only (a user's own --trainer.plugins CheckpointIO is kept)
        if type(strategy.checkpoint_io) is TorchCheckpointIO:
            strategy.checkpoint_io = AtomicCheckpointIO()


def _root_cause(err: BaseException) -> str:
    """jsonargparse wraps a constructor's ValueError in (nested) Union reports: keep the constructor's own words."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)


def build_cli(args: list[str] | None = None, run: bool = True) -> WFMCLI:
    """Parse ``args`` (default: the command line), build the objects and run the subcommand (``run=False``:
    build only; ``args`` then has no subcommand)."""
    return WFMCLI(
        model_class=None,
        datamodule_class=None,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        # runs write under ./runs unless a config or flag says where (never into the current directory)
        trainer_defaults={"callbacks": [RichModelSummary(), RichProgressBar()], "default_root_dir": "runs"},
        parser_kwargs={"prog": "wfm", "description": "wfm: pretrain and probe wireless foundation models"},
        args=args,
        run=run,
    )


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``wfm`` command; returns None so the process exits with status 0 on success."""
    build_cli(args)


if __name__ == "__main__":
    main()
