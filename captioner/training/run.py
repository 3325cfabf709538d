"""Everything ``captioner train`` does around the training loop: checks, data, features, vocabulary, signals, and
the run folder at the end."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import torch

from captioner.data.features import FeatureCache, default_cache_dir
from captioner.errors import CaptionerError, ExitCode
from captioner.labels.noun_head import MIN_IMAGES, NounHead, fit_noun_head
from captioner.model.checkpoint import Checkpoint, read_checkpoint
from captioner.model.encoder import build_encoder, encoder_spec
from captioner.training.batches import Split
from captioner.training.checkpoints import resume_path
from captioner.training.config import TrainConfig
from captioner.training.datasets import load_split, read_sets
from captioner.training.distributed import World, init_world, shutdown
from captioner.training.loop import Session, TrainData, TrainingInterrupted, train
from captioner.training.run_folder import finish_folder, write_samples
from captioner.training.vocabulary import extend_for_training, scratch_vocabulary


def _devices(config: TrainConfig, world: World) -> tuple[str, str]:
    """(feature device, training device), each on this rank's GPU under torchrun with CUDA."""
    from captioner.devices import pick_device

    out = []
    for name in (config.data.device, config.train_device):
        device = str(pick_device(name))
        out.append(f"cuda:{world.local_rank}" if world.active and device.startswith("cuda") else device)
    return out[0], out[1]


def _check_before_work(config: TrainConfig) -> Checkpoint | None:
    """Everything that can fail without reading data: nothing to train, no state to resume, a bad --init."""
    if config.recipe.total_epochs == 0:
        raise CaptionerError("nothing to train: --epochs and --scst-epochs are both 0")
    if config.resume and not resume_path(config.output).is_file():
        raise CaptionerError(f"{resume_path(config.output)}: nothing to resume (no such file); run without --resume")
    if config.init is None:
        return None
    init = read_checkpoint(config.init)
    if init.encoder_name != config.encoder:
        raise CaptionerError(f"{config.init}: was trained with encoder {init.encoder_name}, not {config.encoder}")
    return init


def run_training(config: TrainConfig, log: Callable[[str], None] = print) -> ExitCode:
    """Train as configured; returns OK, or INTERRUPTED with a resumable state saved."""
    spec = encoder_spec(config.encoder)
    init = _check_before_work(config)
    try:  # runs/mine/model.pt: the run's folder is made for it
        config.output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CaptionerError(f"{config.output.parent}: cannot create the output folder ({e.strerror or e})") from None
    world = init_world(_devices(config, World())[1])
    feature_device, train_device = _devices(config, world)
    config.data.device = feature_device
    say = log if world.main else (lambda m: None)
    try:
        sets = read_sets(config, say)
        cache = FeatureCache(config.data.cache_dir or default_cache_dir(), spec.name, spec.image_size)
        encoder = build_encoder(config.encoder)
        t0 = time.perf_counter()
        train_split = load_split(sets.train, encoder, cache, config, world)
        val_split = load_split(sets.val, encoder, cache, config, world) if sets.val else None
        say(
            f"features ready in {time.perf_counter() - t0:.0f}s (cache: {cache.dir})"
            + (f"; {world.size} processes" if world.active else "")
        )
        del encoder
        min_freq = config.recipe.min_word_freq
        meta = {"dataset": sets.about, "decode": {"beam_size": config.recipe.decode.beam_size, "length_penalty": 0.0}}
        head = noun_head_for(train_split, config, say)
        if head is not None:
            meta["noun_head"] = head.to_meta()
        if init is not None:
            init, added = extend_for_training(init, train_split, min_freq, say, str(config.init))
            vocab, model_config = init.vocab, init.config
            # the fine-tuned model decodes as the one it came from did, until tune_decoding says otherwise
            meta["decode"]["length_penalty"] = init.meta.get("decode", {}).get("length_penalty", 0.0)
            meta.update(init=str(config.init), added_words=added)
        else:
            vocab = scratch_vocabulary(train_split, min_freq, say)
            model_config = config.model.decoder_config(len(vocab), spec.channels)
        session = Session(
            config.output,
            config.encoder,
            meta,
            world,
            train_device,
            say,
            config.progress,
            lambda: build_encoder(spec.name),
        )
        data = TrainData(train_split, val_split, vocab)
        code = _train_with_signals(data, model_config, config, session, init.decoder_state if init else None)
        if code == ExitCode.OK and world.main:
            page = write_samples(config.output, val_split or train_split, config.recipe, val_split is not None)
            say(f"sample captions: {page}")
            finish_folder(config.output, config.keep_resume, say)
        return code
    finally:
        shutdown(world)


def noun_head_for(split: Split, config: TrainConfig, say: Callable[[str], None]) -> NounHead | None:
    """The noun head fitted to the training photos' captions (``labels.noun_head``); none when the encoder is
    fine-tuned (its features move away from the ones the head would learn) or no label noun is named often enough."""
    if config.recipe.fine_tune_encoder_from_epoch is not None:
        say("noun head: not fitted (the encoder is fine-tuned)")
        return None
    t0 = time.perf_counter()
    pooled = split.features.mean(1, dtype=torch.float32)  # (N, D)
    head = fit_noun_head(pooled, split.captions, fitted_on=str(config.data.train_captions))
    if head is None:
        say(f"noun head: not fitted (no label noun is named in the captions of {MIN_IMAGES} photos)")
    else:
        say(f"noun head: {len(head.nouns)} nouns in {time.perf_counter() - t0:.0f}s")
    return head


def _train_with_signals(data: TrainData, model_config, config: TrainConfig, session: Session, init_state) -> ExitCode:
    """Train; the first Ctrl-C or SIGTERM stops at the end of the step with a resumable state, a second aborts."""
    stop = {"flag": False}

    def handler(signum, frame):
        if stop["flag"]:  # a second Ctrl-C: give up at once
            raise KeyboardInterrupt
        stop["flag"] = True
        session.log("stopping: saving a resumable checkpoint at the end of this step (Ctrl-C again to abort)")

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = train(
            data,
            model_config,
            config.recipe,
            session,
            resume=config.resume,
            should_stop=lambda: stop["flag"],
            init_state=init_state,
        )
    except TrainingInterrupted as e:
        session.log(f"interrupted; resume with the same command plus --resume (state saved in {e.path})")
        return ExitCode.INTERRUPTED
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    session.log(f"done in {result['elapsed'] / 60:.1f} min; best checkpoint: {config.output}")
    return ExitCode.OK
