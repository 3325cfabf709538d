"""Beam search against brute-force enumeration on a toy decoder."""

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from captioner.model.beam import beam_search, length_penalty

START, END = 0, 1


class ToyDecoder:
    """Log-probabilities depend on the whole prefix, through a random recurrent state: no structure to exploit."""

    def __init__(self, vocab: int = 5, hidden: int = 8, seed: int = 0, end_bias: float = 0.0):
        g = torch.Generator().manual_seed(seed)
        self.emb = torch.randn(vocab, hidden, generator=g)
        self.w = torch.randn(hidden, hidden, generator=g) / math.sqrt(hidden)
        self.out = torch.randn(hidden, vocab, generator=g) * 1.5
        self.end_bias = end_bias

    def start(self, features):
        return (features,), (features.clone(),)

    def step(self, tokens, state, memory):
        (h,) = state
        h = torch.tanh(h @ self.w + self.emb[tokens] + memory[0])
        logits = h @ self.out
        logits[:, END] += self.end_bias
        return torch.log_softmax(logits, -1), (h,), torch.softmax(h, -1)

    def logprob(self, feature, seq):
        """Total log-probability of ``seq`` (token ids, maybe ending in END) for one image."""
        memory, state = self.start(feature[None])
        total, token = 0.0, START
        for t in seq:
            logp, state, _ = self.step(torch.tensor([token]), state, memory)
            total += float(logp[0, t])
            token = t
        return total


def brute_force(dec, feature, vocab, max_length, alpha, banned=()):
    """Best sequences by the same rule beam search ranks by: logprob / lp(len incl. <end>); cut ones at max_length."""
    words = [w for w in range(vocab) if w not in (START, END, *banned)]
    scored = []
    for n in range(max_length):
        for seq in itertools.product(words, repeat=n):
            lp = dec.logprob(feature, [*seq, END])
            scored.append((lp / length_penalty(n + 1, alpha), list(seq), True))
    for seq in itertools.product(words, repeat=max_length):
        scored.append((dec.logprob(feature, list(seq)) / length_penalty(max_length, alpha), list(seq), False))
    scored.sort(key=lambda s: -s[0])
    return scored


@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("seed", range(4))
def test_exhaustive_beam_equals_brute_force(seed, alpha):
    vocab, max_length = 5, 3
    dec = ToyDecoder(vocab, seed=seed)
    feats = torch.randn(3, 8, generator=torch.Generator().manual_seed(seed + 100))
    k = (vocab - 2) ** max_length  # wide enough to keep every prefix: the search is then exact
    results = beam_search(dec, feats, START, END, beam_size=k, max_length=max_length, alpha=alpha, n_best=5)
    for i in range(3):
        truth = brute_force(dec, feats[i], vocab, max_length, alpha)
        got = results[i]
        assert [h.tokens for h in got] == [s[1] for s in truth[:5]]
        for h, s in zip(got, truth):
            assert h.score == pytest.approx(s[0], abs=1e-5)
            assert h.finished == s[2]


@pytest.mark.parametrize("seed", range(6))
def test_small_beam_finds_the_best_sequence_on_easy_toys(seed):
    """With beam 3 on a 3-word toy the best sequence is found (checked against enumeration), batched over images."""
    dec = ToyDecoder(4, seed=seed)
    feats = torch.randn(4, 8, generator=torch.Generator().manual_seed(seed))
    results = beam_search(dec, feats, START, END, beam_size=3, max_length=3)
    for i in range(4):
        best = brute_force(dec, feats[i], 4, 3, 0.0)[0]
        assert results[i][0].tokens == best[1]


def greedy(dec, feature, max_length):
    memory, state = dec.start(feature[None])
    token, seq, total = START, [], 0.0
    for _ in range(max_length):
        logp, state, _ = dec.step(torch.tensor([token]), state, memory)
        logp[0, START] = -math.inf  # <start> is never generated
        token = int(logp[0].argmax())
        total += float(logp[0, token])
        if token == END:
            return seq, total, True
        seq.append(token)
    return seq, total, False


@pytest.mark.parametrize("seed", range(8))
def test_beam_one_is_greedy(seed):
    dec = ToyDecoder(7, seed=seed, end_bias=-1.0)
    feats = torch.randn(5, 8, generator=torch.Generator().manual_seed(seed))
    results = beam_search(dec, feats, START, END, beam_size=1, max_length=12)
    for i in range(5):
        seq, total, finished = greedy(dec, feats[i], 12)
        assert results[i][0].tokens == seq
        assert results[i][0].logprob == pytest.approx(total, abs=1e-5)
        assert results[i][0].finished == finished


def test_no_end_ever_returns_best_unfinished():
    dec = ToyDecoder(6, seed=3, end_bias=-math.inf)
    feats = torch.randn(2, 8)
    results = beam_search(dec, feats, START, END, beam_size=3, max_length=4, n_best=2)
    for hyps in results:
        assert len(hyps) == 2
        assert all(not h.finished and len(h.tokens) == 4 for h in hyps)
        assert hyps[0].score >= hyps[1].score


