"""A captioning run over many files: outputs, keywords, XMP sidecars, embedding, resume, gallery, Ctrl-C.

Everything ``captioner caption`` does beyond decoding lives here, so it can be used and tested without the CLI.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from captioner.atomic import atomic_write
from captioner.captioning import Captioner, CaptionOptions, Result, input_images
from captioner.errors import CaptionerError
from captioner.images import display_path
from captioner.outputs import ResultWriter, result_record
from captioner.tags import keywords

XMP_NAMES = ("photo.xmp", "photo.jpg.xmp")


@dataclass
class BatchJob:
    inputs: list[Path]
    fmt: str = "text"
    output: Path | None = None
    resume: bool = False
    n_best: int = 1  # captions per image in the output
    tags: int = 8  # keywords per image (0: none)
    xmp: bool = False
    xmp_name: str = "photo.xmp"  # or "photo.jpg.xmp"
    embed: bool = False
    html: Path | None = None
    model_name: str = "captioner"


@dataclass
class BatchSummary:
    total: int = 0  # files handled in this run
    failed: int = 0
    resumed: int = 0  # files already in the output, skipped
    kept_descriptions: int = 0  # hand-written descriptions left in place
    interrupted: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def sidecar_path(image: str | os.PathLike, style: str = "photo.xmp") -> Path:
    """``photo.jpg`` -> ``photo.xmp`` (Lightroom, darktable's default is the other) or ``photo.jpg.xmp``."""
    image = Path(image)
    return image.with_suffix(".xmp") if style == "photo.xmp" else image.with_name(image.name + ".xmp")


def write_sidecar(
    image: str | os.PathLike, caption: str, tags: list[str], model: str, score: float | None, style: str = "photo.xmp"
) -> bool:
    """Merge caption and tags into the image's XMP sidecar (atomically). True if a hand-written description stayed."""
    from captioner.xmp import update_xmp

    path = sidecar_path(image, style)
    try:
        existing = path.read_bytes() if path.exists() else None
    except OSError as e:
        raise CaptionerError(f"{display_path(path)}: cannot read sidecar ({e.strerror or e})") from None
    update = update_xmp(existing, caption, tags, model, score, display_path(path))
    with atomic_write(path, "wb") as f:
        f.write(update.packet)
    return update.kept_description


def read_done(output: Path, fmt: str) -> tuple[set[str], list[dict]]:
    """Paths already in ``output`` (for --resume) and their records; a partial last line is cut off first."""
    if not output.exists() or output.stat().st_size == 0:
        return set(), []
    data = output.read_bytes()
    if not data.endswith(b"\n"):  # killed in the middle of a line: drop it
        data = data[: data.rfind(b"\n") + 1]
        with open(output, "r+b") as f:
            f.truncate(len(data))
    records = parse_records(data.decode("utf-8", "replace"), fmt, output)
    return {r["path"] for r in records if "path" in r}, records


def parse_records(text: str, fmt: str, name: str | os.PathLike) -> list[dict]:
    """The records of an output file's complete lines, as ``result_record`` makes them."""
    records: list[dict] = []
    if fmt == "jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    record = None
                if not isinstance(record, dict) or not isinstance(record.get("path"), str):
                    raise CaptionerError(f"{name}:{n}: not a captioner JSON Lines record")
                records.append(record)
    elif fmt == "csv":
        records = [dict(r) for r in csv.DictReader(io.StringIO(text))]
        for r in records:
            r["tags"] = [t for t in (r.get("tags") or "").split(";") if t]
            r["score"] = float(r["score"]) if r.get("score") else None
            if not r.get("error"):
                r.pop("error", None)
    else:
        records = [{"path": p, "caption": c} for p, _, c in (line.partition("\t") for line in text.splitlines())]
    return records


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def count_inputs(job: BatchJob, options: CaptionOptions, skip: set[str]) -> int:
    return sum(1 for p in input_images(job.inputs, options) if display_path(p) not in skip)


def run_batch(
    captioner: Captioner,
    job: BatchJob,
    options: CaptionOptions,
    stdout: IO[str] | None = None,
    on_error: Callable[[str], None] = lambda m: None,
    progress: bool = False,
) -> BatchSummary:
    """Caption every image under ``job.inputs`` and write the results where the job says."""
    from tqdm import tqdm

    summary = BatchSummary()
    t0 = time.perf_counter()
    done: set[str] = set()
    old_records: list[dict] = []
    if job.resume:
        if job.output is None:
            raise CaptionerError("--resume needs -o/--output: the file that says what is already done")
        done, old_records = read_done(job.output, job.fmt)
        summary.resumed = len(done)
    exclude = tuple(os.fspath(p) for p in (job.output, job.html) if p is not None)
    options = CaptionOptions(
        **{**options.__dict__, "exclude": options.exclude + exclude, "thumbnails": job.html is not None}
    )
    total = count_inputs(job, options, done) if progress else None
    gallery: list[dict] = list(old_records)
    thumbs: dict[str, bytes] = {}

    with contextlib.ExitStack() as stack:
        if job.output is None:
            stream = stdout or sys.stdout
        elif job.resume:
            stream = stack.enter_context(open(job.output, "a", encoding="utf-8", newline=""))
        else:
            stream = stack.enter_context(atomic_write(job.output))
        writer = ResultWriter(stream, job.fmt, write_header=not (job.resume and old_records))
        bar = stack.enter_context(
            tqdm(total=total, unit="img", desc="captioning", file=sys.stderr, dynamic_ncols=True, disable=not progress)
        )
        stack.enter_context(_sigterm_as_interrupt())
        try:
            for result in captioner.caption_paths(job.inputs, options, skip=done):
                summary.total += 1
                tags = None
                if result.ok:
                    tags = _tags(result, job.tags)
                    _write_metadata(result, tags, job, summary, on_error)
                    result.captions = result.captions[: job.n_best]
                else:
                    summary.failed += 1
                    summary.errors.append(result.error)
                    on_error(result.error)
                writer.write(result, tags)
                stream.flush()
                if job.html is not None:
                    gallery.append(result_record(result, tags))
                    if result.thumbnail:
                        thumbs[result.path] = result.thumbnail
                bar.update()
                if summary.failed:
                    bar.set_postfix(failed=summary.failed)
        except KeyboardInterrupt:
            summary.interrupted = True  # leave the with-block normally: what is done gets written
    if job.html is not None:
        from captioner.gallery import write_gallery

        write_gallery(job.html, gallery, thumbs, title=f"captioner: {', '.join(str(p) for p in job.inputs)}")
    summary.seconds = time.perf_counter() - t0
    return summary


def _tags(result: Result, limit: int) -> list[str] | None:
    if limit <= 0:
        return None
    return keywords([(c.text, c.hypothesis.logprob) for c in result.captions], limit)


def _write_metadata(
    result: Result, tags: list[str] | None, job: BatchJob, summary: BatchSummary, on_error: Callable[[str], None]
) -> None:
    """Sidecar and/or embedded metadata, before the result line, so a line in the output means all is done."""
    if not (job.xmp or job.embed):
        return
    best = result.captions[0]
    try:
        if job.xmp:
            summary.kept_descriptions += write_sidecar(
                result.file, best.text, tags or [], job.model_name, best.score, job.xmp_name
            )
        if job.embed:
            from captioner.embed import embed_caption

            summary.kept_descriptions += embed_caption(
                result.file, best.text, tags or [], job.model_name, best.score
            ).kept_description
    except CaptionerError as e:
        summary.failed += 1
        summary.errors.append(str(e))
        on_error(str(e))
