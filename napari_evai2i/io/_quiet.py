"""Keep C libraries' console lines (ITK/MetaIO, GDCM, libjpeg, OpenJPEG) off the user's terminal.

Those libraries print to file descriptor 2 directly, below Python's ``sys.stderr``, so the
only way to silence them is to point fd 2 elsewhere for the duration of the call. What they
printed is returned: it often holds the real cause ("data not read completely"), which the
readers put into their own message. Python's warnings are not touched (they go through
``warnings``, which the callers and tests still see).

fd 2 is process-wide: while a read runs, another thread's writes to stderr land in the
capture too. The lock keeps two captures from interleaving; reads are short, so this is
the lesser evil against raw library output reaching users.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["captured_native_stderr"]

_LOCK = threading.RLock()


class Captured:
    """What the C libraries printed while the ``with`` block ran (filled in on exit)."""

    def __init__(self) -> None:
        self.text = ""

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.text.splitlines() if line.strip()]


@contextmanager
def captured_native_stderr() -> Iterator[Captured]:
    """Redirect fd 2 to a temporary file in the block; the text goes to the yielded object."""
    captured = Captured()
    with _LOCK:
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 at all (some GUI launchers): nothing to protect
            yield captured
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield captured
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                captured.text = sink.read().decode("utf-8", errors="replace")
