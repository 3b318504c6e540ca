"""The one readable line a user sees for an exception (CLI errors, server messages, eval reports)."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first non-blank line of ``exc``'s message, or its type name when the message is empty."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


__all__ = ["first_line"]
