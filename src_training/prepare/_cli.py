"""What the manifest builders share: their common options and their ``main()``.

A builder supplies ``build(args) -> (manifest, skipped counts, notes)``; :func:`run` refuses to
replace an output without ``--overwrite``, applies the random split, saves, prints the notes
and a one-line summary, and turns a user's mistake into one ``error:`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from napari_evai2i.data.manifest import Manifest

Build = Callable[[argparse.Namespace], tuple[Manifest, dict[str, int], list[str]]]


class UsageError(Exception):
    """A mistake in the command line or the input tree (reported, never a traceback)."""


def base_parser(doc: str, root_help: str, organ_help: str) -> argparse.ArgumentParser:
    """A parser with the input root, ``-o/--output`` and ``--organ``; add the builder's own
    options, then :func:`add_split_options`."""
    out = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    out.add_argument("root", type=Path, help=root_help)
    out.add_argument("-o", "--output", type=Path, required=True, help="manifest file (.json or .csv)")
    out.add_argument("--organ", help=organ_help)
    return out


def add_split_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The random split and ``--overwrite`` (last in ``--help``)."""
    parser.add_argument("--valid-fraction", type=float, default=0.0, help="subjects put in the valid split")
    parser.add_argument("--test-fraction", type=float, default=0.0, help="subjects put in the test split")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random split")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return parser


def run(args: argparse.Namespace, build: Build, noun: tuple[str, str]) -> int:
    """Build, split, save and report; ``noun`` names an entry, singular and plural."""
    try:
        if args.output.exists() and not args.overwrite:
            raise UsageError(f"{args.output}: already exists (use --overwrite)")
        manifest, skipped, notes = build(args)
        if args.valid_fraction or args.test_fraction:
            manifest = manifest.with_random_splits(args.valid_fraction, args.test_fraction, args.seed)
        path = manifest.save(args.output)
    except (UsageError, ValueError, OSError) as exc:
        print(f"error: {exc}".replace("\n", " "), file=sys.stderr)
        return 2
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    single = sum(1 for entries in manifest.by_subject().values() if len(entries) < 2)
    skipped_text = ", ".join(f"{v} {k}" for k, v in skipped.items() if v)
    print(f"wrote {path}: {len(manifest.subjects())} subjects, {len(manifest)} {noun[1]}"
          + (f", {single} subjects with a single {noun[0]}" if single else "")
          + (f" (skipped: {skipped_text})" if skipped_text else ""))
    return 0
