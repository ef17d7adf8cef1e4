"""Exception dicts in result meta, checked against Celery's own backend code."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

import billiard.exceptions
import celery.exceptions as cx
import pytest
from celery import Celery
from kombu.utils.json import dumps as kombu_dumps
from kombu.utils.json import loads as kombu_loads

from tuiq import exceptions as tx
from tuiq.protocol.exceptions import (
    exception_from_dict,
    exception_to_dict,
    format_exception_message,
    safe_repr,
)


class Outer:
    class Inner(Exception):
        pass


class NeedsTwo(Exception):
    def __init__(self, a: object, b: object) -> None:
        super().__init__(a, b)


class MyReject(tx.Reject):
    pass


@pytest.fixture(scope="module")
def backend():
    app = Celery("compat", backend="cache+memory://", set_as_current=False)
    return app.backend


def celery_dict(backend, exc: BaseException) -> dict:
    """Celery's dict as it looks after the JSON round trip (tuples become lists)."""
    return kombu_loads(kombu_dumps(backend.prepare_exception(exc)))


def wire(exc_dict: dict) -> dict:
    return kombu_loads(kombu_dumps(exc_dict))


class TestToDict:
    def test_builtin(self) -> None:
        assert exception_to_dict(ValueError("boom")) == {
            "exc_type": "ValueError",
            "exc_message": ["boom"],
            "exc_module": "builtins",
        }

    def test_revoked_is_written_under_celery_module(self) -> None:
        assert exception_to_dict(tx.TaskRevokedError("revoked")) == {
            "exc_type": "TaskRevokedError",
            "exc_message": ["revoked"],
            "exc_module": "celery.exceptions",
        }

    def test_billiard_keeps_its_module(self) -> None:
        assert exception_to_dict(tx.TimeLimitExceeded(1)) == {
            "exc_type": "TimeLimitExceeded",
            "exc_message": [1],
            "exc_module": "billiard.exceptions",
        }

    def test_retry_and_reject(self) -> None:
        assert exception_to_dict(tx.Retry(when=5)) == {
            "exc_type": "Retry",
            "exc_message": ["Retry in 5s"],
            "exc_module": "celery.exceptions",
        }
        assert exception_to_dict(tx.Reject("bad", requeue=True))["exc_message"] == ["bad", True]

    def test_tuiq_only_error_keeps_tuiq_module(self) -> None:
        assert exception_to_dict(tx.BrokerUnavailable("down")) == {
            "exc_type": "BrokerUnavailable",
            "exc_message": ["down"],
            "exc_module": "tuiq.exceptions",
        }

    def test_user_subclass_is_not_renamed(self) -> None:
        assert exception_to_dict(MyReject("x")) == {
            "exc_type": "MyReject",
            "exc_message": ["x", False],
            "exc_module": __name__,
        }

    def test_nested_class_uses_qualname(self) -> None:
        assert exception_to_dict(Outer.Inner("i"))["exc_type"] == "Outer.Inner"

    def test_unencodable_args_become_repr(self) -> None:
        marker = object()
        when = datetime.datetime(2026, 1, 2, 3, 4, 5)
        result = exception_to_dict(ValueError(marker, when, {"k": marker}, (1, 2)))
        assert result["exc_message"] == [repr(marker), when, repr({"k": marker}), (1, 2)]
        # The whole dict is then valid kombu JSON.
        assert json.loads(kombu_dumps(result))["exc_message"][3] == [1, 2]

    def test_custom_encoder(self) -> None:
        def reject_ints(value: object) -> object:
            if isinstance(value, int):
                raise TypeError("no ints")
            return value

        result = exception_to_dict(ValueError("a", 3), encode=reject_ints)
        assert result["exc_message"] == ["a", "3"]


