"""``figures/REPORT.md``: every table and figure of the three papers, built
from the run folders' ``results.json`` (never edited by hand).

Outputs live in one folder per profile, ``figures/<profile>/<script>/``.
For each paper item in :data:`ITEMS` the report shows the most faithful
profile that has run (paper, then faithful, then quick; smoke outputs are
git-ignored and never mixed in) with the settings that profile changes from
the paper, the script, the wall time, links to the PNGs, our numbers beside
the published ones (rows that have a published value; the full tables are
one link away in ``table.md``), every claim with its verdict (holds /
contradicted / inconclusive, from the 95% CI of its effect), and the run's
notes. Items whose run folder has no ``results.json`` are listed as not
run, with the reason (most need data that cannot be downloaded here). The
summary counts the verdicts per paper for the items shown, and per paper
and profile for every run found.

A folder without profile subfolders (``run_all.sh --outdir=DIR``, the
tests) is read as one profile's folder.

Wall times come from each profile's ``run_all.json`` (written by
``run_all.sh``: per script, as it ran) when present, else from each
``results.json`` (the time of the last invocation, which for a resumed run
is only the resume).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from amtfl_tf import verdicts
from amtfl_tf.durations import hms
from amtfl_tf.experiments.config import REPORTED_PROFILES
from amtfl_tf.results import atomic_write_text
from amtfl_tf.results import claim_line
from amtfl_tf.results import claim_verdict
from amtfl_tf.results import verdict_counts

PAPERS = {
    "deep_amtfl": "Deep-AMTFL (Lee, Yang, Hwang, ICML 2018)",
    "dmtrl": "DMTRL (Yang & Hospedales, ICLR 2017)",
    "damtl": "DAMTL (Feng & Chen)",
    "data": "Datasets",
}


@dataclasses.dataclass(frozen=True)
class Item:
    paper: str
    title: str
    script: str
    subdir: str = ""        # run folder below figures/<script>/
    needs: str = ""         # why it may be absent (data not offline)


ITEMS: tuple[Item, ...] = (
    Item("data", "Dataset sizes stated in the papers", "data_overview"),
    Item("deep_amtfl", "Fig. 4: synthetic bases", "fig4_synthetic_bases"),
    Item("deep_amtfl", "Fig. 5: synthetic RMSE, gains, scaling",
         "fig5_synthetic"),
    Item("deep_amtfl", "Table 1: School", "table1", "school"),
    Item("deep_amtfl", "Table 1: MNIST", "table1", "mnist"),
    Item("deep_amtfl", "Table 1: AWA-A", "table1", "awa_a",
         "user-supplied DeCAF features (awa_a/features.npz)"),
    Item("deep_amtfl", "Table 1: Room", "table1", "room",
         "user-supplied DeCAF features (room/features.npz)"),
    Item("deep_amtfl", "Table 2: MNIST-Imbalanced", "table2",
         "mnist_imbalanced"),
    Item("deep_amtfl", "Table 2: CUB", "table2", "cub",
         "CUB-200-2011 (tfds download or image folder)"),
    Item("deep_amtfl", "Table 2: AWA-C", "table2", "awa_c",
         "AWA image folder"),
    Item("deep_amtfl", "Table 2: ImageNet-Small", "table2", "imagenet_small",
         "ImageNet subset image folder"),
    Item("deep_amtfl", "Fig. 6: per-task gains and transfer |A W|",
         "fig6_transfer"),
    Item("dmtrl", "Fig. 2: MNIST error vs training fraction",
         "dmtrl_fig2_mnist"),
    Item("dmtrl", "Appendix A, Table 1: classic MTL vs DMTRL",
         "dmtrl_table_a1"),
    Item("dmtrl", "Appendix B, Table 2: parameters and capacity",
         "dmtrl_table_a2"),
    Item("dmtrl", "Fig. 3: AdienceFaces gender and age",
         "dmtrl_fig3_adience", "", "AdienceFaces (registration form)"),
    Item("dmtrl", "Fig. 4: Omniglot error, sharing strength, related "
         "alphabets", "dmtrl_fig4_omniglot"),
    Item("damtl", "Tables 4, 6 and Figs. 4-6, PO: Omniglot proxy",
         "damtl_omniglot", "po"),
    Item("damtl", "Tables 5, 7 and Figs. 4-6, NO: Omniglot proxy",
         "damtl_omniglot", "no"),
) + tuple(
    Item("damtl", f"Tables 4-7 on the paper's data: {g.upper()}",
         "damtl_tables", g, "Office-31 / Office-Home / Caltech / Tiny "
         "ImageNet class folders")
    for g in ("po1", "po2", "po3", "no1", "no2", "no3"))


def _read(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _fmt(v: float | None) -> str:
    if v is None:
        return "–"
    a = abs(v)
    if a >= 100:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def _row_table(rows: list[dict]) -> list[str]:
    out = ["| method | dataset | metric | ours (± 95% CI) | paper | n |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        ours = _fmt(r["mean"]) + (f" ± {_fmt(r['ci95'])}"
                                  if r.get("ci95") else "")
        paper = _fmt(r.get("paper")) + (
            f" ± {_fmt(r['paper_ci95'])}" if r.get("paper_ci95") else "")
        out.append(f"| {r['method']} | {r.get('dataset') or ''} | "
                   f"{r['metric']} | {ours} | {paper} | "
                   f"{len(r.get('per_split') or [])} |")
    return out


def _hms(seconds: float | None) -> str:
    return "–" if seconds is None else hms(seconds)


def _profile_folders(figures_dir: str) -> list[str]:
    """The profiles that have a folder under ``figures_dir`` (most
    faithful first); empty when ``figures_dir`` is one profile's folder."""
    return [p for p in REPORTED_PROFILES
            if os.path.isdir(os.path.join(figures_dir, p))]


