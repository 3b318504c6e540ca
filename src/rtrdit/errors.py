"""The one readable line a user sees for an exception (CLI errors, server messages, eval reports)."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first non-blank line of ``exc``'s message, or its type name when the message is empty."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def typed_line(exc: BaseException) -> str:
    """``"TypeName: first line"`` (just the type name when the message is empty), for errors whose type
    says what went wrong, such as an ImportError inside an optional dependency."""
    line = first_line(exc)
    name = type(exc).__name__
    return name if line == name else f"{name}: {line}"


def one_line(exc: BaseException, limit: int | None = None) -> str:
    """The whole message with its line breaks and runs of spaces collapsed (cut to ``limit`` characters),
    or the type name when empty: for errors whose useful words are not all on the first line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if limit is None else text[:limit]


__all__ = ["first_line", "one_line", "typed_line"]
