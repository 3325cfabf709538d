"""Combining the outputs of sharded caption runs (``caption --shard I/N`` on several machines) into one file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.errors import CaptionerError
from captioner.photos.records import CaptionRecord, format_of, latest, read_records, record_stream, record_writer


@dataclass
class MergeSummary:
    records: int = 0  # records written
    duplicates: int = 0  # records whose path came again later (one record per path is kept)
    failed: int = 0  # records written that are errors
    partial: list[str] = field(default_factory=list)  # inputs whose last line was cut off (and skipped)


def merge_outputs(inputs: list[Path], output: Path, fmt: str | None = None) -> MergeSummary:
    """Write the records of ``inputs`` to ``output`` (atomically), in input order, one record per path.

    A path in several inputs (a shard re-run, overlapping runs) or several times in one (a resumed run's retries)
    keeps one record, by the rule of ``records.latest``: a caption beats an error, and otherwise the later record
    wins. A cut-off last line (a killed run) is skipped and reported, never half-copied.
    """
    summary = MergeSummary()
    every: list[CaptionRecord] = []
    for path in inputs:
        if Path(path).resolve() == Path(output).resolve():
            raise CaptionerError(f"{path}: is also the output; write the merge to a new file")
        found = read_records(path)
        if found.cut:
            summary.partial.append(str(path))
        every += found.records
    merged = latest(every)
    summary.duplicates = len(every) - len(merged)
    with atomic_write(output, "wb") as f, record_stream(f) as text:
        writer = record_writer(text, fmt or format_of(output))
        for record in merged.values():
            writer.write(record)
            summary.records += 1
            summary.failed += not record.ok
    return summary
