"""Training on cached encoder features: teacher forcing with cross-entropy, then optional self-critical training.

Legend: I images in a batch, B captions in a batch, T steps, V vocabulary, P grid positions, D channels.
Plain functions in the torchvision-reference style: ``train_one_epoch``, ``evaluate``, ``train``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from captioner.atomic import atomic_write
from captioner.checkpoint import Checkpoint, read_checkpoint, save_checkpoint
from captioner.errors import CaptionerError
from captioner.inference import DecodeOptions, decode
from captioner.metrics import CiderD, corpus_bleu
from captioner.model import AttentionDecoder, DecoderConfig, doubly_stochastic_penalty
from captioner.vocab import Vocabulary, tokenize


@dataclass
class TrainConfig:
    epochs: int = 8  # teacher-forced (cross-entropy) epochs
    batch_images: int = 32  # images per batch; each brings all its captions
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
    average_last: int = 1  # average the weights of the last N epochs of each phase if that scores better
    select_metric: str = "bleu4"  # "bleu4" or "cider": what picks the best epoch on the validation split
    val_max_images: int | None = None
    decode: DecodeOptions = field(default_factory=DecodeOptions)


@dataclass
class Split:
    """One split ready to train on: features (N, P, D) float16 and, per image, its captions."""

    features: torch.Tensor
    captions: list[list[str]]
    names: list[str]

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


# -- batches -------------------------------------------------------------------------------------------------------


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


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The image order of an epoch: a function of (seed, epoch) alone, so a resumed run sees the same batches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).tolist()


def xe_loss(
    decoder: AttentionDecoder,
    feats: torch.Tensor,
    caps: torch.Tensor,
    index: torch.Tensor,
    lengths: list[int],
    label_smoothing: float,
    attention_reg: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss to optimise, plain cross-entropy) of a teacher-forced batch."""
    logits, alphas = decoder(feats, caps, index, lengths)  # (B, T, V), (B, T, P)
    targets = caps[:, 1:]  # (B, T)
    mask = targets != 0
    flat_logits, flat_targets = logits.reshape(-1, logits.size(-1)), targets.reshape(-1)
    ce = F.cross_entropy(flat_logits, flat_targets, ignore_index=0, label_smoothing=label_smoothing)
    plain = ce if label_smoothing == 0 else F.cross_entropy(flat_logits.detach(), flat_targets, ignore_index=0)
    loss = ce + attention_reg * doubly_stochastic_penalty(alphas, mask) if attention_reg else ce
    return loss, plain


# -- one epoch of each kind ----------------------------------------------------------------------------------------


