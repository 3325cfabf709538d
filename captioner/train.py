"""Training: teacher forcing with cross-entropy, then optional self-critical training with a CIDEr-D reward.

Runs on cached encoder features (or, once encoder fine-tuning starts, on images), in one process or as one rank of
a torchrun job (DistributedDataParallel). Losses are sums divided by global counts, so a step gives the same update
whatever the number of processes or accumulation steps that share its batch.

Legend: I images in a batch, B captions in a batch, T steps, V vocabulary, P grid positions, D channels.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from captioner.checkpoint import Checkpoint, read_checkpoint, save_checkpoint
from captioner.distributed import World
from captioner.errors import CaptionerError
from captioner.inference import DecodeOptions, decode
from captioner.metrics import CiderD, bleu_from_stats, bleu_stats
from captioner.model import AttentionDecoder, DecoderConfig, doubly_stochastic_penalty, pack_targets
from captioner.vocab import Vocabulary, tokenize

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class TrainConfig:
    epochs: int = 8  # teacher-forced (cross-entropy) epochs
    batch_images: int = 32  # images per optimizer step, over all processes and accumulation steps
    lr: float = 5e-4  # peak of the one-cycle schedule
    weight_decay: float = 0.01
    warmup: float = 0.15  # fraction of the steps spent rising to the peak learning rate
    grad_clip: float = 2.0
    label_smoothing: float = 0.1
    attention_reg: float = 1.0  # weight of the doubly-stochastic attention penalty
    max_caption_length: int = 30  # words; longer training captions are cut
    min_word_freq: int = 5
    seed: int = 0
    scst_epochs: int = 0  # self-critical epochs with a CIDEr-D reward after the cross-entropy ones
    scst_lr: float = 2e-5
    scst_samples: int = 5  # sampled captions per image; each one's baseline is the mean reward of the others
    scst_max_length: int = 16
    scst_top_k: int = 5  # sample each word from the k most likely (0: the full distribution)
    average_last: int = 1  # average the weights of the last N epochs of each phase if that scores better
    select_metric: str = "bleu4"  # "bleu4" or "cider": what picks the best epoch on the validation split
    precision: str = "fp32"  # autocast: "bf16" on CPUs/GPUs that support it, "fp16" (with loss scaling) on CUDA
    grad_accum: int = 1  # micro-batches per optimizer step
    fine_tune_encoder_from_epoch: int | None = None  # 1-based; from then on features are computed on the fly
    fine_tune_blocks: int = 3  # trainable modules at the end of the encoder when fine-tuning
    encoder_lr: float = 1e-5
    decode: DecodeOptions = field(default_factory=DecodeOptions)


@dataclass
class Split:
    """One split: cached features (N, P, D) float16 and, per image, its captions (and file, for fine-tuning)."""

    features: torch.Tensor
    captions: list[list[str]]
    names: list[str]
    paths: list[Path] | None = None

    def references(self) -> list[list[list[str]]]:
        return [[tokenize(c) for c in caps] for caps in self.captions]


class TrainingInterrupted(Exception):
    """Raised when ``should_stop`` turned true; the resumable state is already saved at ``path``."""

    def __init__(self, path: Path):
        super().__init__(str(path))
        self.path = path


def resume_path(out: Path) -> Path:
    return out.with_name(out.name + ".resume")


def metrics_path(out: Path) -> Path:
    return out.parent / "metrics.jsonl"


def encode_captions(split: Split, vocab: Vocabulary, max_words: int) -> list[list[list[int]]]:
    return [[vocab.encode(c, max_words) for c in caps] for caps in split.captions]


def make_batch(images: list[int], tokens: list[list[list[int]]], pad: int):
    """Captions of ``images``, longest first: (B, T) ids, (B,) index into ``images``, and the lengths."""
    rows = sorted(((len(seq), k, seq) for k, i in enumerate(images) for seq in tokens[i]), key=lambda r: -r[0])
    lengths = [r[0] for r in rows]
    caps = torch.full((len(rows), lengths[0]), pad, dtype=torch.long)  # (B, T)
    for j, (n, _, seq) in enumerate(rows):
        caps[j, :n] = torch.tensor(seq)
    return caps, torch.tensor([r[1] for r in rows]), lengths


def local_steps(n: int, cfg: TrainConfig, world: World, epoch: int) -> list[list[list[int]]]:
    """This rank's optimizer steps for an epoch, each a list of ``grad_accum`` micro-batches of image indices.

    The order is DistributedSampler's (seed + epoch), so step s covers the same images whatever the world size:
    a rank takes every world-th image of the permutation.
    """
    per_rank = cfg.batch_images // world.size
    if per_rank * world.size != cfg.batch_images or per_rank % cfg.grad_accum:
        raise CaptionerError(
            f"batch of {cfg.batch_images} images does not split into {world.size} processes x "
            f"{cfg.grad_accum} accumulation steps"
        )
    sampler = torch.utils.data.DistributedSampler(range(n), world.size, world.rank, shuffle=True, seed=cfg.seed)
    sampler.set_epoch(epoch)
    mine = list(sampler)
    micro = per_rank // cfg.grad_accum
    steps = []
    for s in range(0, len(mine), per_rank):
        chunk = mine[s : s + per_rank]
        steps.append([chunk[m : m + micro] for m in range(0, len(chunk), micro) if chunk[m : m + micro]])
    return steps


def _plain(d):
    """JSON-like copy (tuples to lists) so configs compare equal after a checkpoint round trip."""
    return json.loads(json.dumps(d))


class Trainer:
    """One training run. ``run`` trains and writes checkpoints; the other methods are its steps."""

    def __init__(
        self,
        train_split: Split,
        val_split: Split | None,
        vocab: Vocabulary,
        model_config: DecoderConfig,
        cfg: TrainConfig,
        out: Path,
        encoder_name: str,
        meta: dict | None = None,
        world: World | None = None,
        device: str = "cpu",
        log: Callable[[str], None] = print,
        progress: bool = False,
        encoder_builder: Callable[[], torch.nn.Module] | None = None,
    ):
        if cfg.precision not in PRECISIONS:
            raise CaptionerError(f"precision must be one of {', '.join(PRECISIONS)}")
        if cfg.precision == "fp16" and not device.startswith("cuda"):
            raise CaptionerError("--precision fp16 needs a CUDA GPU; use bf16 on a CPU")
        self.train_split, self.val_split, self.vocab, self.cfg = train_split, val_split, vocab, cfg
        self.model_config, self.out, self.encoder_name = model_config, out, encoder_name
        self.meta, self.world, self.device = dict(meta or {}), world or World(), torch.device(device)
        self.log = log if self.world.main else (lambda m: None)
        self.progress = progress and self.world.main
        self.encoder_builder = encoder_builder
        self.encoder: torch.nn.Module | None = None  # only while fine-tuning
        self.features_stale = False  # True once the encoder trains: cached features no longer match it
        torch.manual_seed(cfg.seed)
        self.decoder = AttentionDecoder(model_config).to(self.device)
        self.model = self.decoder
        if self.world.active:
            self.model = torch.nn.parallel.DistributedDataParallel(self.decoder, find_unused_parameters=False)
        self.tokens = encode_captions(train_split, vocab, cfg.max_caption_length)
        self.steps_per_epoch = len(local_steps(len(self.tokens), cfg, self.world, 0))
        self.optimizer = self._xe_optimizer()
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer,
            max_lr=[g["lr"] for g in self.optimizer.param_groups],
            total_steps=max(cfg.epochs, 1) * self.steps_per_epoch,
            pct_start=cfg.warmup,
            anneal_strategy="cos",
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.precision == "fp16")
        self.state = {
            "epoch": 0,
            "step": 0,
            "history": [],
            "best": None,
            "best_state": None,
            "recent": [],
            "elapsed": 0.0,
            "encoder_state": None,
        }
        self.cider: CiderD | None = None
        self._t_start = time.perf_counter()

    # -- set-up pieces ---------------------------------------------------------------------------------------------

    def _xe_optimizer(self) -> torch.optim.Optimizer:
        groups = [{"params": list(self.decoder.parameters()), "lr": self.cfg.lr}]
        if self.cfg.fine_tune_encoder_from_epoch is not None:
            self._ensure_encoder()
            groups.append({"params": self._encoder_trainable(), "lr": self.cfg.encoder_lr})
        return torch.optim.AdamW(groups, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)

    def _ensure_encoder(self) -> None:
        if self.encoder is None:
            if self.encoder_builder is None:
                raise CaptionerError("encoder fine-tuning needs the encoder; no builder was given")
            self.encoder = self.encoder_builder().to(self.device).eval()  # BatchNorm statistics stay frozen
            for p in self.encoder.parameters():
                p.requires_grad_(False)

    def _encoder_tail(self) -> torch.nn.Sequential:
        feats = self.encoder.features
        return feats[len(feats) - self.cfg.fine_tune_blocks :]

    def _encoder_trainable(self) -> list[torch.nn.Parameter]:
        return list(self._encoder_tail().parameters())

    def _fine_tuning(self, epoch: int) -> bool:
        k = self.cfg.fine_tune_encoder_from_epoch
        return k is not None and epoch + 1 >= k and epoch < self.cfg.epochs

    def _autocast(self):
        if self.cfg.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.cfg.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _features(self, split: Split, images: list[int], train_encoder: bool) -> torch.Tensor:
        """(I, P, D) float32 features: cached ones, or from the (partly trainable) encoder while fine-tuning."""
        if not train_encoder:
            return split.features[images].to(self.device).float()
        from captioner.images import Normalizer, read_tensor

        spec = self.encoder.spec
        x = torch.stack([read_tensor(split.paths[i], spec.image_size) for i in images]).to(self.device)
        x = Normalizer(spec.mean, spec.std).to(self.device)(x)
        feats = self.encoder.features
        head = len(feats) - self.cfg.fine_tune_blocks
        with torch.no_grad():
            x = feats[:head](x)
        with self._autocast():
            grid = feats[head:](x)  # (I, D, H, W)
        return grid.float().flatten(2).transpose(1, 2)  # (I, P, D)

    # -- losses ----------------------------------------------------------------------------------------------------

    def _xe_step(self, micro_batches: list[list[int]], train_encoder: bool) -> tuple[float, float]:
        """One optimizer step of teacher forcing; returns (plain cross-entropy summed over tokens, tokens)."""
        batches = [make_batch(m, self.tokens, self.vocab.pad) for m in micro_batches]
        tokens = sum(int((c[:, 1:] != self.vocab.pad).sum()) for c, _, _ in batches)
        rows = sum(c.size(0) for c, _, _ in batches)
        g_tokens, g_rows = self.world.sum([tokens, rows])
        plain_sum = 0.0
        for k, ((caps, index, lengths), images) in enumerate(zip(batches, micro_batches)):
            sync = k == len(batches) - 1 or not self.world.active
            ctx = contextlib.nullcontext() if sync else self.model.no_sync()
            with ctx:
                feats = self._features(self.train_split, images, train_encoder)
                caps, index = caps.to(self.device), index.to(self.device)
                with self._autocast():
                    logits, alphas = self.model(feats, caps, index, lengths, packed=True)  # (N, V), (B, T, P)
                mask = caps[:, 1:] != self.vocab.pad
                flat, flat_t = logits.float(), pack_targets(caps, lengths)  # real tokens only, no padding
                ce = F.cross_entropy(flat, flat_t, reduction="sum", label_smoothing=self.cfg.label_smoothing)
                loss = ce / g_tokens
                if self.cfg.attention_reg:
                    penalty = doubly_stochastic_penalty(alphas.float(), mask) * caps.size(0)  # summed over rows
                    loss = loss + self.cfg.attention_reg * penalty / g_rows
                self.scaler.scale(loss * self.world.size).backward()  # DDP averages gradients over ranks
            with torch.no_grad():
                plain_sum += float(F.cross_entropy(flat.detach(), flat_t, reduction="sum"))
        self._optimizer_step()
        self.scheduler.step()
        return plain_sum, tokens

    def _scst_step(self, micro_batches: list[list[int]]) -> tuple[float, int]:
        """One optimizer step of self-critical training; returns (summed reward, samples)."""
        n = self.cfg.scst_samples
        g_rows = self.world.sum([sum(len(m) * n for m in micro_batches)])[0]
        total, count = 0.0, 0
        for k, images in enumerate(micro_batches):
            sync = k == len(micro_batches) - 1 or not self.world.active
            with contextlib.nullcontext() if sync else self.model.no_sync():
                feats = self._features(self.train_split, images, False)
                with self._autocast():
                    seqs, lengths, logp = self.model(
                        feats,
                        sample={
                            "n": n,
                            "max_length": self.cfg.scst_max_length,
                            "start": self.vocab.start,
                            "end": self.vocab.end,
                            "banned": (self.vocab.pad, self.vocab.unk),
                            "top_k": self.cfg.scst_top_k,
                        },
                    )
                words = [
                    [self.vocab.words[t] for t in row[: int(L)] if t != self.vocab.end]
                    for row, L in zip(seqs.tolist(), lengths.tolist())
                ]
                rewards = torch.tensor(
                    [self.cider.score(w, self._refs[images[j // n]], prepared=True) for j, w in enumerate(words)]
                ).view(-1, n)  # (I, n)
                baseline = (rewards.sum(1, keepdim=True) - rewards) / (n - 1)
                advantage = (rewards - baseline).view(-1).to(self.device)  # (I*n,)
                loss = -(advantage * logp.float() / lengths.clamp(min=1).float()).sum() / g_rows
                self.scaler.scale(loss * self.world.size).backward()
            total, count = total + float(rewards.sum()), count + rewards.numel()
        self._optimizer_step()
        return total, count

    def _optimizer_step(self) -> None:
        self.scaler.unscale_(self.optimizer)
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)

    # -- epochs ----------------------------------------------------------------------------------------------------

    def _epoch(self, epoch: int, start: int, scst: bool, should_stop: Callable[[], bool]) -> float:
        from tqdm import tqdm

        steps = local_steps(len(self.tokens), self.cfg, self.world, epoch)
        train_encoder = self._fine_tuning(epoch)
        self.model.train()
        total, count, t0, caps = 0.0, 0, time.perf_counter(), 0
        bar = tqdm(
            total=len(steps),
            initial=start,
            desc=f"{'scst' if scst else 'epoch'} {epoch + 1}",
            unit="step",
            disable=not self.progress,
            leave=False,
            dynamic_ncols=True,
        )
        for s in range(start, len(steps)):
            if scst:
                t, c = self._scst_step(steps[s])
            else:
                t, c = self._xe_step(steps[s], train_encoder)
                caps += sum(len(self.tokens[i]) for m in steps[s] for i in m)
            total, count = total + t, count + c
            bar.update()
            bar.set_postfix(
                {
                    "reward" if scst else "loss": f"{total / max(count, 1):.3f}",
                    **({} if scst else {"caps/s": f"{caps / (time.perf_counter() - t0):.0f}"}),
                }
            )
            if any(self.world.gather(should_stop())):  # every rank stops at the same step
                bar.close()
                self._save_resume(epoch, s + 1)
                raise TrainingInterrupted(resume_path(self.out))
        bar.close()
        total, count = self.world.sum([total, count])
        return total / max(count, 1)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Free-running beam search on the validation split, sharded over ranks: BLEU-1..4, CIDEr-D, val loss."""
        split, world = self.val_split, self.world
        mine = list(range(world.rank, len(split.captions), world.size))
        if self.features_stale:
            feats = torch.cat([self._features(split, mine[i : i + 32], True) for i in range(0, len(mine), 32)])
        else:
            feats = split.features[mine]
        caps = decode(self.decoder, feats, self.vocab, self.cfg.decode)
        hyps = {i: tokenize(c[0].text) if c else [] for i, c in zip(mine, caps)}
        refs = split.references()
        stats = world.sum(bleu_stats([refs[i] for i in mine], [hyps[i] for i in mine]))
        scores = bleu_from_stats(stats)
        all_hyps = {k: v for part in world.gather(hyps) for k, v in part.items()}
        ordered = [all_hyps[i] for i in range(len(refs))]
        scores["cider"] = CiderD(refs).corpus_score(refs, ordered)
        self.decoder.eval()
        tokens = encode_captions(split, self.vocab, self.cfg.max_caption_length)
        ce, count = 0.0, 0
        for i in range(0, len(mine), 64):
            images = mine[i : i + 64]
            c, index, lengths = make_batch(images, tokens, self.vocab.pad)
            f = feats[i : i + 64].to(self.device).float()
            logits, _ = self.decoder(f, c.to(self.device), index.to(self.device), lengths)
            ce += float(
                F.cross_entropy(
                    logits.float().reshape(-1, logits.size(-1)),
                    c[:, 1:].reshape(-1).to(self.device),
                    ignore_index=self.vocab.pad,
                    reduction="sum",
                )
            )
            count += int((c[:, 1:] != self.vocab.pad).sum())
        ce, count = world.sum([ce, count])
        scores["val_loss"] = ce / max(count, 1)
        return scores

    # -- checkpoints -----------------------------------------------------------------------------------------------

    def _checkpoint(self, decoder_state, train_state=None, extra=None) -> Checkpoint:
        return Checkpoint(
            self.model_config,
            self.encoder_name,
            self.vocab,
            decoder_state,
            self.state["encoder_state"],
            {**self.meta, "train_config": _plain(asdict(self.cfg)), **(extra or {})},
            train_state,
        )

    def _current_encoder_state(self):
        if self.encoder is None or self.cfg.fine_tune_encoder_from_epoch is None:
            return None
        return {k: v.detach().clone().cpu() for k, v in self.encoder.state_dict().items()}

    def _save_resume(self, epoch: int, step: int) -> None:
        if self.world.main:
            ts = {
                **self.state,
                "epoch": epoch,
                "step": step,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": torch.get_rng_state(),
                "train_config": _plain(asdict(self.cfg)),
                "world_size": self.world.size,
                "elapsed": self.state["elapsed"] + time.perf_counter() - self._t_start,
                "live_encoder_state": self._current_encoder_state(),
            }
            decoder_state = {k: v.detach().clone().cpu() for k, v in self.decoder.state_dict().items()}
            save_checkpoint(self._checkpoint(decoder_state, ts), resume_path(self.out))
        self.world.barrier()

    def resume(self) -> None:
        """Continue from ``out + '.resume'``; the run then ends with the same weights as an uninterrupted one."""
        path = resume_path(self.out)
        if not path.is_file():
            raise CaptionerError(f"{path}: nothing to resume (no such file)")
        saved = read_checkpoint(path)
        if saved.vocab != self.vocab or asdict(saved.config) != asdict(self.model_config):
            raise CaptionerError(f"{path}: was trained with another vocabulary or model configuration")
        ts = saved.train_state or {}
        if ts.get("train_config") != _plain(asdict(self.cfg)) or ts.get("world_size") != self.world.size:
            raise CaptionerError(
                f"{path}: was started with other training options or another number of "
                "processes; resume with the same ones"
            )
        self.decoder.load_state_dict(saved.decoder_state)
        if ts.get("live_encoder_state") is not None:
            self._ensure_encoder()
            self.encoder.load_state_dict(ts["live_encoder_state"])
        if self._in_scst(ts["epoch"], ts["step"]):
            self.optimizer = torch.optim.Adam(self.decoder.parameters(), lr=self.cfg.scst_lr)
        self.optimizer.load_state_dict(ts["optimizer"])
        self.scheduler.load_state_dict(ts["scheduler"])
        torch.set_rng_state(ts["rng"])
        self.state = {k: ts[k] for k in self.state}
        self.log(f"resuming from {path}: epoch {self.state['epoch'] + 1}, step {self.state['step']}")

    def _in_scst(self, epoch: int, step: int) -> bool:
        return epoch > self.cfg.epochs or (epoch == self.cfg.epochs and step > 0)

    # -- the run ---------------------------------------------------------------------------------------------------

    def _record(self, row: dict) -> None:
        """Log an epoch's row, append it to metrics.jsonl and redraw curves.png beside the checkpoint."""
        from captioner.plots import plot_curves, read_metrics

        self.state["history"].append(row)
        self.log(json.dumps(row))
        if self.world.main:
            with open(metrics_path(self.out), "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            plot_curves(read_metrics(metrics_path(self.out)), self.out.parent / "curves.png", self.out.name)

    def _consider(self, decoder_state: dict, row: dict) -> None:
        """Validate ``decoder_state`` (loaded in the decoder) and keep it if it is the best so far."""
        if self.val_split is None:  # no validation: the latest weights are the result
            self.state["best_state"] = decoder_state
            self.state["encoder_state"] = self._current_encoder_state()
            return
        scores = self.evaluate()
        row.update({k: round(v, 4) for k, v in scores.items()})
        key = (scores[self.cfg.select_metric], -scores["val_loss"])  # ties go to the lower validation loss
        if self.state["best"] is None or key > tuple(self.state["best"]):
            self.state["best"], self.state["best_state"] = list(key), decoder_state
            self.state["encoder_state"] = self._current_encoder_state()
            row["best"] = True

    def _begin_epoch(self, epoch: int) -> None:
        cfg = self.cfg
        if epoch == cfg.epochs and self.state["step"] == 0 and cfg.scst_epochs:  # entering self-critical training
            if self.state["best_state"] is not None:
                self.decoder.load_state_dict(self.state["best_state"])
            self.optimizer = torch.optim.Adam(self.decoder.parameters(), lr=cfg.scst_lr)
            self.state["recent"] = []
            self.log("self-critical training with a CIDEr-D reward, from the best cross-entropy weights")
        if epoch >= cfg.epochs and self.cider is None:
            refs = self.train_split.references()
            self.cider = CiderD(refs)
            self._refs = [self.cider.prepare_refs(r) for r in refs]
        if self._fine_tuning(epoch) and (epoch + 1 == cfg.fine_tune_encoder_from_epoch or self.encoder is None):
            self._ensure_encoder()
            for p in self._encoder_trainable():
                p.requires_grad_(True)
            self.features_stale = True
            self.log(
                f"epoch {epoch + 1}: fine-tuning the last {cfg.fine_tune_blocks} encoder blocks at lr "
                f"{cfg.encoder_lr:g}; features are now computed on the fly (the feature cache no longer applies)"
            )
        if epoch == cfg.epochs and self.encoder is not None and cfg.fine_tune_encoder_from_epoch is not None:
            self._refresh_features()

    def _refresh_features(self) -> None:
        """After fine-tuning, recompute the cached features once with the tuned encoder (for self-critical epochs)."""
        if self.state["encoder_state"] is not None:
            self.encoder.load_state_dict(self.state["encoder_state"])
        for split in (self.train_split, self.val_split):
            if split is not None:
                with torch.no_grad():
                    split.features = torch.cat(
                        [
                            self._features(split, list(range(i, min(i + 32, len(split.names)))), True).half().cpu()
                            for i in range(0, len(split.names), 32)
                        ]
                    )
        self.features_stale = False

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> dict:
        """Train; the best checkpoint goes to ``out`` (the last one without validation), a resumable state to
        ``out + '.resume'`` after every epoch and on ``should_stop()``, per-epoch metrics to ``metrics.jsonl``."""
        cfg = self.cfg
        total_epochs = cfg.epochs + cfg.scst_epochs
        if self.state["epoch"] == 0 and self.state["step"] == 0 and self.world.main:
            metrics_path(self.out).unlink(missing_ok=True)  # a fresh run starts a fresh record
        for epoch in range(self.state["epoch"], total_epochs):
            scst = epoch >= cfg.epochs
            self._begin_epoch(epoch)
            t0 = time.perf_counter()
            metric = self._epoch(epoch, self.state["step"], scst, should_stop)
            self.state["step"] = 0
            row = {
                "epoch": epoch + 1,
                "phase": "scst" if scst else "xe",
                ("reward" if scst else "train_loss"): round(metric, 4),
                "lr": self.optimizer.param_groups[0]["lr"],
                "train_seconds": round(time.perf_counter() - t0, 1),
            }
            current = {k: v.detach().clone().cpu() for k, v in self.decoder.state_dict().items()}
            self.state["recent"] = (self.state["recent"] + [current])[-cfg.average_last :]
            self._consider(current, row)
            row["seconds"] = round(time.perf_counter() - t0, 1)
            self._record(row)
            if epoch + 1 in (cfg.epochs, total_epochs) and len(self.state["recent"]) > 1 and self.val_split:
                self._try_average(epoch, row["phase"], current)
            self.state["epoch"] = epoch + 1
            self._save_resume(epoch + 1, 0)
            self._save_best(epoch)
        self.state["elapsed"] += time.perf_counter() - self._t_start
        return {"history": self.state["history"], "best": self.state["best"], "elapsed": self.state["elapsed"]}

    def _try_average(self, epoch: int, phase: str, current: dict) -> None:
        recent = self.state["recent"]
        averaged = {k: sum(s[k].float() for s in recent) / len(recent) for k in recent[0]}
        self.decoder.load_state_dict(averaged)
        row = {"epoch": epoch + 1, "phase": phase, "averaged_last": len(recent)}
        self._consider(averaged, row)
        if not row.get("best"):
            self.decoder.load_state_dict(current)
        self._record(row)

    def _save_best(self, epoch: int) -> None:
        if self.world.main and self.state["best_state"] is not None:
            best_row = next((r for r in reversed(self.state["history"]) if r.get("best")), self.state["history"][-1])
            extra = {"history": self.state["history"], "selected": best_row, "epochs_run": epoch + 1}
            save_checkpoint(self._checkpoint(self.state["best_state"], None, extra), self.out)


def train(
    train_split: Split,
    val_split: Split | None,
    vocab: Vocabulary,
    model_config: DecoderConfig,
    cfg: TrainConfig,
    out: Path,
    encoder_name: str,
    meta: dict | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    log: Callable[[str], None] = print,
    progress: bool = False,
    world: World | None = None,
    device: str = "cpu",
    encoder_builder: Callable[[], torch.nn.Module] | None = None,
    init_state: dict[str, torch.Tensor] | None = None,
) -> dict:
    """Train a decoder (see ``Trainer``); raises ``TrainingInterrupted`` after saving when ``should_stop()``.

    ``init_state``: decoder weights to start from (e.g. a cross-entropy model before self-critical epochs).
    """
    trainer = Trainer(
        train_split,
        val_split,
        vocab,
        model_config,
        cfg,
        out,
        encoder_name,
        meta,
        world,
        device,
        log,
        progress,
        encoder_builder,
    )
    if init_state is not None:
        trainer.decoder.load_state_dict({k: v.float() for k, v in init_state.items()})
    if resume:
        trainer.resume()
    return trainer.run(should_stop)
