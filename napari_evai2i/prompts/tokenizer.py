"""CLIP byte-pair tokenization of prompts for the DCLIP text encoder.

The BPE vocabulary ships inside the open-clip-torch wheel, so nothing is downloaded. torch and
open_clip are imported on first use only: building prompts must stay cheap for the widgets.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["EOT_TOKEN", "PromptTooLongError", "SOT_TOKEN", "VOCAB_SIZE", "number_token_ids", "tokenize"]

VOCAB_SIZE = 49408
SOT_TOKEN = 49406  # <start_of_text>
EOT_TOKEN = 49407  # <end_of_text>


class PromptTooLongError(ValueError):
    """A prompt needs more tokens than the text encoder's context; we never cut it silently,
    since a truncated prompt would describe a different protocol."""


@functools.lru_cache(maxsize=1)
def _tokenizer():
    from open_clip.tokenizer import SimpleTokenizer

    tokenizer = SimpleTokenizer()
    if (tokenizer.encoder["<start_of_text>"], tokenizer.encoder["<end_of_text>"]) != (SOT_TOKEN, EOT_TOKEN):
        raise RuntimeError("the installed open_clip BPE vocabulary does not match CLIP's token ids")
    return tokenizer


@functools.lru_cache(maxsize=1)
def number_token_ids() -> tuple[dict[int, str], int]:
    """Token id -> digit for '0'..'9', and the id of '.'.

    CLIP's BPE splits every number into one token per digit (and '.' for a decimal point), so
    a number's value can be read back from the ids alone: what the text tower's number
    features (:class:`napari_evai2i.model.dclip.NumberAwareTokenEmbedding`) rely on.
    """
    tokenizer = _tokenizer()
    digits = {}
    for digit in "0123456789":
        (token,) = tokenizer.encode(digit)
        digits[token] = digit
    (point,) = tokenizer.encode(".")
    return digits, point


def tokenize(texts: str | Sequence[str], context_length: int) -> torch.Tensor:
    """Token ids of shape (N, context_length): SOT, the BPE ids, EOT, then zero padding.

    Raises ``ValueError`` for an empty prompt and :class:`PromptTooLongError` for one that does
    not fit, with the number of tokens it needs.
    """
    import torch

    if context_length < 2:
        raise ValueError(f"context_length must be at least 2 (start and end tokens), got {context_length}")
    if isinstance(texts, str):
        texts = [texts]
    tokenizer = _tokenizer()
    out = torch.zeros(len(texts), context_length, dtype=torch.long)
    for row, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"empty prompt at position {row}: {text!r}")
        ids = [SOT_TOKEN, *tokenizer.encode(text), EOT_TOKEN]
        if len(ids) > context_length:
            raise PromptTooLongError(
                f"prompt at position {row} needs {len(ids)} tokens (start and end included) "
                f"but the context length is {context_length}: {text[:60]!r}..."
            )
        out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out
