"""One-line descriptions of errors raised while a user's module is imported."""

from __future__ import annotations

from tuiq.exceptions import describe_import_error


def _raised(source: str) -> BaseException:
    try:
        exec(compile(source, "/app/proj.py", "exec"), {})
    except BaseException as exc:  # noqa: BLE001 - the test wants whatever it raised
        return exc
    raise AssertionError("nothing raised")


def test_a_syntax_error_names_the_file_and_the_line():
    exc = _raised("x = 1\ny = (\n")
    assert describe_import_error(exc) == "SyntaxError: '(' was never closed (/app/proj.py, line 2)"


def test_other_errors_give_their_type_and_first_line():
    assert describe_import_error(_raised("1/0")) == "ZeroDivisionError: division by zero"
    assert describe_import_error(ValueError("first\nsecond")) == "ValueError: first"
    assert describe_import_error(KeyError()) == "KeyError"
