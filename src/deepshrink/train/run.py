"""A training run end to end, alone (:func:`train`, what ``deepshrink train`` calls) or as a
cohort of runs stacked into one network (:func:`train_cohort`, what a study trains): data
(:mod:`.prepare`), model, run folder (:mod:`.runfolder`), loop, test report.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from deepshrink.errors import CheckpointError, ConfigError
from deepshrink.fileio import atomic_write
from deepshrink.folders import owned
from deepshrink.models import create_model, model_config
from deepshrink.models.registry import build_model, input_too_short
from deepshrink.models.stacked import stack_models
from deepshrink.predict.batch import autocast_dtype, predict_logits
from deepshrink.seeds import Purpose, derive_seed, seed_everything
from deepshrink.serialization import from_pretrained, read_model_config
from deepshrink.train.checkpoint import CKPT_NAME, load_checkpoint, save_checkpoint
from deepshrink.train.config import TrainConfig, config_diff, load_config, resolve, to_yaml
from deepshrink.train.distributed import DistContext, resolve_device
from deepshrink.train.engine import Trainer, TrainingDiverged, epoch_line
from deepshrink.train.schedule import check_batch_size
from deepshrink.train.metrics import classification_report, write_report
from deepshrink.train.prepare import RunData, prepare_data
from deepshrink.train.runfolder import (
    COHORT_LOGGER,
    CONFIG_YAML,
    LOG_NAME,
    RUN_LOGGER,
    RunWriter,
    check_new_output,
    close_logger,
    create_run_folder,
    make_logger,
    plain_model,
    run_writer,
    tensorboard_log,
)
from deepshrink.train.scalars import require_tensorboard
from deepshrink.train.warmstart import init_from

__all__ = ["train", "train_cohort", "TrainResult", "CohortRunResult", "report_test_set"]


# ---------------------------------------------------------------------- test report
def report_test_set(
    cfg: TrainConfig,
    model: nn.Module,
    data: RunData,
    device: torch.device,
    run_dir: Path | None,
    log: Any,
    note: str = "",
) -> dict[str, Any]:
    """Test ``model`` on ``data.test``, log one line and (with a run folder) write the test files."""
    logits = predict_logits(model, data.test.x, batch_size=cfg.eval_batch_size, device=device,
                            normalize=cfg.normalize, amp_dtype=autocast_dtype(cfg.amp, device))  # fmt: skip
    y = data.test.y.cpu()
    loss = float(torch.nn.functional.cross_entropy(logits, y))
    snr = getattr(data.test, "snr_db", None)
    report = classification_report(y.numpy(), logits.argmax(1).numpy(), data.label_names,
                                   None if snr is None else snr.cpu().numpy(), loss=loss)  # fmt: skip
    log(f"test{note}: accuracy {report['accuracy']:.4f}, macro-F1 {report['macro_f1']:.4f}, loss {loss:.4f}")
    if run_dir is not None:
        write_report(report, run_dir, prefix="test", title=f"{cfg.model} on {data.info['dataset']} (test)")
        log(f"wrote {run_dir}")
    return report


def _best_note(cfg: TrainConfig, epoch: int) -> str:
    """The test line's note when the kept weights are the best epoch's, not the last."""
    return f" (weights of epoch {epoch}, best {cfg.monitor})"


# ---------------------------------------------------------------------- train
def _build_model(cfg: TrainConfig, data: RunData, log: Callable[[str], None] | None = None) -> nn.Module:
    """The run's model for ``data``, initialised from the run's own seed (alone or in a cohort), then
    from ``cfg.init_from``'s weights when it names a run."""
    seed_everything(derive_seed(cfg.seed, Purpose.INIT))
    model = create_model(cfg.model, in_channels=data.in_channels, num_classes=len(data.label_names),
                         input_length=data.length, **cfg.model_args)  # fmt: skip
    shortest = min(data.length) if isinstance(data.length, (tuple, list)) else data.length
    problem = input_too_short(model, shortest)
    if problem is not None:
        raise ConfigError(f"data {cfg.data}: {problem}")
    if cfg.init_from is not None:
        line = init_from(model, cfg.init_from)
        if log is not None:
            log(line)
    return model


def _set_threads(cfg: TrainConfig, ctx: DistContext) -> None:
    """torch's CPU threads: the config's, or under torchrun on a CPU the cores shared by the processes."""
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    elif ctx.distributed and ctx.device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, ctx.local_world_size)))


