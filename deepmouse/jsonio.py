"""Strict JSON for everything deepmouse writes for people and programs to read, and reads.

Python's ``json`` writes NaN and infinity as the bare words ``NaN`` and ``Infinity``, which
are not JSON: strict parsers (``jq``, browsers, most languages) refuse the whole document, and
a lenient one passes a meaningless number on. A value that is undefined is ``None`` (``null``)
instead; a NaN that still reaches a writer is a bug, refused here with the place it sits at.
"""

from __future__ import annotations

import json
import math
from typing import Any


class NonFiniteJSONError(ValueError):
    """A NaN or infinite number in data to be written as JSON."""


def _first_non_finite(obj: Any, where: str = "") -> tuple[str, float] | None:
    """Where (``a.b[2]``) the first NaN or infinite float in ``obj`` sits, and its value."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (where or "the value", obj)
    if isinstance(obj, dict):
        items = ((f"{where}.{k}" if where else str(k), v) for k, v in obj.items())
    elif isinstance(obj, list | tuple):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(obj))
    else:
        return None
    for path, value in items:
        found = _first_non_finite(value, path)
        if found is not None:
            return found
    return None


def dumps_strict(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, **kwargs)`` that refuses NaN and infinity (strict JSON only).

    Raises:
        NonFiniteJSONError: a float in ``obj`` is NaN or infinite (the message says where).
    """
    try:
        return json.dumps(obj, allow_nan=False, **kwargs)
    except ValueError:
        found = _first_non_finite(obj)
        if found is None:
            raise
        where, value = found
        raise NonFiniteJSONError(
            f"refusing to write {where} = {value!r} as JSON: not a finite number"
        ) from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number in JSON")


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` that refuses the bare words ``NaN``, ``Infinity`` and ``-Infinity``, and
    bytes that are not UTF-8 (``json.loads`` would guess UTF-16 or drop a byte-order mark).

    Raises:
        ValueError: not strict JSON.
        RecursionError: nested too deeply.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text, parse_constant=_refuse_constant)
