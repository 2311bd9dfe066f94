"""Train widget, driven as a person drives it: typing into the boxes, clicking the buttons.

A real (tiny) training process runs: a live loss curve, the sample grid, Stop, and the
hand-over of the exported model to the Translate widget (docked as a tab beside Train).
"""

import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication, QDockWidget, QLineEdit, QTabBar

pytestmark = pytest.mark.gui

PLUGIN = "napari-evai2i"
# A few seconds of work: 2 DCLIP steps, then the generator until Stop; a sample grid at
# generator step 2 (image_every=2, and every step is logged).
QUICK = "crop_size=64 gen_batch=2 clip_batch=3 eval_slices=4 log_every=1 image_every=2 ckpt_every=1000"
LEFT = Qt.MouseButton.LeftButton


def type_text(qtbot, box, text):
    """Select what the box holds (Ctrl+A) and type ``text`` over it, key by key."""
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, text)


def line_edit_of(file_edit):
    return file_edit.native.findChild(QLineEdit)


def click(qtbot, button):
    qtbot.mouseClick(button.native, LEFT)


def dock_of(widget):
    parent = widget.native.parentWidget()
    while not isinstance(parent, QDockWidget):
        parent = parent.parentWidget()
    return parent


def shown(dock):
    QApplication.processEvents()
    return not dock.visibleRegion().isEmpty()


def docked_translate_widgets(viewer):
    from napari_evai2i.plugin.widgets.translate import TranslateWidget

    return [w for w in viewer.window.dock_widgets.values() if isinstance(w, TranslateWidget)]


@pytest.fixture
def train_widget(make_napari_viewer):
    viewer = make_napari_viewer(show=True)        # shown: which dock tab is in front is a question of pixels
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Train")
    yield viewer, widget
    widget.shutdown()


def test_first_sample_follows_the_trainer_schedule():
    """Only the generator stages write grids, at a multiple of image_every that is also logged."""
    from napari_evai2i.plugin.training_run import first_sample, sample_schedule
    from napari_evai2i.train.config import load_train_config

    def first(*overrides):
        return first_sample(load_train_config("demo", list(overrides)))

    assert first() == ("init", 100)                                          # demo: image_every 100, log 10
    assert first("image_every=1", "log_every=5") == ("init", 1)              # a stage's first step is logged
    assert first("image_every=20", "log_every=30", "init_steps=50") == ("finetune", 60)   # lcm 60 > 50
    assert first("image_every=25", "log_every=30", "init_steps=50") == ("init", 50)       # the last step is logged
    assert first("init_steps=0") == ("finetune", 100)
    assert first("init_steps=0", "finetune_steps=0") is None                 # DCLIP alone makes no grids
    with pytest.raises(ValueError, match="image_every must be at least 1"):     # refused, not divided by
        first("image_every=0")
    text = sample_schedule(load_train_config("demo", ["init_steps=30"]))
    assert text == ("No sample image yet: the first comes after step 100 of the finetune stage "
                    "(after the 400 clip and 30 init steps).")


