"""Settings files -> mappings -> dataclasses, with errors that name the file and the key.

The model config, the training recipe and the manifest readers all read a JSON or YAML
mapping and turn it into a dataclass; doing both here keeps their error messages alike
and their conversions (lists to tuples, YAML 1.1 numbers to floats) the same. Standard
library only: YAML is imported when a YAML file is read.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def read_mapping(path: str | os.PathLike[str], what: str, *, syntax: str = "json",
                 expected: str = "a mapping of keys to values") -> dict[str, Any]:
    """The top-level object of a JSON (``syntax="json"``) or YAML file; an empty YAML file is ``{}``.

    Every failure is a ``ValueError`` that starts with the path and says what the file
    was meant to be (``what``), so a command line can print it as one line.
    """
    path = Path(path)
    text = read_text(path, what)
    if syntax == "yaml":
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: {what} is not valid YAML: {exc}") from None
        data = {} if data is None else data
    elif syntax == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: {what} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    else:
        raise ValueError(f"unknown syntax {syntax!r}: json or yaml")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: {what} must be {expected}")
    return data


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """A settings file's text (UTF-8, a byte-order mark allowed); ``ValueError`` naming the file if unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None


def dataclass_from_mapping(cls: type[T], values: Mapping[str, Any], what: str) -> T:
    """Build ``cls`` from ``values``: unknown keys are an error, nested dataclass fields are
    built from their own mappings (named ``what key``), lists become tuples where the field
    is a tuple, and strings become floats where the field is a float (YAML 1.1 reads
    ``8e-4``, without a dot, as a string)."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{what} must be a mapping of keys to values, not {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"unknown {what} keys: {', '.join(unknown)}")
    hints = typing.get_type_hints(cls)
    converted: dict[str, Any] = {}
    for key, value in values.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            value = dataclass_from_mapping(hint, value, f"{what} {key}")
        elif isinstance(value, list) and _allows(hint, tuple):
            value = tuple(value)
        elif _allows(hint, int) and not _allows(hint, str) and value is not None and (
                isinstance(value, bool) or not isinstance(value, int)):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ValueError(f"{key} must be a whole number, not {value!r}")
        elif isinstance(value, str) and _allows(hint, float) and not _allows(hint, str):
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"{key} must be a number, not {value!r}") from None
        converted[key] = value
    return cls(**converted)


def _allows(hint: Any, kind: type) -> bool:
    """Whether a type hint is ``kind`` or a union with ``kind`` in it (``float | None``)."""
    origin = typing.get_origin(hint)
    if hint is kind or origin is kind:
        return True
    return origin in (typing.Union, types.UnionType) and any(_allows(a, kind) for a in typing.get_args(hint))
