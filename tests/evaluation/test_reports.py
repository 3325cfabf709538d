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
    from captioner.labels.describe import Describer
    from captioner.model.checkpoint import read_checkpoint
    from captioner.model.decode import DecodeOptions
    from captioner.photos.pipeline import Captioner

    captioner = Captioner(Describer(read_checkpoint(trained["model"])))
    expl = explain_image(captioner, trained["images"] / "img001.jpg", DecodeOptions(n_best=3))
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


def curve_rows():
    """Six cross-entropy epochs of a one-cycle schedule, then two self-critical ones at a constant rate."""
    rows = []
    for e, lr in enumerate([9.9e-4, 8.6e-4, 5.6e-4, 2.3e-4, 3.2e-5, 4e-9], 1):
        bleu = [50 + e, 30 + e, 20 + e, 12 + e]
        rows.append({"epoch": e, "phase": "xe", "train_loss": 5 - e / 2, "val_loss": 3.4 - e / 10, "lr": lr})
        rows[-1].update({f"bleu{n}": b for n, b in enumerate(bleu, 1)} | {"cider": 0.3 + e / 50})
    for e in (7, 8):
        rows.append({"epoch": e, "phase": "scst", "reward": 0.5 + e / 100, "val_loss": 3.0, "lr": 5e-5})
        rows[-1].update({f"bleu{n}": 60 - 10 * n + e for n in range(1, 5)} | {"cider": 0.5 + e / 100})
    return rows


def test_curves_have_a_learning_rate_panel_and_legends_that_cover_no_curve():
    from captioner.evaluation.plots import curves_figure

    fig = curves_figure(curve_rows(), "run")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["losses", "learning rate", "validation (free-running beam search)"]
    lr_line = panels[1].lines[0]
    assert list(lr_line.get_ydata()) == [r["lr"] for r in curve_rows()]
    legends = [ax.get_legend() for ax in panels]
    assert all(legend is not None for legend in legends)
    labels = [t.get_text() for t in legends[2].get_texts()]
    assert labels == ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr-D"]  # the twin axis joins the one legend
    plot_areas = [ax.get_window_extent(renderer) for ax in fig.axes]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        assert not any(box.overlaps(area) for area in plot_areas), "a legend sits on a plot"
    assert not any(ax.get_legend() for ax in fig.axes if not ax.get_title())  # twins add no legend of their own


def test_training_sample_page(tmp_path):
    from captioner.evaluation.report import write_sample_page
    from tests.conftest import make_image

    make_image(tmp_path / "img000.jpg", "red")
    items = [
        {"file_name": "img000.jpg", "image": tmp_path / "img000.jpg", "prediction": "a <red> picture",
         "references": ["a red picture", "the red image"]},
        {"file_name": "gone.jpg", "image": tmp_path / "gone.jpg", "prediction": "x", "references": ["y"]},
    ]  # fmt: skip
    page = write_sample_page(tmp_path / "s.html", items, "run", "2 validation photos").read_text()
    assert page.count("<figure>") == 2 and page.count("<li>") == 3
    assert "a &lt;red&gt; picture" in page and "data:image/jpeg;base64," in page and "CIDEr-D" not in page
