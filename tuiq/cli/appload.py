"""Finding the app named by ``-A/--app`` (Celery's rules, plus ``module:attribute``)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from types import ModuleType

from tuiq.app import App
from tuiq.exceptions import AppNotFound, describe_import_error


def _is_app(value: object) -> bool:
    if isinstance(value, App):
        return True
    # A Celery app works for the console and CLI too (they only need its config).
    return type(value).__name__ == "Celery" and hasattr(value, "conf") and \
        hasattr(value, "tasks")


def _app_in_module(module: ModuleType) -> object | None:
    for attr in ("app", "celery"):
        value = getattr(module, attr, None)
        if _is_app(value):
            return value
    for value in vars(module).values():
        if _is_app(value):
            return value
    return None


def _import(module_name: str, spec: str):
    """Import the ``-A`` module; tell a missing module from a failing one."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(f"{missing}."):
            raise AppNotFound(f"cannot import app module {missing!r} (from -A {spec})") \
                from exc
        raise AppNotFound(f"error while importing -A {spec}: {describe_import_error(exc)}") \
            from exc
    except Exception as exc:  # noqa: BLE001 - the user's module failed: say how, in one line
        raise AppNotFound(f"error while importing -A {spec}: {describe_import_error(exc)}") \
            from exc


def find_app(spec: str) -> object:
    """Import ``spec`` and return its app.

    ``proj:attr`` takes that attribute. ``proj.module.attr`` works when the last
    part names an app. For a module: ``app``, then ``celery``, then any app
    attribute, then the submodule ``proj.celery`` the same way. Errors are
    :class:`AppNotFound` with a one-line message.
    """
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attribute = spec.partition(":")
    if attribute:
        value = _import(module_name, spec)
        for part in attribute.split("."):
            if not hasattr(value, part):
                raise AppNotFound(f"-A {spec}: {module_name} has no attribute {part!r}")
            value = getattr(value, part)
        if inspect.isfunction(value):
            try:
                value = value()  # an app factory, as Celery allows
            except Exception as exc:  # noqa: BLE001
                raise AppNotFound(
                    f"-A {spec}: the app factory failed: {describe_import_error(exc)}") from exc
        if not _is_app(value):
            raise AppNotFound(f"{spec} is not a tuiq app")
        return value
    try:
        module = _import(module_name, spec)
    except AppNotFound:
        if "." not in module_name:
            raise
        # ``proj.module.app``: the last part may name the app itself.
        parent, _, attr = module_name.rpartition(".")
        value = getattr(_import(parent, spec), attr, None)
        if _is_app(value):
            return value
        raise
    found = _app_in_module(module)
    if found is not None:
        return found
    if importlib.util.find_spec(f"{module_name}.celery") if hasattr(module, "__path__") \
            else None:
        found = _app_in_module(_import(f"{module_name}.celery", spec))
        if found is not None:
            return found
    raise AppNotFound(f"no app found in module {module_name!r} (looked for 'app', 'celery' "
                      f"and any App instance)")
