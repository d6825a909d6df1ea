"""The ``wfm`` command: plain LightningCLI in subclass mode (methods and DataModules chosen by ``class_path``).

    wfm fit  --config configs/jepa_region.yaml
    wfm test --config configs/probe/rfs.yaml --model.init_args.backbone path/to/last.ckpt
    wfm fit  --config configs/quickstart.yaml --ckpt_path last
"""

from __future__ import annotations

from lightning.pytorch.callbacks import ModelCheckpoint, RichModelSummary, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI


class WFMCLI(LightningCLI):
    """LightningCLI with a checkpoint callback that is always there (``--ckpt_path last`` needs ``last.ckpt``)."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_top_k": 0})


def main(args: list[str] | None = None) -> WFMCLI:
    return WFMCLI(
        model_class=None,
        datamodule_class=None,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={"callbacks": [RichModelSummary(), RichProgressBar()]},
        parser_kwargs={"prog": "wfm", "description": "wfm: pretrain and probe wireless foundation models"},
        args=args,
    )


if __name__ == "__main__":
    main()
