"""Batch translation from the command line.

    python -m napari_evai2i.translate INPUT -p "PROMPT" -o OUTPUT [--model demo] [--device auto]
    python -m napari_evai2i.translate IN1 IN2 DICOM_FOLDER ... -p "PROMPT" -o OUTDIR

With one input, OUTPUT's form follows its name: ``.nii``/``.nii.gz``/``.mha``/``.nrrd``
write a file; an existing folder, a name ending in ``/`` or without an extension, or
``--format dicom`` a DICOM series folder; any other extension is refused. With several inputs, or a folder that
holds several DICOM series (directly or one per sub-folder), OUTPUT is a folder and each
series gets ``<name>_SYNTHETIC`` in the input's own format (``--format`` to choose). The
model is loaded once; a bad input is reported and skipped, the rest go on, and a summary
line ends the run. Every output is marked synthetic and has a ``.json`` provenance sidecar.
Errors are one line on stderr and a non-zero exit, never a traceback.

This module imports only the standard library at start-up, so ``--help`` is instant;
torch and the I/O libraries are imported when there is work to do.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

#: Output formats of ``--format``; "auto" keeps each input's kind (DICOM stays DICOM).
FORMATS = ("auto", "nii.gz", "nii", "mha", "nrrd", "dicom")
SYNTHETIC_SUFFIX = "_SYNTHETIC"
EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def _batch_size(text: str) -> int:
    """A count option (--batch-size, --uncertainty, --tag-effects): a whole number, 0 meaning auto or
    off; refused before anything is loaded."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (auto) or more, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m napari_evai2i.translate",
        description="Translate MR volumes into the imaging domain a prompt describes (slice-wise). "
                    "Every result is a SYNTHETIC image and is marked as such.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="NIfTI/MHA/NRRD file, DICOM file, DICOM series folder, or a folder of DICOM series")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("-p", "--prompt", help="target prompt text")
    target.add_argument("--prompt-from-dicom", metavar="FILE",
                        help="build the target prompt from this DICOM file's (or folder's) tags")
    parser.add_argument("-o", "--output", required=True,
                        help="one input: output file (.nii, .nii.gz, .mha, .nrrd) or folder for a DICOM series; "
                             "several: the output folder")
    parser.add_argument("--format", choices=FORMATS, default="auto",
                        help="output format (auto: one input: by OUTPUT's extension; several: the input's own, "
                             "DICOM stays DICOM)")
    parser.add_argument("--model", default="demo",
                        help="built-in model name (demo, tiny-random, paper-random) or checkpoint folder")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="auto: bf16 on CUDA, fp32 on CPU; bf16 on a CPU is faster where the CPU "
                             "has bf16 instructions, within 1%% of fp32")
    parser.add_argument("--axis", type=int, choices=(0, 1, 2), default=0,
                        help="array axis to slice along (0 = first axis of the (Z, Y, X) volume)")
    parser.add_argument("--batch-size", type=_batch_size, default=None,
                        help="slices per forward pass; 0 or omitted: auto (as many as the memory budget allows)")
    parser.add_argument("--planes", type=int, choices=(1, 3), default=3,   # engine.planes.DEFAULT_PLANES
                        help="3 (default): translate along every axis whose pixels are near square and fuse "
                             "(no stripes in reformats, 2.5-3x the time of one plane); 1: slices along --axis only")
    parser.add_argument("--fusion", choices=("resolution", "mean", "median"), default="resolution",
                        help="--planes 3: how the planes are fused (resolution: weighted by how square each "
                             "plane's pixels are)")
    parser.add_argument("--uncertainty", type=_batch_size, default=0, metavar="N",
                        help="also write <output>_uncertainty: the per-voxel SD over at most N passes (other "
                             "prompt wordings, mirrored input, other planes); costs N translations; 0: off")
    parser.add_argument("--tag-effects", type=_batch_size, default=0, metavar="SLICES",
                        help="measure what each tag of the prompt does on this many slices (leave it out, "
                             "translate again); the table goes to stderr and the sidecar; 0: off")
    parser.add_argument("--source-prompt", default=None,
                        help="prompt of the input's own domain (default: built from its DICOM tags when "
                             "it has any; else the contrast its file name or series description names; "
                             "else the contrast reader's reading of the image, when it is sure; else none. "
                             "\"\" for none at all)")
    parser.add_argument("--series-uid", default=None,
                        help="which series to read from a DICOM folder (and from a --prompt-from-dicom folder)")
    parser.add_argument("--nonfinite", choices=("refuse", "zero"), default="refuse",
                        help="NaN or infinite input voxels: refuse (default: say how many) or zero (set them to 0; "
                             "the count goes in the provenance)")
    parser.add_argument("--no-reorient", dest="reorient", action="store_false",
                        help="slice the arrays as stored instead of turning them to the axes the model was "
                             "trained in (RAS; the output is always in the input's own layout)")
    parser.add_argument("--deidentify", action="store_true",
                        help="DICOM output: replace patient identity with anonymous values")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