CELERY_PAIRS = [
    (ValueError("boom"), ValueError("boom")),
    (KeyError("again"), KeyError("again")),
    (tx.TaskRevokedError("revoked"), cx.TaskRevokedError("revoked")),
    (tx.TaskRevokedError("expired"), cx.TaskRevokedError("expired")),
    (tx.NotRegistered("tasks.add"), cx.NotRegistered("tasks.add")),
    (tx.Reject("bad", requeue=True), cx.Reject("bad", requeue=True)),
    (tx.Ignore(), cx.Ignore()),
    (tx.MaxRetriesExceededError("max"), cx.MaxRetriesExceededError("max")),
    (tx.TimeoutError("late"), cx.TimeoutError("late")),
    (tx.InvalidTaskError("malformed"), cx.InvalidTaskError("malformed")),
    (tx.QueueNotFound("q1"), cx.QueueNotFound("q1")),
    (tx.SoftTimeLimitExceeded(), cx.SoftTimeLimitExceeded()),
    (tx.TimeLimitExceeded(1), cx.TimeLimitExceeded(1)),
    (tx.WorkerLostError("lost"), billiard.exceptions.WorkerLostError("lost")),
]


class TestCeleryCompatibility:
    def test_prepare_exception_value_error_exact(self, backend) -> None:
        theirs = backend.prepare_exception(ValueError("boom"))
        assert theirs == {
            "exc_type": "ValueError",
            "exc_message": ("boom",),
            "exc_module": "builtins",
        }
        ours = exception_to_dict(ValueError("boom"))
        assert ours == {**theirs, "exc_message": list(theirs["exc_message"])}
        assert kombu_dumps(ours) == kombu_dumps(theirs)

    def test_prepare_exception_revoked_exact(self, backend) -> None:
        theirs = backend.prepare_exception(cx.TaskRevokedError("revoked"))
        ours = exception_to_dict(tx.TaskRevokedError("revoked"))
        assert (
            kombu_dumps(ours)
            == kombu_dumps(theirs)
            == (
                '{"exc_type": "TaskRevokedError", "exc_message": ["revoked"], '
                '"exc_module": "celery.exceptions"}'
            )
        )

    @pytest.mark.parametrize(("ours", "theirs"), CELERY_PAIRS, ids=lambda e: type(e).__name__)
    def test_same_dict_as_celery(self, backend, ours: BaseException, theirs: BaseException) -> None:
        assert wire(exception_to_dict(ours)) == celery_dict(backend, theirs)

    def test_unencodable_args_same_as_celery(self, backend) -> None:
        exc = ValueError(object(), datetime.datetime(2026, 1, 2), b"raw")
        assert kombu_dumps(exception_to_dict(exc)) == kombu_dumps(backend.prepare_exception(exc))

    @pytest.mark.parametrize(("ours", "theirs"), CELERY_PAIRS, ids=lambda e: type(e).__name__)
    def test_celery_rebuilds_our_dicts(self, backend, ours: BaseException, theirs) -> None:
        rebuilt = backend.exception_to_python(wire(exception_to_dict(ours)))
        assert type(rebuilt) is type(theirs)
        assert rebuilt.args == theirs.args

    def test_celery_rebuilds_not_registered(self, backend) -> None:
        rebuilt = backend.exception_to_python(wire(exception_to_dict(tx.NotRegistered("t.x"))))
        assert type(rebuilt) is cx.NotRegistered
        assert rebuilt.args == ("t.x",)

    def test_celery_rebuilds_reject_attributes(self, backend) -> None:
        rebuilt = backend.exception_to_python(wire(exception_to_dict(tx.Reject("bad", True))))
        assert type(rebuilt) is cx.Reject
        assert (rebuilt.reason, rebuilt.requeue) == ("bad", True)

    def test_celery_reads_our_whole_failure_meta(self, backend) -> None:
        meta = {
            "status": "FAILURE",
            "result": exception_to_dict(tx.NotRegistered("t.x")),
            "traceback": None,
            "children": [],
            "date_done": None,
            "task_id": "id1",
        }
        decoded = backend.decode_result(kombu_dumps(meta))
        assert type(decoded["result"]) is cx.NotRegistered

    @pytest.mark.parametrize(("ours", "theirs"), CELERY_PAIRS, ids=lambda e: type(e).__name__)
    def test_we_rebuild_celery_dicts(self, backend, ours: BaseException, theirs) -> None:
        rebuilt = exception_from_dict(celery_dict(backend, theirs))
        assert type(rebuilt) is type(ours)
        assert rebuilt.args == ours.args


