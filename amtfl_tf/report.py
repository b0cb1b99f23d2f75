"""``figures/REPORT.md``: every table and figure of the three papers, built
from the run folders' ``results.json`` (never edited by hand).

For each paper item in :data:`ITEMS` the report gives the script, the
profile, the wall time, links to the PNGs, our numbers beside the published
ones (rows that have a published value; the full tables are one link away
in ``table.md``) and every claim with holds / does not hold. Items whose
run folder has no ``results.json`` are listed as not run, with the reason
(most need data that cannot be downloaded here). The top summary counts
the claims that hold per paper.

Wall times come from ``run_all.json`` (written by ``run_all.sh``: per
script, as it ran) when present, else from each ``results.json`` (the time
of the last invocation, which for a resumed run is only the resume).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from amtfl_tf.results import atomic_write_text

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
    if seconds is None:
        return "–"
    s = int(round(seconds))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _collect(figures_dir: str):
    """Every item's ``(item, results or None, folder)``, the machine and
    package versions of the first config found, and the profiles seen."""
    found, machine, versions, profiles = [], None, None, set()
    for item in ITEMS:
        folder = os.path.join(figures_dir, item.script, item.subdir)
        res_path = os.path.join(folder, "results.json")
        if not os.path.exists(res_path):
            found.append((item, None, folder))
            continue
        res = _read(res_path)
        profiles.add(res.get("profile"))
        cfg_path = os.path.join(folder, "config.json")
        if machine is None and os.path.exists(cfg_path):
            cfg = _read(cfg_path)
            machine, versions = cfg.get("machine"), cfg.get("versions")
        found.append((item, res, folder))
    return found, machine, versions, profiles


def _header(timing, machine, versions, profiles, found) -> list[str]:
    lines = ["# Reproduction report", "",
             "Generated by `amtfl_tf.report` from the `results.json` files "
             "under this folder (`./run_all.sh` regenerates it; do not edit "
             "by hand). Claims are computed from our numbers.", ""]
    prof = ", ".join(sorted(p for p in profiles if p)) or "–"
    lines.append(f"- Profile(s): **{prof}**")
    if timing:
        lines.append(f"- `run_all.sh` total wall time: "
                     f"{_hms(timing.get('total_seconds'))} "
                     f"({timing.get('profile', '?')} profile"
                     + (f"; failed: {', '.join(timing['failed'])}"
                        if timing.get("failed") else "") + ")")
    if machine:
        lines.append(f"- Hardware: {machine.get('cpu_count')} CPU core(s), "
                     f"{machine.get('platform')}, no GPU used")
    if versions:
        lines.append("- Software: " + ", ".join(
            f"{k} {v}" for k, v in versions.items() if v))
    lines += ["", "## Summary", "",
              "| paper | items run | claims that hold |", "|---|---|---|"]
    for key, name in PAPERS.items():
        mine = [(i, r) for i, r, _ in found if i.paper == key]
        ran = [r for _, r in mine if r is not None]
        claims = [c for r in ran for c in r.get("claims", [])]
        held = sum(bool(c["holds"]) for c in claims)
        lines.append(f"| {name} | {len(ran)} of {len(mine)} | "
                     f"{held} of {len(claims)} |")
    return lines


def _item_section(item, res, folder, figures_dir, script_secs) -> list[str]:
    rel = os.path.relpath(folder, figures_dir)
    lines = ["", f"### {item.title}", ""]
    script = f"`reproductions/{item.script}.py`"
    if res is None:
        why = (f"needs {item.needs}" if item.needs
               else "not run yet")
        lines.append(f"Not run: {why}. Script: {script}.")
        return lines
    secs = script_secs.get(item.script, res.get("wall_seconds"))
    shared = "" if not item.subdir else (
        " (the script's total, all its run folders)"
        if item.script in script_secs else "")
    lines.append(f"Script {script}, profile **{res['profile']}**, "
                 f"wall time {_hms(secs)}{shared}; full table: "
                 f"[`{rel}/table.md`]({rel}/table.md).")
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
        held = sum(bool(c["holds"]) for c in claims)
        lines += ["", f"Claims ({held} of {len(claims)} hold):", ""]
        for c in claims:
            mark = "holds" if c["holds"] else "does not hold"
            ev = f" — {c['evidence']}" if c.get("evidence") else ""
            lines.append(f"- **{mark}**: {c['text']}{ev}")
    return lines


def build_report(figures_dir: str) -> str:
    """The report's Markdown for the run folders under ``figures_dir``."""
    if not os.path.isdir(figures_dir):
        raise ValueError(f"figures_dir must be a folder. Received: "
                         f"figures_dir={figures_dir!r}")
    timing = {}
    run_all = os.path.join(figures_dir, "run_all.json")
    if os.path.exists(run_all):
        timing = _read(run_all)
    script_secs = {k: v.get("seconds") for k, v in
                   timing.get("scripts", {}).items()}
    found, machine, versions, profiles = _collect(figures_dir)
    lines = _header(timing, machine, versions, profiles, found)
    for key, name in PAPERS.items():
        lines += ["", f"## {name}"]
        for item, res, folder in found:
            if item.paper == key:
                lines += _item_section(item, res, folder, figures_dir,
                                       script_secs)
    return "\n".join(lines) + "\n"


def write_report(figures_dir: str, name: str = "REPORT.md") -> str:
    """Write ``<figures_dir>/REPORT.md`` atomically; returns its path."""
    path = os.path.join(figures_dir, name)
    atomic_write_text(path, build_report(figures_dir))
    return path
