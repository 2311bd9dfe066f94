"""A small matplotlib loss plot (one line per training stage) to embed in a dock widget."""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure

STAGE_COLORS = {"clip": "tab:blue", "init": "tab:orange", "finetune": "tab:green"}


class LossPlot(FigureCanvasQTAgg):
    """Loss against the running step count; stages in different colours."""

    def __init__(self) -> None:
        figure = Figure(figsize=(3.2, 2.0), dpi=90, layout="constrained")
        super().__init__(figure)
        self.axes = figure.add_subplot()
        self.setMinimumHeight(160)
        self.plot({})

    def plot(self, curves: dict[str, tuple[list[int], list[float]]]) -> None:
        axes = self.axes
        axes.clear()
        for stage, (steps, losses) in curves.items():
            axes.plot(steps, losses, marker="." if len(steps) < 30 else None,
                      color=STAGE_COLORS.get(stage), label=stage)
        axes.set_xlabel("step", fontsize=8)
        axes.set_ylabel("loss", fontsize=8)
        axes.tick_params(labelsize=7)
        if curves:
            axes.legend(fontsize=7, loc="upper right")
        else:
            axes.text(0.5, 0.5, "no steps logged yet", ha="center", va="center", transform=axes.transAxes,
                      fontsize=8, color="gray")
        self.draw_idle()

    @property
    def line_count(self) -> int:
        return len(self.axes.lines)
