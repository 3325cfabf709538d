"""Labels, confidence and category paths in every output, and --min-confidence leaving unsure photos untouched."""

import csv
import json

from captioner.photos.metadata import read_metadata, sidecar_path
from tests.photos.test_job import caption, photos, records


def test_jsonl_records_carry_labels_confidence_and_categories(trained, tmp_path):
    folder = photos(trained, tmp_path, 3)
    out = tmp_path / "caps.jsonl"
    assert caption(trained, folder, "--format", "jsonl", "-o", out, "-q").exit_code == 0
    for r in records(out):
        assert 0 <= r["confidence"] <= 1 and isinstance(r["categories"], list) and isinstance(r["tags"], list)
        assert r["labels"] and r["labels"] == sorted(r["labels"], key=lambda lab: -lab["probability"])
        for lab in r["labels"]:
            assert set(lab) == {"name", "probability", "path"} and lab["path"].endswith(lab["name"])


def test_text_verbose_and_csv_show_confidence_and_labels(trained, tmp_path):
    folder = photos(trained, tmp_path, 2)
    result = caption(trained, folder, "-v", "-q")
    assert result.exit_code == 0
    for line in result.stdout.splitlines():
        path, text, sure, labels = line.split("\t")
        assert text and sure.startswith("confidence 0.") or sure == "confidence 1.00"
        assert labels and "%" in labels
    out = tmp_path / "caps.csv"
    assert caption(trained, folder, "--format", "csv", "-o", out, "-q").exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 2 and all(0 <= float(r["confidence"]) <= 1 and "%" in r["labels"] for r in rows)


def test_min_confidence_leaves_unsure_photos_untouched(trained, tmp_path):
    folder = photos(trained, tmp_path, 3)
    result = caption(trained, folder, "--xmp", "--min-confidence", "1")  # nothing is that sure
    assert result.exit_code == 0
    assert "3 too unsure for metadata" in result.stderr and "left untouched" in result.stderr
    assert not list(folder.glob("*.xmp"))
    result = caption(trained, folder, "--xmp", "--min-confidence", "0", "--format", "jsonl")
    assert result.exit_code == 0
    for r in map(json.loads, result.stdout.splitlines()):
        photo = folder / r["path"].rsplit("/", 1)[1]
        md = read_metadata(photo, sidecar_path(photo))
        assert md.description == r["caption"] and set(r["tags"]) <= set(md.keywords)


def test_no_guidance_captions_with_the_model_alone(trained, tmp_path):
    folder = photos(trained, tmp_path, 2)
    result = caption(trained, folder, "--no-guidance", "--format", "jsonl", "-q")
    assert result.exit_code == 0
    assert all(not json.loads(line).get("from_labels") for line in result.stdout.splitlines())
