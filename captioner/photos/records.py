"""Caption records: the one type a run's results take, one writer per output format, and one reader for them all.

A record is what ``captioner caption`` writes per file (and what ``--resume``, ``merge``, ``score --predictions`` and
the gallery read back): the path, the best caption and its score, the n-best captions and keywords, or an error.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from captioner.errors import CaptionerError
from captioner.jsonl import complete_lines, iter_jsonl

FORMATS = ("text", "jsonl", "csv")
CSV_FIELDS = ["path", "caption", "score", "tags", "error"]


@dataclass
class CaptionRecord:
    """One file's result: caption, score and n-best captions (and keywords), or an error."""

    path: str  # printable path
    caption: str = ""
    score: float | None = None  # the best caption's beam score
    captions: list[dict] = field(default_factory=list)  # n-best: [{"caption": str, "score": float}, ...]
    tags: list[str] | None = None  # keywords; None when not asked for
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict:
        """The JSON Lines object: path, caption, score, captions (and tags), or path and error."""
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        record = {"path": self.path, "caption": self.caption, "score": self.score, "captions": self.captions}
        if self.tags is not None:
            record["tags"] = self.tags
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
        )


# -- writers -------------------------------------------------------------------------------------------------------


class RecordWriter(Protocol):
    def write(self, record: CaptionRecord) -> None: ...


class TextWriter:
    """``PATH<TAB>CAPTION`` lines; error records are not written (they go to stderr)."""

    def __init__(self, stream: IO[str], header: bool = True):
        self.stream = stream

    def write(self, record: CaptionRecord) -> None:
        if record.ok:
            self.stream.write(f"{record.path}\t{record.caption}\n")


class JsonlWriter:
    """One JSON object per line, non-ASCII characters kept as they are."""

    def __init__(self, stream: IO[str], header: bool = True):
        self.stream = stream

    def write(self, record: CaptionRecord) -> None:
        self.stream.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")


class CsvWriter:
    """``path,caption,score,tags,error`` rows, keywords joined with ``;``; a header unless appending."""

    def __init__(self, stream: IO[str], header: bool = True):
        self.csv = csv.DictWriter(stream, CSV_FIELDS, lineterminator="\n")
        if header:
            self.csv.writeheader()

    def write(self, record: CaptionRecord) -> None:
        self.csv.writerow(
            {
                "path": record.path,
                "caption": record.caption if record.ok else "",
                "score": record.score if record.ok and record.score is not None else "",
                "tags": ";".join(record.tags or []),
                "error": record.error or "",
            }
        )


_WRITERS = {"text": TextWriter, "jsonl": JsonlWriter, "csv": CsvWriter}


def record_writer(stream: IO[str], fmt: str, header: bool = True) -> RecordWriter:
    """The writer of format ``fmt`` (text, jsonl or csv) on ``stream``; ``header`` is False when appending."""
    if fmt not in _WRITERS:
        raise ValueError(f"unknown format {fmt!r}")
    return _WRITERS[fmt](stream, header)


# -- the reader ----------------------------------------------------------------------------------------------------


def format_of(path: str | os.PathLike) -> str:
    """An output's format from its suffix: .jsonl, .csv, else text."""
    return {".jsonl": "jsonl", ".csv": "csv"}.get(Path(path).suffix.lower(), "text")


@dataclass
class RecordFile:
    records: list[CaptionRecord]
    cut: bool  # the last line was cut off (a killed run) and skipped
    size: int  # bytes of the complete lines


def parse_records(text: str, fmt: str, source: str | os.PathLike) -> list[CaptionRecord]:
    """The records in the text of an output file of format ``fmt``."""
    if fmt == "jsonl":
        return [CaptionRecord.from_json(obj, f"{source}:{n}") for n, obj in iter_jsonl(text, source)]
    if fmt == "csv":
        records = []
        for row in csv.DictReader(io.StringIO(text)):
            if not isinstance(row.get("path"), str):
                raise CaptionerError(f"{source}: not a captioner CSV file (no 'path' column)")
            score = float(row["score"]) if row.get("score") else None
            tags = [t for t in (row.get("tags") or "").split(";") if t]
            records.append(
                CaptionRecord(row["path"], row.get("caption") or "", score, [], tags, row.get("error") or None)
            )
        return records
    return [CaptionRecord(p, c) for p, _, c in (line.partition("\t") for line in text.splitlines())]


def read_records(path: str | os.PathLike, fmt: str | None = None) -> RecordFile:
    """Every complete record of the output file ``path`` (format from its suffix unless given)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise CaptionerError(f"{path}: cannot read ({e.strerror or e})") from None
    data, cut = complete_lines(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CaptionerError(f"{path}: not UTF-8 text") from None
    return RecordFile(parse_records(text, fmt or format_of(path), path), cut, len(data))
