"""The tiny text tower reads the values of the numbers in a prompt from their digit tokens."""

import math

import pytest
import torch

from napari_evai2i.model import create_model
from napari_evai2i.model.dclip import NumberAwareTokenEmbedding
from napari_evai2i.prompts import tokenize


def _token_embedding(preset):
    return create_model(preset, seed=0).dclip.text.transformer.text_model.embeddings.token_embedding


def test_number_values_are_read_from_digit_tokens():
    embedding = _token_embedding("tiny")
    assert isinstance(embedding, NumberAwareTokenEmbedding)
    tokens = tokenize("TR 4000 ms, TE 37.4 ms, at 1.5 T. Slice 3.", 40)
    values = embedding.number_values(tokens)[0]
    numbers = [v for v in values.tolist() if not math.isnan(v)]
    # one value per digit or decimal-point token; a sentence-ending '.' is not part of a number
    assert numbers == pytest.approx([4000.0] * 4 + [37.4] * 4 + [1.5] * 3 + [3.0])


def test_prompts_differing_only_in_a_number_embed_differently():
    text = create_model("tiny", seed=0).dclip.text
    tokens = tokenize([f"A T2-weighted image. TR 4000 ms, TE {te} ms." for te in (30, 30, 120)], 40)
    with torch.no_grad():
        a, same, b = text(tokens)
    assert torch.allclose(a, same)
    assert float(a @ b) < 1 - 1e-4


def test_paper_text_tower_keeps_the_official_token_embedding():
    assert isinstance(_token_embedding("paper"), torch.nn.Embedding)