@dataclass(frozen=True)
class Job:
    """One series to translate: where it is read from and where its translation goes."""

    source: Path
    series_uid: str | None
    output: Path

    @property
    def name(self) -> str:
        return f"{self.source} (series {self.series_uid})" if self.series_uid else str(self.source)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning
        warnings.simplefilter("default")
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        jobs, many = plan(args)
        prompt = target_prompt(args)
        if args.tag_effects:                 # refuse a prompt without tags before any work is done
            from .engine.attribution import target_fields
            from .engine.request import TranslationRequest

            target_fields(TranslationRequest(prompt))
        check_outputs(jobs, args)
        translator = _load(args)
        translator.embed_prompt(prompt)      # a prompt too long for the text encoder fails here, not after reading
    except KeyboardInterrupt:
        print("error: interrupted; no output was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {command_wording(exc)}", file=sys.stderr)
        return EXIT_ERROR
    started, failed = time.perf_counter(), 0
    for job in jobs:
        try:
            print(translate_one(job, prompt, translator, args), flush=True)
        except KeyboardInterrupt:
            print(f"error: interrupted during {job.name}; its output was not written", file=sys.stderr)
            return EXIT_INTERRUPTED
        except (ValueError, OSError, RuntimeError) as exc:
            if not many:
                print(f"error: {command_wording(exc)}", file=sys.stderr)
                return EXIT_ERROR
            failed += 1
            print(f"error: {job.name}: {command_wording(exc)} (skipped)", file=sys.stderr)
    if not many:
        return EXIT_OK
    done = len(jobs) - failed
    print(f"translated {done} of {len(jobs)} series into {args.output} in {time.perf_counter() - started:.1f} s"
          + (f"; {failed} failed (see the errors above)" if failed else ""), file=sys.stderr)
    if done == 0:
        return EXIT_ERROR
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning is one line a user can act on, not a source location."""
    print(f"warning: {command_wording(message)}", file=sys.stderr, flush=True)


#: The engine's and readers' parameter names -> this command's flags, for messages that name them.
_FLAGS = {"series_uid": "--series-uid", "nonfinite": "--nonfinite", "planes": "--planes",
          "batch_size": "--batch-size", "overwrite": "--overwrite", "device": "--device",
          "precision": "--precision", "uncertainty_passes": "--uncertainty", "source_prompt": "--source-prompt"}
_OPTION = re.compile(r"\b(" + "|".join(_FLAGS) + r")=(\.\.\.|'[^']*'|\"[^\"]*\"|[\w.-]+)")


def command_wording(message: object) -> str:
    """A message with Python parameters (``series_uid=...``, ``overwrite=True``) named as flags."""
    def flag(match: re.Match) -> str:
        name, value = match.group(1), match.group(2).strip("'\"")
        if name == "overwrite":
            return _FLAGS[name]
        return _FLAGS[name] + ("" if value == "..." else f" {value}")

    return _OPTION.sub(flag, str(message))


def target_prompt(args: argparse.Namespace) -> str:
    prompt = args.prompt
    if args.prompt_from_dicom:
        from .prompts import canonical_prompt, fields_from_dicom

        source = Path(args.prompt_from_dicom).expanduser()
        prompt = canonical_prompt(fields_from_dicom(source, series_uid=args.series_uid if source.is_dir() else None))
    if not prompt or not prompt.strip():
        raise ValueError("the target prompt is empty")
    return prompt


def plan(args: argparse.Namespace) -> tuple[list[Job], bool]:
    """The series to translate and their outputs; True when OUTPUT is a folder of results."""
    inputs = [Path(p).expanduser() for p in args.inputs]
    output = Path(args.output).expanduser()
    for path in inputs:
        if output.resolve() == path.resolve():
            raise ValueError(f"output {output} is the input; choose another output path")
    sources: list[tuple[Path, str | None]] = []
    for path in inputs:
        sources.extend(_series_of(path, args.series_uid))
    many = len(sources) > 1
    if not many:
        return [Job(*sources[0], single_output(output, args.output, args.format))], False
    if output.exists() and not output.is_dir():
        raise ValueError(f"{output} is a file; with several inputs the output must be a folder")
    jobs, used = [], set()
    for source, uid in sources:
        name = _free_name(_output_name(source, uid, args.format), used)
        jobs.append(Job(source, uid, output / name))
    return jobs, True


def single_output(output: Path, text: str, fmt: str) -> Path:
    """The one input's output, with its form settled by name or ``--format`` (never by guessing)."""
    from .engine.pipeline import is_file_output
    from .io.read import file_extension

    if fmt == "dicom":
        if is_file_output(output):
            raise ValueError(f"--format dicom writes a folder, but {output} names a {file_extension(output)} file; "
                             "give a folder name")
        return output
    if fmt != "auto":
        if file_extension(output) != f".{fmt}":
            raise ValueError(f"--format {fmt} but the output {output} does not end in .{fmt}; name it "
                             f"{output.name}.{fmt} or leave --format out")
        return output
    if is_file_output(output) or output.is_dir() or text.endswith(("/", "\\")) or not output.suffix:
        return output
    raise ValueError(f"output {output}: unknown extension {output.suffix!r}; write a file as .nii.gz, .nii, .mha "
                     "or .nrrd, a DICOM series into a folder (a name without extension, ending in /, or "
                     "--format dicom)")


