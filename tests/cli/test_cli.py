"""End to end through the CLI: train on tiny generated photos, caption them, score them."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from captioner.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def run(*args, **kw):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kw)
    return result


def test_train_writes_checkpoint_and_metrics(trained):
    assert trained["model"].is_file()
    rows = [json.loads(line) for line in (trained["model"].parent / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 26))
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert all(0 <= r["bleu4"] <= 100 for r in rows)


def test_caption_names_the_colour(trained):
    result = run("caption", trained["images"], "--weights", trained["model"], "--workers", 0)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 18
    right = 0
    for line in lines:
        path, caption = line.split("\t")
        i = int(re.search(r"img(\d+)", path).group(1))
        right += ["red", "blue", "green"][i % 3] in caption.split()
    assert right >= 16, lines


def test_caption_jsonl_with_nbest_to_file(trained):
    out = trained["root"] / "caps.jsonl"
    result = run(
        "caption",
        trained["images"],
        "--weights",
        trained["model"],
        "--format",
        "jsonl",
        "-o",
        out,
        "--n-best",
        2,
        "--beam-size",
        3,
        "--workers",
        1,
        "-q",
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert [Path(r["path"]).name for r in records] == sorted(f"img{i:03d}.jpg" for i in range(18))
    for r in records:
        assert r["caption"] == r["captions"][0]["caption"] and len(r["captions"]) == 2
        assert r["captions"][0]["score"] >= r["captions"][1]["score"]


def test_score_with_weights_and_with_predictions(trained):
    result = run(
        "score",
        "--weights",
        trained["model"],
        "--captions",
        trained["val"],
        "--images",
        trained["images"],
        "--cache-dir",
        trained["root"] / "cache",
        "--json",
        "--save-predictions",
        trained["root"] / "p.jsonl",
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["images"] == 6 and scores["bleu1"] > 50
    again = run("score", "--predictions", trained["root"] / "p.jsonl", "--captions", trained["val"], "--json")
    assert json.loads(again.stdout)["bleu4"] == pytest.approx(scores["bleu4"])
    table = run("score", "--predictions", trained["root"] / "p.jsonl", "--captions", trained["val"])
    assert re.search(r"^BLEU-4\t\d+\.\d\d$", table.stdout, re.M)


def test_caption_without_default_weights_says_what_to_do(monkeypatch, tmp_path):
    import captioner.model.checkpoint as ck

    monkeypatch.setattr(ck, "default_weights", lambda: None)
    (tmp_path / "a.jpg").write_bytes(b"")
    result = run("caption", tmp_path / "a.jpg")
    assert result.exit_code == 1
    assert "no default weights are installed" in result.output and "--weights" in result.output


def test_missing_path_is_a_usage_error(tmp_path):
    result = run("caption", tmp_path / "nope.jpg")
    assert result.exit_code == 2 and "does not exist" in result.output


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    readme = README.read_text()
    commands = []

    def walk(group, prefix):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                walk(cmd, prefix + [name])
            else:
                commands.append(prefix + [name])

    walk(main, [])
    assert len(commands) >= 4
    for cmd in commands:
        result = run(*cmd, "--help")
        assert result.exit_code == 0
        assert "Example:" in result.output, cmd
        assert f"captioner {' '.join(cmd)}" in readme, cmd
    assert run("--version").output.startswith("captioner, version")
