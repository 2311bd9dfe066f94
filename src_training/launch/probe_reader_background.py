"""Read bare, or centred on the background of its training images: the contrast reader on
held-out simulated slices (docs/model_history.md, "Reading the source contrast"). Per factor of
the robustness suite: the suite's cases 0-5 and the calibration cases 100-111, 6 contrasts
each. Prints JSON: weighting right, used (p >= threshold), and used with the wrong weighting.

    python src_training/launch/probe_reader_background.py
"""

from __future__ import annotations

import json
from dataclasses import replace

from napari_evai2i.engine.source_contrast import _reader, read_contrast, reader_folder
from napari_evai2i.model.contrast_reader import READER_KINDS, WEIGHTING_OF
from napari_evai2i.train.robustness import CASE_SIZE, READING_FACTORS, HeldOutCase

CASES = {"suite (cases 0-5)": range(0, 6), "calibration (cases 100-111)": range(100, 112)}


def _tally(cases) -> dict:
    out = {}
    for factor, kwargs in READING_FACTORS.items():
        right = used = wrong = n = 0
        for kind in READER_KINDS:
            for index in cases:
                case = HeldOutCase(index, CASE_SIZE).render(kind, "T2W", **kwargs)
                reading = read_contrast(case["src"], (case["pixel_mm"],) * 2)
                ok = WEIGHTING_OF[reading.kind] == WEIGHTING_OF[kind]
                n, right, used, wrong = n + 1, right + ok, used + reading.used, wrong + (reading.used and not ok)
        out[factor] = {"weighting_right": round(right / n, 3), "used": round(used / n, 3),
                       "used_with_wrong_weighting": wrong, "images": n}
    return out


def main() -> None:
    reader = _reader(str(reader_folder()))
    shipped = reader.config
    report = {}
    for label, canvas in (("bare", 0), ("on the training background", shipped.canvas)):
        reader.config = replace(shipped, canvas=canvas)
        report[label] = {name: _tally(cases) for name, cases in CASES.items()}
    reader.config = shipped
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
