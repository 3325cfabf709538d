"""Caption records: the one type a run's results take, one writer per output format, and one reader for them all.

A record is what ``captioner caption`` writes per file (and what ``--resume``, ``merge``, ``score --predictions`` and
the gallery read back): the path, the best caption, its score and confidence, the n-best captions, keywords, category
paths and the classifier's labels; or an error.

**Paths** are spelled losslessly (``captioner.paths.record_path``): a file name that is valid UTF-8 as it is, the
bytes of one that is not as surrogate escapes (U+DC80..U+DCFF, as ``os.fsdecode`` gives them), so that
``os.fsencode(record.path)`` names the file again. On disk, JSON Lines writes such a character as the JSON escape
``\\udcXX`` (the file stays valid UTF-8, ``json.loads`` gives the character back; tools that insist on valid Unicode
show U+FFFD). Text and CSV have no escape syntax, so they carry the name's own bytes, as ``ls`` and ``find`` print
them: they are written and read as UTF-8 with ``errors="surrogateescape"`` (``record_stream``), and are valid UTF-8
whenever every file name is.

**One record per path.** A run writes each file once, but ``--resume`` tries again the files that failed and appends
their new record after the old error record (the output is append-only while a run works), and ``merge`` may find a
path in several inputs. Every reader resolves this by one rule (``latest``): a path's last caption record wins; an
error record counts only when the path has no caption record. A finished ``--resume`` run and ``merge`` write one
record per path.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from captioner.errors import CaptionerError
from captioner.jsonl import complete_lines, iter_jsonl, json_line

FORMATS = ("text", "jsonl", "csv")
CSV_FIELDS = ["path", "caption", "score", "tags", "error", "confidence", "labels", "categories"]


@dataclass
class CaptionRecord:
    """One file's result: caption, score and n-best captions (and keywords), or an error."""

    path: str  # lossless path (``captioner.paths.record_path``)
    caption: str = ""  # an error record keeps the caption when only writing the photo's metadata failed
    score: float | None = None  # the best caption's beam score
    captions: list[dict] = field(default_factory=list)  # n-best: [{"caption": str, "score": float}, ...]
    tags: list[str] | None = None  # keywords; None when not asked for
    error: str | None = None
    confidence: float | None = None  # 0..1: how likely the caption describes the photo (captioner.labels.confidence)
    labels: list[dict] | None = None  # the classifier's top classes: [{"name", "probability", "path"}, ...]
    categories: list[str] | None = None  # hierarchical keywords: "animal/mammal/cat"
    from_labels: bool = False  # the caption is the classifier's label, the model's captions having missed it

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict:
        """The JSON Lines object: path, caption, score, captions (and tags), or path and error."""
        if self.error is not None:
            return {"path": self.path, **({"caption": self.caption} if self.caption else {}), "error": self.error}
        record = {"path": self.path, "caption": self.caption, "score": self.score}
        if self.from_labels:
            record["from_labels"] = True
        if self.confidence is not None:
            record["confidence"] = self.confidence
        record["captions"] = self.captions
        for key in ("tags", "categories", "labels"):
            if getattr(self, key) is not None:
                record[key] = getattr(self, key)
        return record

    @classmethod
    def from_json(cls, obj: object, source: str) -> CaptionRecord:
        if not isinstance(obj, dict) or not isinstance(obj.get("path"), str):
            raise CaptionerError(f"{source}: not a captioner JSON Lines record")
        return cls(
            obj["path"],
            obj.get("caption") or "",
            obj.get("score"),
            list(obj.get("captions") or []),
            obj.get("tags"),
            obj.get("error"),
            obj.get("confidence"),
            obj.get("labels"),
            obj.get("categories"),
            bool(obj.get("from_labels")),
        )


def latest(records: Iterable[CaptionRecord]) -> dict[str, CaptionRecord]:
    """One record per path, in the order paths first appear: the last caption record, else the last error record."""
    out: dict[str, CaptionRecord] = {}
    for record in records:
        old = out.get(record.path)
        if old is None or record.ok or not old.ok:
            out[record.path] = record
    return out


# -- writers -------------------------------------------------------------------------------------------------------


class RecordWriter(Protocol):
    def write(self, record: CaptionRecord) -> None: ...


def labels_text(labels: list[dict] | None) -> str:
    """``Egyptian Mau 79%; tabby cat 7%``"""
    return "; ".join(f"{lab['name']} {lab['probability'] * 100:.0f}%" for lab in labels or [])


class TextWriter:
    """``PATH<TAB>CAPTION`` lines (verbose: then confidence and labels); error records go to stderr instead."""

    def __init__(self, stream: IO[str], header: bool = True, verbose: bool = False):
        self.stream, self.verbose = stream, verbose

    def write(self, record: CaptionRecord) -> None:
        if not record.ok:
            return
        line = f"{record.path}\t{record.caption}"
        if self.verbose:
            sure = f"confidence {record.confidence:.2f}" if record.confidence is not None else ""
            line += f"\t{sure}\t{labels_text(record.labels)}"
        self.stream.write(line + "\n")


