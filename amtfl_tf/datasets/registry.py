"""Name → loader registry: ``load(name, data_dir=..., seed=..., **options)``."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, TypeVar

_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True)
class DatasetEntry:
    name: str
    loader: Callable[..., Any]
    description: str


_REGISTRY: dict[str, DatasetEntry] = {}


def _short(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None and getattr(value, "ndim", 0) > 0:
        return f"array(shape={tuple(shape)}, dtype={value.dtype})"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        kinds = sorted({type(v).__name__ for v in value})
        return f"[{len(value)} × {'/'.join(kinds)}]"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_short(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def compact_repr(cls: type[_T]) -> type[_T]:
    """Class decorator (above ``@dataclasses.dataclass``): the repr names
    each field with arrays shown as shape and dtype and long lists as a
    count, so printing a dataset does not dump its pixels."""
    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={_short(getattr(self, f.name))}"
                           for f in dataclasses.fields(self) if f.repr)
        return f"{type(self).__name__}({fields})"
    cls.__repr__ = __repr__
    return cls


def register(name: str, loader: Callable[..., Any], description: str) -> None:
    """Register ``loader(data_dir=..., seed=..., **options)`` under ``name``."""
    params = inspect.signature(loader).parameters
    for required in ("data_dir", "seed"):
        if required not in params:
            raise TypeError(
                f"loader for {name!r} must accept {required!r}. Received: "
                f"loader={loader!r}")
    if name in _REGISTRY:
        raise ValueError(f"dataset {name!r} is already registered")
    _REGISTRY[name] = DatasetEntry(name, loader, description)


def names() -> tuple[str, ...]:
    """All registered dataset names, sorted."""
    return tuple(sorted(_REGISTRY))


def describe() -> dict[str, str]:
    return {n: _REGISTRY[n].description for n in names()}


def load(name: str, data_dir: str | None = None, seed: int = 0,
         **options: Any) -> Any:
    """Load dataset ``name``.

    Args:
      name: a registered name (see :func:`names`).
      data_dir: the data directory; default ``$AMTFL_TF_DATA_DIR`` or the
        user cache directory.
      seed: seed for datasets that sample (fixed datasets ignore it).
      **options: dataset-specific keyword arguments (see each loader).

    Raises:
      ValueError: unknown ``name`` or option.
    """
    if name not in _REGISTRY:
        raise ValueError(
            f"Unknown dataset name. Received: name={name!r}. "
            f"Available: {', '.join(names())}.")
    loader = _REGISTRY[name].loader
    params = inspect.signature(loader).parameters
    unknown = sorted(set(options) - set(params))
    if unknown:
        allowed = sorted(set(params) - {"data_dir", "seed"})
        raise ValueError(
            f"Unknown option(s) for dataset {name!r}: {unknown}. "
            f"Allowed: {allowed}.")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int. Received: seed={seed!r}")
    return loader(data_dir=data_dir, seed=seed, **options)