class TestFromDict:
    def test_builtin(self) -> None:
        exc = exception_from_dict(
            {"exc_type": "ValueError", "exc_message": ["boom"], "exc_module": "builtins"}
        )
        assert type(exc) is ValueError
        assert exc.args == ("boom",)

    def test_celery_module_maps_to_tuiq_without_celery_classes(self) -> None:
        exc = exception_from_dict(
            {
                "exc_type": "TaskRevokedError",
                "exc_message": ["revoked"],
                "exc_module": "celery.exceptions",
            }
        )
        # celery.exceptions is imported in this process; tuiq must still use its own class.
        assert "celery.exceptions" in sys.modules
        assert type(exc) is tx.TaskRevokedError

    def test_celery_module_other_tuiq_name(self) -> None:
        exc = exception_from_dict(
            {
                "exc_type": "ImproperlyConfigured",
                "exc_message": ["x"],
                "exc_module": "celery.exceptions",
            }
        )
        assert type(exc) is tx.ImproperlyConfigured

    def test_celery_module_unknown_name_is_synthetic(self) -> None:
        exc = exception_from_dict(
            {"exc_type": "NoSuchCeleryError", "exc_message": ["c"],
             "exc_module": "celery.exceptions"}
        )
        assert not hasattr(cx, "NoSuchCeleryError")
        assert type(exc).__name__ == "NoSuchCeleryError"
        assert type(exc).__module__ == "celery.exceptions"
        assert exc.args == ("c",)

    def test_reject_attributes(self) -> None:
        exc = exception_from_dict(exception_to_dict(tx.Reject("bad", requeue=True)))
        assert type(exc) is tx.Reject
        assert (exc.reason, exc.requeue) == ("bad", True)

    def test_not_registered_message(self) -> None:
        exc = exception_from_dict(exception_to_dict(tx.NotRegistered("t.x")))
        assert str(exc) == "Task of kind 't.x' never registered, please make sure it's imported."

    def test_billiard(self) -> None:
        exc = exception_from_dict(
            {
                "exc_type": "WorkerLostError",
                "exc_message": ["lost"],
                "exc_module": "billiard.exceptions",
            }
        )
        assert type(exc) is billiard.exceptions.WorkerLostError

    def test_nested_qualname(self) -> None:
        exc = exception_from_dict(exception_to_dict(Outer.Inner("i")))
        assert type(exc) is Outer.Inner
        assert exc.args == ("i",)

    def test_security_check(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import os

        calls: list[object] = []
        monkeypatch.setattr(os, "system", calls.append)
        with pytest.raises(tx.TuiqError) as info:
            exception_from_dict(
                {"exc_type": "system", "exc_message": ["rm -rf /"], "exc_module": "os"}
            )
        assert str(info.value) == (
            "Expected an exception class, got os.system with payload ['rm -rf /']"
        )
        assert calls == []

    def test_non_exception_class_is_refused(self) -> None:
        with pytest.raises(tx.TuiqError, match=r"^Expected an exception class, got builtins.dict"):
            exception_from_dict({"exc_type": "dict", "exc_message": [], "exc_module": "builtins"})

    def test_unimported_module_is_not_imported(self, tmp_path: Path, monkeypatch) -> None:
        (tmp_path / "tuiq_probe_mod.py").write_text(
            "raise RuntimeError('imported by exception_from_dict')\n"
            "class ProbeError(Exception): pass\n"
        )
        monkeypatch.syspath_prepend(str(tmp_path))
        exc = exception_from_dict(
            {"exc_type": "ProbeError", "exc_message": ["p"], "exc_module": "tuiq_probe_mod"}
        )
        assert "tuiq_probe_mod" not in sys.modules
        assert type(exc).__name__ == "ProbeError"
        assert type(exc).__module__ == "tuiq_probe_mod"
        assert isinstance(exc, Exception)
        assert exc.args == ("p",)

    def test_missing_name_is_synthetic(self) -> None:
        exc = exception_from_dict(
            {"exc_type": "NoSuchError", "exc_message": ["n"], "exc_module": "builtins"}
        )
        assert type(exc).__name__ == "NoSuchError"
        assert type(exc).__module__ == "builtins"
        assert type(exc).__bases__ == (Exception,)

    def test_synthetic_round_trips(self) -> None:
        original = {"exc_type": "Outer.Gone", "exc_message": ["g", 1], "exc_module": "gone.mod"}
        exc = exception_from_dict(original)
        assert type(exc).__name__ == "Gone"
        assert exception_to_dict(exc) == original

    def test_constructor_mismatch_falls_back_to_synthetic(self) -> None:
        exc = exception_from_dict(
            {"exc_type": "NeedsTwo", "exc_message": ["only one"], "exc_module": __name__}
        )
        assert not isinstance(exc, NeedsTwo)
        assert type(exc).__name__ == "NeedsTwo"
        assert type(exc).__module__ == __name__
        assert exc.args == ("only one",)

    def test_string_message_is_wrapped(self) -> None:
        exc = exception_from_dict(
            {"exc_type": "KeyError", "exc_message": "k", "exc_module": "builtins"}
        )
        assert type(exc) is KeyError
        assert exc.args == ("k",)

    def test_old_meta_form(self) -> None:
        meta = {"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": "boom"}}
        exc = exception_from_dict(meta)
        assert type(exc) is ValueError
        assert exc.args == ("boom",)

    def test_whole_meta_with_new_form(self) -> None:
        meta = {"status": "REVOKED", "result": exception_to_dict(tx.TaskRevokedError("expired"))}
        exc = exception_from_dict(meta)
        assert type(exc) is tx.TaskRevokedError
        assert exc.args == ("expired",)

    def test_missing_message(self) -> None:
        exc = exception_from_dict({"exc_type": "ValueError", "exc_module": "builtins"})
        assert type(exc) is ValueError
        assert exc.args == ()

    def test_missing_type(self) -> None:
        with pytest.raises(ValueError, match="must include the exception type"):
            exception_from_dict({"exc_message": ["x"], "exc_module": "builtins"})


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