class JsonlWriter:
    """One JSON object per line, non-ASCII characters kept as they are (``captioner.jsonl.json_line``)."""

    def __init__(self, stream: IO[str], header: bool = True, verbose: bool = False):
        self.stream = stream

    def write(self, record: CaptionRecord) -> None:
        self.stream.write(json_line(record.to_json()))


class CsvWriter:
    """``CSV_FIELDS`` rows, keywords and categories joined with ``;``, labels as ``labels_text``; a header unless
    appending."""

    def __init__(self, stream: IO[str], header: bool = True, verbose: bool = False):
        self.csv = csv.DictWriter(stream, CSV_FIELDS, lineterminator="\n")
        if header:
            self.csv.writeheader()

    def write(self, record: CaptionRecord) -> None:
        self.csv.writerow(
            {
                "path": record.path,
                "caption": record.caption,
                "score": record.score if record.ok and record.score is not None else "",
                "tags": ";".join(record.tags or []),
                "error": record.error or "",
                "confidence": record.confidence if record.ok and record.confidence is not None else "",
                "labels": labels_text(record.labels),
                "categories": ";".join(record.categories or []),
            }
        )


_WRITERS = {"text": TextWriter, "jsonl": JsonlWriter, "csv": CsvWriter}


def record_writer(stream: IO[str], fmt: str, header: bool = True, verbose: bool = False) -> RecordWriter:
    """The writer of format ``fmt`` (text, jsonl or csv) on ``stream``; ``header`` is False when appending;
    ``verbose`` adds confidence and labels to the text format.

    ``stream`` must take what the formats write (see the module's notes on paths): open it with ``record_stream``.
    """
    if fmt not in _WRITERS:
        raise ValueError(f"unknown format {fmt!r}")
    return _WRITERS[fmt](stream, header, verbose)


@contextlib.contextmanager
def record_stream(binary: IO[bytes]) -> Iterator[IO[str]]:
    """A text stream over ``binary`` for record writers: UTF-8, file-name bytes that are not UTF-8 kept as bytes.

    On leaving, the text is flushed and ``binary`` is left open.
    """
    stream = io.TextIOWrapper(binary, encoding="utf-8", errors="surrogateescape", newline="", write_through=True)
    try:
        yield stream
    finally:
        stream.flush()
        stream.detach()


# -- the reader ----------------------------------------------------------------------------------------------------


def format_of(path: str | os.PathLike) -> str:
    """An output's format from its suffix: .jsonl, .csv, else text."""
    return {".jsonl": "jsonl", ".csv": "csv"}.get(Path(path).suffix.lower(), "text")


@dataclass
class RecordFile:
    records: list[CaptionRecord]  # every record, in file order (``latest`` gives one per path)
    cut: bool  # the last line was cut off (a killed run) and skipped
    size: int  # bytes of the complete lines


def parse_records(text: str, fmt: str, source: str | os.PathLike) -> list[CaptionRecord]:
    """The records in the text of an output file of format ``fmt``."""
    if fmt == "jsonl":
        return [CaptionRecord.from_json(obj, f"{source}:{n}") for n, obj in iter_jsonl(text, source)]
    if fmt == "csv":
        records = []
        for row in csv.DictReader(io.StringIO(text, newline="")):
            if not isinstance(row.get("path"), str):
                raise CaptionerError(f"{source}: not a captioner CSV file (no 'path' column)")
            score = float(row["score"]) if row.get("score") else None
            tags = [t for t in (row.get("tags") or "").split(";") if t]
            record = CaptionRecord(row["path"], row.get("caption") or "", score, [], tags, row.get("error") or None)
            record.confidence = float(row["confidence"]) if row.get("confidence") else None
            record.categories = [c for c in (row.get("categories") or "").split(";") if c] or None
            records.append(record)
        return records
    lines = (line.removesuffix("\r").split("\t") for line in text.split("\n") if line)
    return [CaptionRecord(parts[0], parts[1] if len(parts) > 1 else "") for parts in lines]


def decode_records(data: bytes, fmt: str, source: str | os.PathLike) -> str:
    """The text of an output file: JSON Lines must be UTF-8; text and CSV may hold file names' own bytes."""
    try:
        return data.decode("utf-8") if fmt == "jsonl" else data.decode("utf-8", "surrogateescape")
    except UnicodeDecodeError as e:
        raise CaptionerError(f"{source}: not UTF-8 text (byte {e.start})") from None


def read_records(path: str | os.PathLike, fmt: str | None = None) -> RecordFile:
    """Every complete record of the output file ``path`` (format from its suffix unless given)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise CaptionerError(f"{path}: cannot read ({e.strerror or e})") from None
    data, cut = complete_lines(data)
    fmt = fmt or format_of(path)
    return RecordFile(parse_records(decode_records(data, fmt, path), fmt, path), cut, len(data))
