"""Does a model follow the FLAIR prompt's inversion time? probe_protocol_sweep.py with the target
FLAIR (TR 9000 ms, TE 120 ms, 1.5 T) and the TI moved: T1w->FLAIR on held-out whole heads, scored
by the grey-white and CSF/GM ratios over the source's tissue classes and by SSIM and tissue Dice.

Why: the FLAIR every evaluation asks for (the preset, TI 2500 ms) lies at 1.13 x the CSF null of
the simulator, beyond the 0.88-1.12 that v6's training drew, and how much of v6's flat FLAIR is that
was unknown. ``--tis`` in ms; 2210 is the null (the centre of the training range), 2500 the preset.

    python src_training/launch/probe_flair_inversion_time.py v6=demo [LABEL=MODEL ...] --first-case 6 --cases 12 --json OUT.json
"""

from __future__ import annotations

import argparse

from _report import emit
from probe_protocol_sweep import sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="LABEL=MODEL (a name or a checkpoint folder)")
    parser.add_argument("--first-case", type=int, default=6)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--tis", type=float, nargs="+", default=[2210.0, 2500.0, 2800.0])
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    return emit(sweep(args.models, "FLAIR", "ti", args.tis, args.first_case, args.cases), args.json)


if __name__ == "__main__":
    raise SystemExit(main())
