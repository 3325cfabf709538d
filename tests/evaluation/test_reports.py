"""explain, plot, score reports and the COCO metric wrappers."""

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from captioner.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_explain_draws_one_panel_per_word(trained, tmp_path):
    out = tmp_path / "explain.png"
    result = run("explain", trained["images"] / "img000.jpg", "--weights", trained["model"], "-o", out, "--n-best", 2)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("1. ")
    with Image.open(out) as img:
        assert img.format == "PNG" and img.width > 500 and img.height > 200


def test_explain_attention_matches_the_caption(trained):
    from captioner.evaluation.explain import explain_image
    from captioner.model.checkpoint import load_model
    from captioner.model.decode import DecodeOptions
    from captioner.photos.pipeline import Captioner

    model, ckpt = load_model(trained["model"])
    expl = explain_image(Captioner(model, ckpt.vocab), trained["images"] / "img001.jpg", DecodeOptions(n_best=3))
    best = expl.captions[0]
    assert best.hypothesis.attention.shape == (len(best.text.split()) + 1, 49)
    assert expl.grid == (7, 7)


def test_plot_redraws_curves(trained, tmp_path):
    out = tmp_path / "c.png"
    result = run("plot", trained["model"].parent, "-o", out)
    assert result.exit_code == 0 and "25 epochs" in result.stdout
    assert Image.open(out).size[0] > 800
    assert (trained["model"].parent / "curves.png").is_file()  # training drew it too


def test_score_html_report_lists_best_and_worst(trained, tmp_path):
    page = tmp_path / "report.html"
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
        "--html",
        page,
        "--bleu-only",
    )
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "Best 6 by CIDEr-D" in html and "Worst 6 by CIDEr-D" in html
    assert html.count("<figure>") == 12 and html.count("<li>") == 36


def test_coco_metrics_wrapper(trained, tmp_path):
    from captioner.evaluation.coco_eval import available

    if available():
        pytest.skip(f"COCO metrics not available here: {available()}")
    preds = tmp_path / "p.jsonl"
    run(
        "score",
        "--weights",
        trained["model"],
        "--captions",
        trained["val"],
        "--images",
        trained["images"],
        "--cache-dir",
        trained["root"] / "cache",
        "--save-predictions",
        preds,
        "--bleu-only",
    )
    result = run("score", "--predictions", preds, "--captions", trained["val"], "--json")
    scores = json.loads(result.stdout)
    for key in ("cider", "meteor", "rouge_l", "coco_bleu4"):
        assert 0 <= scores[key] <= (10 if key == "cider" else 100), key
    assert scores["meteor"] > 0 and scores["rouge_l"] > 0
