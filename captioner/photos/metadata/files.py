"""Replacing a file's bytes without ever leaving it half-written, and without breaking links.

- A symlink stays a symlink: ``resolve`` gives its target, and the target is written, atomically in the target's own
  folder (the link itself, and the folder it lives in, are not touched).
- A file with one link is replaced atomically: a temp file in the same folder, fsync, ``os.replace``
  (``captioner.atomic.atomic_write``, which also keeps the permission bits), then the folder is fsynced; owner and,
  for photos, atime/mtime are put back.
- A file with several hard links must keep its inode, so it is rewritten in place, journaled: the complete new
  content goes first to ``.captioner-inplace-<dev>-<inode>.journal`` in the file's folder (a header, the SHA-256 and
  the content) and is fsynced; then the file is overwritten and truncated, fsynced, and its times restored; then the
  journal is deleted. If the rewrite is cut short (crash, power loss, kill), the complete journal is still there, and
  the next call that opens the file by any of its names in that folder (``recover``) replays it. A journal that is
  itself incomplete was cut short before the file was touched, so it is simply deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
from pathlib import Path

from captioner.atomic import atomic_write, fsync_folder
from captioner.errors import CaptionerError
from captioner.photos.metadata.text import display

_MAGIC = b"captioner in-place rewrite 1\n"
_HEADER = struct.Struct(">Qqq?")  # content length, atime_ns, mtime_ns, restore times


def _printable(message: str) -> str:
    return message.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def resolve(path: Path) -> Path:
    """The file that ``path`` names: itself, or the final target of a symlink (which must exist)."""
    if not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    if not target.exists():
        raise CaptionerError(f"{display(path)}: broken symlink (its target {display(target)} does not exist)")
    return target


def _journal(path: Path, st: os.stat_result) -> Path:
    return path.parent / f".captioner-inplace-{st.st_dev:x}-{st.st_ino:x}.journal"


def _overwrite(path: Path, data: bytes, times: tuple[int, int] | None) -> None:
    with open(path, "r+b") as f:
        f.write(data)
        f.truncate(len(data))
        f.flush()
        os.fsync(f.fileno())
    if times is not None:
        os.utime(path, ns=times)


def recover(path: Path) -> bool:
    """Finish an in-place rewrite of ``path`` that was cut short; True when one was found and completed."""
    try:
        journal = _journal(path, path.stat())
        blob = journal.read_bytes()
    except FileNotFoundError:
        return False
    except OSError as e:
        raise CaptionerError(f"{display(path)}: cannot check for an interrupted rewrite ({e.strerror or e})") from None
    body = blob[len(_MAGIC) :]
    complete = blob.startswith(_MAGIC) and len(body) >= _HEADER.size + 32
    if complete:
        length, atime, mtime, restore = _HEADER.unpack_from(body)
        digest, content = body[_HEADER.size : _HEADER.size + 32], body[_HEADER.size + 32 :]
        complete = len(content) == length and hashlib.sha256(content).digest() == digest
    try:
        if complete:
            _overwrite(path, content, (atime, mtime) if restore else None)
        journal.unlink()
        fsync_folder(path.parent)
    except OSError as e:
        raise CaptionerError(f"{display(path)}: cannot finish an interrupted rewrite ({e.strerror or e})") from None
    return complete


def _in_place(path: Path, data: bytes, st: os.stat_result, keep_times: bool) -> None:
    journal = _journal(path, st)
    header = _HEADER.pack(len(data), st.st_atime_ns, st.st_mtime_ns, keep_times)
    try:
        fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC + header + hashlib.sha256(data).digest() + data)
            f.flush()
            os.fsync(f.fileno())
        fsync_folder(path.parent)
    except OSError:
        with contextlib.suppress(OSError):
            journal.unlink()
        raise
    try:
        _overwrite(path, data, (st.st_atime_ns, st.st_mtime_ns) if keep_times else None)
    except OSError as e:
        raise CaptionerError(
            f"{display(path)}: in-place rewrite failed ({e.strerror or e}); the next run finishes it from "
            f"{display(journal.name)}"
        ) from None
    journal.unlink()
    fsync_folder(path.parent)


def _replace(path: Path, data: bytes, st: os.stat_result | None, keep_times: bool) -> None:
    try:
        with atomic_write(path, "wb") as f:
            f.write(data)
    except CaptionerError as e:
        raise CaptionerError(_printable(str(e))) from None
    fsync_folder(path.parent)
    if st is not None:
        if hasattr(os, "chown") and (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
            with contextlib.suppress(OSError):  # only root may give a file away
                os.chown(path, st.st_uid, st.st_gid)
        if keep_times:
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def commit(path: Path, data: bytes, st: os.stat_result | None, keep_times: bool) -> None:
    """Make ``data`` the content of ``path`` (a real file, or a new one when ``st`` is None), crash-safely.

    ``st`` is what the caller saw when it read the file: if the file changed since, nothing is written.
    """
    try:
        if st is not None:
            now = path.stat()
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (st.st_ino, st.st_size, st.st_mtime_ns):
                raise CaptionerError(f"{display(path)}: changed by something else while captioner worked; left as is")
            if now.st_nlink > 1:
                _in_place(path, data, st, keep_times)  # st: the times from before captioner read the file
                return
        _replace(path, data, st, keep_times)
    except OSError as e:
        raise CaptionerError(f"{display(path)}: write failed ({e.strerror or e}); the file is unchanged") from None
