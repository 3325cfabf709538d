"""The training loop: cross-entropy epochs, then optional self-critical epochs with a CIDEr-D reward.

Runs on cached encoder features (or, once encoder fine-tuning starts, on images), in one process or as one rank of
a torchrun job (DistributedDataParallel). ``Trainer.run`` reads top to bottom: for each epoch, take its steps,
validate, keep the best weights, save a resumable state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from captioner.errors import CaptionerError
from captioner.model.checkpoint import Checkpoint, save_checkpoint
from captioner.model.decoder import AttentionDecoder, DecoderConfig
from captioner.model.encoder import Encoder
from captioner.model.vocab import Vocabulary
from captioner.training.batches import Split, encode_captions, local_steps
from captioner.training.checkpoints import cpu_state, load_resume, metrics_path, resume_path
from captioner.training.config import PRECISIONS, Recipe, TrainState
from captioner.training.distributed import World
from captioner.training.encoder_tuning import EncoderTuner
from captioner.training.steps import StepRunner
from captioner.training.validation import evaluate, my_images


@dataclass
class TrainData:
    train: Split
    val: Split | None
    vocab: Vocabulary


@dataclass
class Session:
    """This process's part in a run: where it writes, its rank, device, logging, and the encoder it may tune."""

    out: Path
    encoder_name: str = "efficientnet_lite0"
    meta: dict = field(default_factory=dict)  # goes into every checkpoint's meta
    world: World = field(default_factory=World)
    device: str = "cpu"
    log: Callable[[str], None] = print
    progress: bool = False
    encoder_builder: Callable[[], Encoder] | None = None


class TrainingInterrupted(Exception):
    """Raised when ``should_stop`` turned true; the resumable state is already saved at ``path``."""

    def __init__(self, path: Path):
        super().__init__(str(path))
        self.path = path


