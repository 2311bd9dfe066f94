"""Batch translation from the command line.

    python -m napari_evai2i.translate INPUT -p "PROMPT" -o OUTPUT [--model demo] [--device auto]

INPUT is a NIfTI/MHA/NRRD file, a DICOM file or a DICOM series folder; OUTPUT's form
follows its name: ``.nii``/``.nii.gz``/``.mha``/``.nrrd`` write a file, anything else a
DICOM series folder. Output geometry equals the input's; every output is marked
synthetic. Errors are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FILE_SUFFIXES = (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".nhdr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m napari_evai2i.translate",
        description="Translate an MR volume into the imaging domain a prompt describes (slice-wise). "
                    "The result is a SYNTHETIC image and is marked as such.")
    parser.add_argument("input", help="NIfTI/MHA/NRRD file, DICOM file or DICOM series folder")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("-p", "--prompt", help="target prompt text")
    target.add_argument("--prompt-from-dicom", metavar="FILE",
                        help="build the target prompt from this DICOM file's (or folder's) tags")
    parser.add_argument("-o", "--output", required=True,
                        help="output file (.nii, .nii.gz, .mha, .nrrd) or folder for a DICOM series")
    parser.add_argument("--model", default="demo",
                        help="built-in model name (demo, tiny-random, paper-random) or checkpoint folder")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="auto: bf16 on CUDA, fp32 on CPU; bf16 on a CPU is faster where the CPU "
                             "has bf16 instructions, within 1%% of fp32")
    parser.add_argument("--axis", type=int, choices=(0, 1, 2), default=0,
                        help="array axis to slice along (0 = first axis of the (Z, Y, X) volume)")
    parser.add_argument("--batch-size", type=int, default=None, help="slices per forward pass")
    parser.add_argument("--source-prompt", default=None,
                        help="prompt of the input's own domain (default: built from its DICOM tags "
                             "when it has any; unknown otherwise)")
    parser.add_argument("--series-uid", default=None, help="which series to read from a DICOM folder")
    parser.add_argument("--deidentify", action="store_true",
                        help="DICOM output: replace patient identity with anonymous values")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        output = run(args)
    except KeyboardInterrupt:
        print("error: interrupted; no output was written", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(output)
    return 0


def run(args: argparse.Namespace) -> Path:
    """Read, translate, write; returns the output path. Raises ValueError on bad input."""
    from tqdm import tqdm

    from .engine import load_model
    from .engine.provenance import derived_tags, image_comments, series_description
    from .io import SYNTHETIC_NOTICE, read_volume, write_dicom_series, write_volume
    from .prompts import canonical_prompt, fields_from_dicom, fields_from_tags

    input_path = Path(args.input)
    output = Path(args.output)
    if output.resolve() == input_path.resolve():
        raise ValueError(f"output {output} is the input; choose another output path")
    prompt = args.prompt
    if args.prompt_from_dicom:
        prompt = canonical_prompt(fields_from_dicom(args.prompt_from_dicom))
    if not prompt or not prompt.strip():
        raise ValueError("the target prompt is empty")

    volume = read_volume(input_path, series_uid=args.series_uid)
    source_prompt = args.source_prompt
    if source_prompt is None and volume.tags:
        source_prompt = canonical_prompt(fields_from_tags(volume.tags))
    modality = str(volume.tags.get("Modality", "MR")).upper() or "MR"

    translator = load_model(args.model, args.device, args.precision)
    if not translator.trained:
        print(f"warning: model {translator.label} is untrained; its output is not a meaningful image",
              file=sys.stderr)
    n_slices = volume.array.shape[args.axis]
    with tqdm(total=n_slices, unit="slice", desc="translating", disable=args.quiet,
              file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        result = translator.translate(volume.array, prompt, axis=args.axis, batch_size=args.batch_size,
                                      progress=progress, source_prompt=source_prompt,
                                      modality="CT" if modality == "CT" else "MR")
    translated = volume.with_array(result)
    translated.tags = derived_tags(volume.tags, prompt, translator.label)
    protect = [input_path]
    if _is_file_output(output):
        return write_volume(translated, output, description=SYNTHETIC_NOTICE, protect=protect,
                            overwrite=args.overwrite)
    write_dicom_series(translated, output, series_description=series_description(prompt),
                       image_comments=image_comments(prompt, translator.label),
                       derived=True, reference=volume, deidentify=args.deidentify,
                       protect=protect, overwrite=args.overwrite)
    return output


def _is_file_output(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in FILE_SUFFIXES)


if __name__ == "__main__":
    sys.exit(main())
