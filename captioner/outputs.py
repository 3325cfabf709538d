"""Writing caption results as text, JSON Lines or CSV."""

from __future__ import annotations

import csv
import json
from typing import IO

from captioner.captioning import Result

FORMATS = ("text", "jsonl", "csv")
CSV_FIELDS = ["path", "caption", "score", "tags", "error"]


def result_record(result: Result, tags: list[str] | None = None) -> dict:
    """The JSON Lines object of one result: path, caption, score, n-best captions (and tags), or path and error."""
    if not result.ok:
        return {"path": result.path, "error": result.error}
    best = result.captions[0] if result.captions else None
    record = {
        "path": result.path,
        "caption": best.text if best else "",
        "score": round(best.score, 4) if best else None,
        "captions": [{"caption": c.text, "score": round(c.score, 4)} for c in result.captions],
    }
    if tags is not None:
        record["tags"] = tags
    return record


class ResultWriter:
    """Writes one line (or row) per result to ``stream`` in the chosen format."""

    def __init__(self, stream: IO[str], fmt: str, write_header: bool = True):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.stream, self.fmt = stream, fmt
        self._csv = csv.DictWriter(stream, CSV_FIELDS, lineterminator="\n") if fmt == "csv" else None
        if self._csv and write_header:
            self._csv.writeheader()

    def write(self, result: Result, tags: list[str] | None = None) -> None:
        self.write_record(result_record(result, tags))

    def write_record(self, record: dict) -> None:
        """Write one record as ``result_record`` makes them (text format: successful ones only)."""
        if self.fmt == "jsonl":
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            self._csv.writerow(
                {
                    "path": record["path"],
                    "caption": record.get("caption", ""),
                    "score": record.get("score", ""),
                    "tags": ";".join(record.get("tags") or []),
                    "error": record.get("error", ""),
                }
            )
        elif "error" not in record:
            self.stream.write(f"{record['path']}\t{record['caption']}\n")
