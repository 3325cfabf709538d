import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from captioner.data.coco import load_captions, safe_relative
from captioner.errors import CaptionerError


def write(tmp_path, data, name="c.json"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


def base(n=2):
    return {
        "images": [{"id": i, "file_name": f"{i}.jpg"} for i in range(n)],
        "annotations": [{"image_id": i, "caption": f"caption {i}"} for i in range(n)],
    }


@pytest.fixture
def root(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.jpg").write_bytes(b"x")
    return tmp_path


def test_loads_valid_file(tmp_path, root):
    s = load_captions(write(tmp_path, base()), root)
    assert [im.captions for im in s.images] == [["caption 0"], ["caption 1"]]
    assert s.images[0].path == root / "0.jpg"


@pytest.mark.parametrize(
    "data,match",
    [
        ("{not json", "malformed JSON at line 1"),
        ([1, 2], "expected a JSON object"),
        ({"images": []}, "missing key 'annotations'"),
        ({"images": {}, "annotations": []}, "'images' must be a list"),
        ({"images": [{"id": 1}], "annotations": []}, "1 entries of 'images' lack"),
        (
            {"images": [{"id": 1, "file_name": "0.jpg"}, {"id": 1, "file_name": "1.jpg"}], "annotations": []},
            "duplicate image id 1",
        ),
        (
            {"images": [{"id": 1, "file_name": "0.jpg"}], "annotations": [{"image_id": 7, "caption": "x"}]},
            "1 annotations refer to unknown image ids \\(7\\)",
        ),
        ({"images": [{"id": 1, "file_name": "0.jpg"}], "annotations": [{"caption": "x"}]}, "lack 'image_id'"),
        (
            {"images": [{"id": 1, "file_name": "0.jpg"}], "annotations": [{"image_id": 1, "caption": 5}]},
            "captions are not strings",
        ),
        ({"images": [{"id": 1, "file_name": "../0.jpg"}], "annotations": []}, "outside the image root"),
        ({"images": [{"id": 1, "file_name": "/etc/passwd"}], "annotations": []}, "outside the image root"),
        (
            {"images": [{"id": 1, "file_name": "0.jpg"}], "annotations": [{"image_id": 1, "caption": " . "}]},
            "no captioned images",
        ),
        ({"images": [], "annotations": []}, "no captioned images"),
        (
            {"images": [{"id": 1, "file_name": "9.jpg"}], "annotations": [{"image_id": 1, "caption": "a"}]},
            "1 of 1 image files are missing",
        ),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path, root, data, match):
    with pytest.raises(CaptionerError, match=match):
        load_captions(write(tmp_path, data), root)


def test_empty_captions_and_uncaptioned_images_are_noted(tmp_path, root):
    d = base(3)
    d["annotations"][2]["caption"] = "!!"
    s = load_captions(write(tmp_path, d), root)
    assert len(s.images) == 2
    assert any("1 empty caption" in n for n in s.notes) and any("no caption" in n for n in s.notes)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(CaptionerError, match="no such file"):
        load_captions(tmp_path / "nope.json", tmp_path)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CaptionerError, match="not UTF-8"):
        load_captions(tmp_path / "bin.json", tmp_path)


def test_safe_relative():
    assert safe_relative("a/b.jpg") and safe_relative("b.jpg")
    for bad in ["", "../a.jpg", "a/../../b.jpg", "/abs.jpg", "C:\\x.jpg", "..\\x.jpg", "a\x00b"]:
        assert not safe_relative(bad)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
image = st.fixed_dictionaries(
    {
        "id": st.integers(0, 3) | st.text(max_size=2) | json_values,
        "file_name": st.sampled_from(["0.jpg", "1.jpg", "../x", "/y", ""]) | json_values,
    }
)
annotation = st.fixed_dictionaries(
    {"image_id": st.integers(0, 3) | json_values, "caption": st.text(max_size=30) | json_values}
)
coco_like = (
    st.fixed_dictionaries(
        {
            "images": st.lists(image, max_size=4) | json_values,
            "annotations": st.lists(annotation, max_size=6) | json_values,
        }
    )
    | json_values
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(coco_like)
def test_any_json_raises_only_our_error(tmp_path, root, data):
    try:
        s = load_captions(write(tmp_path, data), root)
    except CaptionerError as e:
        assert "\n" not in str(e)
    else:
        assert s.images and all(im.captions for im in s.images)