def train_one_epoch(
    decoder,
    optimizer,
    scheduler,
    split: Split,
    tokens,
    cfg: TrainConfig,
    epoch: int,
    start_batch: int = 0,
    should_stop: Callable[[], bool] = lambda: False,
    on_stop: Callable[[int], None] = lambda b: None,
    progress: bool = False,
) -> float:
    """One pass of teacher forcing over ``split``; returns the mean plain cross-entropy per token."""
    from tqdm import tqdm

    decoder.train()
    order = epoch_order(len(tokens), cfg.seed, epoch)
    batches = [order[i : i + cfg.batch_images] for i in range(0, len(order), cfg.batch_images)]
    total, count = 0.0, 0
    bar = tqdm(
        total=len(batches),
        initial=start_batch,
        desc=f"epoch {epoch + 1}",
        unit="batch",
        disable=not progress,
        leave=False,
        dynamic_ncols=True,
    )
    t0, n_caps = time.perf_counter(), 0
    for b in range(start_batch, len(batches)):
        caps, index, lengths = make_batch(batches[b], tokens, 0)
        feats = split.features[batches[b]].float()  # (I, P, D)
        loss, plain = xe_loss(decoder, feats, caps, index, lengths, cfg.label_smoothing, cfg.attention_reg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(decoder.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        total, count, n_caps = total + float(plain), count + 1, n_caps + caps.size(0)
        bar.set_postfix(loss=f"{total / count:.3f}", caps_per_s=f"{n_caps / (time.perf_counter() - t0):.0f}")
        bar.update()
        if should_stop():
            bar.close()
            on_stop(b + 1)
    bar.close()
    return total / max(count, 1)


def sample_captions(decoder: AttentionDecoder, feats: torch.Tensor, n: int, max_length: int, vocab: Vocabulary):
    """``n`` sampled captions per image, with the sum of their token log-probabilities (which carries gradients).

    Returns token lists (I*n, each without <end>) and log-probabilities (I*n,).
    """
    memory, state = decoder.start(feats)
    memory = tuple(m.repeat_interleave(n, 0) for m in memory)  # (I*n, ...)
    state = tuple(s.repeat_interleave(n, 0) for s in state)
    rows = memory[0].size(0)
    tokens = torch.full((rows,), vocab.start, dtype=torch.long)
    alive = torch.ones(rows, dtype=torch.bool)
    logp_sum = torch.zeros(rows)
    seqs = []
    for _ in range(max_length):
        logp, state, _ = decoder.step(tokens, state, memory)  # (R, V)
        logp = logp.index_fill(1, torch.tensor([vocab.pad, vocab.start, vocab.unk]), -math.inf)
        tokens = torch.multinomial(logp.detach().exp(), 1).squeeze(1)  # (R,)
        logp_sum = logp_sum + logp.gather(1, tokens.unsqueeze(1)).squeeze(1) * alive
        seqs.append(torch.where(alive, tokens, torch.full_like(tokens, vocab.end)))
        alive = alive & (tokens != vocab.end)
        if not alive.any():
            break
    ids = torch.stack(seqs, 1).tolist()
    return [s[: s.index(vocab.end)] if vocab.end in s else s for s in ids], logp_sum


def scst_one_epoch(
    decoder,
    optimizer,
    split: Split,
    vocab: Vocabulary,
    cider: CiderD,
    refs_prepared,
    cfg,
    epoch,
    start_batch: int = 0,
    should_stop=lambda: False,
    on_stop=lambda b: None,
    progress: bool = False,
) -> float:
    """Self-critical training (Rennie et al. 2017) with the mean-of-other-samples baseline (Luo 2020).

    Returns the mean CIDEr-D reward of the samples.
    """
    from tqdm import tqdm

    decoder.train()
    order = epoch_order(len(split.captions), cfg.seed, epoch)
    batches = [order[i : i + cfg.batch_images] for i in range(0, len(order), cfg.batch_images)]
    n = cfg.scst_samples
    total, count = 0.0, 0
    bar = tqdm(
        total=len(batches),
        initial=start_batch,
        desc=f"scst {epoch + 1}",
        unit="batch",
        disable=not progress,
        leave=False,
        dynamic_ncols=True,
    )
    for b in range(start_batch, len(batches)):
        images = batches[b]
        seqs, logp = sample_captions(decoder, split.features[images].float(), n, cfg.scst_max_length, vocab)
        words = [[vocab.words[t] for t in s] for s in seqs]
        rewards = torch.tensor(
            [cider.score(w, refs_prepared[images[k // n]], prepared=True) for k, w in enumerate(words)]
        ).view(-1, n)  # (I, n)
        baseline = (rewards.sum(1, keepdim=True) - rewards) / (n - 1)
        advantage = (rewards - baseline).view(-1)  # (I*n,)
        lengths = torch.tensor([len(s) + 1 for s in seqs], dtype=torch.float)
        loss = -(advantage * logp / lengths).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(decoder.parameters(), cfg.grad_clip)
        optimizer.step()
        total, count = total + float(rewards.mean()), count + 1
        bar.set_postfix(reward=f"{total / count:.3f}")
        bar.update()
        if should_stop():
            bar.close()
            on_stop(b + 1)
    bar.close()
    return total / max(count, 1)


# -- validation ----------------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(
    decoder: AttentionDecoder, split: Split, vocab: Vocabulary, options: DecodeOptions, max_words: int = 30
) -> dict[str, float]:
    """Free-running beam search on ``split``: corpus BLEU-1..4 and CIDEr-D; plus teacher-forced val loss."""
    caps = decode(decoder, split.features, vocab, options)
    hyps = [tokenize(c[0].text) if c else [] for c in caps]
    refs = split.references()
    scores = corpus_bleu(refs, hyps)
    scores["cider"] = CiderD(refs).corpus_score(refs, hyps)
    decoder.eval()
    tokens = encode_captions(split, vocab, max_words)
    total, count = 0.0, 0
    for i in range(0, len(tokens), 64):
        images = list(range(i, min(i + 64, len(tokens))))
        c, index, lengths = make_batch(images, tokens, 0)
        _, plain = xe_loss(decoder, split.features[images].float(), c, index, lengths, 0.0, 0.0)
        total, count = total + float(plain) * c.size(0), count + c.size(0)
    scores["val_loss"] = total / max(count, 1)
    return scores


# -- the whole run -------------------------------------------------------------------------------------------------


def _average(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: sum(s[k].float() for s in states) / len(states) for k in states[0]}


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
) -> dict:
    """Train a decoder and write the best checkpoint to ``out`` (the last one if there is no validation split).

    A resumable state is kept at ``out + ".resume"`` after every epoch, and when ``should_stop()`` turns true
    (Ctrl-C): then ``TrainingInterrupted`` is raised. With ``resume``, training continues from that state and ends
    with the same weights as an uninterrupted run. Per-epoch metrics go to ``metrics.jsonl`` beside ``out``.
    """
    torch.manual_seed(cfg.seed)
    decoder = AttentionDecoder(model_config)
    tokens = encode_captions(train_split, vocab, cfg.max_caption_length)
    steps_per_epoch = math.ceil(len(tokens) / cfg.batch_images)
    optimizer = torch.optim.AdamW(decoder.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=cfg.lr,
        total_steps=max(cfg.epochs, 1) * steps_per_epoch,
        pct_start=cfg.warmup,
        anneal_strategy="cos",
    )
    meta = dict(meta or {})
    state = {"epoch": 0, "batch": 0, "history": [], "best": -math.inf, "best_state": None, "recent": [], "elapsed": 0.0}
    rpath = resume_path(out)
    if resume:
        if not rpath.is_file():
            raise CaptionerError(f"{rpath}: nothing to resume (no such file)")
        saved = read_checkpoint(rpath)
        if saved.vocab != vocab or asdict(saved.config) != asdict(model_config):
            raise CaptionerError(f"{rpath}: was trained with another vocabulary or model configuration")
        ts = saved.train_state or {}
        if ts.get("train_config") != _plain(asdict(cfg)):
            raise CaptionerError(f"{rpath}: was started with other training options; resume with the same ones")
        decoder.load_state_dict(saved.decoder_state)
        if ts["epoch"] > cfg.epochs or (ts["epoch"] == cfg.epochs and ts["batch"] > 0):  # inside self-critical
            optimizer = torch.optim.Adam(decoder.parameters(), lr=cfg.scst_lr)
        optimizer.load_state_dict(ts["optimizer"])
        scheduler.load_state_dict(ts["scheduler"])
        torch.set_rng_state(ts["rng"])
        state = {k: ts[k] for k in state}
        log(f"resuming from {rpath}: epoch {state['epoch'] + 1}, batch {state['batch']}")

    def checkpoint(decoder_state, train_state=None, extra=None) -> Checkpoint:
        return Checkpoint(
            model_config,
            encoder_name,
            vocab,
            decoder_state,
            None,
            {**meta, "train_config": _plain(asdict(cfg)), **(extra or {})},
            train_state,
        )

    def save_resume(epoch: int, batch: int) -> None:
        ts = {
            **state,
            "epoch": epoch,
            "batch": batch,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(),
            "train_config": _plain(asdict(cfg)),
            "elapsed": state["elapsed"] + time.perf_counter() - t_start,
        }
        save_checkpoint(checkpoint({k: v.clone() for k, v in decoder.state_dict().items()}, ts), rpath)

    def stop_now(epoch: int) -> Callable[[int], None]:
        def on_stop(batch: int) -> None:
            save_resume(epoch, batch)
            raise TrainingInterrupted(rpath)

        return on_stop

    t_start = time.perf_counter()
    cider = refs_prepared = None
    total_epochs = cfg.epochs + cfg.scst_epochs
    for epoch in range(state["epoch"], total_epochs):
        scst = epoch >= cfg.epochs
        if scst and epoch == cfg.epochs and state["batch"] == 0:  # entering self-critical training
            if state["best_state"] is not None:
                decoder.load_state_dict(state["best_state"])
            optimizer = torch.optim.Adam(decoder.parameters(), lr=cfg.scst_lr)
            state["recent"] = []
            log("self-critical training with a CIDEr-D reward, from the best cross-entropy weights")
        t0 = time.perf_counter()
        if scst:
            if cider is None:
                refs = train_split.references()
                cider = CiderD(refs)
                refs_prepared = [cider.prepare_refs(r) for r in refs]
            train_metric = scst_one_epoch(
                decoder,
                optimizer,
                train_split,
                vocab,
                cider,
                refs_prepared,
                cfg,
                epoch,
                state["batch"],
                should_stop,
                stop_now(epoch),
                progress,
            )
        else:
            train_metric = train_one_epoch(
                decoder,
                optimizer,
                scheduler,
                train_split,
                tokens,
                cfg,
                epoch,
                state["batch"],
                should_stop,
                stop_now(epoch),
                progress,
            )
        state["batch"] = 0
        row = {
            "epoch": epoch + 1,
            "phase": "scst" if scst else "xe",
            ("reward" if scst else "train_loss"): round(train_metric, 4),
            "lr": optimizer.param_groups[0]["lr"],
            "train_seconds": round(time.perf_counter() - t0, 1),
        }
        current = {k: v.detach().clone() for k, v in decoder.state_dict().items()}
        state["recent"] = (state["recent"] + [current])[-cfg.average_last :]
        if val_split is not None:
            scores = evaluate(decoder, val_split, vocab, cfg.decode)
            row.update({k: round(v, 4) for k, v in scores.items()})
            metric = scores[cfg.select_metric]
            if metric > state["best"]:
                state["best"], state["best_state"] = metric, current
                row["best"] = True
        else:
            state["best_state"] = current
        row["seconds"] = round(time.perf_counter() - t0, 1)
        state["history"].append(row)
        log(json.dumps(row))
        with open(metrics_path(out), "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        last_of_phase = epoch + 1 in (cfg.epochs, total_epochs)
        if last_of_phase and cfg.average_last > 1 and len(state["recent"]) > 1 and val_split is not None:
            averaged = _average(state["recent"])
            decoder.load_state_dict(averaged)
            scores = evaluate(decoder, val_split, vocab, cfg.decode)
            avg_row = {
                "epoch": epoch + 1,
                "phase": row["phase"],
                "averaged_last": len(state["recent"]),
                **{k: round(v, 4) for k, v in scores.items()},
            }
            if scores[cfg.select_metric] > state["best"]:
                state["best"], state["best_state"] = scores[cfg.select_metric], averaged
                avg_row["best"] = True
            else:
                decoder.load_state_dict(current)
            log(json.dumps(avg_row))
            state["history"].append(avg_row)
            with open(metrics_path(out), "a", encoding="utf-8") as f:
                f.write(json.dumps(avg_row) + "\n")
        state["epoch"] = epoch + 1
        save_resume(epoch + 1, 0)
        if state["best_state"] is not None:
            best_row = next((r for r in reversed(state["history"]) if r.get("best")), row)
            save_checkpoint(
                checkpoint(
                    state["best_state"],
                    None,
                    {"history": state["history"], "selected": best_row, "epochs_run": epoch + 1},
                ),
                out,
            )
    elapsed = state["elapsed"] + time.perf_counter() - t_start
    return {"history": state["history"], "best": state["best"], "elapsed": elapsed}


def _plain(d):
    """JSON-like copy (tuples to lists) so configs compare equal after a checkpoint round trip."""
    return json.loads(json.dumps(d))


def write_json(path: Path, data) -> None:
    with atomic_write(path) as f:
        json.dump(data, f, indent=2)
