"""Train widget: a real (tiny) training process, live loss curve, Stop, and the hand-over."""

import pytest

pytestmark = pytest.mark.gui

PLUGIN = "napari-evai2i"
# A few seconds of work: 2 DCLIP steps, then the generator until Stop.
QUICK = "crop_size=64 gen_batch=2 clip_batch=3 eval_slices=4 log_every=1 image_every=1 ckpt_every=1000"


@pytest.fixture
def train_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Train")
    yield viewer, widget
    widget.shutdown()


@pytest.mark.slow
def test_training_runs_plots_stops_and_hands_over_the_model(train_widget, qtbot, tmp_path):
    from napari_evai2i.engine import load_model
    from napari_evai2i.train.config import load_train_config

    viewer, widget = train_widget
    from napari_evai2i.train.config import recipe_path

    assert widget.config.value == recipe_path("demo")        # the demo recipe shipped in the package
    recipe = load_train_config(widget.config.value)
    assert (widget.clip_steps.value, widget.init_steps.value, widget.finetune_steps.value) == (
        recipe.clip_steps, recipe.init_steps, recipe.finetune_steps)  # prefilled from the recipe
    widget.out.value = tmp_path / "run"
    widget.clip_steps.value, widget.init_steps.value, widget.finetune_steps.value = 2, 500, 0
    widget.device.value = "cpu"
    widget.overrides.value = QUICK
    assert widget.command()[1:3] == ["-m", "napari_evai2i.train"]

    widget.start_button.clicked.emit()
    assert widget.running and widget.stop_button.enabled and not widget.start_button.enabled

    def generator_stage_logged():
        widget.poll()
        return any(r.get("stage") == "init" and "loss" in r for r in widget.records)

    qtbot.waitUntil(generator_stage_logged, timeout=120_000)
    assert widget.plot.line_count >= 2                       # clip and init curves
    with qtbot.waitSignal(widget.training_finished, timeout=120_000) as finished:
        widget.stop_button.clicked.emit()
    assert finished.args == [0], widget.log.value
    assert "Stopped" in widget.status.value and not widget.running
    assert widget.sample.pixmap() is not None and not widget.sample.pixmap().isNull()

    model = tmp_path / "run" / "model"
    translator = load_model(model, "cpu")
    assert translator.trained and translator.name == "model"
    assert widget.use_button.enabled
    with qtbot.waitSignal(widget.model_ready):
        widget.use_button.clicked.emit()
    _, translate = viewer.window.add_plugin_dock_widget(PLUGIN, "Translate")
    assert translate.model.model_source() == str(model.resolve())


def test_bad_override_is_reported_without_starting(train_widget):
    _, widget = train_widget
    widget.overrides.value = "no_such_key=1"
    widget.start_button.clicked.emit()
    assert not widget.running and "Cannot start" in widget.status.value and "no_such_key" in widget.status.value
