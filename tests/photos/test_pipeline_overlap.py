"""The pipeline's stages overlap (workers decode, a thread encodes a batch ahead) without changing any result."""

import pytest
import torch
from click.testing import CliRunner

from captioner.cli import main
from tests.conftest import make_image


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, color in enumerate(["red", "blue", "green", "red", "blue", "green", "red"]):
        make_image(folder / f"p{i}.png", color, seed=i)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


def caption(args):
    result = CliRunner().invoke(main, ["caption", *map(str, args)])
    return result


def test_overlapped_batches_give_the_same_captions_in_order(trained, photos):
    common = [photos, "--weights", trained["model"], "--batch-size", 3, "--backend", "torch", "-q"]
    serial = caption([*common, "--workers", 0])
    overlapped = caption([*common, "--workers", 2])
    assert serial.exit_code == overlapped.exit_code == 1  # the broken file
    same = [line for line in serial.output.splitlines() if "images/s" not in line]  # all but the speed
    assert same == [line for line in overlapped.output.splitlines() if "images/s" not in line]
    lines = [line for line in overlapped.output.splitlines() if "\t" in line]
    assert [line.split("\t")[0].rsplit("/", 1)[-1] for line in lines] == [f"p{i}.png" for i in range(7)]


def test_threads_are_restored_after_a_run(trained, photos):
    before = torch.get_num_threads()
    result = caption([photos, "--weights", trained["model"], "--workers", 1, "--backend", "onnx", "-q"])
    assert result.exit_code == 1
    assert torch.get_num_threads() == before


def test_precision_is_printed_with_verbose(trained, photos):
    result = caption([photos / "p0.png", "--weights", trained["model"], "--precision", "fp32", "-v"])
    assert result.exit_code == 0, result.output
    assert "precision fp32 (encoder fp32, decoder fp32; asked for), encoder on torch" in result.output


def test_fp32_and_auto_caption_alike(trained, photos):
    args = [photos / "p1.png", "--weights", trained["model"], "-q"]
    assert caption([*args, "--precision", "fp32"]).output == caption([*args, "--precision", "auto"]).output


def test_int8_needs_a_graph_for_the_model_encoder(trained, photos):
    """The tiny test model's encoder is the pretrained Lite0, so the shipped int8 graph fits it, if shipped."""
    pytest.importorskip("onnxruntime")
    from captioner.model.encoder import build_encoder
    from captioner.model.onnx import int8_path

    result = caption([photos / "p2.png", "--weights", trained["model"], "--precision", "int8", "-q"])
    if int8_path(build_encoder("efficientnet_lite0")) is None:
        assert result.exit_code == 1 and "Error: no int8 graph" in result.output
    else:
        assert result.exit_code == 0, result.output


def test_lanes_share_the_cores():
    from captioner.photos.pipeline import lane_threads

    assert lane_threads(1) == (1, 1)
    assert lane_threads(2) == (2, 1)
    assert lane_threads(16) == (4, 4)
    assert lane_threads(6) == (4, 1)


def test_a_captioner_keeps_its_lane_threads_from_run_to_run(trained, photos, monkeypatch):
    """New lane threads each run would each get a new malloc arena: a long-lived process would grow run by run."""
    import threading

    from captioner.labels.describe import Describer
    from captioner.model.checkpoint import read_checkpoint
    from captioner.model.decode import DecodeOptions
    from captioner.photos import pipeline
    from captioner.photos.config import ScanOptions

    monkeypatch.setattr(pipeline, "lane_threads", lambda cores=None: (2, 1))  # lanes even on a 1-core runner
    cap = pipeline.Captioner(Describer(read_checkpoint(trained["model"]), None), "cpu", "torch")
    scan, options = ScanOptions(batch_size=2, workers=1), DecodeOptions(beam_size=2, batch_size=2)
    runs = [
        [r.captions[0].text if r.ok else r.error for r in cap.caption_paths([photos], scan, options)] for _ in range(3)
    ]
    lanes_after = [t for t in threading.enumerate() if t.name.startswith("lane")]
    runs.append([r.captions[0].text if r.ok else r.error for r in cap.caption_paths([photos], scan, options)])
    assert runs[0] == runs[1] == runs[2] == runs[3] and len(runs[0]) == 8
    assert 0 < len(lanes_after) <= 2
    assert [t for t in threading.enumerate() if t.name.startswith("lane")] == lanes_after  # the same threads