def _resume_state(cfg: TrainConfig, resume_dir: Path) -> tuple[dict[str, Any], int | None]:
    """The checkpoint of ``resume_dir`` and, when ``cfg`` asks for more epochs than the run was
    configured for (an extension), the run's former number of epochs; refused when the saved
    config differs otherwise beyond runtime keys."""
    if not resume_dir.is_dir():
        raise CheckpointError(f"{resume_dir}: run folder to resume does not exist")
    state = load_checkpoint(resume_dir / CKPT_NAME)
    saved_cfg_path = resume_dir / CONFIG_YAML
    extended_from = None
    if saved_cfg_path.is_file():
        saved = load_config(saved_cfg_path)
        diff = config_diff(saved, cfg)
        if diff and config_diff(saved.replace(epochs=cfg.epochs), cfg) == [] and cfg.epochs > saved.epochs:
            extended_from = saved.epochs  # only the epochs grew: train on to the new total
        elif diff:
            fewer = " (a run's epochs may only grow)" if cfg.epochs < saved.epochs else ""
            raise CheckpointError(
                f"{resume_dir}: cannot resume with a different configuration ({'; '.join(diff[:4])}){fewer}; "
                "only runtime keys (device, progress, log, num_threads, compile, eval_batch_size, "
                "checkpoint_every) may change, and epochs may grow"
            )
    return state, extended_from


def _open_run_folder(
    cfg: TrainConfig,
    ctx: DistContext,
    resume_dir: Path | None,
    output: str | os.PathLike | None,
    runs_root: str | os.PathLike,
    force: bool,
) -> Path:
    """The run folder on every process: rank 0 creates it (or reuses ``resume_dir``) and broadcasts
    its path, or its :class:`ConfigError`, so all ranks fail or go on together."""
    message = ""
    if ctx.is_main:
        try:
            run_dir = resume_dir if resume_dir is not None else create_run_folder(cfg, output, runs_root, force)
            message = "ok:" + str(run_dir)
        except ConfigError as err:
            message = "error:" + str(err)
    message = ctx.broadcast_text(message)
    if message.startswith("error:"):
        raise ConfigError(message[len("error:") :])
    return Path(message[len("ok:") :])


def _resume_trainer(trainer: Trainer, state: dict[str, Any], resume_dir: Path, ctx: DistContext,
                    writer: RunWriter | None, log: Any, extended_from: int | None = None) -> None:  # fmt: skip
    """Load ``state`` into ``trainer``, drop the temp files of writes the crash cut short, rewrite metrics."""
    trainer.load_state_dict(state, source=str(resume_dir / CKPT_NAME), extended_from=extended_from)
    if ctx.is_main:
        for stale in resume_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
    log(f"resumed {resume_dir} at epoch {trainer.epoch}, step {trainer.step_in_epoch} (global step {trainer.global_step})")
    if writer is not None:
        writer.metrics(trainer.history)


def _already_finished(cfg: TrainConfig, state: dict[str, Any], run_dir: Path, console: bool) -> TrainResult | None:
    """A resumed run that had finished (all its epochs, or stopped early) and was tested: its result
    as it stands, said in one line, nothing rewritten (None: train on as usual)."""
    finished = int(state.get("epoch", 0)) >= cfg.epochs or bool(state.get("stopped_early"))
    report_path = run_dir / "test_metrics.json"
    if not finished or not report_path.is_file():
        return None
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        model = from_pretrained(run_dir)
    except (OSError, ValueError, CheckpointError):
        return None  # a damaged report or model: test again as a resume would
    if console:
        print(f"{run_dir}: the run already finished ({state.get('epoch')} epochs) and was tested; nothing rewritten "
              f"(--epochs N with N > {cfg.epochs} trains on)", flush=True)  # fmt: skip
    return TrainResult(run_dir, list(state.get("history") or []), report, model, cfg)


def _extend(cfg: TrainConfig, extended_from: int, trainer: Trainer, run_dir: Path, writer: RunWriter | None,
            log: Any) -> None:  # fmt: skip
    """A finished (or unfinished) run continued to more epochs: said in one line and recorded in the
    run's config.yaml (the new total) and config.json (``extra.extended_from``: each former total)."""
    log(f"extending the run from {extended_from} to {cfg.epochs} epochs (at epoch {trainer.epoch}); the lr "
        f"schedule from here is that of a {cfg.epochs}-epoch run (recipe {cfg.recipe})")  # fmt: skip
    if writer is None:
        return
    atomic_write(run_dir / CONFIG_YAML, to_yaml(cfg).encode())
    before = []
    if (run_dir / "config.json").is_file():
        with contextlib.suppress(CheckpointError):
            before = list(read_model_config(run_dir).get("extra", {}).get("extended_from", []))
    writer.extra["extended_from"] = [*before, extended_from]


