"""Run folders: config.json, per-split records (resume), results.json and
table.md, all written atomically.

A reproduction script works inside one :class:`RunDir`:

>>> run = RunDir("figures/quick/table1", fingerprint={"profile": "quick"})
>>> run.write_config({"profile": "quick", "seed": 0})
>>> if not run.has_split("split1"):
...     run.save_split("split1", {"STL": 10.2})
>>> run.write_results(Results(experiment="table1", profile="quick", ...))

``save_split`` writes one JSON file per finished split, so a killed run
loses at most the split in progress; a rerun skips recorded splits unless
``overwrite=True``. Records made under a different ``fingerprint`` (e.g.
another profile) are refused instead of silently mixed.

``results.json`` schema (stable keys; more may be added)::

  {"experiment", "profile", "dataset", "rows": [{"method", "metric", "mean",
   "ci95", "per_split", "paper", "paper_ci95", ...}], "claims": [{"id",
   "text", "source", "statement", "statistic", "n", "effect",
   "effect_ci95", "test", "verdict", "holds", "evidence", "note"}],
   "wall_seconds", ...}

Schema 2 added the claim verdicts (``verdict``, ``n``, ``effect``,
``effect_ci95``...); ``holds`` stays, as ``verdict == "holds"``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from amtfl_tf import metrics
from amtfl_tf.published import PublishedNumber

if TYPE_CHECKING:
    from amtfl_tf.verdicts import Evidence

SCHEMA_VERSION = 2
_PACKAGES = ("tensorflow", "keras", "numpy", "scipy", "matplotlib",
             "tensorflow_datasets", "absl-py", "amtfl_tf")


class ResumeMismatchError(RuntimeError):
    """The workdir holds split records made with a different configuration."""


class WorkdirError(ValueError):
    """The workdir cannot be created or written (a read-only place, a path
    through a file, a full disk)."""


# --------------------------------------------------------------------------
# Atomic writes


def _to_jsonable(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _check_finite(obj: Any, where: str = "") -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(
            f"refusing to write a non-finite number at {where or 'top'}: "
            f"{obj!r}")
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            _check_finite(v, f"{where}.{k}" if where else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_finite(v, f"{where}[{i}]")


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_json(path: str, obj: Any) -> None:
    """Write ``obj`` as JSON atomically; NaN/Inf are refused, not written."""
    plain = json.loads(json.dumps(obj, default=_to_jsonable))
    _check_finite(plain)
    atomic_write_text(path, json.dumps(plain, indent=2, allow_nan=False)
                      + "\n")


def read_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def _read_split(path: str) -> dict[str, Any]:
    """A split record file, checked to be one :meth:`RunDir.save_split`
    wrote (a ``key`` and a ``record``); ValueError naming the file."""
    try:
        saved = read_json(path)
    except ValueError as e:
        raise ValueError(f"split record {path} is not valid JSON ({e}); "
                         "delete it to redo that split, or rerun with "
                         "--overwrite") from None
    if not isinstance(saved, dict) or not {"key", "record"} <= set(saved):
        got = sorted(saved) if isinstance(saved, dict) else type(
            saved).__name__
        raise ValueError(f"split record {path} has no 'key' and 'record' "
                         "fields: not one this project wrote; delete it to "
                         "redo that split, or rerun with --overwrite. "
                         f"Received: {got}")
    return saved


# --------------------------------------------------------------------------
# Result records


@dataclasses.dataclass
class Row:
    """One method's number: mean and 95% CI over splits, beside the paper's.

    Use :meth:`from_splits` to compute ``mean``/``ci95`` from ``per_split``.
    """

    method: str
    metric: str
    mean: float
    ci95: float | None
    per_split: list[float]
    paper: float | None = None
    paper_ci95: float | None = None
    paper_source: str | None = None
    dataset: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_splits(cls, method: str, metric: str,
                    per_split: Sequence[float],
                    paper: PublishedNumber | None = None,
                    ci_method: str = "t", dataset: str | None = None,
                    **extra: Any) -> "Row":
        mean, ci = metrics.mean_ci95(per_split, ci_method)
        return cls(
            method=method, metric=metric, mean=mean, ci95=ci,
            per_split=[float(v) for v in per_split],
            paper=None if paper is None else paper.value,
            paper_ci95=None if paper is None else paper.spread,
            paper_source=None if paper is None else paper.source,
            dataset=dataset, extra=dict(extra))


@dataclasses.dataclass
class Claim:
    """A statement of a paper, decided on our numbers by a 95% CI.

    Build one with :meth:`of` from a :class:`amtfl_tf.verdicts.Evidence`
    (never by hand): the verdict follows from ``effect_ci95`` alone
    (``holds`` / ``contradicted`` / ``inconclusive``, see
    :mod:`amtfl_tf.verdicts`), and ``holds`` is kept as the bool
    ``verdict == "holds"`` for older readers.

    Attributes:
      id: a stable identifier (``paper.item.name``).
      text: the claim as we test it on our numbers.
      source: where the paper makes it (paper, section, figure or table).
      statement: the paper's statement (its words where it has them).
      statistic: what ``effect`` is (unit and sign: positive is the
        claimed direction).
      n: the units the effect rests on (splits, draws, seeds, repeats).
      effect: the estimate; ``effect_ci95`` its 95% CI or None.
      test: the procedure that gave the CI (paired t, Welch t, ...).
      verdict: from the CI.
      evidence: the numbers behind the effect, in words.
      note: what the reader must know to weigh it (an advantage the
        paper's method has by design, a setting that differs).
    """

    id: str
    text: str
    source: str
    statement: str
    statistic: str
    n: int
    effect: float
    effect_ci95: list[float] | None
    test: str
    verdict: str
    evidence: str = ""
    note: str = ""
    holds: bool = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        from amtfl_tf import verdicts
        for name in ("id", "text", "source", "statement", "statistic"):
            if not isinstance(getattr(self, name), str) or \
                    not getattr(self, name).strip():
                raise ValueError(
                    f"Claim.{name} must be a non-empty string. Received: "
                    f"{name}={getattr(self, name)!r} (claim {self.id!r})")
        if self.effect_ci95 is not None:
            self.effect_ci95 = [float(v) for v in self.effect_ci95]
        expected = verdicts.verdict_of(self.effect_ci95)
        if self.verdict != expected:
            raise ValueError(
                f"Claim.verdict must follow from effect_ci95 "
                f"{self.effect_ci95!r}, i.e. be {expected!r}. Received: "
                f"verdict={self.verdict!r} (claim {self.id!r})")
        self.effect = float(self.effect)
        self.n = int(self.n)
        self.holds = self.verdict == verdicts.HOLDS

    @classmethod
    def of(cls, id: str, text: str, evidence: Evidence, *, source: str,
           statement: str, detail: str = "", note: str = "") -> "Claim":
        """The claim ``text`` decided by ``evidence`` (a
        :class:`~amtfl_tf.verdicts.Evidence`); ``detail`` adds the raw
        numbers (means per arm, counts) to the evidence text."""
        ev = evidence.describe()
        return cls(id=id, text=text, source=source, statement=statement,
                   statistic=evidence.statistic, n=evidence.n,
                   effect=evidence.effect,
                   effect_ci95=(None if evidence.ci95 is None
                                else list(evidence.ci95)),
                   test=evidence.test, verdict=evidence.verdict,
                   evidence=f"{detail}; effect {ev}" if detail
                   else f"effect {ev}", note=note)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Claim":
        d = dict(d)
        d.pop("holds", None)
        return cls(**d)


@dataclasses.dataclass
class Results:
    """The content of ``results.json``."""

    experiment: str
    profile: str
    dataset: str | None
    rows: list[Row]
    claims: list[Claim] = dataclasses.field(default_factory=list)
    wall_seconds: float = 0.0
    figures: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: What the profile changes from the published protocol, as
    #: ``experiments.profiles.changes`` lists it (None: not recorded).
    profile_changes: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["schema_version"] = SCHEMA_VERSION
        return d


# --------------------------------------------------------------------------
# Markdown


def _get(c, name, default=None):
    return c.get(name, default) if isinstance(c, Mapping) else \
        getattr(c, name, default)


def claim_verdict(c: Claim | Mapping[str, Any]) -> str:
    """A claim's verdict (a :class:`Claim` or its dict; a schema-1 dict
    without one reads ``holds`` / ``not decided``)."""
    v = _get(c, "verdict")
    if v:
        return v
    # a schema-1 claim's bool compared two means: not a verdict
    return ("not decided (schema 1; its old reading: "
            + ("holds" if _get(c, "holds") else "does not hold") + ")")


def verdict_counts(claims: Iterable[Claim | Mapping[str, Any]]) -> str:
    """``"3 hold, 1 contradicted, 2 inconclusive"`` for ``claims``."""
    from amtfl_tf import verdicts
    verdict = [claim_verdict(c) for c in claims]
    parts = [f"{verdict.count(verdicts.HOLDS)} hold",
             f"{verdict.count(verdicts.CONTRADICTED)} contradicted",
             f"{verdict.count(verdicts.INCONCLUSIVE)} inconclusive"]
    other = len(verdict) - sum(verdict.count(v) for v in verdicts.VERDICTS)
    if other:
        parts.append(f"{other} not decided")
    return ", ".join(parts) + f" of {len(verdict)}"


def claim_line(c: Claim | Mapping[str, Any]) -> str:
    """One Markdown bullet: verdict, claim, where the paper says it, the
    effect and its CI, and any note."""
    where = _get(c, "source")
    text = f"- **{claim_verdict(c)}**: {_get(c, 'text')}"
    if where:
        text += f" [{where}]"
    if _get(c, "evidence"):
        text += f" — {_get(c, 'evidence')}"
    if _get(c, "note"):
        text += f" *Note: {_get(c, 'note')}*"
    return text


def _fmt(x: float | None, ref: float | None = None,
         integer: bool = False) -> str:
    if x is None:
        return "–"
    if integer:
        return f"{x:.0f}"
    ref = abs(ref if ref is not None else x)
    if ref >= 100:
        return f"{x:.1f}"
    if ref >= 1:
        return f"{x:.2f}"
    return f"{x:.4f}"


def _pm(mean: float | None, ci: float | None, integer: bool = False) -> str:
    if mean is None:
        return "–"
    if ci is None:
        return _fmt(mean, integer=integer)
    return f"{_fmt(mean, integer=integer)} ± {_fmt(ci, mean)}"


def markdown_table(results: Results) -> str:
    """``table.md``: our numbers beside the paper's, then the claims."""
    with_dataset = any(r.dataset for r in results.rows)
    head = ["method"] + (["dataset"] if with_dataset else []) + [
        "metric", "ours (mean ± 95% CI)", "paper", "n"]
    lines = [
        f"# {results.experiment}"
        + (f" — {results.dataset}" if results.dataset else "")
        + f" (profile: {results.profile})",
        "",
    ]
    if results.profile_changes is not None:
        changed = "; ".join(f"{c['setting']} {c['ours']} (paper "
                            f"{c['paper']})" for c in results.profile_changes)
        lines += [f"Changes from the paper: {changed or 'none'}.", ""]
    lines += [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in results.rows:
        cells = [r.method] + ([r.dataset or ""] if with_dataset else []) + [
            r.metric, _pm(r.mean, r.ci95, r.metric == "count"),
            _pm(r.paper, r.paper_ci95, r.metric == "count"),
            str(len(r.per_split))]
        lines.append("| " + " | ".join(cells) + " |")
    if results.claims:
        lines += ["", "Claims (" + verdict_counts(results.claims) + "):",
                  ""]
        for c in results.claims:
            lines.append(claim_line(c))
    if results.notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in results.notes]
    if results.figures:
        lines += ["", "Figures: " + ", ".join(
            f"[{f}]({f})" for f in results.figures)]
    lines += ["", wall_time_line(results)]
    return "\n".join(lines) + "\n"


