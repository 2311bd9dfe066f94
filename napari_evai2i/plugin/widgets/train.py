"""The Train dock widget: run ``python -m napari_evai2i.train`` and watch it learn.

The trainer runs in a child process (QProcess), so napari stays responsive and a crash in
training cannot take the viewer down. Stop sends SIGTERM, on which the trainer finishes its
step, saves a checkpoint and exports ``OUT/model`` (a second Stop kills it). A QTimer polls
``OUT/metrics.jsonl`` for the loss curve and ``OUT/samples/latest.png`` for the newest
source | translation | target grid; until the first grid comes, its place says after which
step of which stage it will (from the recipe and overrides as typed). The status is one
short line; its tooltip holds the whole command. When a model has been exported, "Use in
Translate" selects it in the Translate widget and brings that widget to the front: docked
as a tab beside Train the first time (two docks stacked were taller than a 1000-pixel
screen), raised where it is when it is docked already.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import napari
from magicgui.widgets import ComboBox, Container, FileEdit, Label, LineEdit, PushButton, SpinBox
from napari.utils.notifications import show_error, show_warning
from psygnal import Signal
from qtpy.QtCore import QCoreApplication, QProcess, QProcessEnvironment, Qt, QTimer
from qtpy.QtGui import QPixmap
from qtpy.QtWidgets import QDockWidget, QLabel, QMainWindow, QWidget

from ..training_run import (STEP_KEYS, MetricsTail, RunFolder, build_command, default_config_path, model_folder,
                            parse_overrides, recipe_steps, run_config, sample_schedule)
from .choices import compact_combo_boxes
from .loss_plot import LossPlot
from .model_picker import device_choices

PLUGIN = "napari-evai2i"
MANIFEST_CHOICE = "manifest file"
POLL_MS = 1000
LOG_CHARS = 160
# The sample grid (rows of source | translation | target) is fitted into this box, keeping its
# aspect: wide enough to see, low enough that the dock still fits a 1000-pixel-high screen.
SAMPLE_WIDTH, SAMPLE_HEIGHT = 360, 220
READY_TEXT = "Not running."
# What a recipe or a half-typed override can raise: ValueError mostly, OSError for a path that
# is a folder, TypeError where a value is not a number ("clip_batch=" while typing).
BAD_INPUT = (ValueError, TypeError, OSError)


class TrainWidget(Container):
    """Recipe, data, output folder, step counts; Start/Stop; loss curve and sample grid."""

    training_finished = Signal(int)     #: the trainer's exit code
    model_ready = Signal(str)           #: OUT/model handed over with "Use in Translate"

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=True)
        self._viewer = viewer
        self._process: QProcess | None = None
        self._tail: MetricsTail | None = None
        self._sample_mtime = 0.0
        self._stopping = False
        recipe = default_config_path()
        self.config = FileEdit(label="recipe", mode="r", filter="*.yaml *.yml", value=recipe or "",
                               tooltip="training recipe YAML (default: the demo recipe shipped with the "
                                       "plugin); empty: built-in defaults")
        self.data = ComboBox(label="data", choices=["simulator", MANIFEST_CHOICE])
        self.manifest = FileEdit(label="manifest", mode="r", filter="*.json *.csv", visible=False)
        self.out = FileEdit(label="output folder", mode="d", value=Path.cwd() / "runs" / "napari")
        self.clip_steps = SpinBox(label="clip steps", min=0, max=10_000_000)
        self.init_steps = SpinBox(label="init steps", min=0, max=10_000_000)
        self.finetune_steps = SpinBox(label="finetune steps", min=0, max=10_000_000)
        self.device = ComboBox(label="device", choices=device_choices())
        self.overrides = LineEdit(label="overrides",
                                  tooltip="more key=value recipe overrides, e.g. lr=1e-4 gen_batch=4")
        self.start_button = PushButton(text="Start")
        self.stop_button = PushButton(text="Stop", enabled=False)
        self.use_button = PushButton(text="Use in Translate", enabled=False)
        self.status = Label(label="status", value=READY_TEXT)
        self.log = Label(label="log", value="", tooltip="last line the trainer printed")
        for label in (self.status, self.log):
            label.native.setWordWrap(True)
        self.plot = LossPlot()
        self.sample = QLabel()
        self.sample.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sample.setWordWrap(True)
        self.sample.setMinimumHeight(SAMPLE_HEIGHT)     # room for the grid: it is never cut
        views = Container(labels=False)
        views.native.layout().addWidget(self.plot)
        views.native.layout().addWidget(self.sample)
        buttons = Container(widgets=[self.start_button, self.stop_button, self.use_button], layout="horizontal",
                            labels=False)
        self.extend([self.config, self.data, self.manifest, self.out, self.clip_steps, self.init_steps,
                     self.finetune_steps, self.device, self.overrides, buttons, self.status, self.log, views])
        compact_combo_boxes(self)
        self._timer = QTimer(self.native)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self.config.changed.connect(self._load_recipe_steps)
        # magicgui's LineEdit, SpinBox and FileEdit emit ``changed`` on every keystroke (its TextEdit
        # does not), so the place holder follows what is typed; the tests type into these boxes.
        for box in (self.clip_steps, self.init_steps, self.finetune_steps, self.overrides):
            box.changed.connect(self._show_sample_schedule)
        self.data.changed.connect(lambda value: setattr(self.manifest, "visible", value == MANIFEST_CHOICE))
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.use_button.clicked.connect(self.use_in_translate)
        self._load_recipe_steps()
        self._show_sample_schedule()

    # ------------------------------------------------------------------ inputs
    def _recipe(self) -> str | None:
        text = str(self.config.value or "").strip()
        return None if not text or text == "." else text

    def _load_recipe_steps(self, *_: Any) -> None:
        try:
            steps = recipe_steps(self._recipe())
        except BAD_INPUT as exc:      # also a half-typed path (a folder, say)
            if not self.running:
                self.status.value = f"Recipe problem: {exc}"
        else:
            for key, value in steps.items():
                getattr(self, key).value = value
            if not self.running and self.status.value.startswith("Recipe problem"):
                self.status.value = READY_TEXT
        self._show_sample_schedule()

    def _step_overrides(self) -> list[str]:
        return [f"{key}={int(getattr(self, key).value)}" for key in STEP_KEYS]

    def sample_schedule(self) -> str:
        """When the first sample grid of a run started now would come (or what is wrong)."""
        try:
            cfg = run_config(self._recipe(), self._step_overrides() + parse_overrides(self.overrides.value))
        except BAD_INPUT as exc:
            return f"No sample image yet (the recipe or overrides have a problem: {exc})."
        return sample_schedule(cfg)

    def _show_sample_schedule(self, *_: Any) -> None:
        """Refresh the place holder from the fields; not during a run (it trains with what it was
        started with), and a grid already shown (the last run's) stays."""
        if self.running or self._showing_sample():
            return
        self.sample.setText(self.sample_schedule())

    def _showing_sample(self) -> bool:
        pixmap = self.sample.pixmap()
        return pixmap is not None and not pixmap.isNull()

    def command(self) -> list[str]:
        """The command Start runs (raises ValueError for a bad recipe, data or override)."""
        overrides = self._step_overrides()
        if self.data.value == MANIFEST_CHOICE:
            manifest = str(self.manifest.value or "").strip()
            if not manifest or manifest == "." or not Path(manifest).is_file():
                raise ValueError("choose an existing manifest file (JSON or CSV) for the data")
            overrides.append(f"data={manifest}")
        else:
            overrides.append("data=simulator")
        overrides.append(f"device={self.device.value}")
        overrides += parse_overrides(self.overrides.value)
        return build_command(self._recipe(), self.output_folder, overrides)

    @property
    def output_folder(self) -> Path:
        return Path(str(self.out.value)).expanduser().resolve()

    # ------------------------------------------------------------------ process
    @property
    def running(self) -> bool:
        return self._process is not None

    @property
    def records(self) -> list[dict]:
        """Metrics lines of the current (or last) run read so far."""
        return list(self._tail.records) if self._tail is not None else []

    def start(self, *_: Any) -> None:
        if self.running:
            return
        try:
            args = self.command()
        except BAD_INPUT as exc:
            self.status.value = f"Cannot start: {exc}"
            self.status.tooltip = ""
            show_warning(str(exc))
            return
        run = RunFolder(self.output_folder)
        self._tail = MetricsTail(run.metrics, _offset=_size(run.metrics))
        self._sample_mtime = _mtime(run.sample)
        self.plot.plot({})
        self.sample.setText(self.sample_schedule())     # replaces the last run's grid
        self.sample.setToolTip("")
        process = QProcess(self.native)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(environment)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(self._read_output)
        process.finished.connect(self._on_finished)
        process.setProgram(args[0])
        process.setArguments(args[1:])
        self._process, self._stopping = process, False
        self.start_button.enabled, self.stop_button.enabled, self.use_button.enabled = False, True, False
        self.status.value = f"Starting training in {_short(self.output_folder)} ..."
        self.status.tooltip = f"output folder: {self.output_folder}\ncommand: {shlex.join(args)}"
        process.start()
        self._timer.start()
        # Quitting napari mid-run: stop the trainer properly (checkpoint) instead of killing it.
        QCoreApplication.instance().aboutToQuit.connect(self.shutdown)

    def stop(self, *_: Any) -> None:
        """SIGTERM: the trainer checkpoints and exports its model; a second press kills it."""
        if self._process is None:
            return
        if self._stopping:
            self._process.kill()
            self.status.value = "Killed."
            return
        self._stopping = True
        self._process.terminate()
        self.status.value = "Stopping: finishing the current step and saving a checkpoint..."

    def _read_output(self) -> None:
        text = bytes(self._process.readAllStandardOutput()).decode("utf-8", errors="replace")
        lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
        if lines:
            self.log.value = lines[-1][:LOG_CHARS]

    def _on_finished(self, exit_code: int, *_: Any) -> None:
        self._timer.stop()
        QCoreApplication.instance().aboutToQuit.disconnect(self.shutdown)
        self.poll()
        self._process.deleteLater()
        self._process = None
        self.start_button.enabled, self.stop_button.enabled = True, False
        model = model_folder(self.output_folder)
        self.use_button.enabled = model is not None
        if not self._showing_sample():
            self.sample.setText("No sample image: the run ended before its first one.")
        if exit_code == 0:
            self.status.value = f"{'Stopped' if self._stopping else 'Finished'}; model in {_short(model)}."
        elif self._stopping and model is not None:
            self.status.value = f"Stopped; model in {_short(model)}."
        else:
            self.status.value = f"Training failed (exit code {exit_code}): {self.log.value}"
            show_error(f"Training failed (exit code {exit_code}): {self.log.value}")
        self.training_finished.emit(int(exit_code))

    def poll(self) -> None:
        """Read new metrics and the newest sample image (the QTimer calls this every second)."""
        if self._tail is None:
            return
        new = self._tail.poll()
        if new:
            self.plot.plot(self._tail.loss_curve())
            last = next((r for r in reversed(new) if "loss" in r and "total" in r), None)
            if last is not None and not self._stopping:
                self.status.value = (f"Training: {last.get('stage')} step {last.get('step')}/{last.get('total')}, "
                                     f"loss {float(last['loss']):.4f}")
        image = RunFolder(self.output_folder).sample
        mtime = _mtime(image)
        if mtime > self._sample_mtime:
            pixmap = QPixmap(str(image))
            if not pixmap.isNull():
                self._sample_mtime = mtime
                self.sample.setPixmap(pixmap.scaled(SAMPLE_WIDTH, SAMPLE_HEIGHT, Qt.AspectRatioMode.KeepAspectRatio,
                                                    Qt.TransformationMode.FastTransformation))
                self.sample.setToolTip(f"source | translation | target, newest sample of the run\n{image}")

    def shutdown(self, *_: Any, timeout_ms: int = 60_000) -> None:
        """Stop a running trainer and wait for it (quitting napari, tests)."""
        if self._process is not None:
            process = self._process
            self.stop()
            if not process.waitForFinished(timeout_ms):
                process.kill()
                process.waitForFinished(5_000)

    # ------------------------------------------------------------------ hand-over
    def use_in_translate(self, *_: Any) -> str | None:
        """Select OUT/model in the Translate widget and bring that widget to the front.

        Not docked yet: it is docked as a tab beside Train. Docked already: it stays where the
        person put it and is raised there.
        """
        model = model_folder(self.output_folder)
        if model is None:
            self.status.value = "No exported model in the output folder yet."
            return None
        translate = self._docked_translate()
        if translate is None:
            _, translate = self._viewer.window.add_plugin_dock_widget(PLUGIN, "Translate", tabify=True)
            self._tab_beside_train(_dock_of(translate.native))
        translate.model.use_checkpoint(model)
        dock = _dock_of(translate.native)
        if dock is not None:
            dock.show()
            dock.raise_()
        self.model_ready.emit(str(model))
        self.status.value = f"Translate now uses {_short(model)}."
        self.status.tooltip = f"Translate's model: {model}"
        return str(model)

    def _docked_translate(self) -> Any | None:
        from .translate import TranslateWidget

        return next((widget for widget in self._viewer.window.dock_widgets.values()
                     if isinstance(widget, TranslateWidget)), None)

    def _tab_beside_train(self, dock: QDockWidget | None) -> None:
        """napari tabifies a new dock with the last dock of its area, which need not be Train."""
        train = _dock_of(self.native)
        window = train.parentWidget() if train is not None else None
        if dock is None or train is None or train.isFloating() or not isinstance(window, QMainWindow):
            return
        if dock not in window.tabifiedDockWidgets(train):
            window.tabifyDockWidget(train, dock)


def _dock_of(widget: QWidget) -> QDockWidget | None:
    """The dock widget holding ``widget`` (None when it is not docked)."""
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QDockWidget):
        parent = parent.parentWidget()
    return parent


def _short(path: Path | None) -> str:
    """``.../parent/name`` of a path: enough to recognise it on one status line."""
    if path is None:
        return "?"
    parts = Path(path).parts
    return str(Path(*parts[-2:])) if len(parts) > 2 else str(path)


def _mtime(path: Path) -> float:
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


def _size(path: Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