def check_outputs(jobs: list[Job], args: argparse.Namespace) -> None:
    """Every output place checked before the model is loaded (not after minutes of translation)."""
    from .engine.pipeline import check_output

    for job in jobs:
        check_output(job.output, overwrite=args.overwrite, protect=(job.source,), uncertainty=bool(args.uncertainty))


def _series_of(path: Path, series_uid: str | None) -> list[tuple[Path, str | None]]:
    """A file is one series; a folder is each DICOM series in it, or in each of its sub-folders."""
    if not path.is_dir() or series_uid is not None:
        return [(path, series_uid)]
    from .io import list_dicom_series

    found = list_dicom_series(path)
    if len(found) == 1:
        return [(path, None)]
    if found:
        return [(path, info.uid) for info in found]
    nested = []
    for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        nested.extend(_series_of(sub, None))
    return nested or [(path, None)]          # nothing inside: the reader says why


def _output_name(source: Path, series_uid: str | None, fmt: str) -> str:
    from .io.read import file_extension

    extension = file_extension(source)                  # "" for a DICOM folder
    name = source.name[: len(source.name) - len(extension)]
    if series_uid:
        name = f"{name}_{series_uid.split('.')[-1]}"
    if fmt == "auto":
        fmt = {".nii": "nii.gz", ".nii.gz": "nii.gz", ".mha": "mha", ".mhd": "mha", ".nrrd": "nrrd",
               ".nhdr": "nrrd"}.get(extension, "dicom")
    return f"{name}{SYNTHETIC_SUFFIX}" + ("" if fmt == "dicom" else f".{fmt}")


def _free_name(name: str, used: set[str]) -> str:
    stem, dot, ext = name.partition(".")
    candidate, n = name, 2
    while candidate in used:
        candidate = f"{stem}_{n}{dot}{ext}"
        n += 1
    used.add(candidate)
    return candidate


def _load(args: argparse.Namespace):
    from .engine import load_model

    translator = load_model(args.model, args.device, args.precision)
    if not translator.trained:
        print(f"warning: model {translator.label} is untrained; its output is not a meaningful image",
              file=sys.stderr)
    return translator


def translate_one(job: Job, prompt: str, translator, args: argparse.Namespace) -> Path:
    """Read, translate, write one series through the engine's one pipeline; returns the output."""
    from tqdm import tqdm

    from .engine.pipeline import TranslationRequest, VolumeTranslation, write_translation
    from .engine.source_contrast import describe_source_prompt
    from .io import read_volume

    volume = read_volume(job.source, series_uid=job.series_uid)
    request = TranslationRequest(target=prompt, model=translator.name, device=str(translator.device),
                                 precision=translator.precision, axis=args.axis, batch_size=args.batch_size,
                                 source_prompt=args.source_prompt, planes=args.planes, fusion=args.fusion,
                                 uncertainty_passes=args.uncertainty, nonfinite=args.nonfinite,
                                 reorient=args.reorient)
    translation = VolumeTranslation(volume, request, translator)
    if args.planes != 1 and not args.quiet:
        print(f"{job.name}: {translation.plan.describe()}", file=sys.stderr, flush=True)
    if not args.quiet:
        for line in translation.in_plane_resampling():
            print(f"{job.name}: {line}", file=sys.stderr, flush=True)
    if not args.quiet and translation.orientation.turned:
        print(f"{job.name}: {translation.orientation.sentence()}", file=sys.stderr, flush=True)
    if not args.quiet:
        print(f"{job.name}: {describe_source_prompt(translation.request.source_prompt, translation.source_prompt_origin)}",
              file=sys.stderr, flush=True)
    with tqdm(total=translation.total, unit="slice", desc=f"translating {job.source.name}", disable=args.quiet,
              file=sys.stderr) as bar:
        result = translation.run(lambda done, total: bar.update(done - bar.n))
    if args.tag_effects:
        from .engine.attribution import middle_slices, tag_effects

        slices = middle_slices(volume.array.shape[args.axis], args.tag_effects)
        report = tag_effects(volume, translation.request, translator, slices=slices)
        result.provenance["tag_effects"] = report.to_dict()
        if not args.quiet:
            print(f"{job.name}: tag effects on slices {list(slices)} (mean |without - with| / mean |with|):\n"
                  f"{report.table()}", file=sys.stderr, flush=True)
    return write_translation(result, job.output, reference=volume, deidentify=args.deidentify,
                             protect=(job.source,), overwrite=args.overwrite)


def run_command() -> None:
    """Entry point of the command: :func:`main`, then exit without tearing down the interpreter.

    Every output is written, closed and renamed into place before :func:`main` returns, so
    nothing is left for interpreter shutdown to do except unload torch, which takes 1.5-2.7 s
    on our CPU (docs/performance.md). ``os._exit`` skips that; streams are flushed first.
    """
    import os

    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run_command()
