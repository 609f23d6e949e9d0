"""Sizes as the course's settings write them ('8G', '512M', '200M') and as messages show them; read by the
sandbox's memory and disk limits and by intake's bounds on what a Blackboard attempt unpacks."""

from __future__ import annotations

import re

from autograder.errors import UserError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)?\s*$", re.IGNORECASE)


class SizeError(UserError):
    """A setting that should be a size is not one; the message says how to write it."""


def parse_size(text: str | int | None, what: str = "Memory limit") -> int | None:
    """'8G', '512M', '1.5GiB', '2000000000' -> bytes (binary units); None/''/'0'/'none' -> no limit."""
    if text is None:
        return None
    if isinstance(text, int):
        return text or None
    if str(text).strip().lower() in ("", "0", "none", "unlimited"):
        return None
    match = _SIZE.match(str(text))
    if not match:
        raise SizeError(f"{what} {text!r} is not a size; write it like 8G, 512M or 2000000000.")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** "_kmgt".index(unit)) if unit else int(number)


def format_size(n: int | None) -> str:
    if not n:
        return "no limit"
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"
