"""A captioning run over many files: outputs, keywords, XMP sidecars, embedding, resume, gallery, Ctrl-C.

Everything ``captioner caption`` does beyond decoding lives here, so it can be used and tested without the CLI.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import IO

from captioner.atomic import atomic_write
from captioner.errors import CaptionerError
from captioner.paths import display_path
from captioner.photos.config import CaptionConfig
from captioner.photos.keywords import keywords
from captioner.photos.pipeline import Captioner, Result, input_images
from captioner.photos.records import CaptionRecord, read_records, record_writer


@dataclass
class JobSummary:
    total: int = 0  # files handled in this run
    failed: int = 0
    resumed: int = 0  # files already in the output, skipped
    kept_descriptions: int = 0  # hand-written descriptions left in place
    interrupted: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def fail(self, message: str, on_error: Callable[[str], None]) -> None:
        self.failed += 1
        self.errors.append(message)
        on_error(message)


def to_record(result: Result, tags: list[str] | None, n_best: int) -> CaptionRecord:
    """The record of one pipeline result: best caption, score, ``n_best`` captions, keywords; or the error."""
    if not result.ok:
        return CaptionRecord(result.path, error=result.error)
    captions = result.captions[:n_best]
    best = captions[0] if captions else None
    return CaptionRecord(
        result.path,
        best.text if best else "",
        round(best.score, 4) if best else None,
        [{"caption": c.text, "score": round(c.score, 4)} for c in captions],
        tags,
    )


def resume_state(output: str | os.PathLike, fmt: str) -> list[CaptionRecord]:
    """The records already in ``output`` (for --resume); a line cut off by a kill is removed from the file first."""
    if not os.path.exists(output) or os.path.getsize(output) == 0:
        return []
    found = read_records(output, fmt)
    if found.cut:
        with open(output, "r+b") as f:
            f.truncate(found.size)
    return found.records


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


class _Outputs:
    """Where a run's records go: the output file or stdout, and the gallery's records and thumbnails."""

    def __init__(self, stack: contextlib.ExitStack, config: CaptionConfig, old: list[CaptionRecord], stdout):
        if config.output is None:
            self.stream = stdout or sys.stdout
        elif config.resume:
            self.stream = stack.enter_context(open(config.output, "a", encoding="utf-8", newline=""))
        else:
            self.stream = stack.enter_context(atomic_write(config.output))
        self.writer = record_writer(self.stream, config.fmt, header=not (config.resume and old))
        self.gallery: list[CaptionRecord] | None = list(old) if config.html is not None else None
        self.thumbs: dict[str, bytes] = {}

    def add(self, record: CaptionRecord, thumbnail: bytes | None) -> None:
        self.writer.write(record)
        self.stream.flush()
        if self.gallery is not None:
            self.gallery.append(record)
            if thumbnail:
                self.thumbs[record.path] = thumbnail


def run_job(
    captioner: Captioner,
    config: CaptionConfig,
    on_error: Callable[[str], None] = lambda m: None,
    stdout: IO[str] | None = None,
    model_name: str = "captioner",
) -> JobSummary:
    """Caption every image under ``config.inputs`` and write the results where the config says."""
    from tqdm import tqdm

    summary = JobSummary()
    t0 = time.perf_counter()
    old: list[CaptionRecord] = []
    if config.resume:
        if config.output is None:
            raise CaptionerError("--resume needs -o/--output: the file that says what is already done")
        old = resume_state(config.output, config.fmt)
        summary.resumed = len({r.path for r in old})
    done = {r.path for r in old}
    exclude = tuple(os.fspath(p) for p in (config.output, config.html) if p is not None)
    scan = replace(config.scan, exclude=config.scan.exclude + exclude, thumbnails=config.html is not None)
    total = (
        sum(1 for p in input_images(config.inputs, scan) if display_path(p) not in done) if config.progress else None
    )

    with contextlib.ExitStack() as stack:
        outputs = _Outputs(stack, config, old, stdout)
        bar = stack.enter_context(
            tqdm(total=total, unit="img", desc="captioning", file=sys.stderr, dynamic_ncols=True, disable=not total)
        )
        stack.enter_context(_sigterm_as_interrupt())
        try:
            for result in captioner.caption_paths(config.inputs, scan, config.decode, skip=done):
                summary.total += 1
                tags = None
                if result.ok:
                    tags = _tags(result, config.tags)
                    _write_metadata(result, tags, config, model_name, summary, on_error)
                else:
                    summary.fail(result.error, on_error)
                outputs.add(to_record(result, tags, config.n_best), result.thumbnail)
                bar.update()
                if summary.failed:
                    bar.set_postfix(failed=summary.failed)
        except KeyboardInterrupt:
            summary.interrupted = True  # leave the with-block normally: what is done gets written
    if config.html is not None:
        from captioner.photos.gallery import write_gallery

        title = f"captioner: {', '.join(str(p) for p in config.inputs)}"
        write_gallery(config.html, outputs.gallery, outputs.thumbs, title=title)
    summary.seconds = time.perf_counter() - t0
    return summary


def _tags(result: Result, limit: int) -> list[str] | None:
    if limit <= 0:
        return None
    return keywords([(c.text, c.hypothesis.logprob) for c in result.captions], limit)


def _write_metadata(
    result: Result,
    tags: list[str] | None,
    config: CaptionConfig,
    model_name: str,
    summary: JobSummary,
    on_error: Callable[[str], None],
) -> None:
    """Sidecar and/or embedded metadata, before the result line, so a line in the output means all is done."""
    if not (config.xmp or config.embed):
        return
    best = result.captions[0]
    try:
        if config.xmp:
            from captioner.photos.sidecar import write_sidecar

            summary.kept_descriptions += write_sidecar(
                result.file, best.text, tags or [], model_name, score=best.score, style=config.xmp_name
            )
        if config.embed:
            from captioner.photos.embed import embed_caption

            summary.kept_descriptions += embed_caption(
                result.file, best.text, tags or [], model_name, best.score
            ).kept_description
    except CaptionerError as e:
        summary.fail(str(e), on_error)
