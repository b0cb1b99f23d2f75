"""Run profiles: one table per experiment, one lookup for all.

Each experiment module states its profiles as data, in the manner of
flax's ``configs/``: a mapping ``profile -> {field: value}`` of the fields
of its ``Settings`` dataclass that the profile sets (the others keep the
dataclass defaults; the experiment's docs say how each profile differs
from the published protocol). A nested dataclass field (``train``) is
given as a dict of the fields it sets::

    PROFILES = {
        "smoke": {"runs": 1, "epochs": 2, "image_size": 32},
        "quick": {"runs": 2, "epochs": 300},
        "paper": {},
    }

    def settings_for(profile, seed=0, **overrides):
        return profiles.make(Settings, PROFILES, profile, seed, **overrides)

:func:`make` builds the settings, applies the overrides (a flag the user
set), and rejects an unknown profile or field by name. :func:`describe`
prints the table, which the docs and ``--help`` texts use.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping


def _choices(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else \
        ", ".join(names[:-1]) + " or " + names[-1]


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _default(field: dataclasses.Field):
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _apply(base, values: Mapping[str, Any], nested: str | None):
    """``base`` with ``values``: the fields of the nested dataclass go to
    ``base.<nested>`` (they win over a same-named top-level field), the
    others to ``base`` itself; an unknown name is an error."""
    values = dict(values)
    inner = {}
    if nested is not None:
        inner_cls = type(getattr(base, nested))
        inner_names = set(_fields(inner_cls))
        inner = {k: values.pop(k) for k in list(values) if k in inner_names}
        if isinstance(values.get(nested), Mapping):
            inner = {**values.pop(nested), **inner}
    unknown = sorted(set(values) - set(_fields(type(base))))
    if unknown:
        raise ValueError(f"Unknown setting(s): {unknown}. Known: "
                         f"{sorted(set(_fields(type(base))))}")
    if inner:
        values[nested] = dataclasses.replace(getattr(base, nested), **inner)
    return dataclasses.replace(base, **values)


def make(cls, table: Mapping[str, Mapping[str, Any]], profile: str,
         seed: int = 0, nested: str | None = None, **overrides):
    """``cls(profile, seed)`` with the profile's values, then
    ``overrides``.

    Args:
      cls: a dataclass whose first two fields are ``profile`` and
        ``seed``.
      table: profile -> the fields that profile changes.
      profile: a key of ``table``.
      seed: the run's seed.
      nested: the name of a nested dataclass field (e.g. ``"train"``)
        whose fields may be given flat in ``overrides``.
      overrides: field values that win over the profile's.

    Raises:
      ValueError: an unknown profile or field, naming it.
    """
    if profile not in table:
        raise ValueError(f"profile must be {_choices(table)}. Received: "
                         f"profile={profile!r}")
    settings = cls(profile, seed)
    settings = _apply(settings, table[profile], nested)
    return _apply(settings, overrides, nested)


def describe(cls, table: Mapping[str, Mapping[str, Any]]) -> str:
    """A markdown table: per profile, the fields it sets."""
    lines = ["| profile | sets (others: the dataclass defaults) |",
             "| --- | --- |"]
    for name, values in table.items():
        parts = []
        for k, v in values.items():
            if isinstance(v, Mapping):
                parts += [f"{k}.{a}={b!r}" for a, b in v.items()]
            else:
                parts.append(f"{k}={v!r}")
        lines.append(f"| {name} | {', '.join(parts) or 'defaults'} |")
    return "\n".join(lines)


def changes(settings, table: Mapping[str, Mapping[str, Any]],
            nested: str | None = None) -> list[dict[str, Any]]:
    """What ``settings`` changes from the published protocol.

    The published protocol is ``table["paper"]`` (made with the same
    seed); the result lists every field whose value differs, as
    ``{"setting", "ours", "paper"}`` (a nested dataclass's fields as
    ``train.<field>``), for ``results.json``'s ``profile_changes`` and the
    report. User overrides count like the profile's own values.
    """
    if "paper" not in table:
        raise ValueError(f"table must have a 'paper' profile. Received "
                         f"profiles: {sorted(table)}")
    paper = make(type(settings), table, "paper", settings.seed, nested)
    out = []

    def walk(ours, theirs, prefix):
        for field in dataclasses.fields(ours):
            if field.name in ("profile", "seed") and not prefix:
                continue
            a, b = getattr(ours, field.name), getattr(theirs, field.name)
            if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
                walk(a, b, f"{prefix}{field.name}.")
            elif a != b:
                out.append({"setting": prefix + field.name,
                            "ours": _short(a), "paper": _short(b)})

    walk(settings, paper, "")
    return out


def _short(value) -> Any:
    """A JSON-friendly, readable form of a setting's value."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        text = repr(list(value))
        return text if len(text) <= 60 else text[:57] + "..."
    return repr(value)[:60]
