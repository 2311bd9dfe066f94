"""The main job: ``python -m napari_evai2i``.

With a display: napari opens with the sample subject and the Translate widget docked.
Without one (a server, CI): says so and runs the headless equivalent -- the sample T1w
volume is translated to T2w with the demo model and written as NIfTI.
``--default-reader`` only saves napari-evai2i as napari's reader for our file types.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

T2_PROMPT_KIND = "T2W"


def has_display() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def run_headless(out_dir: Path, model: str, device: str) -> list[Path]:
    """Write the sample T1w volume and its translation to T2w; returns both paths."""
    from .data.physics import PRESETS
    from .data.samples import sample_volumes
    from .engine import load_model
    from .engine.pipeline import TranslationRequest, VolumeTranslation, write_translation
    from .io import write_volume

    source = sample_volumes()["T1W"]
    prompt = PRESETS[T2_PROMPT_KIND].prompt()
    try:
        translator = load_model(model, device)
    except ValueError as exc:
        if model != "demo":
            raise
        print(f"warning: {exc}; using the untrained tiny-random model instead", file=sys.stderr)
        translator = load_model("tiny-random", device)
    print(f"model: {translator.label} on {translator.device}")
    print(f"prompt: {prompt}")
    out_dir.mkdir(parents=True, exist_ok=True)
    source_path = write_volume(source, out_dir / "sample_T1w_SIMULATED.nii.gz",
                               description="SIMULATED T1w sample (napari-evai2i)", overwrite=True)
    source.source_path = str(source_path)
    translation = VolumeTranslation(source, TranslationRequest(prompt, model=translator.name), translator)
    result = translation.run(lambda done, total: print(f"\rtranslated {done}/{total} slices", end="", flush=True))
    print()
    out_path = write_translation(result, out_dir / "sample_T1w_to_T2w_SYNTHETIC.nii.gz", overwrite=True)
    return [source_path, out_path]


def run_viewer() -> None:
    import napari

    from .plugin.launch import open_viewer_with_sample

    open_viewer_with_sample()
    napari.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_evai2i",
                                     description="Open napari with the sample volume and the Translate widget "
                                                 "(or, without a display, translate the sample headless).")
    parser.add_argument("--headless", action="store_true", help="never open a window")
    parser.add_argument("--out", default="evai2i_demo", help="headless output folder")
    parser.add_argument("--model", default="demo")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--default-reader", action="store_true",
                        help="make napari open .nii, .nii.gz, .mha, .mhd, .nrrd, .nhdr, .dcm, .dicom and .ima "
                             "files with napari-evai2i without asking (saved in napari's settings), then exit")
    args = parser.parse_args(argv)
    if args.default_reader:
        from .plugin.reader_choice import make_default_reader

        print(make_default_reader().summary())
        return 0
    if not args.headless and has_display():
        try:
            run_viewer()
            return 0
        except ImportError as exc:
            print(f"napari viewer unavailable ({exc}); running headless instead", file=sys.stderr)
    elif not args.headless:
        print("No display found (DISPLAY is not set): running the headless equivalent instead of "
              "opening napari.")
    try:
        paths = run_headless(Path(args.out), args.model, args.device)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"sample volume:      {paths[0]}")
    print(f"translation (T2w):  {paths[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
