"""The outputs of the two DAMTL experiments (the Omniglot proxy,
:mod:`amtfl_tf.experiments.damtl.omniglot`, and the real-data tables,
:mod:`amtfl_tf.experiments.damtl.tables`): per-method summaries, the rows
and claims of results.json, the Tables 4–7-shaped markdown and the
Figs. 4–6 figures, from the draws' records of
:func:`amtfl_tf.experiments.damtl.common.run_draw`.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np

from amtfl_tf import plotting
from amtfl_tf import published
from amtfl_tf import verdicts
from amtfl_tf.experiments.damtl.common import ABLATION_METHODS
from amtfl_tf.experiments.damtl.common import COLORS
from amtfl_tf.experiments.damtl.common import CONTROL_METHODS
from amtfl_tf.experiments.damtl.common import METHODS
from amtfl_tf.experiments.damtl.common import PAPER_NAMES
from amtfl_tf.experiments.damtl.common import PAPER_SETTING_METHODS
from amtfl_tf.experiments.damtl.common import TABLE_METHODS
from amtfl_tf.experiments.damtl.common import base_method
from amtfl_tf.results import Claim
from amtfl_tf.results import Row
from amtfl_tf.results import markdown_table


def accuracy_matrix(records, keys, method) -> np.ndarray:
    """``(draws, tasks)`` accuracies of ``method``."""
    return np.array([records[k]["methods"][method]["accuracy"]
                     for k in keys], dtype=np.float64)


def methods_in(records, keys) -> list[str]:
    """The methods every draw's record holds, in the tables' order."""
    return [m for m in METHODS + PAPER_SETTING_METHODS
            if all(m in records[k]["methods"] for k in keys)]


def controlled(records, keys) -> bool:
    """Whether the draws ran the controlled comparison (every output
    layer from the auxiliary network, the paper's setting beside)."""
    return all(m in methods_in(records, keys) for m in PAPER_SETTING_METHODS)


def summary(records, keys, methods=None) -> dict[str, dict[str, Any]]:
    """Per method: per-task and pooled mean/std accuracy, time."""
    methods = methods_in(records, keys) if methods is None else methods
    out = {}
    for m in methods:
        acc = accuracy_matrix(records, keys, m)
        secs = np.array([records[k]["methods"][m]["train_seconds"]
                         for k in keys])
        ddof = 1 if len(keys) > 1 else 0
        out[m] = {
            "task_mean": acc.mean(axis=0).tolist(),
            "task_std": acc.std(axis=0, ddof=ddof).tolist(),
            "mean": float(acc.mean()),
            "std": float(acc.mean(axis=1).std(ddof=ddof)),
            "per_draw_mean": acc.mean(axis=1).tolist(),
            "seconds_mean": float(secs.mean()),
            "seconds_std": float(secs.std(ddof=ddof)),
        }
    return out


def rows_for(records, keys, label: str, task_names: Sequence[str],
             methods=None) -> list[Row]:
    """Rows of results.json: per method, each task and the task mean
    (accuracy over draws; ``extra.std`` is the standard deviation the
    paper prints). No paper number: the proxy tasks are not the paper's
    datasets (the paper's tables are in ``extra``)."""
    methods = methods_in(records, keys) if methods is None else methods
    rows = []
    for m in methods:
        acc = accuracy_matrix(records, keys, m)
        cols = [(f"{label}/{n}", acc[:, t]) for t, n in
                enumerate(task_names)] + [(f"{label}/mean",
                                           acc.mean(axis=1))]
        for dataset, values in cols:
            std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            rows.append(Row.from_splits(PAPER_NAMES[m], "accuracy",
                                        list(values), dataset=dataset,
                                        std=std))
        secs = [records[k]["methods"][m]["train_seconds"] for k in keys]
        rows.append(Row.from_splits(PAPER_NAMES[m], "train_seconds", secs,
                                    dataset=label))
    return rows


def rows_with_paper(records, keys, columns: Sequence[str], main_table: str,
                    ablation_table: str) -> list[Row]:
    """Rows of results.json for the paper's datasets: per method and task
    (``columns``: the paper's column names), accuracy over draws beside
    the paper's number (DAMTL_Fa's from ``ablation_table``; our control
    arm, DAMTL with a random head, has none). The paper's baselines
    started new output layers, so in a controlled run their numbers sit
    beside the random-head rows (the paper's setting)."""
    rows = []
    methods = methods_in(records, keys)
    for m in methods:
        acc = accuracy_matrix(records, keys, m)
        table = ablation_table if m == "damtl_fa" else main_table
        name = PAPER_NAMES[base_method(m)]
        for t, col in enumerate(columns):
            paper = None if m in CONTROL_METHODS or (
                f"{m}_rh" in PAPER_SETTING_METHODS
                and f"{m}_rh" in methods) else published.get(
                "damtl", table, name, col)
            rows.append(Row.from_splits(
                PAPER_NAMES[m], "accuracy", list(acc[:, t]), paper,
                dataset=col, std=float(np.std(acc[:, t], ddof=1))
                if len(keys) > 1 else 0.0))
    return rows


def per_draw(records, keys, method) -> np.ndarray:
    """One value per draw: ``method``'s accuracy averaged over the tasks
    (the unit the paired tests compare)."""
    return accuracy_matrix(records, keys, method).mean(axis=1)


def _granularity(records, keys) -> str:
    """How many test images one draw's accuracy rests on, in words."""
    tests = sorted({int(v) for k in keys
                    for v in records[k].get("problem", {}).get(
                        "test_per_task", [])})
    if not tests:
        return "test images per task not recorded"
    lo, sizes = tests[0], "/".join(map(str, tests))
    return (f"per-draw accuracy = mean over the tasks of {sizes}"
            f" test images each (one image moves a task's accuracy by "
            f"{1 / lo:.3f})")


def _paired_detail(records, keys, a, b) -> str:
    da, db = per_draw(records, keys, a), per_draw(records, keys, b)
    wins = int(np.sum(da > db))
    ties = int(np.sum(da == db))
    return (f"{PAPER_NAMES[a]} {da.mean():.3f} vs {PAPER_NAMES[b]} "
            f"{db.mean():.3f} over {len(keys)} draws; {PAPER_NAMES[a]} "
            f"higher in {wins}, tied in {ties}, lower in "
            f"{len(keys) - wins - ties}; {_granularity(records, keys)}")


def paired_accuracy(records, keys, a, b) -> verdicts.Evidence:
    """Paired t over the draws: ``acc(a) − acc(b)`` per draw (both arms
    ran on the same draws and seeds)."""
    return verdicts.paired(
        per_draw(records, keys, a), per_draw(records, keys, b),
        f"accuracy of {PAPER_NAMES[a]} − {PAPER_NAMES[b]} (mean of the "
        "tasks), per draw")


#: The paper's words (arXiv:2201.02305 §4).
STATEMENTS = {
    "better": "the performance of the DAMTL method shown in Table 4 and "
              "Table 5 is significantly better than other methods (§4.4); "
              "the performance of DAMTL is better than that other methods "
              "in all datasets",
    "ablation": "we demonstrate that the addition of Eq.(3) to DAMTL "
                "through ablation analysis is very important to achieve "
                "state-of-the-art performance ... The performance of DAMT "
                "on all data sets is significantly degraded (§4.6, without "
                "Eq. (3))",
    "fastest_po": "when the label sets among tasks partially overlap, "
                  "although the single-task method takes the shortest "
                  "time, it does not use shared information (§4.5, "
                  "Fig. 5(a))",
    "fastest_no": "when the label sets among tasks do not overlap, the "
                  "single-task method takes the shortest time (§4.5, "
                  "Fig. 5(b))",
    "nddr_slowest": "The NDDR-CNN method takes the longest time (§4.5, "
                    "Fig. 5(a))",
    "mtal_second": "MTAL uses the convolution kernel sharing technology, "
                   "thus spending the second shortest time (§4.5, "
                   "Fig. 5(b))",
}

HEAD_NOTE = (
    "Advantage by design: DAMTL's output layers start from the auxiliary "
    "classifier's columns of the task's classes (head_init='aux', the "
    "class map its cover assumption provides), the baselines' at random "
    "(N(0, 0.01²)); every other layer of every method starts from the "
    "auxiliary network. The like-with-like comparison is the "
    "'DAMTL (random head)' claims (head_init='random', same draws, seeds "
    "and budget).")

CONTROLLED_NOTE = (
    "The controlled comparison: every method's conv, hidden FC and output "
    "layers start from the auxiliary network (the output layers from the "
    "auxiliary classifier's columns of each task's classes), same draws, "
    "seeds and budget; only the training objective and the sharing "
    "architecture differ. The paper's setting (baselines with random "
    "output layers) is judged beside it under 'paper_setting' ids.")


def claims_for(records, keys, prefix: str, label: str,
               methods=None, overlap: bool = True,
               timing: dict[str, Any] | None = None,
               head_init: str = "aux") -> list[Claim]:
    """The paper's statements, decided on our numbers: accuracy claims by
    paired tests over the draws (per-draw accuracy = mean of the tasks),
    time claims by paired tests over the repeats of
    ``benchmarks/damtl_time.py`` (``timing``: :func:`load_timing`'s
    result; ``overlap``: PO (Fig. 5(a)) or NO (Fig. 5(b)) statements;
    ``head_init``: DAMTL's, for the notes).

    In a controlled run (:func:`controlled`) the claims are judged on the
    controlled comparison (every output layer from the auxiliary network)
    and repeated, with ids under ``<prefix>.paper_setting``, on the
    paper's setting (the baselines' output layers at random)."""
    methods = methods_in(records, keys) if methods is None else [
        m for m in methods if all(m in records[k]["methods"] for k in keys)]
    is_controlled = all(m in methods for m in PAPER_SETTING_METHODS)
    if is_controlled:
        head_note = CONTROLLED_NOTE
    elif head_init == "aux":
        head_note = HEAD_NOTE
    else:
        head_note = ("DAMTL ran with head_init='random' here, like the "
                     "baselines and the control arm: no head advantage.")
    claims = []
    src = "DAMTL §4.4, Tables 4–5, Fig. 4"

    def beats(a, b, cid, text, note="", source=src, statement="better"):
        claims.append(Claim.of(
            f"{prefix}.{cid}", f"{label}: {text}",
            paired_accuracy(records, keys, a, b), source=source,
            statement=STATEMENTS[statement],
            detail=_paired_detail(records, keys, a, b), note=note))

    def best(cid, table, text, note):
        others = [m for m in table if m != "damtl"]
        ev = verdicts.all_of(
            [paired_accuracy(records, keys, "damtl", m) for m in others],
            "DAMTL's accuracy minus each other method's, per draw")
        means = ", ".join(f"{PAPER_NAMES[m]} "
                          f"{per_draw(records, keys, m).mean():.3f}"
                          for m in table)
        claims.append(Claim.of(
            f"{prefix}.{cid}", f"{label}: {text}", ev, source=src,
            statement=STATEMENTS["better"],
            detail=f"{means}; {len(keys)} draws; "
            f"{_granularity(records, keys)}", note=note))

    has = set(methods)
    head = ("every output layer from the auxiliary network"
            if is_controlled else "auxiliary-initialised head")
    for b, name in (("single", "Single-Task"), ("multi", "Multi-task")):
        if {"damtl", b} <= has:
            beats("damtl", b, f"damtl_beats_{b}",
                  f"DAMTL ({head}) has a higher accuracy than {name}, "
                  "paired by draw", head_note)
    for b, name in (("single", "Single-Task"), ("multi", "Multi-task")):
        if {"damtl_rh", b} <= has:
            beats("damtl_rh", b, f"damtl_random_head_beats_{b}",
                  f"DAMTL with a random output layer (as the baselines') "
                  f"has a higher accuracy than {name}, paired by draw",
                  "Our control arm, not in the paper: the comparison at "
                  "equal initialisation (every method's conv and hidden "
                  "FC layers from the auxiliary network, every output "
                  "layer N(0, 0.01²)); only this one decides whether "
                  "DAMTL's objective, not its head initialisation, beats "
                  f"{name}.")
    if {"damtl", "damtl_fa"} <= has:
        beats("damtl", "damtl_fa", "alignment_helps",
              "removing the alignment (DAMTL_Fa: λ₂ = 0) lowers DAMTL's "
              "accuracy, paired by draw",
              "Like with like: both start from the auxiliary head and "
              "differ only in λ₂. The per-draw differences are a few "
              "test images, many draws tie, so few draws decide little.",
              source="DAMTL §4.6, Tables 6–7", statement="ablation")
    table = [m for m in TABLE_METHODS if m in has]
    if "damtl" in table and len(table) > 1:
        best("damtl_best", table, "DAMTL has a higher accuracy than each "
             "of the other five methods of Tables 4–5 (every paired "
             "difference > 0)", head_note)
    if is_controlled:
        paper_note = (
            "The paper's setting, not like with like: DAMTL's output "
            "layers start from the auxiliary classifier's columns, the "
            "baselines' at random N(0, 0.01²) (as their reference "
            "implementations start new heads); every other layer from the "
            "auxiliary network. The controlled claims without "
            "'paper_setting' in their id decide the method.")
        for b, name in (("single", "Single-Task"), ("multi", "Multi-task")):
            if {"damtl", f"{b}_rh"} <= has:
                beats("damtl", f"{b}_rh", f"paper_setting.damtl_beats_{b}",
                      f"paper's setting: DAMTL (auxiliary head) has a "
                      f"higher accuracy than {name} with a random head, "
                      "paired by draw", paper_note)
        rh_table = ["damtl"] + [f"{m}_rh" for m in TABLE_METHODS
                                if f"{m}_rh" in has]
        if len(rh_table) > 1:
            best("paper_setting.damtl_best", rh_table, "paper's setting: "
                 "DAMTL (auxiliary head) has a higher accuracy than each "
                 "of the other five methods of Tables 4–5 with random "
                 "heads (every paired difference > 0)", paper_note)
    claims += time_claims(timing, prefix, label, overlap,
                          [m for m in table])
    return claims


# --------------------------------------------------------------------------
# Time claims (benchmarks/damtl_time.py)

TIME_JSON = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))), "benchmarks", "results",
    "damtl_time.json")


