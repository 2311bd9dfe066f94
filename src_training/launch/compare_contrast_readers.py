"""Two contrast readers side by side on held-out heads and on the real scans in wheels, and the
verdict on a candidate reader that was fixed before it trained.

    python src_training/launch/compare_contrast_readers.py shipped=napari_evai2i/weights/contrast_reader \
        candidate=runs/contrast_reader_v2/model [--json REPORT]

Every image is read with ``engine.source_contrast.read_contrast`` (the engine's own path), once per
reader, and scored per weighting (T1w, FLASH and MPRAGE are one, as the engine decides). For each
threshold the report counts how many images a reader would use and how many of those have the
wrong weighting, the reading that hurts (a wrong source prompt). Three blocks of the robustness
suite's reading factors (7 factors x 6 contrasts per case): the suite's cases 0-5, the calibration
cases 100-111 that chose the shipped threshold, and cases 460-471, which no reader has seen.

Verdict on the candidate (``--verdict`` after the readers; fixed before the candidate trained):
  threshold: the lower of 0.90 and 0.95 at which at most 1 of the 504 calibration images is used
      with the wrong weighting (none: the candidate fails);
  (v1) on cases 460-471 at those thresholds, images used with the wrong weighting: at most the
       shipped reader's count;
  (v2) the share used there at least the shipped reader's, and on the factor "crop inside the
       brain, 2 mm pixels" at least its + 0.05;
  (v3) on the suite's cases 0-5, no image used with the wrong weighting;
  (v4) the real scans: every one read with its right weighting, and dipy's T1 slice and b=0
       volume used (as the shipped reader does).
Reported, not judged: whether nibabel's 2 mm crop is used (the shipped reader abstains, p 0.71).
"""

from __future__ import annotations

import argparse
import sys

from _report import emit

BLOCKS = {"suite": (0, 6), "calibration": (100, 12), "fresh": (460, 12)}
THRESHOLDS = (0.8, 0.85, 0.9, 0.95)
CANDIDATE_THRESHOLDS = (0.9, 0.95)


def _readings(folders: dict[str, str], first: int, cases: int) -> dict[str, list[dict]]:
    """Per reader, one row per image of the block: factor, contrast, weighting right, probability."""
    from napari_evai2i.model.contrast_reader import WEIGHTING_OF
    from napari_evai2i.train.robustness import held_out_readings

    rows: dict[str, list[dict]] = {label: [] for label in folders}
    for factor, kind, i, readings in held_out_readings(folders, first, cases):
        for label, reading in readings.items():
            rows[label].append({"factor": factor, "kind": kind, "case": i,
                                "right": WEIGHTING_OF[reading.kind] == WEIGHTING_OF[kind],
                                "p": round(reading.probability, 4)})
    return rows


def _counts(rows: list[dict], threshold: float) -> dict:
    used = [r for r in rows if r["p"] >= threshold]
    return {"images": len(rows), "used": len(used), "used_share": round(len(used) / max(len(rows), 1), 3),
            "used_wrong_weighting": sum(not r["right"] for r in used)}


def _summary(rows: list[dict]) -> dict:
    factors = list(dict.fromkeys(r["factor"] for r in rows))
    return {f"threshold {t}": {"all": _counts(rows, t),
                               **{f: _counts([r for r in rows if r["factor"] == f], t) for f in factors}}
            for t in THRESHOLDS}


def _real(folders: dict[str, str]) -> dict:
    from napari_evai2i.engine.source_contrast import read_contrast
    from napari_evai2i.train.robustness import _reading_right, real_contrast_inputs

    out = {}
    for name, (image, spacing, weighting) in real_contrast_inputs().items():
        out[name] = {}
        for label, folder in folders.items():
            reading = read_contrast(image, spacing, folder=folder)
            out[name][label] = {"right": _reading_right(reading.kind, weighting), "kind": reading.kind,
                                "p": round(reading.probability, 4)}
    return out


