"""Every caption format reads into the same CaptionSet; broken files are one error naming the file and line."""

import json
import shutil

import pytest

from captioner.data.formats import ReadOptions, detect_format, read_caption_set
from captioner.errors import CaptionerError
from tests.conftest import coco_items, make_dataset, make_formats


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    data = make_dataset(root)
    return data, make_formats(data, root / "formats")


def as_pairs(captions):
    return sorted((im.file_name.rsplit("/", 1)[-1], sorted(im.captions)) for im in captions.images)


@pytest.mark.parametrize("fmt", ["coco", "csv", "tsv", "jsonl", "imagefolder", "sidecar"])
def test_every_format_is_detected_and_reads_the_same_photos_and_captions(formats, fmt):
    data, sources = formats
    source, images = sources[fmt]
    captions, detected = read_caption_set(source, images)
    assert detected == fmt
    assert as_pairs(captions) == sorted((fn, sorted(caps)) for fn, caps in coco_items(data["train"]))
    assert all(im.path.is_file() for im in captions.images)
    assert not captions.notes


def test_imagefolder_names_photos_relative_to_each_metadata_file(formats):
    _, sources = formats
    captions, _ = read_caption_set(*sources["imagefolder"])
    names = [im.file_name for im in captions.images]
    assert names[0] == "img000.jpg" and names[-1] == "part/img011.jpg"


def test_format_override_and_columns(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "list.txt").write_text("photo;words\na.jpg;a dog runs\na.jpg;a dog is running\n")
    options = ReadOptions("csv", image_column="PHOTO", caption_column="words")
    captions, fmt = read_caption_set(tmp_path / "list.txt", options=options)
    assert fmt == "csv" and captions.images[0].captions == ["a dog runs", "a dog is running"]
    with pytest.raises(CaptionerError, match=r"list.txt: cannot tell the caption format .*pass their folder"):
        read_caption_set(tmp_path / "list.txt")


def test_headerless_csv_byte_order_mark_and_repeats(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "c.csv").write_text(
        '\ufeffa.jpg,a dog runs\n./b.png,"a cat, asleep"\na.jpg,a dog runs\nb.png,...\n', encoding="utf-8"
    )
    captions, _ = read_caption_set(tmp_path / "c.csv")
    assert [(im.file_name, im.captions) for im in captions.images] == [
        ("a.jpg", ["a dog runs"]),
        ("b.png", ["a cat, asleep"]),
    ]
    assert any("skipped 1 empty caption" in n for n in captions.notes)
    assert any("1 caption(s) repeated" in n for n in captions.notes)


