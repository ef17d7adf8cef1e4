"""Exception dicts of result metadata (``exc_type``/``exc_message``/``exc_module``).

The format is the one Celery's ``Backend.prepare_exception`` writes for non-pickle
serializers (PROTOCOL.md §5.1), so a Celery client rebuilds tuiq's exceptions and
tuiq rebuilds Celery's.  tuiq's own classes with a Celery counterpart are written
under ``celery.exceptions`` and read back as the tuiq class, without importing celery.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from kombu.utils.json import dumps as _json_dumps

from tuiq import exceptions as tuiq_exceptions
from tuiq.exceptions import CELERY_MODULE, CELERY_NAMED, TuiqError

_ELLIPSIS = "..."

#: tuiq classes written as ``celery.exceptions.<name>``.  Billiard's classes are left
#: out on purpose: Celery writes them under ``billiard.exceptions``.
_TO_CELERY = {
    cls: name for name, cls in CELERY_NAMED.items() if cls.__module__ == tuiq_exceptions.__name__
}


def safe_repr(obj: object, maxlen: int | None = 1024) -> str:
    """Return ``repr(obj)``, never raising, cut to ``maxlen`` characters ending in ``...``.

    ``maxlen=None`` disables truncation.
    """
    try:
        text = repr(obj)
    except Exception:  # a broken __repr__ must not break the caller
        text = f"<{type(obj).__qualname__} object at {id(obj):#x} (repr failed)>"
    if maxlen is not None and len(text) > maxlen:
        text = text[: max(0, maxlen - len(_ELLIPSIS))] + _ELLIPSIS
        text = text[:maxlen]
    return text


def format_exception_message(exc: BaseException) -> str:
    """Return the one-line summary ``"<Type>: <str(exc)>"``, or ``"<Type>"`` if empty.

    This is the last line of a traceback without the module prefix; it never raises.
    """
    name = type(exc).__qualname__
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not hide the exception
        # Same placeholder the traceback module prints in this case.
        message = "<exception str() failed>"
    return f"{name}: {message}" if message else name


def _json_safe(arg: object, encode: Callable[[object], object]) -> object:
    """Return ``arg`` if ``encode`` accepts it, else its repr (Celery's ensure_serializable)."""
    try:
        encode(arg)
    except Exception:  # any encoder failure means "not serializable"
        return safe_repr(arg, None)
    return arg


def exception_to_dict(
    exc: BaseException, *, encode: Callable[[object], object] | None = None
) -> dict[str, Any]:
    """Return the exception dict stored as the ``result`` of an exception state.

    ``exc_message`` is ``exc.args`` as a list; an argument that ``encode`` (default:
    kombu's JSON encoder, as Celery's json backend uses) cannot serialize is replaced
    by its repr.  kombu-encodable types such as datetime are kept, exactly as Celery does.
    """
    cls = type(exc)
    encoder = encode or _json_dumps
    module = CELERY_MODULE if cls in _TO_CELERY else cls.__module__
    return {
        "exc_type": _TO_CELERY.get(cls) or getattr(cls, "__qualname__", cls.__name__),
        "exc_message": [_json_safe(arg, encoder) for arg in exc.args],
        "exc_module": module,
    }


def _synthetic_class(exc_type: str, exc_module: str) -> type[Exception]:
    """Create a stand-in class for an exception whose module is not loaded here."""
    cls = type(exc_type.rpartition(".")[2], (Exception,), {"__module__": exc_module})
    # Keep the dotted qualname so exception_to_dict() writes the original exc_type back.
    cls.__qualname__ = exc_type
    return cls


def _lookup_class(exc_type: str, exc_module: str) -> object | None:
    """Find ``exc_module.exc_type`` among already-imported modules, or return ``None``."""
    if exc_module == CELERY_MODULE:
        found = CELERY_NAMED.get(exc_type)
        if found is None:
            candidate = getattr(tuiq_exceptions, exc_type, None)
            if isinstance(candidate, type) and issubclass(candidate, BaseException):
                found = candidate
        return found
    # Only sys.modules, never an import: a result store can name any module, and
    # importing one runs its code (Celery applies the same rule).
    obj: object | None = sys.modules.get(exc_module)
    for part in exc_type.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj


def _unwrap_meta(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept either an exception dict or a whole result meta holding one in ``result``."""
    if "exc_type" not in meta and isinstance(meta.get("result"), Mapping):
        return meta["result"]
    return meta


def exception_from_dict(meta: Mapping[str, Any]) -> BaseException:
    """Rebuild the exception described by an exception dict (or a meta holding one).

    ``celery.exceptions`` names map to tuiq's classes.  Other modules are used only if
    already imported; an unknown module or name gives a synthetic ``Exception`` subclass
    named ``exc_type`` whose ``__module__`` is ``exc_module``.

    Raises:
        ValueError: the dict has no ``exc_type``.
        TuiqError: the name resolves to something that is not an exception class.
    """
    info = _unwrap_meta(meta)
    exc_type = info.get("exc_type")
    if not exc_type or not isinstance(exc_type, str):
        raise ValueError("Exception information must include the exception type")
    # Old metas (and Celery's own fallback) may lack a module; builtins is the best guess.
    exc_module = info.get("exc_module") or "builtins"
    message = info.get("exc_message", [])
    args = list(message) if isinstance(message, list | tuple) else [message]

    cls = _lookup_class(exc_type, str(exc_module))
    if cls is None:
        cls = _synthetic_class(exc_type, str(exc_module))
    elif not (isinstance(cls, type) and issubclass(cls, BaseException)):
        raise TuiqError(
            f"Expected an exception class, got {exc_module}.{exc_type} "
            f"with payload {safe_repr(message)}"
        )
    try:
        return cls(*args)
    except Exception:  # any constructor mismatch falls back the same way
        return _synthetic_class(exc_type, str(exc_module))(*args)
