"""The one readable line users see for an exception."""

import pytest

from rtrdit.errors import first_line, one_line, typed_line


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


def test_one_line_keeps_every_line_on_one() -> None:
    exc = RuntimeError("Error(s) in loading:\n\tUnexpected key(s)   in state_dict: \"a.b\"")
    assert one_line(exc) == 'Error(s) in loading: Unexpected key(s) in state_dict: "a.b"'
    assert one_line(exc, 8) == "Error(s)"
    assert one_line(OSError()) == "OSError"
