"""Where a run with ``-o`` keeps its records while it works: a journal beside the output, synced batch by batch.

A run writing ``captions.jsonl`` appends its records to ``captions.jsonl.partial``. Each record is flushed to the
operating system as soon as it is written, so a killed run (SIGKILL, the OOM killer) loses none that were written;
the journal is fsynced after every batch, so a power cut loses at most the batch in flight. When the run ends, after
Ctrl-C and SIGTERM too, the journal replaces the output by a rename: the output only ever changes from one complete
file to another, and an earlier output stays as it was until then. No other file is left behind.

- A fresh run (no ``--resume``) starts an empty journal, whatever an earlier run left there.
- ``--resume`` continues the journal that a killed run left (even an empty one: that run had done nothing yet);
  without one, it starts a journal holding the output's records (the output itself stays untouched until the end).
  A line cut off by a kill is dropped.
- Files that failed are tried again by ``--resume``, so the journal can hold two records for one path. Such a
  journal is compacted at the end: one record per path (``records.latest``) goes to ``<output>.compact``, which is
  synced and renamed over the output; then the journal is removed. A compaction cut short is redone by the next
  ``--resume`` (the journal is still there), and a leftover ``.compact`` is removed by the next run.
- While a run writes a journal it holds a lock on it (``flock``, where the system has it): a second run writing the
  same output is refused.
- After any other error the journal is left as it is, for ``--resume``, and the output is not touched.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from captioner.atomic import fsync_folder
from captioner.errors import CaptionerError
from captioner.jsonl import complete_lines
from captioner.paths import display_path
from captioner.photos.records import CaptionRecord, decode_records, latest, parse_records, record_stream, record_writer


def journal_path(output: Path) -> Path:
    """``captions.jsonl`` -> ``captions.jsonl.partial``."""
    return output.with_name(output.name + ".partial")


def _compact_path(output: Path) -> Path:
    return output.with_name(output.name + ".compact")


def _lock(f: io.BufferedRandom, output: Path, journal: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks
        return
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise CaptionerError(
            f"{display_path(output)}: another captioner run is writing it right now ({display_path(journal.name)} "
            "is locked)"
        ) from None
    except OSError:  # a file system without locks
        pass


class Journal:
    """The journal of one run writing ``output`` in format ``fmt``; ``records``: those it continues from."""

    def __init__(self, output: Path, fmt: str, resume: bool, verbose: bool = False):
        self.output, self.fmt, self.verbose = Path(output), fmt, verbose
        self.path = journal_path(self.output)
        self.records: list[CaptionRecord] = []
        self._file = self._open(resume)
        self._text = io.TextIOWrapper(self._file, encoding="utf-8", errors="surrogateescape", newline="")
        self._writer = record_writer(self._text, fmt, header=self._file.tell() == 0, verbose=verbose)
        self._text.flush()  # a CSV header
        self._paths = {r.path for r in self.records}
        self.duplicates = len(self.records) - len(self._paths)  # records a later one of the same path supersedes

    def _open(self, resume: bool) -> io.BufferedRandom:
        created = not os.path.lexists(self.path)
        try:
            f = os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666), "r+b")
        except OSError as e:
            raise CaptionerError(f"{display_path(self.output)}: cannot write here ({e.strerror or e})") from None
        try:
            _lock(f, self.output, self.path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(_compact_path(self.output))
            data, source = b"", self.path
            if resume and not created:  # a run was cut short: its journal, even an empty one, is the state
                data = f.read()
            elif resume and self.output.exists():
                data, source = self._read_output(), self.output
            data, _ = complete_lines(data)
            self.records = parse_records(decode_records(data, self.fmt, source), self.fmt, source)
            if source == self.output:
                f.seek(0)
                f.write(data)
            f.truncate(len(data))
            f.seek(len(data))
            f.flush()
            os.fsync(f.fileno())
        except BaseException as e:
            f.close()
            if created:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            if isinstance(e, OSError):
                raise CaptionerError(f"{display_path(self.path)}: cannot write ({e.strerror or e})") from None
            raise
        return f

    def _read_output(self) -> bytes:
        try:
            return self.output.read_bytes()
        except OSError as e:
            raise CaptionerError(f"{display_path(self.output)}: cannot read ({e.strerror or e})") from None

    def write(self, record: CaptionRecord) -> None:
        """Append ``record`` and hand it to the operating system (it survives a kill of this process)."""
        try:
            self._writer.write(record)
            self._text.flush()
        except OSError as e:
            raise self._failed(e) from None
        if record.ok or self.fmt != "text":  # text files hold no error records
            self.duplicates += record.path in self._paths
            self._paths.add(record.path)

    def sync(self) -> None:
        """Make what was written durable (fsync): once per batch."""
        try:
            self._text.flush()
            os.fsync(self._file.fileno())
        except OSError as e:
            raise self._failed(e) from None

    def finish(self) -> None:
        """Make the journal the output, one record per path, and remove it."""
        self.sync()
        try:
            mode = self.output.stat().st_mode & 0o7777 if self.output.exists() else None
            if self.duplicates:
                self._compact(mode)
            else:
                if mode is not None:
                    os.chmod(self.path, mode)
                os.replace(self.path, self.output)
            fsync_folder(self.output.parent)
        except OSError as e:
            raise CaptionerError(
                f"{display_path(self.output)}: cannot replace it ({e.strerror or e}); the records are in "
                f"{display_path(self.path)}, and --resume continues from there"
            ) from None
        finally:
            self.close()

    def _compact(self, mode: int | None) -> None:
        with open(self.path, "rb") as f:
            data = f.read()
        records = latest(parse_records(decode_records(data, self.fmt, self.path), self.fmt, self.path))
        compact = _compact_path(self.output)
        with open(compact, "wb") as raw:
            with record_stream(raw) as text:
                writer = record_writer(text, self.fmt, verbose=self.verbose)
                for record in records.values():
                    writer.write(record)
            raw.flush()
            os.fsync(raw.fileno())
        if mode is not None:
            os.chmod(compact, mode)
        os.replace(compact, self.output)
        os.unlink(self.path)

    def close(self) -> None:
        """Stop writing (and release the lock); the journal stays for ``--resume`` unless ``finish`` ran."""
        if self._file.closed:
            return
        with contextlib.suppress(OSError, ValueError):
            self._text.flush()
        with contextlib.suppress(OSError, ValueError):
            self._text.detach()
        self._file.close()

    def _failed(self, e: OSError) -> CaptionerError:
        return CaptionerError(
            f"{display_path(self.path)}: write failed ({e.strerror or e}); what was written before is kept there, "
            "and --resume continues from it"
        )