def test_attention_has_one_row_per_generated_token():
    dec = ToyDecoder(6, seed=1)
    feats = torch.randn(3, 8)
    for hyps in beam_search(dec, feats, START, END, beam_size=3, max_length=6, n_best=3, return_attention=True):
        for h in hyps:
            assert h.attention.shape == (len(h.tokens) + int(h.finished), 8)
            assert torch.allclose(h.attention.sum(1), torch.ones(h.attention.size(0)))


def test_banned_tokens_never_appear():
    dec = ToyDecoder(6, seed=2)
    results = beam_search(dec, torch.randn(4, 8), START, END, beam_size=4, max_length=6, n_best=4, banned=(2, 3))
    assert all(2 not in h.tokens and 3 not in h.tokens for hyps in results for h in hyps)


def test_bad_arguments():
    with pytest.raises(ValueError):
        beam_search(ToyDecoder(), torch.randn(1, 8), START, END, beam_size=2, n_best=3)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(1, 6), st.floats(0, 2), st.integers(1, 3))
def test_any_logits_give_valid_sorted_hypotheses(seed, beam, max_length, alpha, images):
    dec = ToyDecoder(6, seed=seed, end_bias=float(torch.randn(1, generator=torch.Generator().manual_seed(seed))) * 3)
    feats = torch.randn(images, 8, generator=torch.Generator().manual_seed(seed)) * 3
    n_best = min(beam, 2)
    results = beam_search(dec, feats, START, END, beam_size=beam, max_length=max_length, alpha=alpha, n_best=n_best)
    assert len(results) == images
    for hyps in results:
        assert 1 <= len(hyps) <= n_best
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        for h in hyps:
            assert all(2 <= t < 6 for t in h.tokens)
            assert len(h.tokens) <= max_length
            assert math.isfinite(h.score)
            n = len(h.tokens) + int(h.finished)
            assert h.score == pytest.approx(h.logprob / length_penalty(n, alpha), rel=1e-5, abs=1e-5)


def satisfied(seq, sets):
    return sum(1 << c for c, words in enumerate(sets) if set(seq) & set(words))


@pytest.mark.parametrize("seed", range(3))
def test_exhaustive_constrained_search_equals_brute_force_per_bank(seed):
    """Each bank holds the best sequences that meet exactly its constraints (Anderson et al.'s CBS), exactly."""
    vocab, max_length, alpha = 6, 3, 0.7
    sets = [[2], [3, 4]]  # constraint 0: word 2; constraint 1: word 3 or word 4
    dec = ToyDecoder(vocab, seed=seed)
    feats = torch.randn(2, 8, generator=torch.Generator().manual_seed(seed + 7))
    bits = torch.zeros(2, vocab, dtype=torch.long)
    for c, words in enumerate(sets):
        bits[0, words] |= 1 << c  # image 0 is constrained, image 1 is not
    k = (vocab - 2) ** max_length
    results = beam_search(
        dec, feats, START, END, beam_size=k, max_length=max_length, alpha=alpha, n_best=3, constraints=bits
    )
    truth = brute_force(dec, feats[0], vocab, max_length, alpha)
    for bank in range(4):
        want = [s for s in truth if satisfied(s[1], sets) == bank][:3]
        got = [h for h in results[0] if h.satisfied == bank]
        assert [h.tokens for h in got] == [s[1] for s in want]
        assert all(h.score == pytest.approx(s[0], abs=1e-5) for h, s in zip(got, want))
    assert [h.score for h in results[0]] == sorted((h.score for h in results[0]), reverse=True)
    plain = beam_search(dec, feats[1:], START, END, beam_size=k, max_length=max_length, alpha=alpha, n_best=3)[0]
    assert [h.tokens for h in results[1]] == [h.tokens for h in plain]  # no constraints: the plain search
    assert all(h.satisfied == 0 for h in results[1])


def test_constrained_search_with_a_small_beam_meets_the_constraint_and_keeps_attention():
    dec = ToyDecoder(6, seed=3)
    feats = torch.randn(4, 8, generator=torch.Generator().manual_seed(3))
    bits = torch.zeros(4, 6, dtype=torch.long)
    bits[:, 5] = 1  # every image must say word 5 in bank 1
    results = beam_search(
        dec, feats, START, END, beam_size=2, max_length=6, n_best=2, constraints=bits, return_attention=True
    )
    for hyps in results:
        met = [h for h in hyps if h.satisfied == 1]
        assert met and all(5 in h.tokens for h in met)
        assert all(5 not in h.tokens for h in hyps if h.satisfied == 0)
        for h in hyps:
            assert h.attention.shape[0] == len(h.tokens) + h.finished
