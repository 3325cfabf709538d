"""Combining the outputs of sharded caption runs (``caption --shard I/N`` on several machines) into one file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.errors import CaptionerError
from captioner.photos.records import CaptionRecord, format_of, read_records, record_writer


@dataclass
class MergeSummary:
    records: int = 0  # records written
    duplicates: int = 0  # paths seen in more than one input (one record kept)
    failed: int = 0  # records written that are errors
    partial: list[str] = field(default_factory=list)  # inputs whose last line was cut off (and skipped)


def merge_outputs(inputs: list[Path], output: Path, fmt: str | None = None) -> MergeSummary:
    """Write the records of ``inputs`` to ``output`` (atomically), in input order, one record per path.

    A path in several inputs (a shard re-run, overlapping runs) keeps one record: a caption beats an error, and
    otherwise the later input wins. A cut-off last line (a killed run) is skipped and reported, never half-copied.
    """
    summary = MergeSummary()
    merged: dict[str, CaptionRecord] = {}
    for path in inputs:
        if Path(path).resolve() == Path(output).resolve():
            raise CaptionerError(f"{path}: is also the output; write the merge to a new file")
        found = read_records(path)
        if found.cut:
            summary.partial.append(str(path))
        for record in found.records:
            old = merged.get(record.path)
            if old is not None:
                summary.duplicates += 1
                if not record.ok and old.ok:
                    record = old
            merged[record.path] = record
    with atomic_write(output) as f:
        writer = record_writer(f, fmt or format_of(output))
        for record in merged.values():
            writer.write(record)
            summary.records += 1
            summary.failed += not record.ok
    return summary
