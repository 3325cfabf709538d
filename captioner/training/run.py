"""Everything ``captioner train`` does around the training loop: data, vocabulary, feature cache, signals."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from captioner.data.coco import CaptionSet, load_captions
from captioner.data.features import FeatureCache, default_cache_dir, encode_images
from captioner.errors import CaptionerError, ExitCode
from captioner.model.checkpoint import Checkpoint, read_checkpoint
from captioner.model.encoder import Encoder, build_encoder, encoder_spec
from captioner.model.vocab import Vocabulary
from captioner.training.batches import Split
from captioner.training.config import TrainConfig
from captioner.training.distributed import World, init_world, shutdown
from captioner.training.loop import Session, TrainData, TrainingInterrupted, train


def load_split(captions: CaptionSet, encoder: Encoder, cache: FeatureCache, config: TrainConfig, world: World) -> Split:
    """Features for every image of ``captions`` (from the cache when possible) with their captions.

    Under torchrun each rank first computes its own shard into the cache; after a barrier all read the lot.
    """
    from tqdm import tqdm

    paths = [im.path for im in captions.images]
    workers, device = config.data.workers, config.data.device
    if world.active:
        encode_images(paths[world.rank :: world.size], encoder, cache, workers=workers, device=device)
        world.barrier()
    show = config.progress and world.main
    with tqdm(
        total=len(paths), desc=f"features {captions.source.name}", unit="img", disable=not show, leave=False
    ) as bar:
        feats = encode_images(paths, encoder, cache, workers=workers, device=device, progress=bar.update)
    return Split(feats, [im.captions for im in captions.images], [im.file_name for im in captions.images], paths)


def _devices(config: TrainConfig, world: World) -> tuple[str, str]:
    """(feature device, training device), each on this rank's GPU under torchrun with CUDA."""
    from captioner.devices import pick_device

    out = []
    for name in (config.data.device, config.train_device):
        device = str(pick_device(name))
        out.append(f"cuda:{world.local_rank}" if world.active and device.startswith("cuda") else device)
    return out[0], out[1]


def _data(config: TrainConfig, init: Checkpoint | None, say: Callable[[str], None]) -> tuple:
    data = config.data
    train_set = load_captions(data.train_captions, data.train_images, max_images=data.max_images)
    val_set = (
        load_captions(data.val_captions, data.val_images, max_images=data.max_images) if data.val_captions else None
    )
    for note in train_set.notes + (val_set.notes if val_set else []):
        say(note)
    min_freq = config.recipe.min_word_freq
    vocab = init.vocab if init else Vocabulary.build((c for im in train_set.images for c in im.captions), min_freq)
    return train_set, val_set, vocab


def run_training(config: TrainConfig, log: Callable[[str], None] = print) -> ExitCode:
    """Train as configured; returns OK, or INTERRUPTED with a resumable state saved."""
    spec = encoder_spec(config.encoder)
    try:  # runs/mine/model.pt: the run's folder is made for it
        config.output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CaptionerError(f"{config.output.parent}: cannot create the output folder ({e.strerror or e})") from None
    world = init_world(_devices(config, World())[1])
    feature_device, train_device = _devices(config, world)
    config.data.device = feature_device
    say = log if world.main else (lambda m: None)
    try:
        init = read_checkpoint(config.init) if config.init else None
        if init is not None and init.encoder_name != config.encoder:
            raise CaptionerError(f"{config.init}: was trained with encoder {init.encoder_name}, not {config.encoder}")
        train_set, val_set, vocab = _data(config, init, say)
        say(
            f"{len(train_set.images)} training images, {sum(len(i.captions) for i in train_set.images)} captions, "
            f"vocabulary of {len(vocab)} words (seen at least {config.recipe.min_word_freq} times)"
            + (f"; {world.size} processes" if world.active else "")
        )
        cache = FeatureCache(config.data.cache_dir or default_cache_dir(), spec.name, spec.image_size)
        encoder = build_encoder(config.encoder)
        t0 = time.perf_counter()
        train_split = load_split(train_set, encoder, cache, config, world)
        val_split = load_split(val_set, encoder, cache, config, world) if val_set else None
        say(f"features ready in {time.perf_counter() - t0:.0f}s (cache: {cache.dir})")
        del encoder
        model_config = init.config if init else config.model.decoder_config(len(vocab), spec.channels)
        meta = {
            "dataset": {
                "train": str(config.data.train_captions),
                "val": str(config.data.val_captions) if config.data.val_captions else None,
                "train_images": len(train_set.images),
            },
            "decode": {"beam_size": config.recipe.decode.beam_size, "length_penalty": 0.0},
        }
        if init is not None:
            meta["init"] = str(config.init)
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
        return _train_with_signals(data, model_config, config, session, init.decoder_state if init else None)
    finally:
        shutdown(world)


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
