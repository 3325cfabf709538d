"""Labels, concepts, guided decoding and confidence on real photos with the shipped model."""

import pytest
import torch
from PIL import Image

from captioner.data.images import to_tensor
from captioner.labels.concepts import concepts, top_labels
from captioner.labels.confidence import contradiction, label_precision
from captioner.labels.describe import Describer
from captioner.labels.guide import GuideOptions, build_guidance
from captioner.labels.words import forms, noun_phrase, novel_nouns, plural
from captioner.model.checkpoint import default_weights, read_checkpoint
from captioner.model.decode import DecodeOptions

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def shipped():
    return read_checkpoint(default_weights())


@pytest.fixture(scope="module")
def photos():
    arrays = [skimage_data.chelsea(), skimage_data.coffee(), skimage_data.astronaut()]
    return torch.stack([to_tensor(Image.fromarray(a).convert("RGB"), 224) for a in arrays])  # (3, 3, 224, 224)


def test_concepts_pool_classes_by_noun(shipped, photos):
    d = Describer(shipped, None)
    with torch.inference_mode():
        probs = d.class_probabilities(d.model.encoder.forward_features(photos))
    cat = concepts(probs[0])[0]
    assert cat.noun == "cat" and cat.path == ("animal", "mammal", "cat")
    cat_classes = (281, 282, 283, 284, 285)  # tabby, tiger cat, Persian, Siamese, Egyptian Mau
    pooled = sum(float(probs[0][i]) for i in cat_classes if float(probs[0][i]) >= 0.01)
    assert cat.probability == pytest.approx(pooled, abs=1e-4)
    labels = top_labels(probs[0])
    assert cat.probability > labels[0].probability  # tabby + tiger cat + Egyptian Mau together
    assert labels[0].path.startswith("animal/mammal/cat/")
    assert concepts(probs[1])[0].noun == "coffee"


def test_guidance_without_confident_labels_changes_nothing(shipped, photos):
    """The model extended with ~460 label nouns, all banned, captions exactly as the model as trained."""
    plain = Describer(shipped, None)
    guided = Describer(shipped, GuideOptions(threshold=1.01, label_captions=False))  # no concept is ever that sure
    assert len(guided.vocab) > len(plain.vocab) + 400 and guided.vocab.words[: len(plain.vocab)] == plain.vocab.words
    options = DecodeOptions(beam_size=3, n_best=3, length_penalty=0.9)
    with torch.inference_mode():
        feats = plain.model.encoder.forward_features(photos)
    for a, b in zip(plain.describe(feats, options), guided.describe(feats, options)):
        assert [c.text for c in a.captions] == [c.text for c in b.captions]
        assert [c.score for c in a.captions] == pytest.approx([c.score for c in b.captions], abs=1e-4)


def test_guidance_constrains_confident_objects_and_swaps_stand_ins(shipped):
    ext_vocab = Describer(shipped, GuideOptions()).vocab
    novel = novel_nouns(shipped.vocab)
    assert novel["zebra"] == "horse" and "zebras" in novel
    probs = torch.zeros(2, 1000)
    probs[0, 340] = 0.9  # zebra
    probs[1, 207] = 0.6  # golden retriever
    g = build_guidance([concepts(p) for p in probs], ext_vocab, GuideOptions(threshold=0.5, bonus=1.0, veto=0.0), novel)
    ids = ext_vocab.index
    assert g.constraints[0, ids["zebra"]] == 1 and g.constraints[0, ids["zebras"]] == 1
    assert g.bias[0, ids["zebra"]] == 0 and g.bias[0, ids["horse"]] == -torch.inf  # zebra takes horse's place
    assert g.bias[1, ids["zebra"]] == -torch.inf and g.bias[1, ids["horse"]] == 0  # nowhere else
    assert g.constraints[1, ids["dog"]] == 1 and g.constraints[1, ids["puppy"]] == 1
    assert g.bonus[0, 0] == pytest.approx(0.9) and g.bonus[1, 0] == pytest.approx(0.6)
    assert plural("bus") == "buses" and plural("puppy") == "puppies" and forms(["teddy bear", "cat"]) == ["cat", "cats"]


def test_confidence_is_low_for_captions_that_contradict_the_classifier(shipped, photos):
    d = Describer(shipped)
    with torch.inference_mode():
        feats = d.model.encoder.forward_features(photos)
    found = d.describe(feats, DecodeOptions(beam_size=3, length_penalty=0.9))
    for f in found:
        assert 0.0 <= f.confidence <= 1.0
    cat = found[0].concepts
    assert contradiction("a brown dog is playing in the water", cat) > 0.8  # a dog where it sees a cat
    assert contradiction("a cat is sitting on a bed", cat) == 0.0
    assert contradiction("a man is standing in the snow", cat) == 0.0  # no object named that it rules out


def test_label_captions_replace_captions_that_contradict_a_sure_object(shipped, photos):
    options = DecodeOptions(beam_size=3, length_penalty=0.9)
    d = Describer(shipped)
    with torch.inference_mode():
        feats = d.model.encoder.forward_features(photos)
    cat, coffee, astronaut = d.describe(feats, options)
    assert not cat.from_labels and "cat" in cat.captions[0].text.split()  # guided to the cat, so it stays
    assert coffee.from_labels and coffee.captions[0].text == "a cup of coffee"
    assert coffee.confidence == pytest.approx(label_precision(coffee.concepts[0].probability))
    assert not astronaut.from_labels  # nothing sure enough to say instead
    unguided = Describer(shipped, GuideOptions(veto=0.0, max_constraints=0))  # labels only replace captions
    cat = unguided.describe(feats, options)[0]
    assert cat.from_labels and cat.captions[0].text == "a cat" and "dog" in cat.captions[1].text  # the model's
    plain = Describer(shipped, None).describe(feats, DecodeOptions(beam_size=3, length_penalty=0.9))
    assert not any(p.from_labels for p in plain) and "dog" in plain[0].captions[0].text


def test_veto_lowers_objects_the_classifier_rules_out(shipped):
    d = Describer(shipped)
    probs = torch.zeros(1, 1000)
    probs[0, 285] = 0.95  # Egyptian Mau
    g = build_guidance([concepts(p) for p in probs], d.vocab, d.guide, d.novel)
    ids = d.vocab.index
    assert g.bias[0, ids["dog"]] == -d.guide.veto and g.bias[0, ids["horse"]] == -d.guide.veto
    assert g.bias[0, ids["cat"]] == 0 and g.bias[0, ids["man"]] == 0  # what it sees, and what it cannot see
    assert noun_phrase("elephant") == "an elephant" and noun_phrase("broccoli") == "broccoli"