def test_sidecars_several_lines_caption_suffix_and_what_did_not_pair_up(tmp_path):
    for name in ("a.jpg", "b.png", "lonely.jpg", "sub/c.webp", ".hidden/d.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "a.txt").write_text("a dog runs\n\na dog is running\n")
    (tmp_path / "b.caption").write_text("a cat sleeps")
    (tmp_path / "sub" / "c.txt").write_text("a bird")
    (tmp_path / ".hidden" / "d.txt").write_text("never read")
    (tmp_path / "README.txt").write_text("not a caption")
    captions, fmt = read_caption_set(tmp_path)
    assert fmt == "sidecar"
    assert [(im.file_name, im.captions) for im in captions.images] == [
        ("a.jpg", ["a dog runs", "a dog is running"]),
        ("b.png", ["a cat sleeps"]),
        ("sub/c.webp", ["a bird"]),
    ]
    notes = " ".join(captions.notes)
    assert "skipped 1 photo(s) without a .txt or .caption file (lonely.jpg)" in notes
    assert "ignored 1 text file(s) with no photo of the same name (README.txt)" in notes


def test_missing_photos_are_listed_and_dropped_unless_most_are_missing(tmp_path):
    for i in range(4):
        (tmp_path / f"{i}.jpg").write_bytes(b"x")
    rows = "".join(f"{i}.jpg,photo number {i}\n" for i in range(5))
    (tmp_path / "five.csv").write_text("file_name,caption\n" + rows)
    captions, _ = read_caption_set(tmp_path / "five.csv")
    assert len(captions.images) == 4
    assert "1 of 5 photos are missing under" in captions.notes[-1] and "(4.jpg)" in captions.notes[-1]
    (tmp_path / "ten.csv").write_text("file_name,caption\n" + "".join(f"{i}.jpg,photo {i}\n" for i in range(10)))
    with pytest.raises(CaptionerError, match=r"ten.csv: 6 of 10 photos are missing .* is --train-images the right"):
        read_caption_set(tmp_path / "ten.csv")


BROKEN = [
    ("bad.csv", "file_name,caption\na.jpg,ok\na.jpg,too,many\n", r"bad.csv:3: has 3 fields, the header has 2"),
    (
        "many.csv",
        "file_name,caption\na.jpg\nb.jpg,x,y\n,no name\na.jpg,ok\n",
        r"many.csv:2: has 1 fields.*\(and 2 more malformed rows: .*many.csv:3, .*many.csv:4\)",
    ),
    ("cols.csv", "photo_id,words\n1,a dog\n", r"cols.csv: no photo column among photo_id, words .*--image-column"),
    ("nocap.csv", "file_name,label\na.jpg,3\n", r"nocap.csv: no caption column .*--caption-column"),
    ("esc.csv", "file_name,caption\n../../etc/passwd,x\n", r"esc.csv:2: '../../etc/passwd' points outside the image"),
    ("abs.tsv", "file_name\tcaption\n/etc/passwd\tx\n", r"abs.tsv:2: '/etc/passwd' points outside"),
    ("quote.csv", 'file_name,caption\na.jpg,"never closed\n', r"quote.csv:\d+: malformed CSV"),
    ("empty.csv", "", r"empty.csv: empty file"),
    ("bad.jsonl", '{"file_name": "a.jpg", "caption": "ok"}\n\n{"file_name": "a.jpg",\n', r"bad.jsonl:3: not JSON"),
    ("list.jsonl", '{"image": "a.jpg", "text": "ok"}\n[1, 2]\n', r"list.jsonl:2: expected a JSON object, got list"),
    ("cap.jsonl", '{"image": "a.jpg", "caption": 5}\n', r"cap.jsonl:1: 'caption' must be a caption or a list"),
    ("name.jsonl", '{"image": "a.jpg", "caption": "x"}\n{"image": null, "caption": "y"}\n', r"name.jsonl:2: no photo"),
    ("words.json", '{"images": [', r"words.json: malformed JSON at line 1"),
    ("data.parquet", "PAR1", r"data.parquet: cannot tell the caption format"),
]


@pytest.mark.parametrize("name,content,match", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_are_one_error_naming_the_file_and_line(tmp_path, name, content, match):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(CaptionerError, match=match) as e:
        read_caption_set(tmp_path / name)
    assert "\n" not in str(e.value)


def test_broken_folders(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    with pytest.raises(CaptionerError, match=r"none of its 1 photos has a caption in a .txt or .caption file"):
        read_caption_set(tmp_path)
    (tmp_path / "a.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(CaptionerError, match=r"a.txt: not UTF-8 text"):
        read_caption_set(tmp_path)
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "metadata.parquet").write_bytes(b"PAR1")
    assert detect_format(hf) == "imagefolder"
    with pytest.raises(CaptionerError, match=r"metadata.parquet: only metadata.jsonl and metadata.csv are read"):
        read_caption_set(hf)
    with pytest.raises(CaptionerError, match=r"the sidecar format reads a folder"):
        read_caption_set(tmp_path / "a.txt", options=ReadOptions("sidecar"))
    with pytest.raises(CaptionerError, match=r"is a folder; the csv format reads a file"):
        read_caption_set(hf, options=ReadOptions("csv"))


def test_hugging_face_style_file_name_column_and_train_folder(tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    (train / "0.jpg").write_bytes(b"x")
    (train / "metadata.jsonl").write_text(json.dumps({"image_file_name": "0.jpg", "prompt": "a red square"}) + "\n")
    assert detect_format(tmp_path) == "imagefolder"  # the metadata file sits in a split folder
    captions, _ = read_caption_set(tmp_path)
    assert [(im.file_name, im.captions) for im in captions.images] == [("train/0.jpg", ["a red square"])]


def test_max_images_and_coco_missing_photos_follow_the_same_rule(formats, tmp_path):
    data, _ = formats
    images = tmp_path / "images"
    shutil.copytree(data["images"], images)
    (images / "img003.jpg").unlink()
    captions, _ = read_caption_set(data["train"], images, max_images=5)
    assert [im.file_name for im in captions.images] == [
        "img000.jpg",
        "img001.jpg",
        "img002.jpg",
        "img004.jpg",
        "img005.jpg",
    ]
    assert "1 of 12 photos are missing" in captions.notes[-1]


def test_a_caption_folder_takes_no_other_image_folder(formats, tmp_path):
    _, sources = formats
    folder = sources["sidecar"][0]
    assert read_caption_set(folder, folder)[1] == "sidecar"  # the same folder is fine
    with pytest.raises(CaptionerError, match=r"a caption folder's photos are in the folder itself; drop --images"):
        read_caption_set(folder, tmp_path, images_option="--images")