def wall_time_line(results: Results) -> str:
    """``Wall time: …``; for a resumed run it says that the time is this
    invocation's and how many split records it read instead of computing
    (``results.extra["splits_read"]``, set by :meth:`RunDir.write_results`):
    a run resumed from complete records would otherwise show the seconds
    of rebuilding its tables."""
    line = f"Wall time: {results.wall_seconds:.1f} s"
    read = results.extra.get("splits_read")
    if read:
        total = results.extra.get("splits_total", read)
        line += (f" (this invocation; {read} of {total} split records were "
                 "computed by earlier invocations: run_all.sh's "
                 "run_all.json sums every invocation's time)")
    return line + "."


# --------------------------------------------------------------------------
# Provenance


def package_versions() -> dict[str, str | None]:
    from importlib import metadata
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    if out.get("tensorflow") is None:
        for alt in ("tensorflow-cpu", "tensorflow-gpu"):
            try:
                out["tensorflow"] = metadata.version(alt)
                break
            except metadata.PackageNotFoundError:
                pass
    return out


def git_commit(path: str | None = None) -> dict[str, Any]:
    """The repository's HEAD commit and whether the tree is dirty."""
    cwd = path or os.path.dirname(os.path.abspath(__file__))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
            text=True, timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=10,
            check=True).stdout.strip())
        return {"commit": head, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


#: the CPU features that choose TensorFlow's kernels (and its oneDNN
#: default): a run's speed, and its bits, depend on them
CPU_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
                "amx_tile")


