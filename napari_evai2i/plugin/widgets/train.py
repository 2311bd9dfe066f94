"""The Train dock widget: run ``python -m napari_evai2i.train`` and watch it learn.

The trainer runs in a child process (QProcess), so napari stays responsive and a crash in
training cannot take the viewer down. Stop sends SIGTERM, on which the trainer finishes its
step, saves a checkpoint and exports ``OUT/model`` (a second Stop kills it). A QTimer polls
``OUT/metrics.jsonl`` for the loss curve and ``OUT/samples/latest.png`` for the newest
source | translation | target grid. When a model has been exported, "Use in Translate"
selects it in the Translate widget (docking that widget if needed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import napari
from magicgui.widgets import ComboBox, Container, FileEdit, Label, LineEdit, PushButton, SpinBox
from napari.utils.notifications import show_error, show_warning
from psygnal import Signal
from qtpy.QtCore import QCoreApplication, QProcess, QProcessEnvironment, Qt, QTimer
from qtpy.QtGui import QPixmap
from qtpy.QtWidgets import QLabel

from ..training_run import (STEP_KEYS, MetricsTail, RunFolder, build_command, default_config_path, model_folder,
                            parse_overrides, recipe_steps)
from .choices import compact_combo_boxes
from .loss_plot import LossPlot
from .model_picker import device_choices

PLUGIN = "napari-evai2i"
MANIFEST_CHOICE = "manifest file"
POLL_MS = 1000
LOG_CHARS = 160
SAMPLE_WIDTH = 360     # pixels; the trainer's grid is small (crop size x 3), so it is enlarged


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
        self.status = Label(label="status", value="Not running.")
        self.log = Label(label="log", value="", tooltip="last line the trainer printed")
        for label in (self.status, self.log):
            label.native.setWordWrap(True)
        self.plot = LossPlot()
        self.sample = QLabel("no sample image yet")
        self.sample.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sample.setMinimumHeight(120)
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
        self.data.changed.connect(lambda value: setattr(self.manifest, "visible", value == MANIFEST_CHOICE))
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.use_button.clicked.connect(self.use_in_translate)
        self._load_recipe_steps()

    # ------------------------------------------------------------------ inputs
    def _recipe(self) -> str | None:
        text = str(self.config.value or "").strip()
        return None if not text or text == "." else text

    def _load_recipe_steps(self, *_: Any) -> None:
        try:
            steps = recipe_steps(self._recipe())
        except ValueError as exc:
            self.status.value = f"Recipe problem: {exc}"
            return
        for key, value in steps.items():
            getattr(self, key).value = value

    def command(self) -> list[str]:
        """The command Start runs (raises ValueError for a bad recipe, data or override)."""
        overrides = [f"{key}={int(getattr(self, key).value)}" for key in STEP_KEYS]
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
        except ValueError as exc:
            self.status.value = f"Cannot start: {exc}"
            show_warning(str(exc))
            return
        run = RunFolder(self.output_folder)
        self._tail = MetricsTail(run.metrics, _offset=_size(run.metrics))
        self._sample_mtime = _mtime(run.sample)
        self.plot.plot({})
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
        self.status.value = f"Starting: {' '.join(args[1:])}"
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
        if exit_code == 0:
            self.status.value = f"{'Stopped' if self._stopping else 'Finished'}; model in {model}."
        elif self._stopping and model is not None:
            self.status.value = f"Stopped; model in {model}."
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
                self.sample.setPixmap(pixmap.scaledToWidth(SAMPLE_WIDTH, Qt.TransformationMode.FastTransformation))

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
        """Select OUT/model in the Translate widget (docked if it is not yet)."""
        model = model_folder(self.output_folder)
        if model is None:
            self.status.value = "No exported model in the output folder yet."
            return None
        _, translate = self._viewer.window.add_plugin_dock_widget(PLUGIN, "Translate")
        translate.model.use_checkpoint(model)
        self.model_ready.emit(str(model))
        self.status.value = f"Translate now uses {model}."
        return str(model)


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
