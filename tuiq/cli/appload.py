"""Finding the app named by ``-A/--app`` (Celery's rules, plus ``module:attribute``)."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from types import ModuleType

from tuiq.app import App
from tuiq.exceptions import AppNotFound


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


def find_app(spec: str) -> object:
    """Import ``spec`` and return its app.

    ``proj:attr`` takes that attribute. ``proj.module.attr`` works when the last
    part names an app. For a module: ``app``, then ``celery``, then any app
    attribute, then the submodule ``proj.celery`` the same way.
    """
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attribute = spec.partition(":")
    try:
        if attribute:
            module = importlib.import_module(module_name)
            value = module
            for part in attribute.split("."):
                value = getattr(value, part)
            if inspect.isfunction(value):
                value = value()  # an app factory, as Celery allows
            if not _is_app(value):
                raise AppNotFound(f"{spec} is not a tuiq app")
            return value
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name or "." not in module_name:
                raise
            parent, _, attr = module_name.rpartition(".")
            value = getattr(importlib.import_module(parent), attr, None)
            if _is_app(value):
                return value
            raise
        found = _app_in_module(module)
        if found is not None:
            return found
        try:
            submodule = importlib.import_module(f"{module_name}.celery")
        except ModuleNotFoundError:
            submodule = None
        if submodule is not None:
            found = _app_in_module(submodule)
            if found is not None:
                return found
    except ModuleNotFoundError as exc:
        raise AppNotFound(f"cannot import app module {exc.name!r} (from -A {spec})") from exc
    except AttributeError as exc:
        raise AppNotFound(f"-A {spec}: {exc}") from exc
    except AppNotFound:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's module failed: say where, in one line
        raise AppNotFound(f"error while importing -A {spec}: {exc!r}") from exc
    raise AppNotFound(f"no app found in module {module_name!r} (looked for 'app', 'celery' "
                      f"and any App instance)")
