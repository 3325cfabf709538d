"""The noun head: fitted to captions, stored in a checkpoint, its concepts joining ImageNet's to guide captions."""

import pytest
import torch

from captioner.labels.concepts import concepts, joined
from captioner.labels.describe import Describer
from captioner.labels.guide import GuideOptions, build_guidance
from captioner.labels.noun_head import MIN_IMAGES, NounHead, caption_targets, fit_noun_head, noun_concept, noun_words
from captioner.model.checkpoint import default_weights, read_checkpoint, save_checkpoint


def _photos(n: int = 200, dim: int = 16, seed: int = 0):
    """Pooled features where channel 0 says "a bike is there" and channel 1 "a ball is there"; captions to match."""
    g = torch.Generator().manual_seed(seed)
    bike = torch.rand(n, generator=g) < 0.3
    ball = torch.rand(n, generator=g) < 0.4
    x = torch.randn(n, dim, generator=g)
    x[:, 0] += 6 * bike.float()
    x[:, 1] += 6 * ball.float()
    captions = []
    for has_bike, has_ball in zip(bike.tolist(), ball.tolist()):
        first = "a man rides a bike" if has_bike else "a man stands on the grass"
        second = "a dog chases a red ball" if has_ball else "a dog runs"
        captions.append([first, second, "a man shows his bare chest"])
    return x, captions, bike, ball


def test_targets_count_a_noun_by_any_unambiguous_word_and_need_enough_photos():
    nouns, targets = caption_targets([["two bikers on bicycles"], ["a biker"], ["a man 's chest"]], min_images=0)
    assert "bicycle" in nouns and "bike" in noun_words("bicycle") and "chest" not in noun_words("chest")
    assert targets[:, nouns.index("bicycle")].tolist() == [1.0, 0.0, 0.0]  # "biker" is not "bike"
    assert "chest" not in nouns  # its words mean other things in captions
    few, _ = caption_targets([["a bike"]] * (MIN_IMAGES - 1))
    assert "bicycle" not in few


def test_fitted_head_separates_photos_that_show_a_noun_from_those_that_do_not():
    x, captions, bike, ball = _photos()
    head = fit_noun_head(x, captions)
    assert set(head.nouns) == {"bicycle", "ball"}  # "dog" is named in every photo: nothing to tell apart
    q = head.probabilities(x.unsqueeze(1))  # (N, M) from (N, 1, D) "grid" features
    b, c = head.nouns.index("bicycle"), head.nouns.index("ball")
    assert q[bike, b].mean() > 0.8 and q[~bike, b].mean() < 0.2
    assert q[ball, c].mean() > 0.8 and q[~ball, c].mean() < 0.2


def test_head_travels_in_a_checkpoint_and_a_describer_picks_it_up(tmp_path):
    x, captions, *_ = _photos(dim=1280)
    head = fit_noun_head(x, captions, fitted_on="test")
    ckpt = read_checkpoint(default_weights())
    ckpt.meta["noun_head"] = head.to_meta()
    save_checkpoint(ckpt, tmp_path / "m.pt")  # read back with weights_only=True
    loaded = Describer(read_checkpoint(tmp_path / "m.pt")).noun_head
    assert loaded.nouns == head.nouns and loaded.fitted_on == "test"
    assert torch.allclose(loaded.probabilities(x[:5, None]), head.probabilities(x[:5, None]), atol=2e-2)
    assert NounHead.from_meta(None) is None and NounHead.from_meta({"nouns": []}) is None


def test_joined_concepts_take_the_surer_view_and_keep_imagenet_classes():
    probs = torch.zeros(1000)
    probs[444] = 0.25  # bicycle-built-for-two
    probs[207] = 0.45  # golden retriever
    found = joined(concepts(probs), [noun_concept("bicycle", 0.7), noun_concept("ball", 0.4)])
    assert [c.noun for c in found] == ["bicycle", "dog", "ball"]
    bike = found[0]
    assert bike.probability == 0.7 and bike.top.index == 444  # ImageNet's class stands for it
    assert joined(concepts(probs), [noun_concept("dog", 0.1)])[0].probability == pytest.approx(0.45)


def test_a_noun_the_head_is_sure_of_steers_the_caption_when_imagenet_sees_nothing():
    d = Describer(read_checkpoint(default_weights()))
    probs = torch.full((1000,), 1e-3)
    found = joined(concepts(probs), [noun_concept("ball", 0.8)])
    g = build_guidance([found], d.vocab, GuideOptions(veto=0.0), d.novel)
    assert g.constraints[0, d.vocab.index["ball"]] == 1 and g.constraints[0, d.vocab.index["balls"]] == 1


def test_a_noun_imagenet_rules_out_stays_out_where_it_is_sure_of_another_object():
    probs = torch.zeros(1000)
    probs[285] = 0.9  # Egyptian Mau: a cat, surely
    found = joined(concepts(probs), [noun_concept("dog", 0.8)])
    assert [c.noun for c in found] == ["cat"]
    probs[285] = 0.3  # unsure: the other view may add what it sees
    assert [c.noun for c in joined(concepts(probs), [noun_concept("dog", 0.8)])] == ["dog", "cat"]


def test_a_training_run_fits_a_head_unless_the_encoder_is_fine_tuned(tmp_path):
    from captioner.training.batches import Split
    from captioner.training.config import DataConfig, Recipe, TrainConfig
    from captioner.training.run import noun_head_for

    x, captions, *_ = _photos(dim=32)
    split = Split(x[:, None].half().expand(-1, 4, -1), captions, [f"{i}.jpg" for i in range(len(x))])  # (N, 4, D)
    config = TrainConfig(DataConfig(tmp_path / "captions.json"), tmp_path / "model.pt")
    said = []
    head = noun_head_for(split, config, said.append)
    assert set(head.nouns) == {"bicycle", "ball"} and said[0].startswith("noun head: 2 nouns")
    tuned = TrainConfig(DataConfig(tmp_path / "c.json"), tmp_path / "m.pt", Recipe(fine_tune_encoder_from_epoch=2))
    assert noun_head_for(split, tuned, said.append) is None and "fine-tuned" in said[-1]
