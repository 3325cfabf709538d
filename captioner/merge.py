"""Combining the outputs of sharded caption runs (``caption --shard I/N`` on several machines) into one file."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.errors import CaptionerError
from captioner.outputs import ResultWriter


@dataclass
class MergeSummary:
    records: int = 0  # records written
    duplicates: int = 0  # paths seen in more than one input (one record kept)
    failed: int = 0  # records written that are errors
    partial: list[str] = field(default_factory=list)  # inputs whose last line was cut off (and skipped)


def format_of(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    return {".jsonl": "jsonl", ".csv": "csv"}.get(suffix, "text")


def merge_outputs(inputs: list[Path], output: Path, fmt: str | None = None) -> MergeSummary:
    """Write the records of ``inputs`` to ``output`` (atomically), in input order, one record per path.

    A path in several inputs (a shard re-run, overlapping runs) keeps one record: a caption beats an error, and
    otherwise the later input wins. A cut-off last line (a killed run) is skipped and reported, never half-copied.
    """
    from captioner.batch import parse_records

    fmt = fmt or format_of(output)
    summary = MergeSummary()
    merged: dict[str, dict] = {}
    for path in inputs:
        if Path(path).resolve() == Path(output).resolve():
            raise CaptionerError(f"{path}: is also the output; write the merge to a new file")
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise CaptionerError(f"{path}: cannot read ({e.strerror or e})") from None
        if data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]
            summary.partial.append(str(path))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CaptionerError(f"{path}: not UTF-8 text") from None
        for record in parse_records(text, format_of(path), path):
            old = merged.get(record["path"])
            if old is not None:
                summary.duplicates += 1
                if "error" in record and "error" not in old:
                    record = old
            merged[record["path"]] = record
    with atomic_write(output) as f:
        writer = ResultWriter(f, fmt)
        for record in merged.values():
            writer.write_record(record)
            summary.records += 1
            summary.failed += "error" in record
    return summary
