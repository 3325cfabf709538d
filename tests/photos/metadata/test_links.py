"""Bug 13: symlinks stay symlinks, hard links keep their inode, and an interrupted in-place rewrite is repaired."""

from __future__ import annotations

import hashlib
import os
import struct

import pytest

from captioner.errors import CaptionerError
from captioner.photos.metadata import MetadataUpdate, embed, read_metadata, write_sidecar
from captioner.photos.metadata.files import commit
from tests.photos.metadata.inspect_files import decoded, image_payload

UPDATE = MetadataUpdate("a cat on a sofa", keywords=("cat",))


def test_bug13_symlink_stays_a_symlink_and_its_target_is_written(lib):
    link, target = lib["link.jpg"], lib["target.jpg"]
    pointer = os.readlink(link)
    result = embed(link, UPDATE)
    assert result.path == target.resolve() and result.changed
    assert link.is_symlink() and os.readlink(link) == pointer
    assert read_metadata(target).description == UPDATE.caption
    assert not any(p.name.startswith(".") for p in link.parent.iterdir())  # no temp files left beside the link
    assert not embed(link, UPDATE).changed


def test_bug13_symlink_sidecar_sits_beside_the_link(lib):
    link = lib["link.jpg"]
    result = write_sidecar(link, UPDATE)
    assert result.path == link.with_name("link.jpg.xmp")
    assert not lib["target.jpg"].with_name("target.jpg.xmp").exists()


def test_bug13_broken_symlink_is_a_clear_error(lib, tmp_path):
    broken = lib["plain.jpg"].with_name("broken.jpg")
    os.symlink("does-not-exist.jpg", broken)
    with pytest.raises(CaptionerError, match="broken symlink"):
        embed(broken, UPDATE)


def test_bug13_hard_links_keep_their_inode(lib):
    a, b = lib["hard_a.jpg"], lib["hard_b.jpg"]
    inode, payload, pixels = a.stat().st_ino, image_payload(a), decoded(a)
    os.utime(a, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    result = embed(a, UPDATE)
    assert result.path == a and result.changed
    assert a.stat().st_ino == b.stat().st_ino == inode and a.stat().st_nlink == 2
    assert a.stat().st_mtime_ns == 1_000_000_000_000_000_000
    assert read_metadata(b).description == UPDATE.caption
    assert image_payload(b) == payload and decoded(b) == pixels
    assert not [p for p in a.parent.iterdir() if p.name.endswith(".journal")]
    assert not embed(b, UPDATE).changed


def _journal(path, content, st, complete=True):
    header = struct.pack(">Qqq?", len(content), st.st_atime_ns, st.st_mtime_ns, True)
    blob = b"captioner in-place rewrite 1\n" + header + hashlib.sha256(content).digest() + content
    journal = path.parent / f".captioner-inplace-{st.st_dev:x}-{st.st_ino:x}.journal"
    journal.write_bytes(blob if complete else blob[: len(blob) // 2])
    return journal


def test_bug13_interrupted_in_place_rewrite_is_finished_by_the_next_call(lib, tmp_path):
    a, b = lib["hard_a.jpg"], lib["hard_b.jpg"]
    other = tmp_path / "new.jpg"
    other.write_bytes(a.read_bytes())
    embed(other, UPDATE)
    new = other.read_bytes()  # what a finished rewrite would have produced
    st = a.stat()
    journal = _journal(a, new, st)
    with open(a, "r+b") as f:  # the crash: half the new content written over the old
        f.write(new[: len(new) // 2])
    md = read_metadata(b)  # any later call, through any name in the folder, repairs first
    assert md.description == UPDATE.caption
    assert a.read_bytes() == new and not journal.exists()
    assert a.stat().st_ino == st.st_ino and a.stat().st_mtime_ns == st.st_mtime_ns


def test_bug13_torn_journal_means_the_photo_was_never_touched(lib):
    a = lib["hard_a.jpg"]
    data = a.read_bytes()
    journal = _journal(a, b"x" * 1000, a.stat(), complete=False)
    assert embed(a, UPDATE).changed
    assert not journal.exists() and a.read_bytes() != data
    assert read_metadata(a).description == UPDATE.caption


def test_bug13_file_changed_meanwhile_is_not_overwritten(lib):
    photo = lib["plain.jpg"]
    st = photo.stat()
    photo.write_bytes(photo.read_bytes() + b"\x00")  # someone else wrote in between
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    with pytest.raises(CaptionerError, match="changed by something else"):
        commit(photo, b"new content", st, keep_times=True)
    assert photo.read_bytes() != b"new content"
