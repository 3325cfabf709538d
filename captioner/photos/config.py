"""The typed configuration of a ``captioner caption`` run, built once by the CLI and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from captioner.data.images import DEFAULT_MAX_PIXELS
from captioner.model.decode import DecodeOptions

XMP_NAMES = ("photo.jpg.xmp", "photo.xmp")  # sidecar namings, default first (metadata.SIDECAR_NAMINGS)


@dataclass
class ScanOptions:
    """Which files a run reads and how: the folder walk, its shard, decoding workers and batches."""

    batch_size: int = 32  # images per encoder batch
    workers: int = 2  # image-decoding processes; 0 decodes in the main process
    recursive: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS
    exclude: tuple[str, ...] = ()  # files never to treat as inputs (our own outputs)
    thumbnails: bool = False  # also make small JPEG thumbnails (for the HTML gallery)
    shard: tuple[int, int] | None = None  # (index, count), 0-based: caption only this slice of the inputs


@dataclass
class CaptionConfig:
    """Everything one caption run needs: the model, how to search, what to read, and where results go."""

    inputs: list[Path]
    weights: Path | None = None  # None: the shipped model
    device: str = "auto"  # auto | cpu | cuda
    backend: str = "auto"  # encoder runtime on a CPU: auto | torch | onnx
    precision: str = "auto"  # auto | fp32 | bf16 | int8 (photos.precision)
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    scan: ScanOptions = field(default_factory=ScanOptions)
    fmt: str = "text"  # text | jsonl | csv
    output: Path | None = None  # None: standard output
    resume: bool = False  # continue the output's journal, or the output; files that failed are tried again
    n_best: int = 1  # captions per image in the output
    tags: int = 8  # keywords per image (0: none)
    xmp: bool = False
    xmp_name: str = "photo.jpg.xmp"  # or "photo.xmp" (Lightroom, Capture One)
    embed: bool = False
    overwrite: bool = False  # replace hand-written descriptions too (--overwrite; they are lost)
    html: Path | None = None
    progress: bool = False
    verbose: bool = False  # text output adds confidence and labels; the run says how it runs
    guidance: bool = True  # labels steer the captions (captioner.labels.guide)
    label_threshold: float = 0.3  # a concept this probable becomes a keyword
    min_confidence: float = 0.2  # photos whose caption is less sure than this get no metadata written
