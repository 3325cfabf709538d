"""Numeric precision of inference, chosen from what this CPU can do fast: ``--precision auto|fp32|bf16|int8``.

| precision | encoder (ONNX Runtime)            | decoder matmuls (``FastDecoder``)                  |
|-----------|-----------------------------------|----------------------------------------------------|
| fp32      | float32                           | float32                                            |
| bf16      | float32                           | bfloat16, the word classifier float32              |
| int8      | int8 static QDQ (shipped graph)   | as bf16 where the CPU has bf16 kernels, else fp32  |

``auto`` picks the fastest that keeps the quality bar (at most 0.2 BLEU-4 lost on Flickr8k test and at least 95% of
captions identical to fp32's; measured with ``captioner score --precision``): bf16 on CPUs with AVX-512 BF16 or
AMX, fp32 elsewhere. int8 is never automatic: its captions are as good (BLEU-4 +0.4) but only ~73% are identical
to fp32's, so it is there to ask for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from captioner.errors import CaptionerError

PRECISIONS = ("auto", "fp32", "bf16", "int8")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of CPUs with native bfloat16 matmul kernels


@dataclass(frozen=True)
class Precision:
    """What runs in which number format; ``name`` is what was resolved (never ``auto``)."""

    name: str
    encoder: str  # fp32 | int8
    decoder: str  # fp32 | bf16
    reason: str  # why, for -v

    def __str__(self) -> str:
        return f"{self.name} (encoder {self.encoder}, decoder {self.decoder}; {self.reason})"


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none: not Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX) and PyTorch can use it (oneDNN)."""
    import torch

    return bool(cpu_flags() & set(BF16_FLAGS)) and torch.backends.mkldnn.is_available()


def resolve_precision(requested: str, device: str = "cpu", flags: frozenset[str] | None = None) -> Precision:
    """The ``Precision`` that ``requested`` (auto, fp32, bf16, int8) means on this CPU; a ``CaptionerError`` for a
    precision this machine cannot run. ``flags`` overrides the detected CPU flags (tests)."""
    if requested not in PRECISIONS:
        raise CaptionerError(f"unknown precision {requested!r}; choose one of: {', '.join(PRECISIONS)}")
    bf16 = has_bf16() if flags is None else bool(flags & set(BF16_FLAGS))
    if device != "cpu":
        if requested in ("bf16", "int8"):
            raise CaptionerError(f"--precision {requested} is for the CPU; on {device} use fp32 or auto")
        return Precision("fp32", "fp32", "fp32", f"on {device}")
    if requested == "fp32":
        return Precision("fp32", "fp32", "fp32", "asked for")
    if requested == "bf16" and not bf16:
        raise CaptionerError(
            "--precision bf16 needs a CPU with AVX-512 BF16 or AMX (this one has neither); use fp32 or auto"
        )
    if requested == "int8":
        return Precision("int8", "int8", "bf16" if bf16 else "fp32", "asked for")
    if requested == "bf16":
        return Precision("bf16", "fp32", "bf16", "asked for")
    if bf16:
        return Precision("bf16", "fp32", "bf16", "auto: this CPU has bfloat16 kernels")
    return Precision("fp32", "fp32", "fp32", "auto: no bfloat16 kernels on this CPU (AVX-512 BF16 or AMX)")