class TestSafeRepr:
    def test_plain(self) -> None:
        assert safe_repr((1, "a")) == "(1, 'a')"

    def test_truncated_to_maxlen(self) -> None:
        text = safe_repr("x" * 2000)
        assert len(text) == 1024
        assert text == "'" + "x" * 1020 + "..."

    def test_small_maxlen(self) -> None:
        assert safe_repr([1, 2, 3, 4, 5], 8) == "[1, 2..."
        assert safe_repr("abcdef", 2) == ".."

    def test_exact_fit_not_truncated(self) -> None:
        assert safe_repr("abc", 5) == "'abc'"

    def test_no_limit(self) -> None:
        assert safe_repr("x" * 2000, None) == repr("x" * 2000)

    def test_broken_repr(self) -> None:
        text = safe_repr(BrokenRepr())
        assert text.startswith("<BrokenRepr object at 0x")
        assert text.endswith("(repr failed)>")


class TestFormatExceptionMessage:
    def test_with_message(self) -> None:
        assert format_exception_message(ValueError("boom")) == "ValueError: boom"

    def test_without_message(self) -> None:
        assert format_exception_message(tx.Ignore()) == "Ignore"

    def test_nested(self) -> None:
        assert format_exception_message(Outer.Inner("i")) == "Outer.Inner: i"

    def test_broken_str(self) -> None:
        assert format_exception_message(ValueError(BrokenRepr())) == (
            "ValueError: <exception str() failed>"
        )
