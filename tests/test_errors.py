"""The one readable line users see for an exception."""

import pytest

from rtrdit.errors import first_line


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (ValueError("bad size 0x0\nTraceback-like detail"), "bad size 0x0"),
        (ValueError(""), "ValueError"),  # an empty message must not raise IndexError
        (OSError("\n   \n  disk full  \n"), "disk full"),  # blank leading lines are skipped
        (KeyError("missing"), "'missing'"),
    ],
)
def test_first_line(exc: BaseException, line: str) -> None:
    assert first_line(exc) == line
