"""The contrast reader: a small CNN that names the contrast of an MR slice.

Most scans users open are NIfTI files without tags, and the demo translates a real head much
better when it is told the source contrast (docs/model_card.md). Neither the DCLIP image tower
(zero-shot or nearest class mean) nor tissue ratios read through the generator named the
source reliably, so this network is trained for that one question, on the source images of
the domain-randomised generator (whole heads and brains, thick slices, bias, noise, any
warp), and is checked on real scans it never saw.

A reading is a guess that a person can overrule: the engine uses it only above a confidence
threshold and always says that the source prompt was read from the image.

Its folder (``weights/contrast_reader``) holds ``config.json`` (classes, widths, the
intensity rule, training record) and ``model.safetensors``; no pickle is executed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from .files import CONFIG_FILE, WEIGHTS_FILE, atomic_folder

#: The source contrasts the demo was trained on (STIR is held out of training), in class order.
READER_KINDS = ("T1W", "T2W", "PDW", "FLAIR", "FLASH", "MPRAGE")
#: Contrasts that are one weighting. Spin-echo T1w, FLASH and MPRAGE differ in detail that a
#: slice barely shows (the reader mixes T1w and FLASH up), and the demo translates a T1 scan
#: about as well with any of their prompts, so confidence is judged per weighting.
WEIGHTING_OF = {"T1W": "T1-weighted", "FLASH": "T1-weighted", "MPRAGE": "T1-weighted",
                "T2W": "T2-weighted", "PDW": "PD-weighted", "FLAIR": "FLAIR"}


@dataclass(frozen=True)
class ContrastReaderConfig:
    """Architecture and input convention of a contrast reader."""

    kinds: tuple[str, ...] = READER_KINDS
    widths: tuple[int, ...] = (16, 32, 64, 96)
    #: the intensity rule its inputs follow (engine.normalization); slices come normalised by it
    normalization: str = "brain-core-median"
    #: in-plane pixel sizes it was trained on; other slices are resampled into this range
    pixel_mm: tuple[float, float] = (0.8, 2.0)
    #: the reading is used only when its weighting's probability (WEIGHTING_OF) reaches this;
    #: chosen on calibration heads apart from the reported ones (docs/model_card.md)
    threshold: float = 0.9
    #: side (pixels) of its training images. Training's brain crops lie on a zero background of
    #: this size, so a smaller slice is read centred on such a background, as it was learnt
    canvas: int = 128
    #: when set, a slice whose pixels are coarser than this (mm) is upsampled to it before reading.
    #: Why: the reader is surer of a small coarse crop with more pixels (docs/model_history.md); None
    #: reads every slice at its own pixel size within ``pixel_mm``, as the reader was first shipped
    read_at_mm: float | None = None
    record: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ContrastReaderConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"contrast reader config has unknown keys {unknown}")
        data = dict(data)
        for key in ("kinds", "widths", "pixel_mm"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


class ContrastReader(nn.Module):
    """Slices (B, 1, H, W) normalised by the checkpoint's rule -> class logits (B, kinds).

    Log intensities, four stride-2 stages, then the mean and the maximum of the last features:
    any slice size works, and the contrast is judged from the whole field of view."""

    def __init__(self, config: ContrastReaderConfig | None = None) -> None:
        super().__init__()
        self.config = config or ContrastReaderConfig()
        layers: list[nn.Module] = []
        channels = 1
        for width in self.config.widths:
            layers += [nn.Conv2d(channels, width, 3, 2, 1), nn.BatchNorm2d(width), nn.GELU(),
                       nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width), nn.GELU()]
            channels = width
        self.features = nn.Sequential(*layers)
        self.classify = nn.Linear(2 * channels, len(self.config.kinds))

    def forward(self, slices: torch.Tensor) -> torch.Tensor:
        features = self.features(torch.log1p(slices.clamp(min=0)))
        return self.classify(torch.cat([features.mean((2, 3)), features.amax((2, 3))], 1))


def save_contrast_reader(reader: ContrastReader, folder: str | Path) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``folder`` atomically."""
    from safetensors.torch import save_file

    folder = Path(folder)
    with atomic_folder(folder) as tmp:
        state = {k: v.detach().contiguous().cpu() for k, v in reader.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_FILE))
        (tmp / CONFIG_FILE).write_text(json.dumps({"contrast_reader": reader.config.to_dict()}, indent=2) + "\n")
    return folder


def load_contrast_reader(folder: str | Path) -> ContrastReader:
    """Rebuild a reader from its folder (safetensors only) and load its weights strictly."""
    from .factory import read_weights

    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise ValueError(f"{folder} is not a contrast reader folder (it needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    try:
        data = json.loads(config_path.read_text())["contrast_reader"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{config_path}: not a contrast reader config ({exc})") from None
    reader = ContrastReader(ContrastReaderConfig.from_dict(data))
    reader.load_state_dict(read_weights(weights_path), strict=True)    # the checkpoints' one weights reader
    return reader.eval()
