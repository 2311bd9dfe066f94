"""What the input is: the source prompt from tags, a named contrast, or unknown.

Most scans users open are NIfTI files without tags, yet the model does better when it is told
the source contrast. Widgets therefore offer the contrast as a choice, prefilled by
:func:`guess_kind` from the file name or series description (``sub-01_T1w.nii.gz``,
``t2_tse_tra``, ``FLAIR``), and the command takes ``--source-prompt``. Whatever the route,
:func:`describe_source_prompt` says which source prompt was used, or that none was.
"""

from __future__ import annotations

import functools
import re
from typing import Iterable

#: Contrasts of the simulator's presets, offered as ready-made prompts (STIR is held out of
#: the demo training: a zero-shot target).
KNOWN_KINDS = ("T1W", "T2W", "PDW", "FLAIR", "FLASH", "MPRAGE", "STIR")

# Checked in order: the more specific name first (a "t2_flair" is FLAIR, a "t1_mprage" MPRAGE).
# A name must stand alone: between non-letters, so "t1" in "pt123" or "flairs" does not count.
_PATTERNS = (
    ("FLAIR", r"flair|dark[ _-]?fluid"),
    ("STIR", r"stir|tirm"),
    ("MPRAGE", r"mp[ _-]?rage|mprage|tfl3d|bravo|ir[ _-]?fspgr|t1[ _-]?mpr"),
    ("PDW", r"pd|pdw|pd[ _-]?w|proton[ _-]?density"),
    ("T2W", r"t2|t2w|t2[ _-]?tse|t2[ _-]?fse|t2[ _-]?weighted"),
    ("FLASH", r"flash|spgr|t1[ _-]?gre"),
    ("T1W", r"t1|t1w|t1[ _-]?se|t1[ _-]?weighted"),
)
_NOT_A_CONTRAST = re.compile(r"(?<![a-z])(t2\*|t2[ _-]?star|swi|dwi|adc|bold|asl|t1[ _-]?map|t2[ _-]?map)(?![a-z])")


def guess_kind(texts: Iterable[str | None]) -> str | None:
    """The contrast (a :data:`KNOWN_KINDS` name) that the first naming text names, or None.

    A text that names something else (T2*, SWI, DWI, a T1 map, ...) ends the search with None
    rather than be read as the nearest contrast.
    """
    for text in texts:
        if not text:
            continue
        lowered = str(text).lower()
        if _NOT_A_CONTRAST.search(lowered):
            return None
        for kind, pattern in _PATTERNS:
            if re.search(rf"(?<![a-z])({pattern})(?![a-z])", lowered):
                return kind
    return None


@functools.lru_cache(maxsize=1)
def known_prompts() -> dict[str, str]:
    """Kind -> canonical prompt of the simulator preset (the prompts the demo was trained on)."""
    from ..data.physics import PRESETS

    return {kind: PRESETS[kind].prompt() for kind in KNOWN_KINDS}


def describe_source_prompt(prompt: str | None, origin: str) -> str:
    """One line for a status bar or the command's output: which source prompt, and from where."""
    if not prompt:
        # Why the advice: with the source prompt the demo scores higher on every held-out task, and
        # on a field of view inside the brain it is what gets the tissue order right (model card).
        return ("source prompt: none (the model reads the contrast from the image alone; "
                "say what the source is, if you know it, for a better translation)")
    return f"source prompt ({origin}): {prompt}"
