"""Stop a widget's thread workers when its napari window closes, and wait for their threads.

napari asks running workers to quit when its window closes, but does not wait: a job then
finishes into a closed viewer (a layer added to it, labels that are gone) and its thread
outlives the window. The guard watches the window the widget is docked in while a job runs:
when that window is closed (hidden by its close, not minimised) or the widget is deleted, it
tells the widget (``on_close``), quits every running worker and waits, boundedly, for their
threads to end. From then on :attr:`closed` is True, and the widget's callbacks must ignore
whatever is still queued.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QEvent, QObject, Qt

#: How long closing waits for the jobs to reach their next step (a batch, a block) and stop.
CLOSE_WAIT_S = 60.0


class WorkerGuard(QObject):
    """One per widget; :meth:`watch` each worker it starts, :meth:`release` when none runs."""

    def __init__(self, native, on_close: Callable[[], None] = lambda: None) -> None:
        self._native = native
        self._on_close = on_close
        self._window = None
        self._running: list[tuple[Any, threading.Event]] = []
        self.closed = False
        super().__init__(native)          # a child: Qt deletes it (and its event filter) with the widget
        native.destroyed.connect(self._on_destroyed)

    def _on_destroyed(self, *_: Any) -> None:
        self.stop()

    def watch(self, worker) -> None:
        """Watch ``worker`` (before it starts) and the window the widget now sits in."""
        self.closed = False
        done = threading.Event()
        # Direct: set in the worker's thread as it ends, so a blocked main thread can wait on it.
        worker.finished.connect(done.set, Qt.ConnectionType.DirectConnection)
        self._running = [(w, d) for w, d in self._running if not d.is_set()] + [(worker, done)]
        window = self._native.window()
        if window is not self._window:
            self.release()
            window.installEventFilter(self)
            self._window = window

    def release(self) -> None:
        """Stop watching the window once no watched worker runs."""
        if self._window is None or any(not done.is_set() for _, done in self._running):
            return
        try:
            self._window.removeEventFilter(self)
        except RuntimeError:              # the window is already deleted
            pass
        self._window = None

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Hide and not event.spontaneous() and watched is getattr(self, "_window", None):
            self.stop()
        return False

    def stop(self, timeout_s: float = CLOSE_WAIT_S) -> bool:
        """Mark the widget closed; quit the jobs that run and wait for their threads. True when
        none is left running."""
        self.closed = True                # also when the last job just ended: its finished signal may
        running = [(w, d) for w, d in getattr(self, "_running", []) if not d.is_set()]   # still be queued
        if not running:
            self.release()
            return True
        try:
            self._on_close()
        except RuntimeError:              # the widget's Qt objects are already gone
            pass
        for worker, _ in running:
            worker.quit()
        deadline = time.monotonic() + timeout_s
        stopped = all(done.wait(max(0.0, deadline - time.monotonic())) for _, done in running)
        self.release()
        return stopped
