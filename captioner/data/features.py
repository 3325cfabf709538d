"""Encoder features computed once and cached on disk, keyed by encoder, preprocessing and image content.

Legend: N images, P grid positions, D channels.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from captioner.atomic import atomic_write
from captioner.data.coco import CaptionSet
from captioner.data.images import read_tensor
from captioner.errors import CaptionerError
from captioner.model.encoder import Encoder

PREPROCESS_VERSION = 1  # bump when load_image/to_tensor change what the encoder sees


def default_cache_dir() -> Path:
    """``$CAPTIONER_CACHE``, else ``$XDG_CACHE_HOME/captioner``, else ``~/.cache/captioner``: never in the repo."""
    if os.environ.get("CAPTIONER_CACHE"):
        return Path(os.environ["CAPTIONER_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "captioner"


def file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def worker_message(e: Exception) -> str:
    """The one-line message of an error re-raised by a DataLoader worker (which prepends its traceback)."""
    last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
    return last.split("CaptionerError: ", 1)[-1]


class FeatureCache:
    """One ``.npy`` file (P, D) float16 per image content, under a folder per encoder + preprocessing.

    Writes are atomic, so two runs filling the same cache at once at worst compute an entry twice.
    """

    def __init__(self, root: str | os.PathLike, encoder: str, image_size: int, encoder_tag: str = "pretrained"):
        self.root = Path(root)
        self.dir = self.root / f"{encoder}-{encoder_tag}-{image_size}px-v{PREPROCESS_VERSION}"

    def _path(self, digest: str) -> Path:
        return self.dir / digest[:2] / f"{digest}.npy"

    def get(self, digest: str) -> np.ndarray | None:
        path = self._path(digest)
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None  # absent or damaged: recompute

    def put(self, digest: str, features: np.ndarray) -> None:
        path = self._path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as f:
            np.save(f, features, allow_pickle=False)


class _ImageFiles(torch.utils.data.Dataset):
    def __init__(self, paths: Sequence[Path], size: int):
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor]:
        return i, read_tensor(self.paths[i], self.size)


def feature_extractor(
    encoder: Encoder, device: str = "cpu", onnx_cache: Path | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """uint8 (b, 3, S, S) -> (b, P, D) features: ONNX Runtime on a CPU when it is installed and a cache folder is
    given (same weights, ~1e-5 apart, 2-3x faster), else the PyTorch encoder."""
    if str(device) == "cpu" and onnx_cache is not None:
        from captioner.model.onnx import onnx_available, onnx_encoder

        if onnx_available():
            return onnx_encoder(encoder, onnx_cache)
    encoder = encoder.to(device).eval()

    def extract(images: torch.Tensor) -> torch.Tensor:
        return encoder.forward_features(images.to(device))  # (b, P, D)

    return extract


@torch.inference_mode()
def encode_images(
    paths: Sequence[Path],
    encoder: Encoder,
    cache: FeatureCache | None = None,
    *,
    batch_size: int = 32,
    workers: int = 2,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
    extract: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Features (N, P, D) float16 for ``paths``, from the cache where present, computed (and cached) otherwise.
    ``extract`` (uint8 (b, 3, S, S) -> (b, P, D)) replaces the encoder's own forward (an int8 graph, say)."""
    digests = [file_digest(p) for p in paths]
    out: torch.Tensor | None = None
    todo = []
    for i, d in enumerate(digests):
        arr = cache.get(d) if cache is not None else None
        if arr is None:
            todo.append(i)
            continue
        if out is None:
            out = torch.empty((len(paths), *arr.shape), dtype=torch.float16)
        out[i] = torch.from_numpy(arr)
    if progress and len(paths) - len(todo):
        progress(len(paths) - len(todo))
    if todo:
        extract = extract or feature_extractor(encoder, device, cache.root if cache is not None else None)
        loader = torch.utils.data.DataLoader(
            _ImageFiles([paths[i] for i in todo], encoder.spec.image_size), batch_size=batch_size, num_workers=workers
        )
        try:
            for idx, images in loader:
                feats = extract(images).half().cpu()  # (b, P, D)
                if out is None:
                    out = torch.empty((len(paths), *feats.shape[1:]), dtype=torch.float16)
                for j, f in zip(idx.tolist(), feats):
                    k = todo[j]
                    out[k] = f
                    if cache is not None:
                        cache.put(digests[k], f.numpy())
                if progress:
                    progress(len(idx))
        except CaptionerError as e:  # from a worker it arrives with the worker's traceback in its text
            raise CaptionerError(worker_message(e)) from None
    assert out is not None
    return out


def caption_set_features(
    captions: CaptionSet,
    encoder: Encoder,
    cache: FeatureCache | None,
    *,
    workers: int = 2,
    device: str = "cpu",
    progress: bool = False,
    extract: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Features (N, P, D) of every image of a caption file, in its order, with a progress bar when asked;
    ``extract`` as ``encode_images`` takes it."""
    from tqdm import tqdm

    paths = [im.path for im in captions.images]
    with tqdm(
        total=len(paths), desc=f"features {captions.source.name}", unit="img", disable=not progress, leave=False
    ) as bar:
        return encode_images(
            paths, encoder, cache, workers=workers, device=device, progress=bar.update, extract=extract
        )
