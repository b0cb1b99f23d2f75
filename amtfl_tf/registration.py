"""Keras registration of the package's serialisable classes, on ``import
amtfl_tf``, without importing TensorFlow.

``keras.saving.load_model("model.keras")`` finds a custom class only when
the module that defines it (and runs its ``register_keras_serializable``
decorator) has been imported. ``import amtfl_tf`` must be enough for that,
but it must stay cheap: the scripts, ``datasets``, ``results`` and
``published`` never need TensorFlow (a test checks that importing them
leaves it out), and TensorFlow takes seconds to import.

So :func:`install` (called by ``amtfl_tf/__init__.py``) registers at once
when Keras is already imported, and otherwise puts a small finder on
``sys.meta_path`` that watches the imports of ``keras``, ``tensorflow`` and
the package's own modules: when the outermost of them finishes and Keras
is loaded, it imports :data:`MODULES` (every class of the package is then
registered) and removes itself. Registration therefore follows whatever
imports Keras (``import keras``, ``import tensorflow``, ``from amtfl_tf
import models``), in any order, and a process that never imports Keras
never pays for it. Waiting for the outermost import matters: registering
in the middle of, say, ``amtfl_tf.layers`` importing Keras would import
``amtfl_tf.models``, which needs the half-imported ``amtfl_tf.layers``.
"""

from __future__ import annotations

import sys
import threading
import warnings

# importing these registers every serialisable class of the package
MODULES = ("amtfl_tf.layers", "amtfl_tf.models")
WATCHED = ("keras", "tensorflow")
PACKAGE = "amtfl_tf"


def register_all() -> None:
    """Import the modules that define the package's Keras classes (each
    class registers itself under ``amtfl_tf>ClassName``)."""
    import amtfl_tf.layers  # noqa: F401
    import amtfl_tf.models  # noqa: F401


def is_registered() -> bool:
    """True once every module of :data:`MODULES` is imported."""
    return all(name in sys.modules and not _initializing(sys.modules[name])
               for name in MODULES)


def _initializing(module) -> bool:
    return bool(getattr(getattr(module, "__spec__", None), "_initializing",
                        False))


def _watched(name: str) -> bool:
    return (name in WATCHED or name == PACKAGE
            or name.startswith(PACKAGE + "."))


class _RegisterAfterImport:
    """A ``sys.meta_path`` finder (the protocol is ``find_spec`` alone;
    ``importlib.abc`` would cost 20 ms of imports) that wraps the loaders
    of the watched modules; when the last watched import in progress ends
    with Keras loaded, it registers and removes itself."""

    def __init__(self):
        self._loading: set[str] = set()
        self._lock = threading.Lock()

    def find_spec(self, fullname, path=None, target=None):
        if not _watched(fullname):
            return None
        spec = None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def wrapped(module):
            with self._lock:
                self._loading.add(fullname)
            try:
                exec_module(module)
            finally:
                with self._lock:
                    self._loading.discard(fullname)
                    done = not self._loading
                loader.__dict__.pop("exec_module", None)
            if done and "keras" in sys.modules:
                self._fire()

        loader.exec_module = wrapped
        return spec

    def _fire(self):
        uninstall()
        try:
            register_all()
        except Exception as e:  # never break the user's own import
            warnings.warn(
                "amtfl_tf could not register its Keras classes; import "
                "amtfl_tf.models before keras.saving.load_model. Error: "
                f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)


_FINDER: _RegisterAfterImport | None = None


def install() -> None:
    """Register now if Keras is loaded, else once it is (see the module
    doc). Idempotent."""
    global _FINDER
    keras = sys.modules.get("keras")
    if keras is not None and not _initializing(keras) and not any(
            _initializing(sys.modules[n]) for n in WATCHED
            if n in sys.modules):
        register_all()
        return
    if _FINDER is None:
        _FINDER = _RegisterAfterImport()
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    """Remove the finder (registration then happens only by importing
    :data:`MODULES`)."""
    global _FINDER
    if _FINDER is not None and _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    _FINDER = None
