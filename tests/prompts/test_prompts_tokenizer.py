"""CLIP tokenization and the package's import hygiene."""

from __future__ import annotations

import subprocess
import sys

import pytest

from napari_evai2i.prompts import PromptTooLongError, canonical_prompt, fields_from_dicom, tokenize
from napari_evai2i.prompts.tokenizer import EOT_TOKEN, SOT_TOKEN, VOCAB_SIZE

torch = pytest.importorskip("torch")


def test_shape_dtype_and_layout():
    from open_clip.tokenizer import SimpleTokenizer

    texts = ["A T2-weighted magnetic resonance imaging of the brain.", "TR 5.53 ms, TE 2.81 ms."]
    tokens = tokenize(texts, context_length=77)
    assert tokens.shape == (2, 77) and tokens.dtype == torch.long
    for row, text in zip(tokens.tolist(), texts):
        ids = SimpleTokenizer().encode(text)
        assert row[: len(ids) + 2] == [SOT_TOKEN, *ids, EOT_TOKEN]
        assert set(row[len(ids) + 2 :]) == {0}
    assert int(tokens.max()) < VOCAB_SIZE
    assert tokenize(texts[0], 77).shape == (1, 77)
    assert torch.equal(tokenize(texts[0], 77)[0], tokens[0])


def test_real_prompts_fit_the_official_context(all_real_files):
    prompts = [canonical_prompt(fields_from_dicom(path)) for path in all_real_files]
    tokens = tokenize(prompts, context_length=256)
    assert (tokens == EOT_TOKEN).sum(dim=1).tolist() == [1] * len(prompts)


def test_exactly_full_context_fits_and_one_more_token_does_not():
    text = "magnetic resonance imaging"
    needed = int((tokenize(text, 64)[0] != 0).sum())
    assert tokenize(text, needed)[0, -1] == EOT_TOKEN
    with pytest.raises(PromptTooLongError, match=rf"needs {needed} tokens.*context length is {needed - 1}"):
        tokenize(text, needed - 1)


def test_too_long_is_a_value_error():
    with pytest.raises(ValueError):
        tokenize("brain " * 300, context_length=256)


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_prompt(text):
    with pytest.raises(ValueError, match="empty prompt"):
        tokenize(["fine", text], context_length=16)


def test_importing_prompts_stays_light(mr_small):
    code = (
        "import sys, napari_evai2i.prompts as p; "
        f"p.canonical_prompt(p.fields_from_dicom({str(mr_small)!r})); "
        "heavy = [m for m in ('torch', 'open_clip', 'napari', 'qtpy', 'magicgui') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