@pytest.mark.slow
def test_training_runs_plots_stops_and_hands_over_the_model(train_widget, qtbot, tmp_path):
    from napari_evai2i.engine import load_model
    from napari_evai2i.train.config import load_train_config, recipe_path

    viewer, widget = train_widget
    assert widget.config.value == recipe_path("demo")        # the demo recipe shipped in the package
    recipe = load_train_config(widget.config.value)
    assert (widget.clip_steps.value, widget.init_steps.value, widget.finetune_steps.value) == (
        recipe.clip_steps, recipe.init_steps, recipe.finetune_steps)  # prefilled from the recipe
    assert widget.sample.text() == ("No sample image yet: the first comes after step 100 of the init stage "
                                    "(after the 400 clip steps).")

    run = tmp_path / "run"
    type_text(qtbot, line_edit_of(widget.out), str(run))
    for box, steps in ((widget.clip_steps, "2"), (widget.init_steps, "500"), (widget.finetune_steps, "0")):
        type_text(qtbot, box.native, steps)
    qtbot.keyClicks(widget.device.native, "cpu")
    type_text(qtbot, widget.overrides.native, QUICK)
    assert widget.device.value == "cpu"
    # What was typed (step counts, image_every in the overrides) says when the first grid comes.
    schedule = "No sample image yet: the first comes after step 2 of the init stage (after the 2 clip steps)."
    assert widget.sample.text() == schedule

    click(qtbot, widget.start_button)
    assert widget.running and widget.stop_button.enabled and not widget.start_button.enabled
    status = widget.status.value
    assert status == f"Starting training in {tmp_path.name}/run ..."          # one short line
    assert "\n" not in status and "napari_evai2i.train" not in status
    command = widget.status.tooltip                                         # the whole command is kept
    assert "-m napari_evai2i.train" in command and f"--out {run}" in command and "device=cpu" in command
    assert "clip_steps=2" in command and "init_steps=500" in command and "image_every=2" in command
    assert widget.sample.text() == schedule and widget.sample.pixmap().isNull()

    def sample_shown():
        widget.poll()
        return not widget.sample.pixmap().isNull()

    qtbot.waitUntil(sample_shown, timeout=120_000)
    widget.poll()                                           # the metrics line is written before the grid
    assert any(r.get("stage") == "init" and r.get("step") == 2 and "loss" in r for r in widget.records)
    assert widget.plot.line_count >= 2                      # clip and init curves
    assert widget.sample.pixmap().height() <= 220
    with qtbot.waitSignal(widget.training_finished, timeout=120_000) as finished:
        click(qtbot, widget.stop_button)
    assert finished.args == [0], widget.log.value
    assert widget.status.value == "Stopped; model in run/model." and not widget.running
    assert not widget.sample.pixmap().isNull()              # the last grid stays after the run

    model = run / "model"
    translator = load_model(model, "cpu")
    assert translator.trained and translator.name == "model"
    assert widget.use_button.enabled
    with qtbot.waitSignal(widget.model_ready):
        click(qtbot, widget.use_button)
    [translate] = docked_translate_widgets(viewer)
    assert translate.model.model_source() == str(model.resolve())
    window = viewer.window._qt_window
    train_dock, translate_dock = dock_of(widget), dock_of(translate)
    assert translate_dock in window.tabifiedDockWidgets(train_dock)        # a tab beside Train, not below it
    assert shown(translate_dock) and not shown(train_dock)                 # ... and the tab in front
    assert window.minimumSizeHint().height() <= 900                        # fits a 1000-pixel-high screen

    # Back to the Train tab; "Use in Translate" again raises the Translate dock already there.
    tabs = next(bar for bar in window.findChildren(QTabBar)
                if any(bar.tabText(i).startswith("Train") for i in range(bar.count())))
    train_tab = next(i for i in range(tabs.count()) if tabs.tabText(i).startswith("Train"))
    qtbot.mouseClick(tabs, LEFT, pos=tabs.tabRect(train_tab).center())
    assert shown(train_dock) and not shown(translate_dock)
    with qtbot.waitSignal(widget.model_ready):
        click(qtbot, widget.use_button)
    assert docked_translate_widgets(viewer) == [translate]
    assert shown(translate_dock) and not shown(train_dock)


def test_a_typed_recipe_sets_the_step_counts_and_the_sample_schedule(train_widget, qtbot, tmp_path):
    _, widget = train_widget
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("clip_steps: 5\ninit_steps: 0\nfinetune_steps: 40\nimage_every: 8\nlog_every: 4\n")
    type_text(qtbot, line_edit_of(widget.config), str(recipe))      # half-typed paths on the way: no error
    assert (widget.clip_steps.value, widget.init_steps.value, widget.finetune_steps.value) == (5, 0, 40)
    assert widget.status.value == "Not running."
    assert widget.sample.text() == ("No sample image yet: the first comes after step 8 of the finetune stage "
                                    "(after the 5 clip steps).")
    type_text(qtbot, widget.finetune_steps.native, "6")
    assert widget.sample.text().startswith("No sample images in this run")


def test_bad_override_is_reported_without_starting(train_widget, qtbot):
    _, widget = train_widget
    type_text(qtbot, widget.overrides.native, "no_such_key=1")
    assert "no_such_key" in widget.sample.text()
    click(qtbot, widget.start_button)
    assert not widget.running and "Cannot start" in widget.status.value and "no_such_key" in widget.status.value