class Trainer:
    """One training run. ``run`` trains and writes checkpoints; the other methods are its parts."""

    def __init__(self, data: TrainData, model_config: DecoderConfig, recipe: Recipe, session: Session):
        if recipe.precision not in PRECISIONS:
            raise CaptionerError(f"precision must be one of {', '.join(PRECISIONS)}")
        if recipe.precision == "fp16" and not session.device.startswith("cuda"):
            raise CaptionerError("--precision fp16 needs a CUDA GPU; use bf16 on a CPU")
        self.data, self.model_config, self.recipe, self.session = data, model_config, recipe, session
        self.world, self.device = session.world, torch.device(session.device)
        self.log = session.log if self.world.main else (lambda m: None)
        self.tuner = EncoderTuner(recipe, session.encoder_builder, self.device)
        torch.manual_seed(recipe.seed)
        self.decoder = AttentionDecoder(model_config).to(self.device)
        self.tokens = encode_captions(data.train, data.vocab, recipe.max_caption_length)
        per_epoch = len(local_steps(len(self.tokens), recipe, self.world, 0))
        self.steps = StepRunner(self.decoder, recipe, self.world, self.tuner, max(recipe.epochs, 1) * per_epoch)
        self.state = TrainState()
        self.cider = None  # (CiderD, prepared references), built when self-critical training starts
        self._t_start = time.perf_counter()

    # -- the run ---------------------------------------------------------------------------------------------------

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> dict:
        """Train; the best checkpoint goes to ``out`` (the last one without validation), a resumable state to
        ``out + '.resume'`` after every epoch and on ``should_stop()``, per-epoch metrics to ``metrics.jsonl``."""
        recipe, state = self.recipe, self.state
        if state.epoch == 0 and state.step == 0 and self.world.main:
            metrics_path(self.session.out).unlink(missing_ok=True)  # a fresh run starts a fresh record
        for epoch in range(state.epoch, recipe.total_epochs):
            scst = epoch >= recipe.epochs
            self._begin_epoch(epoch)
            t0 = time.perf_counter()
            metric = self._epoch(epoch, scst, should_stop)
            state.step = 0
            row = {
                "epoch": epoch + 1,
                "phase": "scst" if scst else "xe",
                ("reward" if scst else "train_loss"): round(metric, 4),
                "lr": self.steps.optimizer.param_groups[0]["lr"],
                "train_seconds": round(time.perf_counter() - t0, 1),
            }
            current = cpu_state(self.decoder)
            state.recent = (state.recent + [current])[-recipe.average_last :]
            self._consider(current, row)
            row["seconds"] = round(time.perf_counter() - t0, 1)
            self._record(row)
            if epoch + 1 in (recipe.epochs, recipe.total_epochs) and len(state.recent) > 1 and self.data.val:
                self._try_average(epoch, row["phase"], current)
            state.epoch = epoch + 1
            self.save_resume(epoch + 1, 0)
            self._save_best(epoch)
        state.elapsed += time.perf_counter() - self._t_start
        return {"history": state.history, "best": state.best, "elapsed": state.elapsed}

    def _begin_epoch(self, epoch: int) -> None:
        recipe = self.recipe
        if epoch == recipe.epochs and self.state.step == 0 and recipe.scst_epochs:  # entering self-critical training
            if self.state.best_state is not None:
                self.decoder.load_state_dict(self.state.best_state)
            self.steps.use_scst_optimizer()
            self.state.recent = []
            self.log("self-critical training with a CIDEr-D reward, from the best cross-entropy weights")
        if epoch >= recipe.epochs and self.cider is None:
            from captioner.evaluation.metrics import CiderD

            refs = self.data.train.references()
            scorer = CiderD(refs)
            self.cider = (scorer, [scorer.prepare_refs(r) for r in refs])
        self.tuner.begin(epoch, self.log)
        if epoch == recipe.epochs and self.tuner.encoder is not None and self.tuner.enabled:
            self.tuner.refresh([self.data.train, self.data.val], self.state.encoder_state)

    def _epoch(self, epoch: int, scst: bool, should_stop: Callable[[], bool]) -> float:
        """Train one epoch from ``state.step``; returns its mean loss (cross-entropy) or reward (self-critical)."""
        from tqdm import tqdm

        steps = local_steps(len(self.tokens), self.recipe, self.world, epoch)
        train_encoder = self.tuner.active(epoch)
        self.decoder.train()
        total, count, t0, caps = 0.0, 0, time.perf_counter(), 0
        desc = f"{'scst' if scst else 'epoch'} {epoch + 1}"
        show = self.session.progress and self.world.main
        bar = tqdm(total=len(steps), initial=self.state.step, desc=desc, unit="step", disable=not show, leave=False)
        for s in range(self.state.step, len(steps)):
            if scst:
                t, c = self.steps.scst_step(self.data.train, self.cider, steps[s], self.data.vocab)
            else:
                t, c = self.steps.xe_step(self.data.train, self.tokens, steps[s], train_encoder)
                caps += sum(len(self.tokens[i]) for m in steps[s] for i in m)
            total, count = total + t, count + c
            bar.update()
            speed = {} if scst else {"caps/s": f"{caps / (time.perf_counter() - t0):.0f}"}
            bar.set_postfix({"reward" if scst else "loss": f"{total / max(count, 1):.3f}", **speed})
            if any(self.world.gather(should_stop())):  # every rank stops at the same step
                bar.close()
                self.save_resume(epoch, s + 1)
                raise TrainingInterrupted(resume_path(self.session.out))
        bar.close()
        total, count = self.world.sum([total, count])
        return total / max(count, 1)

    # -- choosing the weights --------------------------------------------------------------------------------------

    def _consider(self, decoder_state: dict, row: dict) -> None:
        """Validate ``decoder_state`` (loaded in the decoder) and keep it if it is the best so far."""
        if self.data.val is None:  # no validation: the latest weights are the result
            self.state.best_state, self.state.encoder_state = decoder_state, self.tuner.state()
            return
        split = self.data.val
        mine = my_images(split, self.world)
        if self.tuner.stale:
            parts = [self.tuner.features(split, mine[i : i + 32], True) for i in range(0, len(mine), 32)]
            feats = torch.cat(parts)
        else:
            feats = split.features[mine]
        scores = evaluate(self.decoder, split, self.data.vocab, self.recipe, self.world, feats)
        row.update({k: round(v, 4) for k, v in scores.items()})
        key = (scores[self.recipe.select_metric], -scores["val_loss"])  # ties go to the lower validation loss
        if self.state.best is None or key > tuple(self.state.best):
            self.state.best, self.state.best_state = list(key), decoder_state
            self.state.encoder_state = self.tuner.state()
            row["best"] = True

    def _try_average(self, epoch: int, phase: str, current: dict) -> None:
        recent = self.state.recent
        averaged = {k: sum(s[k].float() for s in recent) / len(recent) for k in recent[0]}
        self.decoder.load_state_dict(averaged)
        row = {"epoch": epoch + 1, "phase": phase, "averaged_last": len(recent)}
        self._consider(averaged, row)
        if not row.get("best"):
            self.decoder.load_state_dict(current)
        self._record(row)

    def _record(self, row: dict) -> None:
        """Log an epoch's row, append it to metrics.jsonl and redraw curves.png beside the checkpoint."""
        from captioner.evaluation.plots import plot_curves, read_metrics

        self.state.history.append(row)
        self.log(epoch_line(row, self.recipe.total_epochs))
        if self.world.main:
            out = self.session.out
            with open(metrics_path(out), "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            plot_curves(read_metrics(metrics_path(out)), out.parent / "curves.png", str(out))

    # -- checkpoints -----------------------------------------------------------------------------------------------

    def _checkpoint(self, decoder_state: dict, train_state: dict | None = None, extra: dict | None = None):
        meta = {**self.session.meta, "train_config": self.recipe.as_plain(), **(extra or {})}
        return Checkpoint(
            self.model_config,
            self.session.encoder_name,
            self.data.vocab,
            decoder_state,
            self.state.encoder_state,
            meta,
            train_state,
        )

    def save_resume(self, epoch: int, step: int) -> None:
        """Save everything needed to continue at (``epoch``, ``step``) beside the output (rank 0), then sync."""
        if self.world.main:
            ts = {
                **self.state.to_dict(),
                "epoch": epoch,
                "step": step,
                "optimizer": self.steps.optimizer.state_dict(),
                "scheduler": self.steps.scheduler.state_dict(),
                "rng": torch.get_rng_state(),
                "train_config": self.recipe.as_plain(),
                "world_size": self.world.size,
                "elapsed": self.state.elapsed + time.perf_counter() - self._t_start,
                "live_encoder_state": self.tuner.state(),
            }
            save_checkpoint(self._checkpoint(cpu_state(self.decoder), ts), resume_path(self.session.out))
        self.world.barrier()

    def resume(self) -> None:
        """Continue from ``out + '.resume'``; the run then ends with the same weights as an uninterrupted one."""
        saved = load_resume(self.session.out, self.data.vocab, self.model_config, self.recipe, self.world.size)
        ts = saved.train_state
        self.decoder.load_state_dict(saved.decoder_state)
        if ts.get("live_encoder_state") is not None:
            self.tuner.ensure().load_trunk_state(ts["live_encoder_state"])
        epochs = self.recipe.epochs
        if ts["epoch"] > epochs or (ts["epoch"] == epochs and ts["step"] > 0):  # inside self-critical training
            self.steps.use_scst_optimizer()
        self.steps.optimizer.load_state_dict(ts["optimizer"])
        self.steps.scheduler.load_state_dict(ts["scheduler"])
        torch.set_rng_state(ts["rng"])
        self.state = TrainState.from_dict(ts)
        self.log(f"resuming from {resume_path(self.session.out)}: epoch {self.state.epoch + 1}, step {self.state.step}")

    def _save_best(self, epoch: int) -> None:
        if self.world.main and self.state.best_state is not None:
            history = self.state.history
            best_row = next((r for r in reversed(history) if r.get("best")), history[-1])
            extra = {"history": history, "selected": best_row, "epochs_run": epoch + 1}
            save_checkpoint(self._checkpoint(self.state.best_state, None, extra), self.session.out)


def epoch_line(row: dict, total: int) -> str:
    """One human line per metrics row: ``epoch 3/8 xe  loss 2.412 | val BLEU-4 20.31, ... (best) | lr 3.1e-04``."""
    if "averaged_last" in row:
        head = f"epoch {row['epoch']}/{total} {row['phase']}: average of the last {row['averaged_last']} epochs"
    else:
        trained = f"reward {row['reward']:.3f}" if "reward" in row else f"loss {row['train_loss']:.3f}"
        head = f"epoch {row['epoch']}/{total} {row['phase']}  {trained}"
    parts = [head]
    if "bleu4" in row:
        best = " (best)" if row.get("best") else ""
        parts.append(f"val BLEU-4 {row['bleu4']:.2f}, CIDEr-D {row['cider']:.3f}, loss {row['val_loss']:.3f}{best}")
    if "lr" in row:
        parts.append(f"lr {row['lr']:.1e}")
    if "seconds" in row:
        parts.append(f"{row['seconds']:.0f} s")
    return " | ".join(parts)


def train(
    data: TrainData,
    model_config: DecoderConfig,
    recipe: Recipe,
    session: Session,
    *,
    resume: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    init_state: dict[str, torch.Tensor] | None = None,
) -> dict:
    """Train a decoder (see ``Trainer``); raises ``TrainingInterrupted`` after saving when ``should_stop()``.

    ``init_state``: decoder weights to start from (e.g. a cross-entropy model before self-critical epochs).
    """
    trainer = Trainer(data, model_config, recipe, session)
    if init_state is not None:
        trainer.decoder.load_state_dict({k: v.float() for k, v in init_state.items()})
    if resume:
        trainer.resume()
    return trainer.run(should_stop)
