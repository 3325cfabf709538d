"""One optimizer step at a time: the decoder (DDP-wrapped under torchrun), its optimizer, schedule and loss scaler.

A step is ``grad_accum`` micro-batches whose gradients add up (DDP syncs only on the last) before one update.

Legend: I images in a micro-batch, n samples per image, B captions, N real tokens, V vocabulary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from captioner.evaluation.metrics import CiderD
from captioner.model.decoder import AttentionDecoder
from captioner.model.vocab import PAD_ID, Vocabulary
from captioner.training.batches import Split, make_batch
from captioner.training.config import Recipe
from captioner.training.distributed import World
from captioner.training.encoder_tuning import EncoderTuner
from captioner.training.losses import scst_advantage, scst_loss, xe_loss


class StepRunner:
    """Turns micro-batches of image indices into parameter updates, for both training phases."""

    def __init__(self, decoder: AttentionDecoder, recipe: Recipe, world: World, tuner: EncoderTuner, total_steps: int):
        self.decoder, self.recipe, self.world, self.tuner = decoder, recipe, world, tuner
        self.model = torch.nn.parallel.DistributedDataParallel(decoder) if world.active else decoder
        groups = [{"params": list(decoder.parameters()), "lr": recipe.lr}]
        if tuner.enabled:
            groups.append({"params": tuner.trainable(), "lr": recipe.encoder_lr})
        self.optimizer: torch.optim.Optimizer = torch.optim.AdamW(
            groups, lr=recipe.lr, weight_decay=recipe.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer,
            max_lr=[g["lr"] for g in self.optimizer.param_groups],
            total_steps=total_steps,
            pct_start=recipe.warmup,
            anneal_strategy="cos",
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=recipe.precision == "fp16")

    def use_scst_optimizer(self) -> None:
        """Self-critical epochs train the decoder alone with Adam at a constant, small learning rate."""
        self.optimizer = torch.optim.Adam(self.decoder.parameters(), lr=self.recipe.scst_lr)

    def autocast(self):
        if self.recipe.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.recipe.precision == "bf16" else torch.float16
        return torch.autocast(self.tuner.device.type, dtype=dtype)

    def _accumulate(self, micro_batches: list[list[int]], loss_of: Callable[[list[int]], torch.Tensor]) -> None:
        for k, images in enumerate(micro_batches):
            sync = k == len(micro_batches) - 1 or not self.world.active
            with contextlib.nullcontext() if sync else self.model.no_sync():
                loss = loss_of(images)
                self.scaler.scale(loss * self.world.size).backward()  # DDP averages gradients over ranks
        self.scaler.unscale_(self.optimizer)
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, self.recipe.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)

    def xe_step(self, split: Split, tokens: list, micro_batches: list[list[int]], train_encoder: bool) -> tuple:
        """One teacher-forced step; returns (plain cross-entropy summed over tokens, tokens)."""
        pad = PAD_ID
        batches = [make_batch(m, tokens, pad) for m in micro_batches]
        n_tokens = sum(int((c[:, 1:] != pad).sum()) for c, _, _ in batches)
        g_tokens, g_rows = self.world.sum([n_tokens, sum(c.size(0) for c, _, _ in batches)])
        logged = []
        queue = iter(batches)

        def loss_of(images: list[int]) -> torch.Tensor:
            caps, index, lengths = next(queue)
            feats = self.tuner.features(split, images, train_encoder, self.autocast)
            caps, index = caps.to(self.tuner.device), index.to(self.tuner.device)
            with self.autocast():
                logits, alphas = self.model(feats, caps, index, lengths, packed=True)  # (N, V), (B, T, P)
            ce, penalty, plain = xe_loss(logits, alphas, caps, lengths, pad, self.recipe)
            logged.append(float(plain))
            loss = ce / g_tokens
            if self.recipe.attention_reg:
                loss = loss + self.recipe.attention_reg * penalty / g_rows
            return loss

        self._accumulate(micro_batches, loss_of)
        if self.scheduler.last_epoch + 1 < self.scheduler.total_steps:  # past the end OneCycleLR climbs back up
            self.scheduler.step()
        return sum(logged), n_tokens

    def scst_step(
        self, split: Split, cider: tuple[CiderD, list], micro_batches: list[list[int]], vocab: Vocabulary
    ) -> tuple:
        """One self-critical step with a CIDEr-D reward; returns (summed reward, samples)."""
        scorer, refs = cider
        n = self.recipe.scst_samples
        g_rows = self.world.sum([sum(len(m) * n for m in micro_batches)])[0]
        sums = [0.0, 0]
        sample = {
            "n": n,
            "max_length": self.recipe.scst_max_length,
            "start": vocab.start,
            "end": vocab.end,
            "banned": (vocab.pad, vocab.unk),
            "top_k": self.recipe.scst_top_k,
        }

        def loss_of(images: list[int]) -> torch.Tensor:
            feats = self.tuner.features(split, images, False)
            with self.autocast():
                seqs, lengths, logp = self.model(feats, sample=sample)  # (I*n, T), (I*n,), (I*n,)
            words = [
                [vocab.words[t] for t in row[: int(L)] if t != vocab.end]
                for row, L in zip(seqs.tolist(), lengths.tolist())
            ]
            rewards = torch.tensor(
                [scorer.score(w, refs[images[j // n]], prepared=True) for j, w in enumerate(words)]
            ).view(-1, n)  # (I, n)
            sums[0], sums[1] = sums[0] + float(rewards.sum()), sums[1] + rewards.numel()
            return scst_loss(scst_advantage(rewards).to(self.tuner.device), logp, lengths) / g_rows

        self._accumulate(micro_batches, loss_of)
        return sums[0], sums[1]
