import math

import pytest

from captioner.evaluation.metrics import CiderD, cider_d, corpus_bleu


def t(s):
    return s.split()


def test_bleu_hand_computed():
    # Pair 1: "a b c d" vs "a b c e": 3/4 unigrams, 2/3 bigrams, 1/2 trigrams, 0/1 4-grams.
    # Pair 2: exact 5-token match. Corpus: 8/9, 6/7, 4/5, 2/3; lengths 9 vs 9, so no brevity penalty.
    s = corpus_bleu([[t("a b c e")], [t("x y z w v")]], [t("a b c d"), t("x y z w v")])
    assert s["bleu1"] == pytest.approx(100 * 8 / 9)
    assert s["bleu2"] == pytest.approx(100 * math.sqrt(8 / 9 * 6 / 7))
    assert s["bleu3"] == pytest.approx(100 * (8 / 9 * 6 / 7 * 4 / 5) ** (1 / 3))
    assert s["bleu4"] == pytest.approx(100 * (8 / 9 * 6 / 7 * 4 / 5 * 2 / 3) ** 0.25)


def test_bleu_uses_the_closest_reference_length_and_clips_counts():
    s = corpus_bleu([[t("a b c"), t("a b c d e")]], [t("a b")])
    assert s["bleu2"] == pytest.approx(100 * math.exp(1 - 3 / 2))  # precisions 1, brevity penalty from length 3
    s = corpus_bleu([[t("the cat")]], [t("the the the")])
    assert s["bleu1"] == pytest.approx(100 / 3)  # "the" counted once; longer than the reference, so no penalty


def test_bleu_of_no_match_is_zero_and_empty_is_zero():
    assert corpus_bleu([[t("a b c d")]], [t("w x y z")])["bleu4"] == 0
    assert corpus_bleu([], [])["bleu4"] == 0


def test_cider_d_properties():
    refs = [
        [t("a dog runs on the grass"), t("a brown dog running in a field")],
        [t("a man rides a bike"), t("a person on a bicycle on the street")],
        [t("two children play in the water"), t("kids splash in a pool")],
    ]
    good = [t("a dog runs in the grass"), t("a man rides a bicycle"), t("two kids play in the water")]
    bad = [t("a man rides a bike"), t("two children play in the water"), t("a dog runs on the grass")]
    assert cider_d(refs, good) > 1.0 > cider_d(refs, bad)
    scorer = CiderD(refs)
    assert scorer.score(t("a dog runs on the grass"), refs[0]) > scorer.score(t("a dog"), refs[0])
    assert scorer.score([], refs[0]) == 0


def test_cider_d_matches_pycocoevalcap():
    cider_mod = pytest.importorskip("pycocoevalcap.cider.cider")
    refs = [
        [t("a dog runs on the grass"), t("a brown dog running in a field")],
        [t("a man rides a bike"), t("a person on a bicycle on the street")],
        [t("two children play in the water"), t("kids splash in a pool")],
        [t("a woman in a red dress"), t("a lady wearing red")],
    ]
    hyps = [
        t("a dog runs in the grass"),
        t("a man rides a bicycle"),
        t("two kids play in the water"),
        t("a woman in red"),
    ]
    gts = {i: [" ".join(r) for r in rs] for i, rs in enumerate(refs)}
    res = {i: [" ".join(h)] for i, h in enumerate(hyps)}
    theirs, _ = cider_mod.Cider().compute_score(gts, res)
    assert cider_d(refs, hyps) == pytest.approx(theirs, rel=1e-6)


def test_additive_bleu_stats_match_nltk():
    from captioner.evaluation.metrics import bleu_from_stats, bleu_stats

    refs = [
        [t("a dog runs on the grass"), t("a brown dog running in a field")],
        [t("a man rides a bike"), t("a person on a bicycle on the street")],
        [t("two children play in the water"), t("kids splash in a pool")],
    ]
    hyps = [t("a dog runs in the grass"), t("a man rides a bicycle on the street"), t("two kids play")]
    whole = bleu_from_stats(bleu_stats(refs, hyps))
    halves = [a + b for a, b in zip(bleu_stats(refs[:1], hyps[:1]), bleu_stats(refs[1:], hyps[1:]))]
    for k, v in corpus_bleu(refs, hyps).items():
        assert whole[k] == pytest.approx(v, abs=1e-9)
        assert bleu_from_stats(halves)[k] == pytest.approx(v, abs=1e-9)
