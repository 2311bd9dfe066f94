"""Render the user-guide screenshots from the real napari window.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py

Needs a real X display (Xvfb is fine) with Qt's xcb platform: under QT_QPA_PLATFORM=offscreen
the canvas comes out blank. Writes docs/images/{main_window,translate_side_by_side,
translate_volume_options,prompt_explorer,train_widget,train_use_in_translate,
translate_read_source,translate_prompt_conflict}.png. Uses the 2 mm sample and whatever model the Translate widget offers first
(the trained demo when installed, else the UNTRAINED tiny-random model, whose output is noise).
Name shots (``translate_read_source``, ...) after the command to render only those.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

IMAGES = Path(__file__).resolve().parent / "images"
PLUGIN = "napari-evai2i"
WINDOW = (1560, 960)
# A short training: two DCLIP steps, then generator steps until we press Stop.
TRAIN_OVERRIDES = "crop_size=64 gen_batch=2 clip_batch=3 eval_slices=4 log_every=1 image_every=1 ckpt_every=1000"


def settle(seconds: float = 0.5) -> None:
    """Let Qt lay out and paint (several event-loop rounds)."""
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def wait_for(condition, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(f"gave up waiting for {what}")
        settle(0.1)


def scroll_to_top(widget) -> None:
    """Docks scroll to keep the focused control visible; start the picture at the top."""
    from qtpy.QtWidgets import QScrollArea

    parent = widget.native
    while parent is not None:
        if isinstance(parent, QScrollArea):
            parent.verticalScrollBar().setValue(0)
        parent = parent.parentWidget()


def shoot(viewer, name: str, widget=None) -> Path:
    import imageio.v3 as iio

    settle(1.0)
    if widget is not None:
        scroll_to_top(widget)
    settle(0.5)
    image = viewer.screenshot(canvas_only=False, flash=False)
    path = IMAGES / name
    iio.imwrite(path, image)
    print(f"wrote {path} {image.shape}")
    return path


def run_to_the_end(widget, timeout: float, what: str) -> None:
    """Run the Translate widget and wait until it is done; anything else is an error."""
    outcome = []
    widget.run_finished.connect(outcome.append)
    widget.run()
    wait_for(lambda: outcome, timeout, what)
    if outcome != ["done"]:
        raise RuntimeError(f"translation ended with {outcome}: {widget.status.value}")


def translate_side_by_side(viewer) -> None:
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Translate")
    widget.source.value = viewer.layers["T1w (simulated)"]
    widget.prompt.known.value = "T2W"
    widget.reference.value = viewer.layers["T2w ground truth (simulated)"]
    widget.batch_size.value = 8
    run_to_the_end(widget, 600, "the translation")
    widget.toggle_side_by_side()
    dock.raise_()
    shoot(viewer, "translate_side_by_side.png", widget)
    widget.toggle_side_by_side()


def translate_to_t2w(viewer, source, *, planes: int, uncertainty: int, tag_effects: bool):
    """Dock Translate set to turn ``source`` into the T2W preset with these volume options."""
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Translate")
    widget.source.value = source
    widget.prompt.known.value = "T2W"
    widget.reference.value = None
    widget.planes.value = planes
    widget.uncertainty_passes.value = uncertainty
    widget.tag_effects.value = tag_effects
    return dock, widget


def volume_options(viewer) -> None:
    """Three planes fused, an uncertainty map and the tag-effect table, shown in a coronal reformat."""
    dock, widget = translate_to_t2w(viewer, viewer.layers["T1w (simulated)"], planes=3, uncertainty=5, tag_effects=True)
    run_to_the_end(widget, 900, "the tri-planar translation")
    translation = next(layer for layer in viewer.layers
                       if layer.name.startswith("SYNTHETIC T2w <-"))
    uncertainty = next(layer for layer in viewer.layers if "uncertainty" in layer.name)
    for layer in viewer.layers:
        layer.visible = layer in (translation, uncertainty)
    viewer.grid.enabled = True
    viewer.dims.order = (1, 0, 2)          # a coronal reformat: where slice-by-slice stripes would show
    dock.raise_()
    shoot(viewer, "translate_volume_options.png", widget)
    viewer.grid.enabled = False
    viewer.dims.order = (0, 1, 2)
    for layer in viewer.layers:
        layer.visible = "uncertainty" not in layer.name and "effect of" not in layer.name


def prompt_explorer(viewer) -> None:
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Prompt explorer", tabify=True)
    widget.source.value = viewer.layers["T1w (simulated)"]
    widget.preset_b.value = "FLAIR"
    shown = []
    widget.preview_updated.connect(shown.append)
    widget.t.value = 0.5
    wait_for(lambda: shown, 300, "the live slice")
    for layer in viewer.layers:
        layer.visible = layer.name == "T1w (simulated)" or layer.name.startswith("SYNTHETIC T1w->")
    dock.raise_()
    shoot(viewer, "prompt_explorer.png", widget)


def translate_read_source(viewer) -> None:
    """A real scan without tags (nibabel's anatomical.nii), its source left to the contrast reader."""
    import nibabel

    path = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    for layer in list(viewer.layers):
        layer.visible = False
    (layer,) = viewer.open(str(path), plugin=PLUGIN)
    viewer.reset_view()
    dock, widget = translate_to_t2w(viewer, layer, planes=1, uncertainty=0, tag_effects=False)
    run_to_the_end(widget, 300, "the translation of anatomical.nii")
    dock.raise_()
    shoot(viewer, "translate_read_source.png", widget)


def translate_prompt_conflict(viewer) -> None:
    """A form prompt whose word (T2-weighted) contradicts its timing (TR 4000, TE 30): the warning."""
    dock, widget = translate_to_t2w(viewer, viewer.layers["T1w (simulated)"], planes=1, uncertainty=0,
                                    tag_effects=False)
    widget.prompt.mode.value = "form"
    widget.prompt.form.repetition_time.value = 4000
    widget.prompt.form.echo_time.value = 30
    widget.prompt.form.sequence.value = "T2-weighted"
    run_to_the_end(widget, 600, "the translation with a contradictory prompt")
    dock.raise_()
    shoot(viewer, "translate_prompt_conflict.png", widget)


def train_widget(viewer, out: Path) -> None:
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Train", tabify=True)
    widget.out.value = out
    widget.clip_steps.value, widget.init_steps.value, widget.finetune_steps.value = 2, 500, 0
    widget.device.value = "cpu"
    widget.overrides.value = TRAIN_OVERRIDES
    finished = []
    widget.training_finished.connect(finished.append)
    widget.start()
    dock.raise_()

    def enough_steps() -> bool:
        widget.poll()
        return sum(1 for r in widget.records if r.get("stage") == "init" and "loss" in r) >= 6

    wait_for(enough_steps, 600, "a few generator steps")
    widget.stop()
    wait_for(lambda: finished, 300, "the trainer to stop")
    shoot(viewer, "train_widget.png", widget)
    widget.use_in_translate()             # Translate comes to the front, as a tab beside Train
    shoot(viewer, "train_use_in_translate.png")


def main() -> int:
    import napari

    IMAGES.mkdir(parents=True, exist_ok=True)
    from napari_evai2i.plugin.launch import open_viewer_with_sample

    only = set(sys.argv[1:])
    viewer = open_viewer_with_sample("simulated_brain_2mm")     # the main job's window
    viewer.window.resize(*WINDOW)
    settle()
    if not only:
        shoot(viewer, "main_window.png")
    for shot in (translate_side_by_side, volume_options, prompt_explorer):
        if not only or shot.__name__ in only:
            shot(viewer)
    if not only or "train_widget" in only:
        with tempfile.TemporaryDirectory() as tmp:
            train_widget(viewer, Path(tmp) / "run")
    if not only or "translate_read_source" in only:
        translate_read_source(viewer)
    if not only or "translate_prompt_conflict" in only:
        translate_prompt_conflict(viewer)
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