def _log_start(cfg: TrainConfig, ctx: DistContext, data: RunData, model: nn.Module, trainer: Trainer,
               run_dir: Path | None, log: Any) -> None:  # fmt: skip
    """The opening lines of a fresh run: folder, model and data sizes, device and batch."""
    log(f"run folder: {run_dir}" if run_dir is not None else "training in memory (no run folder)")
    log(
        f"model {cfg.model}: {sum(p.numel() for p in model.parameters()):,} parameters; data {cfg.data}: "
        f"{data.info['observations']} observations, {data.info['recordings']} recordings, "
        f"{len(data.label_names)} classes, length {data.length}"
    )
    log(
        f"device {ctx.device}, {ctx.world_size} process(es), global batch {cfg.batch_size} "
        f"({cfg.batch_size // ctx.world_size} per process), {trainer.steps_per_epoch} steps per epoch, "
        f"recipe {cfg.recipe} (lr {cfg.lr}, weight decay {cfg.weight_decay})"
        + (f", amp {trainer.amp_dtype}" if trainer.amp_dtype is not None else "")
    )


def _fit(trainer: Trainer, logger: logging.Logger, handlers: list[logging.Handler]) -> list[dict[str, Any]]:
    """``trainer.fit()``; a divergence goes into train.log only (the caller, the CLI, reports it itself)."""
    try:
        return trainer.fit()
    except TrainingDiverged as err:
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, f"error: {err}", None, None)
        for h in handlers:
            if isinstance(h, logging.FileHandler):
                h.handle(record)
        raise


def _test_kept(cfg: TrainConfig, trainer: Trainer, data: RunData, ctx: DistContext, run_dir: Path | None,
               log: Any) -> tuple[nn.Module, dict[str, Any] | None]:  # fmt: skip
    """The model with its kept weights (best epoch or last) and, on rank 0, its test report."""
    report = None
    final = trainer.model
    if trainer.keeps_best():
        final.load_state_dict(trainer.best_state)
    if ctx.is_main:
        best = _best_note(cfg, trainer.best["epoch"]) if trainer.keeps_best() else ""
        report = report_test_set(cfg, final, data, ctx.device, run_dir, log, note=best)
    return final, report


@dataclass
class TrainResult:
    """What :func:`train` returns (on every process; only rank 0 has ``test_report``)."""

    run_dir: Path | None
    history: list[dict[str, Any]]
    test_report: dict[str, Any] | None
    model: nn.Module
    config: TrainConfig