def timing_path(profile: str) -> str:
    """The timing benchmark a profile's time claims read:
    ``damtl_time_<profile>.json`` beside :data:`TIME_JSON` where
    ``benchmarks/damtl_time.py --profile=<profile>`` wrote one (the
    faithful profile's shapes differ from the quick one's), else
    :data:`TIME_JSON`."""
    own = TIME_JSON.replace(".json", f"_{profile}.json")
    return own if os.path.exists(own) else TIME_JSON


def load_timing(path: str | None = None,
                shapes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The step times of ``benchmarks/damtl_time.py`` (``path``, default
    ``benchmarks/results/damtl_time.json``), checked against the
    experiment's ``shapes`` (the keys both name must agree). Returns
    ``{"seconds": {method: [per repeat]}, "source": ..., "note": ...}``
    or ``{"seconds": None, "note": why not}``."""
    path = path or TIME_JSON
    run = ("run `python benchmarks/damtl_time.py` at the experiment's "
           "shapes")
    if not os.path.exists(path):
        return {"seconds": None, "source": path,
                "note": f"no timing benchmark at {path}; {run}"}
    with open(path) as f:
        data = json.load(f)
    bench = data.get("shapes", {})
    differ = {k: (bench.get(k), v) for k, v in (shapes or {}).items()
              if k in bench and bench[k] != v}
    if differ:
        return {"seconds": None, "source": path,
                "note": f"the timing benchmark {path} ran at other shapes "
                f"(benchmark, experiment: {differ}); {run}"}
    return {"seconds": data["step_seconds"], "source": path,
            "note": data.get("note", ""), "shapes": bench,
            "repeats": data.get("repeats"),
            "steps_per_repeat": data.get("steps_per_repeat")}


def _time_evidence(timing, slow: str, fast: str) -> verdicts.Evidence:
    sec = timing["seconds"]
    return verdicts.paired(
        sec[slow], sec[fast], f"step time of {PAPER_NAMES[slow]} − "
        f"{PAPER_NAMES[fast]} (ms), per repeat", scale=1e3)


def time_claims(timing, prefix: str, label: str, overlap: bool,
                table: Sequence[str]) -> list[Claim]:
    """Fig. 5's statements for this setting, decided by paired tests
    over the benchmark's interleaved repeats (all_of over the other
    methods)."""
    source = f"DAMTL §4.5, Fig. 5({'a' if overlap else 'b'})"
    wanted = [("single_fastest", "single", None,
               "fastest_po" if overlap else "fastest_no",
               "Single-Task's training step is faster than every other "
               "method's of Tables 4–5")]
    if overlap:
        wanted.append(("nddr_slowest", None, "nddr", "nddr_slowest",
                       "NDDR-CNN's training step is slower than every "
                       "other method's of Tables 4–5"))
    else:
        wanted.append(("mtal_second_fastest", "mtal", None, "mtal_second",
                       "MTAL's training step is faster than every other "
                       "method's of Tables 4–5 but Single-Task's"))
    timing = timing or {"seconds": None, "note": "no timing given"}
    sec = timing.get("seconds")
    out = []
    for cid, fast, slow, statement, text in wanted:
        subject = fast or slow
        if subject not in table:
            continue
        if sec is None or not all(m in sec for m in table):
            ev = verdicts.not_tested(
                "step time difference (ms), per repeat", "no benchmark "
                "times for these methods and shapes")
            detail = ""
            note = (f"Inconclusive for want of a measurement: "
                    f"{timing.get('note') or 'methods missing'}. ")
        else:
            if fast == "single":
                others = [m for m in table if m != "single"]
            elif fast == "mtal":
                others = [m for m in table if m not in ("single", "mtal")]
            else:
                others = [m for m in table if m != slow]
            parts = [_time_evidence(timing, m, fast) if fast else
                     _time_evidence(timing, slow, m) for m in others]
            ev = verdicts.all_of(parts, "step time differences (ms)")
            detail = "median step ms: " + ", ".join(
                f"{PAPER_NAMES[m]} {1e3 * float(np.median(sec[m])):.1f}"
                for m in table) + (
                f"; {len(sec[table[0]])} interleaved repeats of "
                f"{timing.get('steps_per_repeat')} full-batch steps")
            note = (f"From {os.path.basename(timing['source'])} "
                    "(benchmarks/damtl_time.py: one process, methods "
                    "interleaved, at the experiment's shapes), not from "
                    "the experiment's single fits. Every method runs the "
                    "same number of full-batch steps, so the step time "
                    "orders the training times; Fig. 5 times whole "
                    "trainings in minutes on the paper's hardware. "
                    + (timing.get("note") or ""))
        out.append(Claim.of(f"{prefix}.{cid}", f"{label}: {text}", ev,
                            source=source, statement=STATEMENTS[statement],
                            detail=detail, note=note.strip()))
    return out


def design_notes(records, keys, train, conv_blocks, in_channels: int,
                 timing=None) -> list[str]:
    """What the reader must know about claims true or false by
    construction of our setup: the head initialisation, the soft-mask
    "pruning" and where the time claims come from."""
    from amtfl_tf.experiments.damtl.common import l1_max_shift

    if controlled(records, keys):
        notes = [CONTROLLED_NOTE]
    else:
        notes = [HEAD_NOTE] if train.head_init == "aux" else []
    shift = l1_max_shift(train, conv_blocks, in_channels)
    stats = [records[k]["methods"]["damtl"].get("masks") for k in keys
             if "damtl" in records[k]["methods"]]
    stats = [m for m in stats if m]
    measured = ""
    if stats:
        measured = (
            f" Measured (DAMTL, {len(stats)} draws): "
            f"{max(m['zero_fraction'] for m in stats):.2%} of the "
            f"{stats[0]['entries']} Ψ entries at 0 at most, smallest entry "
            f"{min(m['min'] for m in stats):.3f}, largest change of an "
            f"entry {max(m['max_change'] for m in stats):.2g} (cross-"
            "entropy and alignment gradients included).")
        per_layer = [m["pruned_per_layer"] for m in stats
                     if "pruned_per_layer" in m]
        if per_layer:
            mean = np.mean(per_layer, axis=0)
            measured += (
                f" Pruned (Ψ ≤ {stats[0]['threshold']}) per conv layer, "
                "mean over draws: " + ", ".join(
                    f"conv{i + 1} {v:.1%}" for i, v in enumerate(mean))
                + ".")
    unit = "neuron" if train.mask_granularity == "filter" else "entry"
    per_step = ("η·α·λ₁" if train.l1_reduction == "sum"
                else "η·α·λ₁/N_l")
    notes.append(
        "No claim rests on the soft masks pruning anything (the paper's "
        "'adaptively prune the hidden layer neurons'): Ψ (one per "
        f"{unit}) starts in U({train.mask_init_low}, "
        f"{train.mask_init_high}) and λ₁‖Ψ‖₁ ({train.l1_reduction}) alone "
        f"moves a mask by at most {shift:.2g} over the {train.epochs} "
        f"iterations ({per_step} per step, ×1/(1−μ) for momentum), so at "
        f"λ₁ = {train.lambda1:g} it can prune only where the cross-entropy "
        "and alignment push the same way; tools/damtl_mask_sweep.py "
        "measures accuracy and pruning against λ₁ (docs/damtl.md)."
        + measured)
    if timing is not None and timing.get("seconds") is None:
        notes.append("Time claims inconclusive: " + timing["note"] + ".")
    return notes


def paper_table(table: str) -> dict[str, dict[str, list]]:
    """``{row: {column: [value, spread]}}`` of one DAMTL table."""
    out: dict[str, dict[str, list]] = {}
    for n in published.table("damtl", table):
        out.setdefault(n.row, {})[n.column] = [n.value, n.spread]
    return out


def _pm(mean, std):
    return f"{mean:.3f} ± {std:.3f}"


def proxy_tables_markdown(summ, task_names, label: str,
                          paper_main: str, paper_ablation: str,
                          heading: str) -> str:
    """Tables shaped like the paper's (ours mean ± std per task and their
    mean; the paper's six columns beside, never mixed with ours)."""
    lines = [f"## {heading}", ""]
    setting = ("damtl",) + PAPER_SETTING_METHODS
    for methods, table in ((TABLE_METHODS, paper_main),
                           (ABLATION_METHODS, paper_ablation),
                           (("damtl",) + CONTROL_METHODS, None),
                           (setting, paper_main)):
        paper_setting = methods is setting
        methods = [m for m in methods if m in summ]
        if not methods or (table is None and not any(
                m in summ for m in CONTROL_METHODS)) or (
                paper_setting and len(methods) < 2):
            continue
        cols = published.columns("damtl", table) if table else []
        paper = paper_table(table) if table else {}
        head = (["method"] + [f"ours: {label}/{n}" for n in task_names]
                + ["ours: mean"] + [f"paper {table[:5].title()} "
                                    f"{table[5:]}: {c}" for c in cols])
        title = ("### Shaped like the paper's "
                 + table.replace("table", "Table ") if table else
                 "### Control arm (ours, not in the paper): DAMTL with "
                 "a random output layer, like the baselines'")
        if paper_setting:
            title = ("### The paper's setting (not like with like): "
                     "DAMTL's output layers from the auxiliary network, "
                     "the baselines' at random")
        elif table == paper_main and "single_rh" in summ:
            title += (" — the controlled comparison (every output layer "
                      "from the auxiliary network)")
        lines += [title,
                  "", "| " + " | ".join(head) + " |",
                  "|" + "---|" * len(head)]
        for m in methods:
            s = summ[m]
            ours = [_pm(a, b) for a, b in zip(s["task_mean"],
                                              s["task_std"])]
            ours.append(_pm(s["mean"], s["std"]))
            row = paper.get(PAPER_NAMES[base_method(m)], {})
            if (table == paper_main and not paper_setting
                    and "single_rh" in summ and m != "damtl"):
                row = {}  # the paper's baselines: beside the random heads
            theirs = [_pm(*row[c]) if c in row else "–" for c in cols]
            lines.append("| " + " | ".join([PAPER_NAMES[m]] + ours + theirs)
                         + " |")
        lines.append("")
    return "\n".join(lines)


