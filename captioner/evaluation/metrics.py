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


def bleu_stats(references: Sequence[Sequence[Tokens]], hypotheses: Sequence[Tokens]) -> list[float]:
    """Additive BLEU statistics: clipped matches and totals for n = 1..4, hypothesis and closest-reference length.

    Sums of these over shards give the corpus statistics, so BLEU can be reduced across processes.
    """
    stats = [0.0] * 10
    for refs, hyp in zip(references, hypotheses):
        counts = Counter(tuple(hyp[i : i + n]) for n in range(1, 5) for i in range(len(hyp) - n + 1))
        best: Counter = Counter()
        for ref in refs:
            for gram, c in Counter(tuple(ref[i : i + n]) for n in range(1, 5) for i in range(len(ref) - n + 1)).items():
                best[gram] = max(best[gram], c)
        for gram, c in counts.items():
            stats[2 * (len(gram) - 1)] += min(c, best[gram])
        for n in range(1, 5):  # nltk counts at least 1 per order, even for a hypothesis shorter than n
            stats[2 * (n - 1) + 1] += max(1, len(hyp) - n + 1)
        stats[8] += len(hyp)
        stats[9] += min((len(r) for r in refs), key=lambda n: (abs(n - len(hyp)), n)) if refs else 0
    return stats


def bleu_from_stats(stats: Sequence[float]) -> dict[str, float]:
    """BLEU-1..4 (x100) from ``bleu_stats`` sums; the same numbers as nltk's corpus_bleu without smoothing."""
    hyp_len, ref_len = stats[8], stats[9]
    if hyp_len == 0:
        return {f"bleu{n}": 0.0 for n in range(1, 5)}
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    out, log_sum = {}, 0.0
    for n in range(1, 5):
        match, total = stats[2 * (n - 1)], stats[2 * (n - 1) + 1]
        if match == 0 or total == 0:
            log_sum = -math.inf
        else:
            log_sum += math.log(match / total)
        out[f"bleu{n}"] = 100.0 * bp * math.exp(log_sum / n) if math.isfinite(log_sum) else 0.0
    return out


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
