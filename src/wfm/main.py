"""The ``wfm`` command: plain LightningCLI in subclass mode (methods and DataModules chosen by ``class_path``).

    wfm fit  --config configs/jepa_region.yaml
    wfm test --config configs/probe/task.yaml --data.init_args.dataset rfs --model.init_args.backbone path/to/last.ckpt
    wfm fit  --config configs/quickstart.yaml --ckpt_path last
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback, ModelCheckpoint, ProgressBar, RichModelSummary, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser
from lightning.pytorch.plugins.io import TorchCheckpointIO

from wfm.allocator import keep_freed_memory
from wfm.callbacks.text_progress import TextProgress
from wfm.checkpoint_io import AtomicCheckpointIO
from wfm.lightning_adapter import AdaptedCLI


class WFMCLI(AdaptedCLI):
    """LightningCLI with a checkpoint callback that is always there (``--ckpt_path last`` needs ``last.ckpt``)
    and checkpoints saved atomically (:class:`~wfm.checkpoint_io.AtomicCheckpointIO`)."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        # no version counter: a resumed run keeps writing the same last.ckpt even if checkpoint.* args changed
        parser.set_defaults(
            {"checkpoint.save_last": True, "checkpoint.save_top_k": 0, "checkpoint.enable_version_counter": False}
        )

    def check_checkpoint(self) -> None:
        self.resolve_last_checkpoint()
        # LightningCLI restores the model from the checkpoint's hyperparameters: a checkpoint of another method
        # would silently replace the configured one; refuse it, naming the file
        sub = self.config.get("subcommand")
        ckpt_path = self.config[sub].get("ckpt_path") if sub else None
        if ckpt_path and Path(ckpt_path).is_file():
            import torch

            try:
                hparams = torch.load(ckpt_path, weights_only=True, map_location="cpu").get("hyper_parameters", {})
            except Exception as err:  # not a readable torch checkpoint: let Lightning say so later
                raise ConfigError(f"{ckpt_path}: not a readable checkpoint ({err})") from err
            written, configured = hparams.get("_class_path"), self.config[sub].get("model", {}).get("class_path")
            # Lightning imports the written class path while it merges the hyperparameters: a name outside
            # wfm (``this.JEPA`` imports ``this``) is refused before anything is imported
            if written and written != configured and not str(written).startswith("wfm."):
                raise ConfigError(f"{ckpt_path}: its hyperparameters name the class {written!r}, outside wfm; "
                                  "refusing to import it (a wfm checkpoint names a wfm.* class)")
            if written and configured and _short(written) != _short(configured):
                raise ConfigError(f"{ckpt_path}: written by a {_short(written)} run, cannot resume a "
                                  f"{_short(configured)} run from it (to start from its encoder instead, fine-tune: "
                                  "--model.init_args.backbone)")

    def resolve_last_checkpoint(self) -> None:
        """``--ckpt_path last`` means the newest ``last.ckpt`` of this recipe's runs.

        Lightning looks for it in the checkpoint folder of the *new* run (a new ``version_<k>``), finds nothing
        and starts over (or tests an untrained model). Unless ``checkpoint.dirpath`` is fixed (then Lightning's
        own lookup is right), the newest ``<save_dir>/<name>/version_*/checkpoints/last.ckpt`` of the run's
        logger is taken, and a resumed fit keeps logging into that version; none found is a one-line error.
        """
        sub = self.config.get("subcommand")
        cfg = self.config.get(sub) if sub else None
        if cfg is None or cfg.get("ckpt_path") != "last" or (cfg.get("checkpoint") or {}).get("dirpath"):
            return
        trainer = cfg.get("trainer") or {}
        logger = trainer.get("logger")
        init = (logger.get("init_args") or {}) if hasattr(logger, "get") else {}
        root = Path(init.get("save_dir") or trainer.get("default_root_dir") or "runs")
        root = root / (init.get("name") or "lightning_logs") if hasattr(logger, "get") else root / "lightning_logs"
        found = sorted(root.glob("version_*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise ConfigError(f"--ckpt_path last: no {root}/version_*/checkpoints/last.ckpt to continue from; "
                              "give the checkpoint's path (or leave --ckpt_path out to start a new run)")
        self.config[f"{sub}.ckpt_path"] = str(found[-1])
        if sub == "fit" and hasattr(logger, "get"):  # keep writing metrics and checkpoints into that version
            self.config[f"{sub}.trainer.logger.init_args.version"] = found[-1].parent.parent.name

    def extra_callbacks(self, trainer_config: dict[str, Any]) -> list[Callback]:
        # the default progress display unless the config brings its own or turns it off: the Rich bar on a
        # terminal, plain lines when stdout is a log file (nohup, Slurm), where the Rich bar shows nothing
        given = [c for c in (trainer_config.get("callbacks") or []) if isinstance(c, ProgressBar)]
        if trainer_config.get("enable_progress_bar") is not False and not given:
            return [RichProgressBar() if sys.stdout.isatty() else TextProgress()]
        return []

    def instantiate_classes(self) -> None:
        # a bad value (patch size, pooling, a missing or corrupt file...) is a usage error: one line, exit code 2
        try:
            super().instantiate_classes()
        except (ValueError, OSError, TypeError) as err:
            raise ConfigError(user_message(err)) from err
        strategy = self.trainer.strategy
        # Lightning's default IO only (a user's own --trainer.plugins CheckpointIO is kept)
        if type(strategy.checkpoint_io) is TorchCheckpointIO:
            strategy.checkpoint_io = AtomicCheckpointIO()


def _short(class_path: str) -> str:
    """``wfm.methods.jepa.JEPA`` and ``wfm.methods.JEPA`` name the same class: compare the class names."""
    return class_path.rsplit(".", 1)[-1]


class ConfigError(Exception):
    """The config (or a file it names) cannot make the objects of the run: exit code 2."""


# jsonargparse wraps a constructor's error in reports of its own; the user needs the constructor's words
_WRAPPERS = ("Does not validate against any of the Union subtypes", "Problem with given class_path",
             "Parser key", "Import path")


def user_message(err: BaseException) -> str:
    """One line for the user: the outermost message in the exception chain that is not a jsonargparse wrapper
    (that is where wfm names the file, the sample and what it expected)."""
    chain: list[BaseException] = []
    e: BaseException | None = err
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    msg = next((str(c).strip() for c in chain if str(c).strip() and not str(c).strip().startswith(_WRAPPERS)),
               str(chain[-1]).strip() or type(chain[-1]).__name__)
    if "Original Traceback" in msg:  # re-raised from a DataLoader worker: its last line is the error
        msg = [line for line in msg.splitlines() if line.strip()][-1]
    return " ".join(msg.split())


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
        trainer_defaults={"callbacks": [RichModelSummary()], "default_root_dir": "runs"},
        parser_kwargs={"prog": "wfm", "description": "wfm: pretrain and probe wireless foundation models",
                       "exit_on_error": False},
        args=args,
        run=run,
    )


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``wfm`` command; returns None so the process exits with status 0 on success.

    An error prints one line (``wfm: error: ...``, naming the file and sample where there is one) and exits
    with status 2 (the config cannot build the run) or 1 (the run failed); ``--debug`` or ``WFM_DEBUG=1``
    shows the traceback instead.
    """
    keep_freed_memory()  # glibc keeps the step's freed activations for the next step (wfm/allocator.py)
    argv = list(sys.argv[1:] if args is None else args)
    debug = "--debug" in argv or os.environ.get("WFM_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    if args is None:
        sys.argv[1:] = argv  # without --debug, as LightningCLI reads the command line itself
    try:
        build_cli(None if args is None else argv)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:
        if debug:
            raise
        print(f"wfm: error: {user_message(err)}  (--debug shows the traceback)", file=sys.stderr)
        usage = isinstance(err, (ConfigError, argparse.ArgumentError)) or type(err).__name__ == "ArgumentError"
        raise SystemExit(2 if usage else 1) from None


if __name__ == "__main__":
    main()
