"""A captioning run over many files: outputs, keywords, photo metadata, resume, gallery, Ctrl-C.

Everything ``captioner caption`` does beyond decoding lives here, so it can be used and tested without the CLI.
With ``-o`` the records go through a journal (``photos/journal.py``): a killed run loses at most one batch and
``--resume`` continues it; files that failed are tried again (``photos/records.py`` says how readers then pick one
record per path).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from captioner.errors import CaptionerError
from captioner.paths import display_path, record_path
from captioner.photos.config import CaptionConfig
from captioner.photos.journal import Journal
from captioner.photos.keywords import photo_keywords
from captioner.photos.metadata import MetadataUpdate, WriteResult, embed, write_sidecar
from captioner.photos.pipeline import Captioner, Result, input_images
from captioner.photos.records import CaptionRecord, latest, record_stream, record_writer


@dataclass
class JobSummary:
    total: int = 0  # files handled in this run
    failed: int = 0
    resumed: int = 0  # files already captioned in the output, skipped
    kept_descriptions: int = 0  # files whose hand-written description was left in place
    unchanged: int = 0  # files whose metadata already said exactly this (nothing written)
    unsure: list[str] = field(default_factory=list)  # files left untouched: caption below --min-confidence
    interrupted: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def fail(self, message: str, on_error: Callable[[str], None]) -> None:
        self.failed += 1
        self.errors.append(message)
        on_error(message)


def to_record(result: Result, config: CaptionConfig) -> CaptionRecord:
    """The record of one pipeline result: best caption, score, confidence, ``n_best`` captions, keywords, category
    paths and labels; or the error."""
    path = record_path(result.file)
    if not result.ok:
        return CaptionRecord(path, error=result.error)
    d = result.description
    captions = d.captions[: config.n_best]
    best = captions[0]
    tags, categories = photo_keywords(d, config.tags, config.label_threshold) if config.tags else (None, None)
    scored = captions[1:] if d.from_labels else captions  # a label caption has no beam score
    return CaptionRecord(
        path,
        best.text,
        None if d.from_labels else round(best.score, 4),
        [{"caption": c.text, "score": round(c.score, 4)} for c in scored],
        tags,
        confidence=round(d.confidence, 4),
        labels=[label.to_json() for label in d.labels],
        categories=categories,
        from_labels=d.from_labels,
    )


def metadata_update(record: CaptionRecord, config: CaptionConfig, model_name: str) -> MetadataUpdate:
    """What goes into the photo's metadata for a captioned ``record``: caption, keywords, category paths, score,
    confidence. The one place that chooses it."""
    return MetadataUpdate(
        record.caption,
        keywords=tuple(record.tags or ()),
        hierarchical=tuple(record.categories or ()),
        model=model_name,
        score=record.score,
        confidence=record.confidence,
        overwrite=config.overwrite,
    )


@dataclass
class MetadataOutcome:
    kept_description: bool = False  # a hand-written description was left in place
    changed: bool = False  # some file was written
    errors: list[str] = field(default_factory=list)


def write_metadata(photo: Path, update: MetadataUpdate, config: CaptionConfig) -> MetadataOutcome:
    """The sidecar (``--xmp``) and the embedded metadata (``--embed``) of ``photo``; a failure of one is reported
    and the other still written."""
    writes: list[Callable[[], WriteResult]] = []
    if config.xmp:
        writes.append(lambda: write_sidecar(photo, update, config.xmp_name))
    if config.embed:
        writes.append(lambda: embed(photo, update))
    outcome = MetadataOutcome()
    for write in writes:
        try:
            done = write()
        except CaptionerError as e:
            outcome.errors.append(str(e))
            continue
        except Exception as e:  # a bug in exiv2 must cost one file, not the run  # noqa: BLE001
            outcome.errors.append(f"{display_path(photo)}: metadata not written ({type(e).__name__}: {str(e)[:120]})")
            continue
        outcome.kept_description |= done.kept_description
        outcome.changed |= done.changed
    return outcome


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
    """Where a run's records go: the journal of the output file, or stdout; and the gallery's records and thumbnails."""

    def __init__(self, stack: contextlib.ExitStack, config: CaptionConfig, stdout: IO[str] | None):
        self.journal: Journal | None = None
        self.batch = config.scan.batch_size
        self.count = 0
        if config.output is not None:
            self.journal = Journal(config.output, config.fmt, config.resume, config.verbose)
            stack.callback(self.journal.close)
            self.old = latest(self.journal.records)
        else:
            self.old = {}
            stream = stdout or sys.stdout
            if hasattr(stream, "buffer"):  # file-name bytes that are not UTF-8 go out as they are
                stream.flush()
                stream = stack.enter_context(record_stream(stream.buffer))
            self.stream = stream
            self.writer = record_writer(stream, config.fmt, verbose=config.verbose)
        self.gallery: dict[str, CaptionRecord] | None = dict(self.old) if config.html is not None else None
        self.thumbs: dict[str, bytes] = {}

    def add(self, record: CaptionRecord, thumbnail: bytes | None) -> None:
        if self.journal is not None:
            self.journal.write(record)
            self.count += 1
            if self.count % self.batch == 0:
                self.journal.sync()
        else:
            self.writer.write(record)
            self.stream.flush()
        if self.gallery is not None:
            self.gallery[record.path] = record
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

    if config.resume and config.output is None:
        raise CaptionerError("--resume needs -o/--output: the file that says what is already done")
    summary = JobSummary()
    t0 = time.perf_counter()
    exclude = tuple(os.fspath(p) for p in (config.output, config.html) if p is not None)
    scan = replace(config.scan, exclude=config.scan.exclude + exclude, thumbnails=config.html is not None)

    with contextlib.ExitStack() as stack:
        outputs = _Outputs(stack, config, stdout)
        done = {display_path(p) for p, r in outputs.old.items() if r.ok}  # files that failed are tried again
        summary.resumed = len(done)
        total = None
        if config.progress:
            total = sum(1 for p in input_images(config.inputs, scan) if display_path(p) not in done)
        bar = stack.enter_context(
            tqdm(total=total, unit="img", desc="captioning", file=sys.stderr, dynamic_ncols=True, disable=not total)
        )
        stack.enter_context(_sigterm_as_interrupt())
        try:
            for result in captioner.caption_paths(config.inputs, scan, config.decode, skip=done):
                summary.total += 1
                record = to_record(result, config)
                if record.ok and (config.xmp or config.embed) and record.confidence < config.min_confidence:
                    summary.unsure.append(record.path)
                elif record.ok and (config.xmp or config.embed):
                    update = metadata_update(record, config, model_name)
                    outcome = write_metadata(Path(result.file), update, config)
                    summary.kept_descriptions += outcome.kept_description
                    summary.unchanged += not (outcome.changed or outcome.errors)
                    if outcome.errors:  # not done: --resume tries it again
                        record = replace(record, error="; ".join(outcome.errors))
                if not record.ok:
                    summary.fail(record.error, on_error)
                outputs.add(record, result.thumbnail)  # after the metadata: a record means all is done
                bar.update()
                if summary.failed:
                    bar.set_postfix(failed=summary.failed)
        except KeyboardInterrupt:
            summary.interrupted = True  # leave the loop normally: what is done becomes the output
        if outputs.journal is not None:
            outputs.journal.finish()
    if config.html is not None:
        from captioner.photos.gallery import write_gallery

        title = f"captioner: {', '.join(display_path(p) for p in config.inputs)}"
        write_gallery(config.html, outputs.gallery.values(), outputs.thumbs, title=title, unsure=config.min_confidence)
    summary.seconds = time.perf_counter() - t0
    return summary
