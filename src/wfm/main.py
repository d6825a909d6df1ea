"""The ``wfm`` command: plain LightningCLI in subclass mode (methods and DataModules chosen by ``class_path``).

    wfm fit  --config configs/jepa_region.yaml
    wfm test --config configs/probe/task.yaml --data.init_args.dataset rfs --model.init_args.backbone path/to/last.ckpt
    wfm fit  --config configs/quickstart.yaml --ckpt_path last
    wfm test --config configs/supervised_los.yaml --ckpt_path last   # without it: refused (an untrained model)
    wfm test --config configs/supervised_los.yaml --random_init true  # the random init, on purpose

Checkpoints are read with :func:`wfm.checkpoint.load_torch_file` (a bad file is one line naming it) and written
atomically (:class:`~wfm.checkpoint_io.AtomicCheckpointIO`, a full disk one line too); this command line's
``--model.*`` flags win over a ``--ckpt_path`` checkpoint's hyperparameters.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback, ModelCheckpoint, ProgressBar, RichModelSummary, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, SaveConfigCallback
from lightning.pytorch.plugins.io import TorchCheckpointIO

from wfm.allocator import keep_freed_memory
from wfm.atomic import atomic_file
from wfm.callbacks.text_progress import TextProgress
from wfm.checkpoint import BackboneLoadError, read_checkpoint
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
        parser.add_argument("--random_init", type=bool, default=False,
                            help="test / validate / predict: evaluate the model with its random initial weights "
                                 "on purpose (without it, a run with neither --ckpt_path nor a pretrained "
                                 "backbone is refused: it would report an untrained model)")

    def check_checkpoint(self) -> None:
        self.resolve_last_checkpoint()
        sub = self.config.get("subcommand")
        if not sub:
            return
        cfg = self.config[sub]
        if sub == "fit":
            self.check_trains(cfg)
        ckpt_path = cfg.get("ckpt_path")
        if ckpt_path and cfg.get("random_init"):
            raise ConfigError(f"--random_init true and --ckpt_path {ckpt_path}: choose one (the random initial "
                              "weights, or the checkpoint's)")
        if not ckpt_path:
            self.check_not_untrained(sub, cfg)
            return
        if str(ckpt_path) in LIGHTNING_CKPT_WORDS or "://" in str(ckpt_path):
            return  # Lightning's own lookups ("best", "hpc", "registry") and remote files
        path = Path(ckpt_path)
        if path.is_dir():
            inner = path / "checkpoints" / "last.ckpt"
            hint = f" (the run's newest checkpoint is {inner})" if inner.is_file() else ""
            raise ConfigError(f"--ckpt_path {path}: a folder, not a checkpoint file{hint}")
        # LightningCLI restores the model from the checkpoint's hyperparameters: a checkpoint of another method
        # would silently replace the configured one; refuse it, naming the file
        try:
            hparams = read_checkpoint(path).get("hyper_parameters") or {}
        except FileNotFoundError as err:
            raise ConfigError(f"--ckpt_path {path}: no such file") from err
        except BackboneLoadError as err:
            raise ConfigError(str(err)) from err
        if not isinstance(hparams, dict):
            raise ConfigError(f"{path}: its hyper_parameters are a {type(hparams).__name__}, not a mapping; "
                              "not a checkpoint written by wfm")
        written, configured = hparams.get("_class_path"), (cfg.get("model") or {}).get("class_path")
        # Lightning imports the written class path while it merges the hyperparameters: a name outside
        # wfm (``this.JEPA`` imports ``this``) is refused before anything is imported
        if written and written != configured and not str(written).startswith("wfm."):
            raise ConfigError(f"{ckpt_path}: its hyperparameters name the class {written!r}, outside wfm; "
                              "refusing to import it (a wfm checkpoint names a wfm.* class)")
        if written and configured and _short(written) != _short(configured):
            raise ConfigError(f"{ckpt_path}: written by a {_short(written)} run, cannot resume a "
                              f"{_short(configured)} run from it (to start from its encoder instead, fine-tune: "
                              "--model.init_args.backbone)")

    @staticmethod
    def check_trains(cfg: Any) -> None:
        """``wfm fit`` with ``max_epochs: 0`` or ``max_steps: 0`` trains nothing, then saves the random init as
        ``last.ckpt`` and prints its probe table as the method's (exit 0): refused."""
        trainer = cfg.get("trainer") or {}
        for key in ("max_epochs", "max_steps", "limit_train_batches"):
            if trainer.get(key) == 0:
                raise ConfigError(f"trainer.{key}=0: wfm fit would train nothing and report the random init as "
                                  "the trained model; give a positive value (random-init features: wfm test "
                                  "--random_init true)")

    def check_not_untrained(self, sub: str, cfg: Any) -> None:
        """``wfm test`` / ``validate`` / ``predict`` without ``--ckpt_path`` would report a model whose weights
        are its random init (exit 0, numbers that look like results): refused unless ``--random_init true``
        says that is the point, or the model brings trained weights itself. The probe evaluator
        (``LinearProbeEvaluator``) is exempt: without a backbone it probes random-init encoders of the
        ``encoder`` it is given, and its table names that row ``random-init``. A ``Supervised`` model with a
        ``backbone`` has a pretrained encoder (enough for ``predict``'s features) but a head only ``fit``
        trains (so ``test`` / ``validate`` still need the checkpoint). Models from outside wfm are not judged.
        """
        if sub not in ("test", "validate", "predict") or cfg.get("random_init"):
            return
        model = cfg.get("model")
        class_path = str(model.get("class_path") or "") if hasattr(model, "get") else ""
        if not class_path.startswith("wfm."):
            return
        import importlib

        module, _, attr = class_path.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):  # jsonargparse resolved it already; nothing to judge otherwise
            return
        from wfm.eval.evaluator import LinearProbeEvaluator

        if isinstance(cls, type) and issubclass(cls, LinearProbeEvaluator):
            return
        init = model.get("init_args") or {}
        backbone = init.get("backbone") if hasattr(init, "get") else None
        if backbone is not None and sub == "predict":
            return
        name = class_path.rsplit(".", 1)[-1]
        what = {"test": "evaluate", "validate": "validate", "predict": "write the features of"}[sub]
        if backbone is not None:
            state = (f"an untrained {name} head (--model.init_args.backbone gives only its encoder; the head is "
                     "trained by wfm fit)")
        else:
            state = f"an untrained {name} (no --ckpt_path: its weights are the random init)"
        options = ["--ckpt_path PATH", "--ckpt_path last (the newest last.ckpt of this config's runs)"]
        if sub == "predict" and "backbone" in _init_parameters(cls):
            options.append("--model.init_args.backbone PATH")
        raise ConfigError(f"wfm {sub} would {what} {state}; give {', '.join(options)}, or --random_init true "
                          "to use the random init on purpose")

    def after_checkpoint_hyperparameters(self, before: Any) -> None:
        """Explicit ``--model.*`` flags of this command line win over the checkpoint's hyperparameters.

        Lightning merges a ``--ckpt_path`` checkpoint's hyperparameters over the whole parsed config, so
        ``--model.init_args.lr 0.001`` silently became the checkpoint's lr. The checkpoint still fills in
        everything the command line does not name, config-file values included: that is how it rebuilds its
        own model from a config that differs (and methods rewrite some hyperparameters they resolve, e.g.
        ``Supervised``'s task read from the data), so only this command line's flags are put back.
        """
        sub = self.config.get("subcommand")
        if not sub or not before[sub].get("ckpt_path"):
            return
        explicit = explicit_model_keys(self.command_line or [])
        for key in explicit:
            for candidate in _key_candidates(key):
                full = f"{sub}.{candidate}"
                if full in before:
                    self.config[full] = before[full]
                    break

    def resolve_last_checkpoint(self) -> None:
        """``--ckpt_path last`` means the newest ``last.ckpt`` of this recipe's runs.

        Lightning looks for it in the checkpoint folder of the *new* run (a new ``version_<k>``), finds nothing
        and starts over (or tests an untrained model). Unless ``checkpoint.dirpath`` is fixed (then Lightning's
        own lookup is right), the newest ``<save_dir>/<name>/version_*/checkpoints/last.ckpt`` of the run's
        logger is taken, and a resumed fit keeps logging into that version; none found is a one-line error.
        """
        sub = self.config.get("subcommand")
        cfg = self.config.get(sub) if sub else None
        if cfg is None or cfg.get("ckpt_path") != "last":
            return
        # leaving --ckpt_path out starts a new fit; for test / validate / predict it means an untrained model
        hint = ("give the checkpoint's path (or leave --ckpt_path out to start a new run)" if sub == "fit" else
                "give the checkpoint's path (or run `wfm fit` with this config first)")
        dirpath = (cfg.get("checkpoint") or {}).get("dirpath")
        if dirpath:  # Lightning's lookup is right here, but finding nothing it warns and starts over
            last = Path(dirpath) / "last.ckpt"
            if not last.is_file():
                raise ConfigError(f"--ckpt_path last: no {last} to continue from; {hint}")
            self.config[f"{sub}.ckpt_path"] = str(last)
            return
        trainer = cfg.get("trainer") or {}
        logger = trainer.get("logger")
        if logger is False:  # no logger: Lightning checkpoints into <default_root_dir>/checkpoints
            last = Path(trainer.get("default_root_dir") or "runs") / "checkpoints" / "last.ckpt"
            if not last.is_file():
                raise ConfigError(f"--ckpt_path last: no {last} to continue from (the run has no logger); "
                                  f"{hint}")
            self.config[f"{sub}.ckpt_path"] = str(last)
            return
        init = (logger.get("init_args") or {}) if hasattr(logger, "get") else {}
        root = Path(init.get("save_dir") or trainer.get("default_root_dir") or "runs")
        root = root / (init.get("name") or "lightning_logs") if hasattr(logger, "get") else root / "lightning_logs"
        found = sorted(root.glob("version_*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise ConfigError(f"--ckpt_path last: no {root}/version_*/checkpoints/last.ckpt to continue from; "
                              f"{hint}")
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


#: ``--ckpt_path`` values Lightning resolves itself (``last`` is resolved by :meth:`WFMCLI.resolve_last_checkpoint`)
LIGHTNING_CKPT_WORDS = ("best", "last", "hpc", "registry")


def explicit_model_keys(argv: list[str]) -> list[str]:
    """The config keys of the ``--model...`` flags on a command line (``--model.init_args.lr 0.001`` and
    ``--model.init_args.lr=0.001`` -> ``model.init_args.lr``; ``--model X`` -> ``model``)."""
    out = []
    for arg in argv:
        if arg == "--model" or arg.startswith(("--model.", "--model=")):
            key = arg[2:].split("=", 1)[0]
            if key not in out:
                out.append(key)
    return out


def _key_candidates(key: str) -> list[str]:
    """``model.lr`` may be jsonargparse's short form of ``model.init_args.lr``."""
    rest = key.split(".", 1)[1] if "." in key else ""
    if not rest or rest.startswith(("init_args", "class_path", "dict_kwargs")):
        return [key]
    return [key, f"model.init_args.{rest}"]


def _plain(value: Any) -> Any:
    """A comparable plain form of a config value (jsonargparse Namespaces and tuples as dicts and lists)."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def _init_parameters(cls: type) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(cls.__init__).parameters)
    except (TypeError, ValueError):
        return set()


class AtomicSaveConfig(SaveConfigCallback):
    """Lightning's ``SaveConfigCallback`` with the run's ``config.yaml`` written atomically (jsonargparse opens the
    file for writing before it dumps the config, so a full disk or a failed dump leaves an empty or truncated
    ``config.yaml``); a full disk is one line naming it (:class:`~wfm.atomic.WriteFailed`)."""

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        parser = self.parser

        def save(cfg: Any, path: Any, *args: Any, multifile: bool = False, overwrite: bool = False,
                 **kwargs: Any) -> None:
            if multifile or args or "://" in str(path):
                del parser.save  # the parser's own save for what this does not cover
                try:
                    parser.save(cfg, path, *args, multifile=multifile, overwrite=overwrite, **kwargs)
                finally:
                    parser.save = save
                return
            if not overwrite and Path(path).is_file():
                raise ValueError(f"Refusing to overwrite existing file: {path}")
            text = parser.dump(cfg, **kwargs)
            with atomic_file(path, what="config") as f:
                f.write(text.encode("utf-8"))

        parser.save = save
        try:
            super().setup(trainer, pl_module, stage)
        finally:
            if "save" in vars(parser):
                del parser.save


def _short(class_path: str) -> str:
    """``wfm.methods.jepa.JEPA`` and ``wfm.methods.JEPA`` name the same class: compare the class names."""
    return class_path.rsplit(".", 1)[-1]


class ConfigError(Exception):
    """The config (or a file it names) cannot make the objects of the run: exit code 2."""


# jsonargparse wraps a constructor's error in reports of its own; the user needs the constructor's words
_WRAPPERS = ("Does not validate against any of the Union subtypes", "Problem with given class_path",
             "Parser key", "Import path")


def user_message(err: BaseException, argv: list[str] | None = None) -> str:
    """One line for the user: the outermost message in the exception chain that is not a jsonargparse wrapper
    (that is where wfm names the file, the sample and what it expected). A value jsonargparse refused is
    prefixed with its key (``trainer.max_steps: Expected a <class 'int'>...``) and, where ``argv`` shows it came
    from a ``--config`` file, that file."""
    chain: list[BaseException] = []
    e: BaseException | None = err
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    msg = next((str(c).strip() for c in chain if str(c).strip() and not str(c).strip().startswith(_WRAPPERS)),
               str(chain[-1]).strip() or type(chain[-1]).__name__)
    if "Original Traceback" in msg:  # re-raised from a DataLoader worker: its last line is the error
        msg = [line for line in msg.splitlines() if line.strip()][-1]
    key = _refused_key(chain, msg)
    if key:
        source = _config_setting(key, argv or [], msg)
        msg = f"{key}: {msg}" if source is None else f"{source}: {key}: {msg}"
    return " ".join(msg.split())


def _refused_key(chain: list[BaseException], msg: str) -> str | None:
    """The dotted key (``model.init_args.lr``) whose value jsonargparse refused with ``msg``, or None when
    ``msg`` is not the refusal of one key's value."""
    keys: list[str] = []
    body, nested = None, False
    for c in chain:
        text = str(c).strip()
        if text.startswith("Problem with given class_path"):
            nested = True
        if not text.startswith('Parser key "'):
            continue
        name, _, rest = text[len('Parser key "'):].partition('":')
        if not keys or keys[-1] != name or nested:
            keys += ["init_args", name] if keys and nested else [name]
        body, nested = rest.strip(), False
    if not keys or body is None or " ".join(body.split()) != " ".join(msg.split()):
        return None
    return ".".join(keys)


def _config_files(argv: list[str]) -> list[tuple[int, str]]:
    """``(position, path)`` of every ``--config`` / ``-c`` file in ``argv`` (not an inline YAML string)."""
    out = []
    for i, a in enumerate(argv):
        if a in ("--config", "-c") and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith("--config="):
            value = a.split("=", 1)[1]
        else:
            continue
        if os.path.isfile(value):
            out.append((i, value))
    return out


def _config_setting(key: str, argv: list[str], msg: str = "") -> str | None:
    """The ``--config`` file in ``argv`` that gave ``key`` its refused value, or None (a flag gave it, or it is
    unknown): the last one setting it to the value the message names (``Got value: ...``), else the last one."""
    import yaml

    got = msg.rsplit("Got value: ", 1)[1].strip() if "Got value: " in msg else None
    files = dict(_config_files(argv))
    settings: list[tuple[str | None, str]] = []  # (file or None for a flag, the value as text), in order
    for i, a in enumerate(argv):
        if a == f"--{key}" or a.startswith(f"--{key}="):
            settings.append((None, a.split("=", 1)[1] if "=" in a else (argv[i + 1] if i + 1 < len(argv) else "")))
        elif i in files:
            try:
                node: Any = yaml.safe_load(Path(files[i]).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            for part in key.split("."):
                node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
            if node is not _MISSING:
                settings.append((files[i], str(node)))
    matching = [src for src, value in settings if got is not None and value == got]
    return matching[-1] if matching else (settings[-1][0] if settings else None)


_MISSING = object()


def check_config_files(argv: list[str]) -> None:
    """Every ``--config`` file must be YAML: a syntax error names the file, its line and column (jsonargparse
    reports it as ``Problems parsing config: ... in "<unicode string>"``, naming no file)."""
    import yaml

    for _, path in _config_files(argv):
        try:
            yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path}: not a text file ({err.reason} at byte {err.start})") from err
        except (yaml.scanner.ScannerError, yaml.parser.ParserError, yaml.composer.ComposerError) as err:
            mark = err.problem_mark or err.context_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
            context = ""
            if err.context and err.context_mark is not None and err.context_mark is not mark:
                context = (f"; {err.context} from line {err.context_mark.line + 1}, column "
                           f"{err.context_mark.column + 1}")
            raise ConfigError(f"{path}: not valid YAML ({where}{err.problem or err}{context})") from err


def build_cli(args: list[str] | None = None, run: bool = True) -> WFMCLI:
    """Parse ``args`` (default: the command line), build the objects and run the subcommand (``run=False``:
    build only; ``args`` then has no subcommand)."""
    return WFMCLI(
        model_class=None,
        datamodule_class=None,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_callback=AtomicSaveConfig,
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
        check_config_files(argv)
        build_cli(None if args is None else argv)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:
        if debug:
            raise
        print(f"wfm: error: {user_message(err, argv)}  (--debug shows the traceback)", file=sys.stderr)
        usage = isinstance(err, (ConfigError, argparse.ArgumentError)) or type(err).__name__ == "ArgumentError"
        raise SystemExit(2 if usage else 1) from None


if __name__ == "__main__":
    main()