def write_table_md(run_dir, results, extra_markdown: str) -> None:
    """``table.md``: the paper-shaped tables first, then the standard
    rows, claims and notes."""
    from amtfl_tf.results import atomic_write_text

    standard = markdown_table(results)
    title, _, rest = standard.partition("\n\n")
    atomic_write_text(run_dir.path("table.md"), title + "\n\n"
                      + extra_markdown + "\n## All rows and claims\n\n"
                      + rest)


def figures_for(records, keys, workdir: str, label: str,
                task_names: Sequence[str], methods=None,
                timing: dict[str, Any] | None = None) -> list[str]:
    """Fig. 4-like accuracy bars, Fig. 5 time bars and Fig. 6
    convergence of Eq. (5) for DAMTL (mean and range over the draws);
    returns the file names. Fig. 5's bars are the step times of
    ``benchmarks/damtl_time.py`` (``timing``: :func:`load_timing`'s
    result; median and quartiles over its interleaved repeats) where it
    ran at the experiment's shapes, else each draw's single fit,
    labelled so."""
    methods = methods_in(records, keys) if methods is None else methods
    summ = summary(records, keys, methods)
    names = [PAPER_NAMES[m] for m in methods]
    written = []
    fig, ax = plotting.new_figure(1, 1, size=(8, 3.8), layout="constrained")
    a = ax[0][0]
    T = len(task_names)
    width = 0.8 / (T + 1)
    xs = np.arange(len(methods))
    for t, n in enumerate(task_names + ["mean"]):
        means = [summ[m]["task_mean"][t] if t < T else summ[m]["mean"]
                 for m in methods]
        stds = [summ[m]["task_std"][t] if t < T else summ[m]["std"]
                for m in methods]
        a.bar(xs + (t - T / 2) * width, means, width, yerr=stds,
              capsize=2, label=n)
    a.set_xticks(xs)
    a.set_xticklabels(names, rotation=25, ha="right",
                      fontsize=8 if len(methods) > 8 else 10)
    a.set_ylabel("test accuracy (mean ± std over draws)")
    a.set_title(f"{label}: accuracy per method ({len(keys)} draws)")
    a.legend(fontsize=8)
    lo = min(summ[m]["mean"] - summ[m]["std"] for m in methods)
    a.set_ylim(max(0.0, lo - 0.15), 1.0)
    written += plotting.save_figure(fig, workdir, "fig4_accuracy")

    fig, ax = plotting.new_figure(1, 1, size=(7, 3.6), layout="constrained")
    a = ax[0][0]
    sec = (timing or {}).get("seconds")
    # a random head trains at the baseline's step time: one bar each
    timed = [m for m in methods if sec and m in sec]
    if sec and timed:
        per = [1e3 * np.asarray(sec[m]) for m in timed]
        med = np.array([np.median(p) for p in per])
        q = np.array([np.percentile(p, [25, 75]) for p in per])
        xt = np.arange(len(timed))
        a.bar(xt, med, yerr=[med - q[:, 0], q[:, 1] - med], capsize=3,
              color=[COLORS[m] for m in timed])
        a.set_xticks(xt)
        a.set_xticklabels([PAPER_NAMES[m] for m in timed], rotation=20,
                          fontsize=7)
        a.set_ylabel("training step (ms): median, quartiles")
        a.set_title(f"{label}: step time, {len(per[0])} interleaved "
                    "repeats of benchmarks/damtl_time.py (Fig. 5)",
                    fontsize=9)
    else:
        a.bar(xs, [summ[m]["seconds_mean"] for m in methods],
              yerr=[summ[m]["seconds_std"] for m in methods], capsize=3,
              color=[COLORS[m] for m in methods])
        a.set_xticks(xs)
        a.set_xticklabels(names, rotation=20)
        a.set_ylabel("training time per draw (s)")
        a.set_title(f"{label}: one fit per draw (no benchmark at these "
                    "shapes: run benchmarks/damtl_time.py)", fontsize=9)
    written += plotting.save_figure(fig, workdir, "fig5_time")

    if "damtl" in methods:
        fig, ax = plotting.new_figure(1, 2, size=(11, 3.8),
                                      layout="constrained")
        a, b = ax[0]
        for t, n in enumerate(task_names):
            curves = np.array([records[k]["methods"]["damtl"]["objective"][t]
                               for k in keys])
            it = np.arange(1, curves.shape[1] + 1)
            a.plot(it, curves.mean(axis=0), label=f"{n}: L_T (Eq. 4)")
            a.fill_between(it, curves.min(axis=0), curves.max(axis=0),
                           alpha=0.2)
        a.set_xlabel("iteration (full-batch step)")
        a.set_ylabel("per-task objective")
        a.set_title(f"{label}: DAMTL per-task objective")
        a.legend(fontsize=8)
        for m in ("damtl", "damtl_fa"):
            if m not in methods:
                continue
            curves = np.array([records[k]["methods"][m]["loss"]
                               for k in keys])
            it = np.arange(1, curves.shape[1] + 1)
            b.plot(it, curves.mean(axis=0), color=COLORS[m],
                   label=PAPER_NAMES[m])
        b.set_xlabel("iteration (full-batch step)")
        b.set_ylabel("Eq. (5) objective")
        b.set_title("total objective (Fig. 6)")
        b.legend(fontsize=8)
        written += plotting.save_figure(fig, workdir, "fig6_convergence")
    return [w for w in written if w.endswith(".png")] + [
        w for w in written if not w.endswith(".png")]


def iterations_to_converge(curve, tol=0.02) -> int:
    """First iteration after which the curve stays within ``tol`` (relative
    to its total decrease) of its final value."""
    c = np.asarray(curve, dtype=np.float64)
    span = max(float(c.max() - c[-1]), 1e-12)
    far = np.flatnonzero(np.abs(c - c[-1]) > tol * span)
    return int(far[-1] + 2) if far.size else 1
