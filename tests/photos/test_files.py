import os

from captioner.photos.files import iter_images


def touch(p):
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
    return p


def test_walk_is_sorted_recursive_and_skips_non_images(tmp_path):
    for name in [
        "b.JPG",
        "a.jpeg",
        "c.png",
        "notes.txt",
        "a.xmp",
        "b.jpg.xmp",
        ".hidden.jpg",
        "sub/d.webp",
        ".git/e.jpg",
        "sub/deeper/f.TIFF",
    ]:
        touch(tmp_path / name)
    got = [p.relative_to(tmp_path).as_posix() for p in iter_images([tmp_path])]
    assert got == ["a.jpeg", "b.JPG", "c.png", "sub/d.webp", "sub/deeper/f.TIFF"]
    flat = [p.name for p in iter_images([tmp_path], recursive=False)]
    assert flat == ["a.jpeg", "b.JPG", "c.png"]


def test_explicit_files_are_kept_and_outputs_excluded(tmp_path):
    touch(tmp_path / "a.jpg")
    out = touch(tmp_path / "out.jpg")
    txt = touch(tmp_path / "x.txt")
    assert list(iter_images([txt])) == [txt]
    assert [p.name for p in iter_images([tmp_path], exclude=[out])] == ["a.jpg"]


def test_symlink_loops_are_safe(tmp_path):
    touch(tmp_path / "a" / "1.jpg")
    os.symlink(tmp_path, tmp_path / "a" / "up")  # a loop back to the root
    os.symlink(tmp_path / "a" / "self.jpg", tmp_path / "a" / "self.jpg")  # a link to itself
    got = [p.relative_to(tmp_path).as_posix() for p in iter_images([tmp_path])]
    assert got == ["a/1.jpg", "a/self.jpg"]


def test_streams_without_listing_everything_first(tmp_path):
    for i in range(50):
        touch(tmp_path / f"d{i:02d}" / "x.jpg")
    it = iter_images([tmp_path])
    assert next(it).parent.name == "d00"