def train(
    cfg: TrainConfig,
    *,
    output: str | os.PathLike | None = None,
    runs_root: str | os.PathLike = "runs",
    force: bool = False,
    resume: str | os.PathLike | None = None,
    dataset: Any | None = None,
    write: bool = True,
    console: bool = True,
    on_epoch: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train a model as ``cfg`` says and write the run folder.

    Args:
        cfg: the configuration (recipe defaults are filled in here).
        output: the run folder; default ``runs_root/<stamp>-<model>-<data>``.
        runs_root: parent of auto-named run folders.
        force: overwrite an existing ``output`` folder.
        resume: continue the run in this folder from its ``last.ckpt`` (``cfg`` must match the
            run's configuration, up to runtime keys such as ``device``).
        dataset: train on this :class:`~deepshrink.data.SignalDataset` instead of loading ``cfg.data``.
        write: write a run folder (False: train in memory only).
        console: print log lines to stdout (rank 0).
        on_epoch: called with the number of epochs done after each epoch (e.g. a progress bar).

    Returns:
        :class:`TrainResult` with the run folder, per-epoch history, test report and model.

    Raises:
        ConfigError, DatasetError: bad configuration or data (nothing is written).
        CheckpointError: ``resume`` folder or checkpoint missing, unsafe or incompatible.
        FolderInUse: another process trains into ``output`` (or ``resume``) now.
        TrainingDiverged: the loss became NaN/Inf (``last.ckpt`` keeps the last good state).
    """
    cfg = resolve(cfg)
    model_config(cfg.model, **cfg.model_args)  # unknown model or argument: fail before anything else
    if cfg.log == "tensorboard":
        require_tensorboard()
    ctx = DistContext.setup(cfg.device)
    handlers: list[logging.Handler] = []
    writer: RunWriter | None = None
    holding = contextlib.ExitStack()
    log_before: tuple[Path, int] | None = None  # a resumed run's train.log and its length before
    cut_log = False  # a resume that failed before writing anything leaves the folder as it was
    try:
        target = resume if resume is not None else output if write else None
        if resume is None and target is not None and ctx.is_main:
            check_new_output(target, force)  # the usual error first, whether or not a process holds the folder
        if target is not None and ctx.is_main:  # one writer per run folder: a second train or resume refuses
            holding.enter_context(owned(target, "run"))
        _set_threads(cfg, ctx)
        resume_dir = Path(resume) if resume is not None else None
        state, extended_from = _resume_state(cfg, resume_dir) if resume_dir is not None else (None, None)
        if state is not None and extended_from is None:
            done = _already_finished(cfg, state, resume_dir, console and ctx.is_main)
            if done is not None:
                return done
        data = prepare_data(cfg, dataset)
        check_batch_size(cfg.batch_size, len(data.train), ctx.world_size)
        notes: list[str] = []
        model = _build_model(cfg, data, notes.append)
        run_dir = _open_run_folder(cfg, ctx, resume_dir, output, runs_root, force) if write else None

        if resume_dir is not None and ctx.is_main and (resume_dir / LOG_NAME).is_file():
            log_before = (resume_dir / LOG_NAME, (resume_dir / LOG_NAME).stat().st_size)
        logger, handlers = make_logger(run_dir if ctx.is_main else None, console and ctx.is_main)
        log = logger.info
        for note in notes if state is None else []:  # resuming: the checkpoint's weights replace them
            log(note)
        writer = run_writer(cfg, data, run_dir) if (run_dir is not None and ctx.is_main) else None
        if writer is not None:
            writer.scalars = tensorboard_log(cfg, run_dir)
        trainer = Trainer(cfg, model, data.train, data.val, ctx=ctx, writer=writer, log=log, on_epoch=on_epoch)
        if state is not None:
            _resume_trainer(trainer, state, resume_dir, ctx, writer, log, extended_from)
            if extended_from is not None:
                _extend(cfg, extended_from, trainer, run_dir, writer, log)
        else:
            if writer is not None:
                atomic_write(run_dir / CONFIG_YAML, to_yaml(cfg).encode())
            _log_start(cfg, ctx, data, model, trainer, run_dir, log)
        history = _fit(trainer, logger, handlers)
        if writer is not None:
            writer.curves(history, title=run_dir.name)
        final, report = _test_kept(cfg, trainer, data, ctx, run_dir, log)
        ctx.barrier()
        return TrainResult(run_dir, history, report, final, cfg)
    except BaseException:
        cut_log = log_before is not None and not (writer is not None and writer.wrote)  # else its log says how far it got
        raise
    finally:
        if writer is not None and writer.scalars is not None:
            writer.scalars.close()
        close_logger(RUN_LOGGER, handlers)
        if cut_log:
            with contextlib.suppress(OSError):
                os.truncate(*log_before)  # type: ignore[misc]
        ctx.close()
        holding.close()


# ---------------------------------------------------------------------- a cohort of runs, stacked
COHORT_KEYS = frozenset({"seed", "noise", "snr"})
"""The keys in which the runs of a cohort may differ (everything else is shared)."""


@dataclass
class CohortRunResult:
    """One run of :func:`train_cohort`: as :class:`TrainResult`, plus ``status`` (``finished``,
    ``stopped`` early or ``diverged``; a diverged run has no ``model`` and no ``test_report``)."""

    run_dir: Path | None
    history: list[dict[str, Any]]
    test_report: dict[str, Any] | None
    model: nn.Module | None
    config: TrainConfig
    status: str
    message: str | None
    n_train: int


class CohortWriter:
    """The cohort's ``last.ckpt`` (with its members' run ids) and each member's ``metrics.csv``."""

    def __init__(self, cohort_dir: Path, members: list[str], run_dirs: list[Path] | None) -> None:
        self.cohort_dir = Path(cohort_dir)
        self.members = list(members)
        self.run_dirs = run_dirs

    def checkpoint(self, state: dict[str, Any]) -> None:
        save_checkpoint({**state, "members": self.members}, self.cohort_dir / CKPT_NAME)

    def metrics(self, histories: list[list[dict[str, Any]]]) -> None:
        for run_dir, history in zip(self.run_dirs or [], histories):
            RunWriter(run_dir, [], {}, {}).metrics(history)

    def model(self, model: nn.Module, state: dict[str, Tensor] | None = None) -> None:  # not called for a cohort
        pass


def check_cohort(cfgs: list[TrainConfig]) -> None:
    """Refuse runs that cannot share one stacked network (they differ in more than seed, noise, SNR)."""
    if not cfgs:
        raise ConfigError("a cohort needs at least one run")
    first = {k: v for k, v in resolve(cfgs[0]).to_dict().items() if k not in COHORT_KEYS}
    for i, cfg in enumerate(cfgs[1:], 1):
        other = {k: v for k, v in resolve(cfg).to_dict().items() if k not in COHORT_KEYS}
        diff = [k for k in first if first[k] != other[k]]
        if diff:
            raise ConfigError(f"run {i} of the cohort differs from run 0 in {', '.join(diff)}: train them apart")


def _cohort_logger(cohort_dir: Path | None, say: Any) -> tuple[Any, list[logging.Handler]]:
    """The cohort's log: every line to ``cohort_dir/train.log``; resumes, early stops,
    divergences, compiling and warnings to ``say`` too."""
    if cohort_dir is not None:
        cohort_dir.mkdir(parents=True, exist_ok=True)
    logger, handlers = make_logger(cohort_dir, False, COHORT_LOGGER)

    def cohort_log(message: str) -> None:
        logger.info(message)
        if "diverged" in message or "early stopping" in message or message.startswith(("resumed", "compiling", "warning")):
            say(message)

    return cohort_log, handlers


def _write_configs(cfgs: list[TrainConfig], run_dirs: list[Path]) -> None:
    """Each run's folder with its ``config.yaml`` (kept when there: a resumed cohort)."""
    for c, run_dir in zip(cfgs, run_dirs):
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        if not (Path(run_dir) / CONFIG_YAML).is_file():
            atomic_write(Path(run_dir) / CONFIG_YAML, to_yaml(c).encode())


def _resume_or_start(trainer: Trainer, cohort_dir: Path | None, names: list[str], cfg: TrainConfig, log: Any) -> None:
    """Resume ``trainer`` from the cohort's ``last.ckpt`` when there is one (of the same runs), else
    log the cohort's start."""
    ckpt = cohort_dir / CKPT_NAME if cohort_dir is not None else None
    if ckpt is not None and ckpt.is_file():
        state = load_checkpoint(ckpt)
        if list(state.get("members", [])) != list(names):
            raise CheckpointError(f"{ckpt}: the checkpoint of other runs ({', '.join(state.get('members', [])[:3])}, ...)")
        trainer.load_state_dict(state, source=str(ckpt))
        for stale in cohort_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        log(f"resumed the cohort at epoch {trainer.epoch}, step {trainer.step_in_epoch} (global step {trainer.global_step})")
    else:
        log(f"cohort of {len(names)} runs of {cfg.model} (stack {len(names)}): {', '.join(names)}")


def _member_result(
    i: int,
    cfg: TrainConfig,
    data: RunData,
    trainer: Trainer,
    template: dict[str, Any],
    model_name: str | None,
    run_dir: Path | None,
    ctx: DistContext,
    header: str,
) -> CohortRunResult:
    """Slice ``i`` of a trained cohort as a run alone: its train.log, metrics.csv, model and test report."""
    res = trainer.slice_result(i)
    run_logger, run_handlers = make_logger(run_dir, False) if run_dir is not None else (None, [])
    run_log = run_logger.info if run_logger is not None else (lambda message: None)
    try:
        run_log(header)
        for row in res["history"]:
            run_log(epoch_line(row, cfg.epochs, trainer.validating))
        if run_dir is not None:
            writer = RunWriter(run_dir, data.label_names, {}, {})
            writer.metrics(res["history"])
            writer.curves(res["history"], title=run_dir.name)
        model, report = None, None
        if res["state"] is not None:
            model = plain_model(template, res["state"], model_name)
            if run_dir is not None:
                run_writer(cfg, data, run_dir).model(model)
            model = model.to(ctx.device)  # tested where it trained (as a run alone is)
            note = _best_note(cfg, res["best"]["epoch"]) if res["kept_best"] else ""
            report = report_test_set(cfg, model, data, ctx.device, run_dir, run_log, note=note)
        else:
            run_log(f"error: {res['message']}")
        return CohortRunResult(run_dir, res["history"], report, model, cfg, res["status"], res["message"], len(data.train))
    finally:
        close_logger(RUN_LOGGER, run_handlers)


def train_cohort(
    cfgs: list[TrainConfig],
    datasets: list[Any],
    *,
    names: list[str],
    run_dirs: list[Path] | None = None,
    cohort_dir: Path | None = None,
    skip: set[int] | frozenset[int] = frozenset(),
    on_done: Any | None = None,
    log: Any | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> list[CohortRunResult | None]:
    """Train S runs that share a model and training settings as one stacked network.

    Each run keeps its own split, noise, initialisation (the model is built from its seed, as
    :func:`train` does), shuffle and seed, so it ends with the weights it would have trained
    alone (up to rounding; without dropout). Each run gets an ordinary run folder (config.yaml,
    metrics.csv, train.log, config.json + model.safetensors, test report) that ``evaluate``,
    ``thresholds``, ``export`` and :func:`deepshrink.load` read as any other.

    Args:
        cfgs: the runs' configurations (they may differ in :data:`COHORT_KEYS` only).
        datasets: each run's clean dataset (see :func:`train`'s ``dataset``).
        names: each run's name (its ``run_id``), stored in the cohort checkpoint.
        run_dirs: each run's folder (created; None trains in memory).
        cohort_dir: the cohort's folder for ``last.ckpt``; an existing checkpoint of the same
            runs is resumed (mid-epoch too). None: no checkpoints.
        skip: indices of runs already reported (not written again; they still train, so the others
            keep their cohort).
        on_done: called as ``on_done(i, result)`` after run ``i``'s folder is written.
        log: called with log lines (the cohort's ``train.log`` gets them too).
        on_epoch: called with the number of epochs done after each epoch of the cohort.

    Returns:
        One :class:`CohortRunResult` per run (None for those in ``skip``).

    Raises:
        ConfigError, DatasetError: the runs cannot form a cohort, or bad data.
        CheckpointError: the cohort's checkpoint belongs to other runs or settings.
    """
    cfgs = [resolve(c) for c in cfgs]
    check_cohort(cfgs)
    cfg = cfgs[0]
    model_config(cfg.model, **cfg.model_args)
    if len(datasets) != len(cfgs) or len(names) != len(cfgs) or (run_dirs is not None and len(run_dirs) != len(cfgs)):
        raise ConfigError("train_cohort needs one dataset, name (and run folder) per configuration")
    say = log or (lambda message: None)
    ctx = DistContext(device=resolve_device(cfg.device))
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    started = time.perf_counter()
    datas = [prepare_data(c, ds) for c, ds in zip(cfgs, datasets)]
    stacked = stack_models([_build_model(c, d) for c, d in zip(cfgs, datas)])
    cohort_dir = Path(cohort_dir) if cohort_dir is not None else None
    cohort_log, handlers = _cohort_logger(cohort_dir, say)
    try:
        if run_dirs is not None:
            _write_configs(cfgs, run_dirs)
        writer = CohortWriter(cohort_dir, names, run_dirs) if cohort_dir is not None else None
        trainer = Trainer(cfg, stacked, [d.train for d in datas], [d.val for d in datas],
                          seeds=[c.seed for c in cfgs], ctx=ctx, writer=writer, log=cohort_log,
                          on_epoch=on_epoch)  # fmt: skip
        _resume_or_start(trainer, cohort_dir, names, cfg, cohort_log)
        trainer.fit()
        wall = time.perf_counter() - started

        results: list[CohortRunResult | None] = []
        template = build_model({k: v for k, v in stacked.config.items() if k != "stack"}).config
        for i, (c, data) in enumerate(zip(cfgs, datas)):
            if i in skip:
                results.append(None)
                continue
            run_dir = Path(run_dirs[i]) if run_dirs is not None else None
            header = (f"trained as slice {i} of a cohort of {len(cfgs)} runs (one stacked network); "
                      f"{trainer.global_step} steps, {wall:.1f} s for the cohort")  # fmt: skip
            result = _member_result(i, c, data, trainer, template, getattr(stacked, "model_name", None), run_dir, ctx,
                                    header)  # fmt: skip
            results.append(result)
            if on_done is not None:
                on_done(i, result)
        return results
    finally:
        close_logger(COHORT_LOGGER, handlers)