def compare(folders: dict[str, str], cases_per_block: int | None = None, fresh_first: int | None = None) -> dict:
    """The report: every block's counts per reader and threshold, and the real scans' readings;
    ``cases_per_block`` shortens each block (a quick look, not the verdict's blocks);
    ``fresh_first`` moves the fresh block (once a block has been looked at, it is not fresh)."""
    report = {"readers": folders, "blocks": {}}
    blocks = dict(BLOCKS, **({"fresh": (fresh_first, BLOCKS["fresh"][1])} if fresh_first is not None else {}))
    for block, (first, cases) in blocks.items():
        cases = cases_per_block or cases
        rows = _readings(folders, first, cases)
        report["blocks"][block] = {"cases": f"{first}-{first + cases - 1}",
                                   **{label: _summary(r) for label, r in rows.items()}}
    report["real"] = _real(folders)
    return report


def verdict(report: dict, shipped: str, candidate: str, shipped_threshold: float = 0.9) -> dict[str, bool]:
    blocks = report["blocks"]
    calibration = blocks["calibration"][candidate]
    threshold = next((t for t in CANDIDATE_THRESHOLDS
                      if calibration[f"threshold {t}"]["all"]["used_wrong_weighting"] <= 1), None)
    print(f"calibration cases {blocks['calibration']['cases']}: candidate threshold {threshold}")
    if threshold is None:
        print("VERDICT: fails (no threshold)")
        return {"threshold": False}
    old = blocks["fresh"][shipped][f"threshold {shipped_threshold}"]
    new = blocks["fresh"][candidate][f"threshold {threshold}"]
    crop = "crop inside the brain, 2 mm pixels"
    ok = {"v1": new["all"]["used_wrong_weighting"] <= old["all"]["used_wrong_weighting"],
          "v2": new["all"]["used_share"] >= old["all"]["used_share"]
          and new[crop]["used_share"] >= old[crop]["used_share"] + 0.05,
          "v3": blocks["suite"][candidate][f"threshold {threshold}"]["all"]["used_wrong_weighting"] == 0,
          "v4": all(r[candidate]["right"] for r in report["real"].values())
          and all(r[candidate]["p"] >= threshold for name, r in report["real"].items() if name.startswith("dipy"))}
    print(f"(v1) fresh cases {blocks['fresh']['cases']}, used with the wrong weighting: {shipped} "
          f"{old['all']['used_wrong_weighting']}, {candidate} {new['all']['used_wrong_weighting']}: {ok['v1']}")
    print(f"(v2) used share: {old['all']['used_share']} -> {new['all']['used_share']}; {crop}: "
          f"{old[crop]['used_share']} -> {new[crop]['used_share']}: {ok['v2']}")
    print(f"(v3) suite cases, used with the wrong weighting: "
          f"{blocks['suite'][candidate][f'threshold {threshold}']['all']['used_wrong_weighting']}: {ok['v3']}")
    for name, r in report["real"].items():
        print(f"     {name}: " + "; ".join(f"{k} {v['kind']} p {v['p']}" for k, v in r.items()))
    print(f"(v4) real scans right, dipy's used: {ok['v4']}")
    nibabel = next((r for name, r in report["real"].items() if name.startswith("nibabel")), None)
    if nibabel is not None:
        print(f"reported: nibabel's crop used by the candidate: {nibabel[candidate]['p'] >= threshold}")
    print("VERDICT:", "holds" if all(ok.values()) else "fails", ok)
    return {"threshold": threshold, **ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readers", nargs="+", help="LABEL=FOLDER, each a contrast reader's folder")
    parser.add_argument("--json")
    parser.add_argument("--verdict", nargs=2, metavar=("SHIPPED", "CANDIDATE"),
                        help="print the candidate's verdict against the shipped reader")
    parser.add_argument("--cases", type=int, help="cases per block instead of the verdict's (a quick look)")
    parser.add_argument("--fresh-first-case", type=int, help="first case of the fresh block (default 460)")
    parser.add_argument("--report", help="a report this script wrote before: judge it instead of reading again")
    args = parser.parse_args(argv)
    folders = dict(item.split("=", 1) for item in args.readers)
    if args.report:
        import json
        from pathlib import Path

        report = json.loads(Path(args.report).read_text())
    else:
        report = compare(folders, args.cases, args.fresh_first_case)
        emit(report, args.json)
    if args.verdict:
        ok = verdict(report, *args.verdict)
        return 0 if all(ok.values()) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
