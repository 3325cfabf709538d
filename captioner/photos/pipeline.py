"""Caption image files: decode in parallel workers; encode and beam search batches in parallel lanes; in input
order.

Legend: I images in a batch, S image size, P grid positions, D channels.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from captioner.data.features import worker_message
from captioner.data.images import load_image, to_tensor
from captioner.errors import CaptionerError
from captioner.labels.describe import Describer, Description
from captioner.model.decode import Caption, DecodeOptions
from captioner.paths import display_path
from captioner.photos.config import ScanOptions
from captioner.photos.files import iter_images, shard
from captioner.photos.precision import Precision


def input_images(inputs: Iterable[str | os.PathLike], scan: ScanOptions) -> Iterator[Path]:
    """The images a run over ``inputs`` handles, in order: the walk, then this run's shard of it."""
    paths = iter_images(inputs, scan.recursive, scan.exclude)
    return shard(paths, *scan.shard) if scan.shard else paths


@dataclass
class Result:
    """One photo through the pipeline: its n-best captions, or why it could not be read."""

    path: str  # printable path (undecodable bytes escaped)
    file: str  # the path itself, for reading and writing beside it
    captions: list[Caption] | None = None
    error: str | None = None
    thumbnail: bytes | None = None
    description: Description | None = None  # labels, concepts and confidence with the captions

    @property
    def ok(self) -> bool:
        return self.error is None


class _DecodedBatches(torch.utils.data.IterableDataset):
    """Batches of decoded images. Worker w of W takes batches w, w+W, ...; the loader interleaves them in order."""

    def __init__(self, inputs: list[str], scan: ScanOptions, size: int, skip: frozenset[str] = frozenset()):
        self.inputs, self.scan, self.size, self.skip = inputs, scan, size, skip

    def paths(self) -> Iterator[Path]:
        for p in input_images(self.inputs, self.scan):
            if display_path(p) not in self.skip:
                yield p

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        batch: list[Path] = []
        k = 0
        for p in self.paths():
            batch.append(p)
            if len(batch) == self.scan.batch_size:
                if k % workers == worker:
                    yield self._load(batch)
                batch, k = [], k + 1
        if batch and k % workers == worker:
            yield self._load(batch)

    def _load(self, paths: list[Path]) -> dict:
        names, tensors, errors, thumbs = [], [], {}, {}
        for i, p in enumerate(paths):
            names.append(display_path(p))
            try:
                img = load_image(p, self.size, self.scan.max_pixels)
                tensors.append(to_tensor(img, self.size))
                if self.scan.thumbnails:
                    from captioner.pages import thumbnail_jpeg

                    thumbs[i] = thumbnail_jpeg(img)
            except CaptionerError as e:
                errors[i] = str(e)
            except Exception as e:  # a decoder bug in Pillow must cost one file, not the run  # noqa: BLE001
                errors[i] = f"{names[-1]}: cannot read image ({type(e).__name__}: {str(e)[:120]})"
        images = torch.stack(tensors) if tensors else torch.empty(0, 3, self.size, self.size, dtype=torch.uint8)
        return {
            "paths": names,
            "files": [os.fspath(p) for p in paths],
            "images": images,
            "errors": errors,
            "thumbnails": thumbs,
        }


