"""The one readable line users see for an exception."""

import pytest

from rtrdit.errors import first_line, typed_line


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


def test_typed_line_names_the_type_once() -> None:
    assert typed_line(ImportError("No module named 'pyiqa'")) == "ImportError: No module named 'pyiqa'"
    assert typed_line(ImportError()) == "ImportError"  # not "ImportError: ImportError"
