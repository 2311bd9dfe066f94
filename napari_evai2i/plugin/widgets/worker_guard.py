"""Stop a widget's thread worker when its napari window closes, and wait for its thread.

napari asks running workers to quit when its window closes, but does not wait: the job then
finishes into a closed viewer (a layer added to it, labels that are gone) and its thread
outlives the window. The guard watches the window the widget is docked in while a job runs:
when that window is closed (hidden, not minimised) or the widget is deleted, it tells the
widget (``on_close``), quits the worker and waits, boundedly, for its thread to end. After
that, :attr:`closed` is True and the widget's callbacks must ignore whatever is still queued.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QEvent, QObject, Qt

#: How long closing waits for a job to reach its next step (a batch, a block) and stop.
CLOSE_WAIT_S = 60.0


class WorkerGuard(QObject):
    """One per widget; :meth:`watch` each worker it starts."""

    def __init__(self, native, on_close: Callable[[], None]) -> None:
        self._native = native
        self._on_close = on_close
        self._window = None
        self._worker: Any = None
        self._done = threading.Event()
        self.closed = False
        super().__init__(native)          # a child: Qt deletes it (and its event filter) with the widget
        native.destroyed.connect(self._on_destroyed)

    def _on_destroyed(self, *_: Any) -> None:
        self.stop()

    def watch(self, worker) -> None:
        """Watch ``worker`` (before it starts) and the window the widget now sits in."""
        self.closed = False
        self._worker = worker
        self._done = done = threading.Event()
        # Direct: set in the worker's thread as it ends, so a blocked main thread can wait on it.
        worker.finished.connect(done.set, Qt.ConnectionType.DirectConnection)
        self.release()
        self._window = self._native.window()
        self._window.installEventFilter(self)

    def release(self) -> None:
        """Stop watching the window (the job has ended)."""
        if self._window is not None:
            try:
                self._window.removeEventFilter(self)
            except RuntimeError:      # the window is already deleted
                pass
            self._window = None

    def eventFilter(self, watched, event) -> bool:
        # A closed window is hidden by its close (not spontaneously, as minimising can be).
        if event.type() == QEvent.Type.Hide and not event.spontaneous() and watched is getattr(self, "_window", None):
            self.stop()
        return False

    def stop(self, timeout_s: float = CLOSE_WAIT_S) -> bool:
        """If a job runs: mark the widget closed, quit the worker and wait for its thread.
        True when no job is left running."""
        worker = self._worker
        if worker is None or self._done.is_set():
            return True
        self.closed = True
        try:
            self._on_close()
        except RuntimeError:          # the widget's Qt objects are already gone
            pass
        worker.quit()
        stopped = self._done.wait(timeout_s)
        self.release()
        return stopped
