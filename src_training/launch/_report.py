"""The probes' one way to hand back a report: JSON on standard output, and in a file when asked."""

from __future__ import annotations

import json
from pathlib import Path


def emit(report: dict, path: str | None) -> int:
    """Print ``report`` as JSON, write the same text to ``path`` when one is given; the exit status 0."""
    text = json.dumps(report, indent=1)
    print(text)
    if path:
        Path(path).write_text(text + "\n")
    return 0