def _collect(figures_dir: str):
    """Every item's ``(item, results or None, folder, others)``, the
    machine and package versions of the first config found, and every run
    found as ``(item, profile, results)``.

    With per-profile folders (``figures/<profile>/<script>/``) an item
    shows the most faithful profile that has run (paper, faithful, quick);
    ``others`` lists the other profiles it has. A folder without them is
    read as one profile's folder (``<figures_dir>/<script>/``).
    """
    profiles = _profile_folders(figures_dir)
    roots = [os.path.join(figures_dir, p) for p in profiles] or [figures_dir]
    found, runs, machine, versions = [], [], None, None
    for item in ITEMS:
        shown, others = None, []
        for root in roots:
            folder = os.path.join(root, item.script, item.subdir)
            res_path = os.path.join(folder, "results.json")
            if not os.path.exists(res_path):
                continue
            res = _read(res_path)
            runs.append((item, res.get("profile"), res))
            if shown is not None:
                others.append(res.get("profile"))
                continue
            shown = (res, folder)
            cfg_path = os.path.join(folder, "config.json")
            if machine is None and os.path.exists(cfg_path):
                cfg = _read(cfg_path)
                machine, versions = cfg.get("machine"), cfg.get("versions")
        if shown is None:
            found.append((item, None, os.path.join(
                roots[-1], item.script, item.subdir), []))
        else:
            found.append((item, shown[0], shown[1], others))
    return found, machine, versions, runs


def _counts(claims) -> str:
    """``holds | contradicted | inconclusive | not decided`` cells."""
    v = [claim_verdict(c) for c in claims]
    known = [v.count(x) for x in (verdicts.HOLDS, verdicts.CONTRADICTED,
                                  verdicts.INCONCLUSIVE)]
    return " | ".join(str(k) for k in known + [len(v) - sum(known)])


def _header(timings, machine, versions, found, runs) -> list[str]:
    lines = ["# Reproduction report", "",
             "Generated by `amtfl_tf.report` from the `results.json` files "
             "under this folder (`./run_all.sh` regenerates it; do not edit "
             "by hand). Every claim is decided on our numbers by the 95% CI "
             "of its effect (signed so that positive is what the paper "
             "claims; paired by split, draw or seed where both arms ran on "
             "the same ones): **holds** when the CI excludes 0 on the "
             "claimed side, **contradicted** when it excludes 0 on the "
             "other side, **inconclusive** otherwise. Each item shows the "
             "most faithful profile that has run (paper, then faithful, "
             "then quick) and what that profile changes from the paper.",
             ""]
    shown = sorted({r.get("profile") for _, r, _, _ in found if r},
                   key=_profile_rank)
    lines.append(f"- Profile(s) shown: **{', '.join(shown) or '–'}**")
    for profile, timing in timings.items():
        lines.append(
            f"- `run_all.sh` total wall time, {profile} profile: "
            f"{_hms(timing.get('total_seconds'))}"
            + (f" (failed: {', '.join(timing['failed'])})"
               if timing.get("failed") else "")
            + (f" (stopped, resumable: {', '.join(timing['stopped'])})"
               if timing.get("stopped") else ""))
    if machine:
        model = (f" ({machine['cpu_model']})" if machine.get("cpu_model")
                 else "")
        lines.append(f"- Hardware: {machine.get('cpu_count')} CPU core(s)"
                     f"{model}, {machine.get('platform')}, no GPU used")
    if versions:
        lines.append("- Software: " + ", ".join(
            f"{k} {v}" for k, v in versions.items() if v))
    lines += ["", "## Summary", "",
              "Items shown (each at its most faithful profile):", "",
              "| paper | items run | profiles shown | holds | contradicted "
              "| inconclusive | not decided (schema 1) |",
              "|---|---|---|---|---|---|---|"]
    for key, name in PAPERS.items():
        mine = [(i, r) for i, r, _, _ in found if i.paper == key]
        ran = [r for _, r in mine if r is not None]
        claims = [c for r in ran for c in r.get("claims", [])]
        prof = ", ".join(sorted({r.get("profile") for r in ran},
                                key=_profile_rank)) or "–"
        lines.append(f"| {name} | {len(ran)} of {len(mine)} | {prof} | "
                     f"{_counts(claims)} |")
    lines += ["", "Every run found, per profile:", "",
              "| paper | profile | items run | holds | contradicted | "
              "inconclusive | not decided (schema 1) |",
              "|---|---|---|---|---|---|---|"]
    for key, name in PAPERS.items():
        for profile in sorted({p for i, p, _ in runs if i.paper == key},
                              key=_profile_rank):
            mine = [r for i, p, r in runs if i.paper == key and p == profile]
            cells = _counts([c for r in mine for c in r.get("claims", [])])
            lines.append(f"| {name} | {profile} | {len(mine)} | {cells} |")
    return lines


