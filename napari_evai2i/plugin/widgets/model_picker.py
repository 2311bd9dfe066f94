"""Model, device and precision choice shared by the Translate and Prompt explorer widgets.

The list offers ``demo`` only when the trained demo checkpoint is installed, otherwise
the untrained ``tiny-random`` model (its label says UNTRAINED), plus any checkpoint folder
picked with a file dialog or handed over by the Train widget. Loading happens in the
workers (``load_model`` caches per model and device); this widget only names the model.

Precision offers bf16 only where it runs natively: on a GPU, or on a CPU with AVX512-BF16
or AMX. A CPU with AVX2 only would emulate it about 12x slower than fp32, so for that CPU
(device cpu, or auto without a GPU) the choice is not there and its tooltip says why.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from magicgui.widgets import ComboBox, Container, FileEdit, Label

from ...model.files import CONFIG_FILE, WEIGHTS_FILE, is_checkpoint_folder

CHECKPOINT_CHOICE = "checkpoint folder..."


def demo_installed() -> bool:
    """Cheap check (no torch import) that the demo checkpoint ships with this install."""
    return is_checkpoint_folder(Path(str(resources.files("napari_evai2i") / "weights" / "demo")))


def builtin_model_choices() -> list[tuple[str, str]]:
    if demo_installed():
        return [("demo", "demo"), ("tiny-random (UNTRAINED)", "tiny-random")]
    return [("tiny-random (UNTRAINED)", "tiny-random")]


def precision_choices(device: str) -> list[str]:
    """The precisions worth offering for ``device`` ("auto", "cpu", "cuda", "mps") on this machine."""
    translator = _translator()
    precisions = list(translator.PRECISIONS)
    resolved = translator.resolve_device(device) if device == "auto" else translator.torch.device(device)
    if translator.effective_precision("bf16", resolved) != "bf16":
        precisions.remove("bf16")
    return precisions


def _translator():
    """The engine's translator module (imports torch: only when a widget is built)."""
    from ..torch_guard import engine_module

    return engine_module("engine.translator")


def device_choices() -> list[str]:
    return _translator().available_devices()


class ModelPicker(Container):
    """model / checkpoint folder / device, and what was actually loaded."""

    def __init__(self) -> None:
        super().__init__(labels=True)
        self.model = ComboBox(label="model", choices=builtin_model_choices() + [(CHECKPOINT_CHOICE, CHECKPOINT_CHOICE)],
                              tooltip="demo: trained on simulated brains; tiny-random: UNTRAINED (for testing)")
        self.checkpoint = FileEdit(label="checkpoint", mode="d", visible=False,
                                   tooltip=f"a folder with {CONFIG_FILE} and {WEIGHTS_FILE}")
        self.device = ComboBox(label="device", choices=device_choices(),
                               tooltip="auto uses a GPU when there is one")
        self.precision = ComboBox(label="precision", choices=precision_choices(str(self.device.value)),
                                  value="auto")
        self._on_device_changed(self.device.value)
        self.loaded = Label(label="loaded", value="not loaded yet")
        self.extend([self.model, self.checkpoint, self.device, self.precision, self.loaded])
        self.model.changed.connect(self._on_model_changed)
        self.device.changed.connect(self._on_device_changed)

    def _on_device_changed(self, device: str) -> None:
        """Offer the precisions that run natively on the chosen device (auto when one goes)."""
        choices = precision_choices(str(device))
        if list(self.precision.choices) != choices:
            value = self.precision.value
            self.precision.choices = choices
            self.precision.value = value if value in choices else "auto"
        tip = "auto: bf16 on a GPU, fp32 on the CPU. bf16 on a CPU with bf16 instructions is about 1.4x " \
              "faster, within 1.5 % of fp32"
        if "bf16" not in choices:
            capability = _translator().torch.backends.cpu.get_cpu_capability()
            tip += (f". bf16 is not offered: this CPU ({capability}) has no native bf16 (AVX512-BF16 or AMX) "
                    "and would emulate it about 12x slower than fp32")
        self.precision.tooltip = tip

    def _on_model_changed(self, value: str) -> None:
        self.checkpoint.visible = value == CHECKPOINT_CHOICE

    def model_source(self) -> str:
        """The name or folder to pass to ``load_model``; a clear error for a bad folder."""
        if self.model.value != CHECKPOINT_CHOICE:
            return str(self.model.value)
        folder = Path(str(self.checkpoint.value or "")).expanduser()
        if not str(self.checkpoint.value or "").strip() or str(folder) == ".":
            raise ValueError("choose a checkpoint folder for the model")
        if not is_checkpoint_folder(folder):
            raise ValueError(f"{folder} is not a model checkpoint (no {CONFIG_FILE} and {WEIGHTS_FILE} in it)")
        return str(folder.resolve())

    def use_checkpoint(self, folder: str | Path) -> None:
        """Select a checkpoint folder (e.g. a model just trained in the Train widget)."""
        self.checkpoint.value = Path(folder)
        self.model.value = CHECKPOINT_CHOICE
        self.checkpoint.visible = True

    def show_loaded(self, label: str, device: str) -> None:
        self.loaded.value = f"{label} on {device}"
