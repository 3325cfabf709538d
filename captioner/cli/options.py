"""Options and parameter types several commands share."""

from __future__ import annotations

import click


def decode_flags(f):
    """--beam-size, --length-penalty and --max-length."""
    f = click.option(
        "--max-length",
        default=20,
        show_default=True,
        type=click.IntRange(1, 100),
        help="Most tokens per caption, <end> included.",
    )(f)
    f = click.option(
        "--length-penalty",
        type=float,
        default=None,
        help="GNMT length penalty alpha (default: the value stored with the model, else 0).",
    )(f)
    f = click.option("--beam-size", default=3, show_default=True, type=click.IntRange(1, 50))(f)
    return f


def decode_options(beam_size: int, max_length: int, length_penalty: float | None, n_best: int, batch_size: int):
    """The ``DecodeOptions`` of the decode flags; a length penalty left out is the model's own."""
    from captioner.model.decode import DecodeOptions

    if not 1 <= n_best <= beam_size:
        raise click.UsageError(f"--n-best ({n_best}) must be between 1 and --beam-size ({beam_size})")
    return DecodeOptions(beam_size, max_length, length_penalty, n_best, batch_size)


class ShardType(click.ParamType):
    """``I/N`` (1-based) -> (I - 1, N)."""

    name = "I/N"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        i, _, n = str(value).partition("/")
        if not (i.isdigit() and n.isdigit() and 1 <= int(i) <= int(n)):
            self.fail(f"{value!r} is not I/N with 1 <= I <= N (e.g. 1/4)", param, ctx)
        return int(i) - 1, int(n)


def precision_option(default: str, help: str):
    """``--precision auto|fp32|bf16|int8`` (photos.precision), as ``caption`` and ``score`` take it."""
    from captioner.photos.precision import PRECISIONS

    return click.option("--precision", type=click.Choice(PRECISIONS), default=default, show_default=True, help=help)