def _profile_rank(profile) -> int:
    order = list(REPORTED_PROFILES) + ["smoke"]
    return order.index(profile) if profile in order else len(order)


def _changes(res) -> str:
    changes = res.get("profile_changes")
    if changes is None:
        return ""
    if not changes:
        return " (the published settings)"
    parts = [f"{c['setting']} {c['ours']} (paper {c['paper']})"
             for c in changes]
    return " — changes from the paper: " + "; ".join(parts)


def _item_section(item, res, folder, figures_dir, script_secs,
                  others=()) -> list[str]:
    rel = os.path.relpath(folder, figures_dir)
    lines = ["", f"### {item.title}", ""]
    script = f"`reproductions/{item.script}.py`"
    if res is None:
        why = (f"needs {item.needs}" if item.needs
               else "not run yet")
        lines.append(f"Not run: {why}. Script: {script}.")
        return lines
    profile = res.get("profile")
    secs = script_secs.get(profile, {}).get(item.script,
                                            res.get("wall_seconds"))
    shared = "" if not item.subdir else (
        " (the script's total, all its run folders)"
        if item.script in script_secs.get(profile, {}) else "")
    lines.append(f"Script {script}, profile **{profile}**"
                 f"{_changes(res)}.")
    lines.append("")
    lines.append(f"Wall time {_hms(secs)}{shared}; full table: "
                 f"[`{rel}/table.md`]({rel}/table.md)"
                 + (f"; also run at: {', '.join(others)}" if others else "")
                 + ".")
    pngs = [f for f in res.get("figures", []) if f.endswith(".png")]
    if pngs:
        lines.append("")
        lines.append("Figures: " + ", ".join(
            f"[{f}]({rel}/{f})" for f in pngs))
    with_paper = [r for r in res.get("rows", [])
                  if r.get("paper") is not None]
    if with_paper:
        lines += ["", "Ours beside the published numbers:", ""]
        lines += _row_table(with_paper)
    else:
        lines += ["", f"No published numbers for this item (plots "
                  f"only in the paper); {len(res.get('rows', []))} "
                  "rows of ours in table.md."]
    claims = res.get("claims", [])
    if claims:
        lines += ["", f"Claims ({verdict_counts(claims)}):", ""]
        lines += [claim_line(c) for c in claims]
    notes = res.get("notes", [])
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return lines


def build_report(figures_dir: str) -> str:
    """The report's Markdown for the run folders under ``figures_dir``
    (``<profile>/<script>/`` folders, or one profile's ``<script>/``)."""
    if not os.path.isdir(figures_dir):
        raise ValueError(f"figures_dir must be a folder. Received: "
                         f"figures_dir={figures_dir!r}")
    timings = {}
    for profile in _profile_folders(figures_dir) or [None]:
        path = os.path.join(figures_dir, profile or "", "run_all.json")
        if os.path.exists(path):
            timing = _read(path)
            timings[timing.get("profile", profile or "?")] = timing
    script_secs = {p: {k: v.get("seconds") for k, v in
                       t.get("scripts", {}).items()}
                   for p, t in timings.items()}
    found, machine, versions, runs = _collect(figures_dir)
    lines = _header(timings, machine, versions, found, runs)
    for key, name in PAPERS.items():
        lines += ["", f"## {name}"]
        for item, res, folder, others in found:
            if item.paper == key:
                lines += _item_section(item, res, folder, figures_dir,
                                       script_secs, others)
    return "\n".join(lines) + "\n"


def write_report(figures_dir: str, name: str = "REPORT.md") -> str:
    """Write ``<figures_dir>/REPORT.md`` atomically; returns its path."""
    path = os.path.join(figures_dir, name)
    atomic_write_text(path, build_report(figures_dir))
    return path