class Captioner:
    """A loaded model ready to caption files; reuse one instance for many calls."""

    def __init__(
        self,
        describer: Describer,
        device: torch.device | str = "cpu",
        backend: str = "torch",
        cache_dir: str | os.PathLike | None = None,
        precision: Precision | None = None,
    ):
        """``backend``: "torch", or "onnx" to run the encoder with ONNX Runtime (CPU only; exported on first use
        into ``cache_dir``). ``precision`` (default float32 throughout): see ``photos.precision``; on a CPU the
        decoder runs as a ``FastDecoder`` (the same captions in float32)."""
        self.device = torch.device(device)
        self.describer = describer
        self.model = describer.model.to(self.device).eval()
        self.vocab = describer.vocab
        self.size = self.model.encoder.spec.image_size
        self.precision = precision or Precision("fp32", "fp32", "fp32", "default")
        self.onnx = None
        # the lanes and their shape (lanes, threads), kept for the next run: new threads each run would each get a
        # new malloc arena (+130 MB a run, measured in scripts/benchmark.py)
        self._pool: tuple[ThreadPoolExecutor, tuple[int, int]] | None = None
        if self.device.type == "cpu":
            from captioner.model.fast_decoder import FastDecoder

            if not isinstance(self.model.decoder, FastDecoder):
                self.model.decoder = FastDecoder(self.model.decoder, self.precision.decoder)
        if (backend == "onnx" or self.precision.encoder == "int8") and self.device.type == "cpu":
            from captioner.data.features import default_cache_dir
            from captioner.model.onnx import onnx_encoder

            self.onnx = onnx_encoder(self.model.encoder, cache_dir or default_cache_dir(), self.precision.encoder)
        elif self.device.type == "cpu":
            self.model.encoder.use_channels_last()

    @property
    def backend(self) -> str:
        return "onnx" if self.onnx is not None else "torch"

    @torch.inference_mode()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(I, 3, S, S) uint8 -> (I, P, D) features."""
        if self.onnx is not None:
            return self.onnx(images).to(self.device)
        return self.model.encoder.forward_features(images.to(self.device, non_blocking=True))

    def describe_tensors(
        self, images: torch.Tensor, options: DecodeOptions, return_attention: bool = False
    ) -> list[Description]:
        """(I, 3, S, S) uint8 photos -> their descriptions: labels, guided captions, confidence."""
        return self.describer.describe(self.features(images), options, return_attention)

    def caption_paths(
        self, inputs: Iterable[str | os.PathLike], scan: ScanOptions, options: DecodeOptions, skip: Iterable[str] = ()
    ) -> Iterator[Result]:
        """One ``Result`` per image under ``inputs``, in input order; unreadable files give an error result.

        ``skip`` holds printable paths already done (for resuming), which are not read again. The stages overlap:
        the workers decode while, on a CPU, lanes (threads) each encode and describe a batch of their own.
        """
        dataset = _DecodedBatches([os.fspath(p) for p in inputs], scan, self.size, frozenset(skip))
        workers = scan.workers
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=None,
            num_workers=workers,
            prefetch_factor=4 if workers else None,
            persistent_workers=False,
        )
        try:
            for batch, described in self._described(loader, options, overlap=workers > 0):
                found = iter(described)
                for i, (name, file) in enumerate(zip(batch["paths"], batch["files"])):
                    if i in batch["errors"]:
                        yield Result(name, file, error=batch["errors"][i])
                        continue
                    d = next(found)
                    yield Result(name, file, captions=d.captions, thumbnail=batch["thumbnails"].get(i), description=d)
        except CaptionerError as e:
            raise CaptionerError(worker_message(e)) from None

    def _describe_batch(self, batch: dict, options: DecodeOptions) -> list[Description]:
        """One decoded batch's descriptions; its (I, P, D) features are freed on return."""
        return self.describer.describe(self.features(batch["images"]), options) if len(batch["images"]) else []

    def _described(
        self, loader: Iterable[dict], options: DecodeOptions, overlap: bool
    ) -> Iterator[tuple[dict, list[Description]]]:
        """The loader's batches with their descriptions, in order. With ``overlap`` on a CPU, ``lanes`` threads take
        whole batches (encoder and beam search; ONNX Runtime and PyTorch release the GIL), each on its share of the
        cores: every core stays busy whichever stage is the slower, where one thread per stage left the encoder's
        idle half the time."""
        if self.device.type != "cpu":
            for batch in loader:
                yield batch, self._describe_batch(batch, options)
            return
        lanes, threads = lane_threads()
        before = torch.get_num_threads()
        if self.onnx is not None:
            self.onnx.set_threads(threads)
        if not overlap or lanes == 1:  # one lane, on one lane's threads: PyTorch's many small parallel regions
            torch.set_num_threads(threads)  # (the beam search's) crawl when a busy core preempts one of their threads
            try:
                for batch in loader:
                    yield batch, self._describe_batch(batch, options)
            finally:
                torch.set_num_threads(before)
            return
        pool = self._lanes(lanes, threads)
        window: deque = deque()  # (batch, future), in input order
        try:
            for batch in loader:
                window.append((batch, pool.submit(self._describe_batch, batch, options)))
                if len(window) > lanes:
                    done, future = window.popleft()
                    yield done, future.result()
            while window:
                done, future = window.popleft()
                yield done, future.result()
        finally:
            for _, future in window:  # interrupted or failed: what has not started never will; wait for the rest
                future.cancel()
            for _, future in window:
                if not future.cancelled():
                    future.exception()
            torch.set_num_threads(before)

    def _lanes(self, lanes: int, threads: int) -> ThreadPoolExecutor:
        """The lane threads (``lanes`` of them, ``threads`` PyTorch threads each), made on first use."""
        if self._pool is None or self._pool[1] != (lanes, threads):
            if self._pool is not None:
                self._pool[0].shutdown(wait=True)
            pool = ThreadPoolExecutor(lanes, "lane", initializer=torch.set_num_threads, initargs=(threads,))
            self._pool = pool, (lanes, threads)
        return self._pool[0]


def lane_threads(cores: int | None = None) -> tuple[int, int]:
    """(lanes, threads per lane) for this many cores (default: those this process may use): up to 4 lanes, the
    cores shared among them; 2 cores give 2 single-threaded lanes."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    lanes = max(1, min(cores, 4))
    return lanes, max(1, cores // lanes)
