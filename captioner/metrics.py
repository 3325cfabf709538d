"""Caption metrics on token lists: corpus BLEU-1..4 (nltk) and CIDEr-D (our own implementation).

BLEU is cumulative, uses all references and the closest reference length for the brevity penalty, like
pycocoevalcap; scores are reported x100. CIDEr-D follows Vedantam et al. 2015 (sigma 6, clipped counts, x10),
with document frequencies from the references of the set being scored, as the COCO evaluation does.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Sequence

Tokens = list[str]

BLEU_WEIGHTS = [(1.0,), (0.5, 0.5), (1 / 3, 1 / 3, 1 / 3), (0.25, 0.25, 0.25, 0.25)]


def corpus_bleu(references: Sequence[Sequence[Tokens]], hypotheses: Sequence[Tokens]) -> dict[str, float]:
    """``{"bleu1": ..., "bleu4": ...}`` x100 for tokenized hypotheses against their lists of references."""
    from nltk.translate.bleu_score import corpus_bleu as nltk_corpus_bleu

    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} reference lists for {len(hypotheses)} hypotheses")
    if not hypotheses:
        return {f"bleu{n}": 0.0 for n in range(1, 5)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns when some n-gram order has no match; the score is then 0
        scores = nltk_corpus_bleu([list(r) for r in references], list(hypotheses), weights=BLEU_WEIGHTS)
    return {f"bleu{n}": 100.0 * s for n, s in enumerate(scores, 1)}


def _ngrams(tokens: Tokens, n_max: int = 4) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for n in range(1, n_max + 1) for i in range(len(tokens) - n + 1))


class CiderD:
    """CIDEr-D with document frequencies fixed from a reference corpus (for SCST rewards and for scoring)."""

    def __init__(self, corpus_references: Sequence[Sequence[Tokens]], n: int = 4, sigma: float = 6.0):
        self.n, self.sigma = n, sigma
        self.df: Counter = Counter()
        for refs in corpus_references:
            self.df.update({g for r in refs for g in _ngrams(r, n)})
        self.log_n_docs = math.log(max(len(corpus_references), 1))
        self._ref_cache: dict[int, list] = {}

    def _vector(self, counts: Counter) -> tuple[list[dict], list[float]]:
        vec: list[dict] = [{} for _ in range(self.n)]
        norm = [0.0] * self.n
        for gram, tf in counts.items():
            k = len(gram) - 1
            w = tf * (self.log_n_docs - math.log(max(1.0, self.df.get(gram, 0.0))))
            vec[k][gram] = w
            norm[k] += w * w
        return vec, [math.sqrt(x) for x in norm]

    def _sim(self, hyp, ref, len_h: int, len_r: int) -> list[float]:
        (vh, nh), (vr, nr) = hyp, ref
        delta = len_h - len_r
        out = []
        for k in range(self.n):
            val = sum(min(w, vr[k][g]) * vr[k][g] for g, w in vh[k].items() if g in vr[k])
            if nh[k] and nr[k]:
                val /= nh[k] * nr[k]
            out.append(val * math.exp(-(delta**2) / (2 * self.sigma**2)))
        return out

    def prepare_refs(self, refs: Sequence[Tokens]) -> list:
        return [(self._vector(_ngrams(r, self.n)), len(r)) for r in refs]

    def score(self, hypothesis: Tokens, refs: Sequence[Tokens] | list, prepared: bool = False) -> float:
        """CIDEr-D of one hypothesis against its references (x10, as reported in papers)."""
        pre = refs if prepared else self.prepare_refs(refs)
        if not pre:
            return 0.0
        hyp = self._vector(_ngrams(hypothesis, self.n))
        total = [0.0] * self.n
        for ref_vec, len_r in pre:
            for k, s in enumerate(self._sim(hyp, ref_vec, len(hypothesis), len_r)):
                total[k] += s
        return 10.0 * sum(total) / self.n / len(pre)

    def corpus_score(self, references: Sequence[Sequence[Tokens]], hypotheses: Sequence[Tokens]) -> float:
        scores = [self.score(h, r) for h, r in zip(hypotheses, references)]
        return sum(scores) / max(len(scores), 1)


def cider_d(references: Sequence[Sequence[Tokens]], hypotheses: Sequence[Tokens]) -> float:
    """Corpus CIDEr-D, document frequencies taken from ``references`` themselves (the COCO convention)."""
    return CiderD(references).corpus_score(references, hypotheses)
