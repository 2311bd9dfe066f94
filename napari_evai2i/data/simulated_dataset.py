"""Infinite, seedable training data from the simulator, in the interface the trainer uses.

Every item is one simulated "subject slice" scanned with three protocols: ``src``, ``tgt``
and ``int`` (the intermediate domain of the triangle path). Item ``i`` depends only on
``(seed, i)``, so the dataset is map-style with a virtual length: it works with
DataLoader workers, a DistributedSampler, and exact resume (start at another index).

Keys of an item (arrays are float32, images (1, H, W) in normalised units):

* ``src``, ``tgt``, ``int``: clean images (targets of the losses);
* ``src_in``, ``tgt_in``, ``int_in``: the same images as a scanner would deliver them
  (bias field, Rician noise, gain) -- the network inputs;
* ``tissue``: (4, H, W) fractions of GM, WM, CSF and background;
* ``mask``: (1, H, W) 1 inside the head;
* ``src_fields``, ``tgt_fields``, ``int_fields``: JSON-able prompt fields;
* ``src_text``, ``tgt_text``, ``int_text``: a random rendering of each prompt;
* ``paired_int``: True here (the simulator can scan the same anatomy a third time);
  real cohorts set it False and ``int`` comes from another subject.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
from torch.utils.data import Dataset

from ..prompts import build_slots, sample_prompt
from ..prompts.fields import ProtocolFields
from .physics import PRESETS, Protocol, is_held_out, tissue_parameters
from .randomized import HeadSliceGenerator, RandomizationRanges
from .slices import SliceAugmentation, SliceSimulator

#: Kinds (see ``physics.SAMPLING_RANGES``) the demo trains on; STIR is held out whole.
TRAIN_KINDS = ("T1W", "T2W", "PDW", "FLAIR", "FLASH", "MPRAGE")
CANONICAL_KINDS = ("T1W", "T2W", "PDW", "FLAIR")
ROLES = ("src", "tgt", "int")


@dataclass
class SimulatedDataConfig:
    size: int = 128
    seed: int = 0
    length: int = 10_000_000
    kinds: tuple[str, ...] = TRAIN_KINDS
    #: Items with an index below this draw only the four canonical contrasts, at their
    #: preset parameters or close to them (the curriculum's first phase).
    curriculum_items: int = 0
    #: ranges of ``physics.SAMPLING_RANGES`` replaced, by kind (``{"FLAIR": {"ti_factor_of_csf_null":
    #: (0.88, 1.3)}}``; :func:`physics.sampling_spec`)
    protocol_ranges: dict = field(default_factory=dict)
    drop_probability: float = 0.5
    view_in_prompt: bool = True
    augmentation: SliceAugmentation = field(default_factory=SliceAugmentation)
    #: "template" (:mod:`.slices`) or "randomized" (:mod:`.randomized`: whole heads, lesions,
    #: thick slices, unknown sources; its ranges in ``randomization``)
    generator: str = "template"
    randomization: RandomizationRanges = field(default_factory=RandomizationRanges)
    #: randomized only: let items withhold the source prompt and randomise the source contrast
    #: (off for DCLIP, whose images must match their texts)
    unknown_sources: bool = True


class SimulatedPairs(Dataset):
    """Map-style dataset of simulated (src, tgt, int) slice triples; see the module doc."""

    def __init__(self, config: SimulatedDataConfig | None = None) -> None:
        self.config = config or SimulatedDataConfig()
        self._simulator: SliceSimulator | None = None   # built lazily, once per worker
        self._head: HeadSliceGenerator | None = None

    def __len__(self) -> int:
        return self.config.length

    @property
    def simulator(self) -> SliceSimulator:
        if self._simulator is None:
            self._simulator = SliceSimulator(self.config.size, self.config.augmentation)
        return self._simulator

    def draw_protocols(self, rng: np.random.Generator, index: int) -> list[Protocol]:
        """Three protocols of distinct kinds (never an identity pair), none held out."""
        cfg = self.config
        canonical_phase = index < cfg.curriculum_items
        kinds = CANONICAL_KINDS if canonical_phase else cfg.kinds
        chosen = rng.choice(len(kinds), size=3, replace=len(kinds) < 3)
        field_strength = float(rng.choice([1.5, 3.0]))
        protocols = []
        for k in chosen:
            kind = kinds[int(k)]
            if canonical_phase and rng.random() < 0.5:
                protocols.append(PRESETS[kind].replace(field_strength=1.5) if kind in PRESETS
                                 else Protocol.sample(rng, kind))
            else:
                field = field_strength if not _gre_at_3t(kind, field_strength) else 1.5
                protocols.append(Protocol.sample(rng, kind, field_strength=field, ranges=cfg.protocol_ranges))
        assert not any(is_held_out(p) for p in protocols)
        return protocols

    @property
    def head_generator(self) -> HeadSliceGenerator:
        if self._head is None:
            self._head = HeadSliceGenerator(self.config.size, self.config.randomization)
        return self._head

    def warm_caches(self) -> None:
        """Build the template caches in this process, so that forked DataLoader workers inherit
        them instead of each spending seconds rebuilding them at the start of every stage.
        Items depend only on ``(seed, index)``, so this changes no item."""
        self[0]

    def __getitem__(self, index: int) -> dict:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, int(index)])
        text_rng = random.Random(int(rng.integers(2**63)))
        if cfg.generator == "randomized":
            protocols = self.draw_protocols(rng, index)
            return self.head_generator.item(rng, protocols, text_rng,
                                            cfg.drop_probability, cfg.view_in_prompt,
                                            allow_unknown=cfg.unknown_sources)
        sim = self.simulator
        tissue, plane = sim.tissue_slice(rng)
        jitter = np.exp(rng.normal(0, cfg.augmentation.jitter, size=(3, 4)))
        item: dict = {"paired_int": True, "plane": plane}
        for role, protocol in zip(ROLES, self.draw_protocols(rng, index)):
            params = {name: p.scaled(*jitter[i])
                      for i, (name, p) in enumerate(tissue_parameters(protocol.field_strength).items())}
            clean, scanned = sim.scan(tissue, protocol, params, rng)
            fields = protocol.prompt_fields(plane if cfg.view_in_prompt else None)
            item[role] = clean[None]
            item[f"{role}_in"] = scanned[None]
            item[f"{role}_fields"] = fields.to_dict()
            item[f"{role}_text"] = sample_prompt(fields, text_rng, cfg.drop_probability)
        background = np.clip(1 - tissue.sum(0, keepdims=True), 0, 1)
        item["tissue"] = np.concatenate([tissue, background]).astype(np.float32)
        item["mask"] = (background < 0.5).astype(np.float32)
        return item


def _gre_at_3t(kind: str, field_strength: float) -> bool:
    # Any gradient echo at 3 T is a held-out zero-shot region; draw those at 1.5 T instead.
    return kind == "FLASH" and field_strength >= 3.0


def collate_items(batch: list[dict]) -> dict:
    """Stack arrays, keep strings and field dicts as lists (picklable for worker processes)."""
    import torch

    out: dict = {}
    for key in batch[0]:
        values = [b[key] for b in batch]
        if isinstance(values[0], np.ndarray):
            out[key] = torch.from_numpy(np.stack(values))
        elif isinstance(values[0], bool):
            out[key] = torch.tensor(values)
        else:
            out[key] = values
    return out


def match_matrix(texts: list[str], fields: list[dict]) -> np.ndarray:
    """M[i, j] = text i is a valid rendering of prompt j's slot structure (M[i, i] = 1)."""
    from ..prompts import is_rendering_of

    slots = [build_slots(ProtocolFields.from_dict(f)) for f in fields]
    n = len(texts)
    m = np.zeros((n, n), dtype=bool)
    for i, text in enumerate(texts):
        for j in range(n):
            m[i, j] = i == j or is_rendering_of(text, slots[j])
    return m
