"""A run's data: the caption sources read in any format, the validation share held out, features from the cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from captioner.data.coco import CaptionSet
from captioner.data.features import FeatureCache, encode_images
from captioner.data.formats import FORMAT_NAMES, read_caption_set
from captioner.data.splits import MIN_PHOTOS_FOR_HOLDOUT, hold_out
from captioner.model.encoder import Encoder
from captioner.training.batches import Split
from captioner.training.config import TrainConfig
from captioner.training.distributed import World


@dataclass
class CaptionSets:
    train: CaptionSet
    val: CaptionSet | None
    about: dict  # what the checkpoint's meta records about the data


def read_sets(config: TrainConfig, say: Callable[[str], None]) -> CaptionSets:
    """The training and validation sets; without a validation source a seeded share of the photos is held out."""
    data = config.data
    train, fmt = read_caption_set(data.train_captions, data.train_images, data.read, max_images=data.max_images)
    about = {"train": str(data.train_captions), "format": fmt}
    notes = list(train.notes)
    if data.val_captions is not None:
        val, val_fmt = read_caption_set(
            data.val_captions, data.val_images, data.read, max_images=data.max_images, images_option="--val-images"
        )
        notes += val.notes
        about["val"] = str(data.val_captions)
    else:
        n = len(train.images)
        train, val = hold_out(train, data.val_share, config.recipe.seed)
        if val is not None:
            about["val"] = f"held out {len(val.images)} of {n} photos (seed {config.recipe.seed})"
    for note in notes:
        say(note)
    say(f"{data.train_captions}: {FORMAT_NAMES[fmt]}, {_count(train)}")
    if data.val_captions is not None:
        say(f"{data.val_captions}: {FORMAT_NAMES[val_fmt]}, {_count(val)} for validation")
    elif val is not None:
        say(
            f"no validation set: held out {len(val.images)} of {n} photos ({len(val.images) / n:.0%}, seed "
            f"{config.recipe.seed}) to validate each epoch and keep the best; --val-share sets the share, "
            "--val-captions brings your own"
        )
    else:
        why = f"only {n} photos" if data.val_share > 0 and n < MIN_PHOTOS_FOR_HOLDOUT else "--val-share 0"
        say(f"no validation ({why}): training on all {n} photos; the last epoch's weights are kept")
    about["train_images"] = len(train.images)
    return CaptionSets(train, val, about)


def _count(captions: CaptionSet) -> str:
    return f"{len(captions.images)} photos, {sum(len(im.captions) for im in captions.images)} captions"


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
