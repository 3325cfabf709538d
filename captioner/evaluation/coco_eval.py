"""The COCO caption metrics (pycocoevalcap, the optional ``metrics`` extra): CIDEr-D, METEOR, ROUGE-L, BLEU.

They use pycocoevalcap's own PTB tokenisation, which, like METEOR, runs on Java. SPICE is left out: it needs
Stanford CoreNLP models downloaded at first use.
"""

from __future__ import annotations

import contextlib
import io
import shutil

from captioner.errors import CaptionerError


def available() -> str | None:
    """None if the COCO metrics can run here, else the reason why not."""
    try:
        import pycocoevalcap  # noqa: F401
    except ImportError:
        return "pycocoevalcap is not installed (pip install 'captioner[metrics]')"
    if shutil.which("java") is None:
        return "pycocoevalcap's tokenizer and METEOR need Java (java is not on the PATH)"
    return None


def coco_scores(references: list[list[str]], hypotheses: list[str], meteor: bool = True) -> dict:
    """Corpus metrics ({"cider", "meteor", "rouge_l", "coco_bleu1".."coco_bleu4"}) and per-image CIDEr-D."""
    reason = available()
    if reason:
        raise CaptionerError(reason)
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    gts = {i: [{"caption": r} for r in refs] for i, refs in enumerate(references)}
    res = {i: [{"caption": h}] for i, h in enumerate(hypotheses)}
    with contextlib.redirect_stdout(io.StringIO()):  # the scorers print progress
        tokenizer = PTBTokenizer()
        gts, res = tokenizer.tokenize(gts), tokenizer.tokenize(res)
        res = {i: h if h and h[0] else ["<empty>"] for i, h in res.items()}
        bleu, _ = Bleu(4).compute_score(gts, res)
        cider, per_image = Cider().compute_score(gts, res)
        rouge, _ = Rouge().compute_score(gts, res)
        scores = {
            "cider": float(cider),
            "rouge_l": float(rouge) * 100,
            **{f"coco_bleu{n}": float(b) * 100 for n, b in enumerate(bleu, 1)},
        }
        if meteor:
            from pycocoevalcap.meteor.meteor import Meteor

            m = Meteor()
            try:
                scores["meteor"] = float(m.compute_score(gts, res)[0]) * 100
            finally:
                with contextlib.suppress(Exception):
                    m.close()
    return {**scores, "per_image_cider": [float(x) for x in per_image]}
