"""Captioning at scale: --shard slices, torchrun auto-sharding, merging shard outputs, Karpathy split files."""

import json

import pytest
from click.testing import CliRunner

from captioner.cli import main
from captioner.data.prepare import prepare_karpathy
from captioner.photos.files import iter_images, shard


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)


def paths_in(jsonl):
    return [json.loads(line)["path"] for line in jsonl.read_text().splitlines()]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 40])
def test_shards_partition_the_walk(tmp_path, count):
    for i in range(23):
        (tmp_path / f"d{i % 4}").mkdir(exist_ok=True)
        (tmp_path / f"d{i % 4}" / f"p{i:02d}.jpg").write_bytes(b"")
    walk = list(iter_images([tmp_path]))
    parts = [list(shard(iter_images([tmp_path]), i, count)) for i in range(count)]
    assert sorted(p for part in parts for p in part) == sorted(walk)
    assert sum(len(p) for p in parts) == len(walk) == 23
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1
    for part in parts:  # each shard keeps the walk's order
        assert part == [p for p in walk if p in set(part)]


def test_caption_shards_partition_a_folder_and_merge_back(trained, tmp_path):
    outs = []
    for i in (1, 2, 3):
        out = tmp_path / f"c.{i}.jsonl"
        result = run(
            "caption",
            trained["images"],
            "--weights",
            trained["model"],
            "--shard",
            f"{i}/3",
            "--format",
            "jsonl",
            "-o",
            out,
            "-q",
            "--workers",
            0,
        )
        assert result.exit_code == 0, result.output
        outs.append(out)
    whole = tmp_path / "whole.jsonl"
    assert (
        run(
            "caption",
            trained["images"],
            "--weights",
            trained["model"],
            "--format",
            "jsonl",
            "-o",
            whole,
            "-q",
            "--workers",
            0,
        ).exit_code
        == 0
    )
    shards = [paths_in(o) for o in outs]
    assert sorted(p for s in shards for p in s) == sorted(paths_in(whole))
    assert len(set(shards[0]) & set(shards[1])) == 0 and all(shards)

    merged = tmp_path / "merged.jsonl"
    result = run("merge", *outs, "-o", merged)
    assert result.exit_code == 0, result.output
    assert sorted(paths_in(merged)) == sorted(paths_in(whole))
    by_path = {json.loads(line)["path"]: json.loads(line)["caption"] for line in whole.read_text().splitlines()}
    for line in merged.read_text().splitlines():
        record = json.loads(line)
        assert record["caption"] == by_path[record["path"]]


def test_torchrun_environment_shards_automatically(trained, tmp_path):
    out = tmp_path / "c.jsonl"
    for rank in (0, 1):
        env = {"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank)}
        result = run(
            "caption",
            trained["images"],
            "--weights",
            trained["model"],
            "--format",
            "jsonl",
            "-o",
            out,
            "-q",
            "--workers",
            0,
            env=env,
        )
        assert result.exit_code == 0, result.output
    assert not out.exists()
    first, second = paths_in(tmp_path / "c.1-of-2.jsonl"), paths_in(tmp_path / "c.2-of-2.jsonl")
    assert len(first) + len(second) == 18 and not set(first) & set(second)


@pytest.mark.parametrize("bad", ["0/3", "4/3", "1-3", "a/b", "1/0"])
def test_bad_shard_is_a_usage_error(trained, bad):
    result = run("caption", trained["images"], "--weights", trained["model"], "--shard", bad)
    assert result.exit_code == 2
    assert "I/N" in result.output


def test_merge_keeps_one_record_per_path_and_skips_a_cut_off_line(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(
        json.dumps({"path": "x.jpg", "caption": "a dog"}) + "\n" + json.dumps({"path": "y.jpg", "error": "bad"}) + "\n"
    )
    b.write_text(
        json.dumps({"path": "y.jpg", "caption": "a cat"})
        + "\n"
        + json.dumps({"path": "x.jpg", "error": "gone"})
        + "\n"
        + '{"path": "z.j'
    )
    out = tmp_path / "all.csv"
    result = run("merge", a, b, "-o", out)
    assert result.exit_code == 0, result.output
    assert "cut off" in result.output and "2 duplicates" in result.output
    rows = out.read_text().splitlines()
    assert rows == [
        "path,caption,score,tags,error,confidence,labels,categories",
        "x.jpg,a dog,,,,,,",
        "y.jpg,a cat,,,,,,",
    ]


def test_merge_refuses_garbage_and_its_own_output(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    result = run("merge", bad, "-o", tmp_path / "out.jsonl")
    assert result.exit_code == 1 and "bad.jsonl:1" in result.output
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"path": "x.jpg", "caption": "a"}) + "\n")
    result = run("merge", good, "-o", good)
    assert result.exit_code == 1 and "also the output" in result.output
    assert good.read_text().count("\n") == 1


def karpathy_file(tmp_path):
    def entry(i, split, folder="val2014"):
        return {
            "filepath": folder,
            "filename": f"COCO_{folder}_{i:012d}.jpg",
            "imgid": i,
            "split": split,
            "cocoid": 1000 + i,
            "sentences": [
                {"raw": f"A photo number {i}.", "tokens": ["a"]},
                {"raw": f"Picture {i}", "tokens": ["picture"]},
            ],
        }

    data = {
        "dataset": "coco",
        "images": [
            entry(0, "train", "train2014"),
            entry(1, "restval"),
            entry(2, "val"),
            entry(3, "test"),
            entry(4, "test"),
        ],
    }
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps(data))
    return path


def test_karpathy_split_converter(tmp_path):
    out = tmp_path / "out"
    result = run("prepare", "karpathy", karpathy_file(tmp_path), "-o", out)
    assert result.exit_code == 0, result.output
    train = json.loads((out / "captions_train.json").read_text())
    assert [im["file_name"] for im in train["images"]] == [
        "train2014/COCO_train2014_000000000000.jpg",
        "val2014/COCO_val2014_000000000001.jpg",
    ]
    assert [im["id"] for im in train["images"]] == [1000, 1001]
    assert [a["caption"] for a in train["annotations"]][:2] == ["A photo number 0.", "Picture 0"]
    test = json.loads((out / "captions_test.json").read_text())
    assert len(test["images"]) == 2 and len(test["annotations"]) == 4
    assert prepare_karpathy(karpathy_file(tmp_path), out, restval="skip")["train"] == (1, 2)

    from captioner.data.coco import load_captions  # the output is a valid COCO caption file for train/score

    images = tmp_path / "imgs" / "val2014"
    images.mkdir(parents=True)
    for im in test["images"]:
        (tmp_path / "imgs" / im["file_name"]).write_bytes(b"")
    assert len(load_captions(out / "captions_test.json", tmp_path / "imgs").images) == 2


@pytest.mark.parametrize(
    "content, message",
    [
        ("[]", "'images' list"),
        ('{"images": [{"filename": "a.jpg"}]}', "images[0]"),
        ('{"images": [{"filename": "a.jpg", "split": "dev", "sentences": [], "imgid": 0}]}', "unknown split"),
        ("{", "cannot read"),
    ],
)
def test_karpathy_converter_rejects_bad_files(tmp_path, content, message):
    path = tmp_path / "split.json"
    path.write_text(content)
    result = run("prepare", "karpathy", path, "-o", tmp_path / "out")
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