def cpu_info() -> dict[str, Any]:
    """The CPU's model name and which of :data:`CPU_FEATURES` it has
    (read from ``/proc/cpuinfo``; None where that file is missing)."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return {"cpu_model": None, "cpu_features": None}
    fields = dict(line.split(":", 1) for line in text.splitlines()
                  if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    return {"cpu_model": fields.get("model name"),
            "cpu_features": [f for f in CPU_FEATURES if f in flags]}


def split_machine() -> dict[str, Any]:
    """What a split record says of its machine: :func:`cpu_info` and the
    oneDNN setting."""
    return {**cpu_info(),
            "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS")}


def machine_info() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        **split_machine(),
        "argv": list(sys.argv),
    }


# --------------------------------------------------------------------------
# Run folder

_KEY = re.compile(r"^[A-Za-z0-9_.=-]+$")


class RunDir:
    """A run folder with resumable per-split records.

    Args:
      workdir: the folder (created if needed).
      overwrite: discard earlier split records and results.
      fingerprint: the settings that define the experiment (profile, grid,
        dataset...). Records made under another fingerprint are refused with
        :class:`ResumeMismatchError` unless ``overwrite``.
      folder_flag: the command-line flag that chose ``workdir``, named in
        the errors' advice (a tool may call it ``--out``).
    """

    SPLITS = "splits"
    #: what a finished run writes from its records (removed by overwrite)
    RESULTS = ("results.json", "table.md")

    def __init__(self, workdir: str, overwrite: bool = False,
                 fingerprint: Mapping[str, Any] | None = None,
                 folder_flag: str = "--workdir") -> None:
        if not workdir:
            raise ValueError(
                f"workdir must be a path. Received: workdir={workdir!r}")
        self.workdir = os.path.abspath(workdir)
        self.overwrite = overwrite
        self.folder_flag = folder_flag
        # split records this run read from earlier invocations / wrote
        self.read_keys: set[str] = set()
        self.saved_keys: set[str] = set()
        self.fingerprint = json.loads(json.dumps(
            dict(fingerprint or {}), default=_to_jsonable, sort_keys=True))
        try:
            self._prepare(overwrite)
        except OSError as e:
            raise WorkdirError(
                f"workdir {self.workdir!r} cannot be written "
                f"({type(e).__name__}: {e.strerror or e}"
                + (f": {e.filename}" if e.filename else "") + "). Pass "
                f"{folder_flag}=<a folder you can write> (workdir= in "
                "Python)."
            ) from None

    def _prepare(self, overwrite: bool) -> None:
        split_dir = os.path.join(self.workdir, self.SPLITS)
        if overwrite and os.path.isdir(split_dir):
            shutil.rmtree(split_dir)
        if overwrite:
            # an --overwrite run that is interrupted must not leave the old
            # results beside the new config.json
            for name in self.RESULTS:
                if os.path.exists(self.path(name)):
                    os.remove(self.path(name))
        os.makedirs(split_dir, exist_ok=True)
        fp_path = os.path.join(split_dir, "_fingerprint.json")
        if os.path.exists(fp_path):
            old = read_json(fp_path)
            if old != self.fingerprint and self.completed():
                raise ResumeMismatchError(
                    f"{self.workdir} holds split records made with different "
                    f"settings: {_diff(old, self.fingerprint)}. Rerun with "
                    f"--overwrite to discard them, or use another "
                    f"{self.folder_flag}.")
        atomic_write_json(fp_path, self.fingerprint)

    def path(self, name: str) -> str:
        return os.path.join(self.workdir, name)

    def _split_path(self, key: str) -> str:
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValueError(
                "split key must be letters, digits, '_', '.', '=' or '-'. "
                f"Received: key={key!r}")
        return os.path.join(self.workdir, self.SPLITS, key + ".json")

    def has_split(self, key: str) -> bool:
        return os.path.exists(self._split_path(key))

    def load_split(self, key: str) -> dict[str, Any]:
        record = _read_split(self._split_path(key))["record"]
        if key not in self.saved_keys:
            self.read_keys.add(key)
        return record

    def save_split(self, key: str, record: Mapping[str, Any]) -> None:
        """Record one finished split atomically, with the CPU that finished
        it (:func:`split_machine`): a run that spans sessions can span
        machines, and a record's seconds depend on which."""
        atomic_write_json(self._split_path(key), {
            "key": key,
            "finished": datetime.datetime.now(
                datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": split_machine(),
            "record": dict(record)})
        self.saved_keys.add(key)

    def completed(self) -> dict[str, dict[str, Any]]:
        """All recorded splits, key → record, sorted by key."""
        folder = os.path.join(self.workdir, self.SPLITS)
        out = {}
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json") and not name.startswith("_"):
                data = _read_split(os.path.join(folder, name))
                out[data["key"]] = data["record"]
        return out

    def adopt(self, other_workdir: str, keys: Iterable[str] | None = None
              ) -> list[str]:
        """Copy the split records of another run folder made under the same
        fingerprint (e.g. the ``paper`` profile's runs 1-2 into the
        ``faithful`` folder, when the two profiles differ only in the number
        of runs) for every key of ``keys`` (default: all) not recorded
        here. A folder that is absent
        or was made under another fingerprint is left alone. Returns the
        adopted keys; each copy names its source in ``"adopted_from"``."""
        other = os.path.join(os.path.abspath(other_workdir), self.SPLITS)
        fp_path = os.path.join(other, "_fingerprint.json")
        if (os.path.abspath(other_workdir) == self.workdir
                or not os.path.exists(fp_path)
                or read_json(fp_path) != self.fingerprint):
            return []
        wanted = None if keys is None else set(keys)
        adopted = []
        for name in sorted(os.listdir(other)):
            if not name.endswith(".json") or name.startswith("_"):
                continue
            data = read_json(os.path.join(other, name))
            if self.has_split(data["key"]) or (
                    wanted is not None and data["key"] not in wanted):
                continue
            data["adopted_from"] = os.path.relpath(other, self.workdir)
            atomic_write_json(self._split_path(data["key"]), data)
            adopted.append(data["key"])
        return adopted

    def write_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Write ``config.json``: flags, versions, git commit, machine."""
        payload = {
            "config": dict(config),
            "fingerprint": self.fingerprint,
            "versions": package_versions(),
            "git": git_commit(),
            "machine": machine_info(),
            "written": datetime.datetime.now(
                datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        atomic_write_json(self.path("config.json"), payload)
        return payload

    def write_results(self, results: Results) -> None:
        """Write ``results.json`` and ``table.md``. When this run read
        split records made by earlier invocations, ``results.extra`` gets
        ``splits_read`` and ``splits_total`` (the wall time is then this
        invocation's alone; :func:`wall_time_line`)."""
        if self.read_keys:
            results.extra["splits_read"] = len(self.read_keys)
            results.extra["splits_total"] = len(self.read_keys
                                                | self.saved_keys)
        atomic_write_json(self.path("results.json"), results.to_dict())
        atomic_write_text(self.path("table.md"), markdown_table(results))


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    parts = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys
             if old.get(k) != new.get(k)]
    return "; ".join(parts) or "(none)"
