"""The outputs of the two DAMTL experiments (the Omniglot proxy,
:mod:`amtfl_tf.experiments.damtl.omniglot`, and the real-data tables,
:mod:`amtfl_tf.experiments.damtl.tables`): per-method summaries, the rows
and claims of results.json, the Tables 4–7-shaped markdown and the
Figs. 4–6 figures, from the draws' records of
:func:`amtfl_tf.experiments.damtl.common.run_draw`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from amtfl_tf import plotting
from amtfl_tf import published
from amtfl_tf.experiments.damtl.common import ABLATION_METHODS
from amtfl_tf.experiments.damtl.common import COLORS
from amtfl_tf.experiments.damtl.common import METHODS
from amtfl_tf.experiments.damtl.common import PAPER_NAMES
from amtfl_tf.experiments.damtl.common import TABLE_METHODS
from amtfl_tf.results import Claim
from amtfl_tf.results import Row
from amtfl_tf.results import markdown_table


def accuracy_matrix(records, keys, method) -> np.ndarray:
    """``(draws, tasks)`` accuracies of ``method``."""
    return np.array([records[k]["methods"][method]["accuracy"]
                     for k in keys], dtype=np.float64)


def summary(records, keys, methods=METHODS) -> dict[str, dict[str, Any]]:
    """Per method: per-task and pooled mean/std accuracy, time."""
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
             methods=METHODS) -> list[Row]:
    """Rows of results.json: per method, each task and the task mean
    (accuracy over draws; ``extra.std`` is the standard deviation the
    paper prints). No paper number: the proxy tasks are not the paper's
    datasets (the paper's tables are in ``extra``)."""
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
    the paper's number (DAMTL_Fa's from ``ablation_table``)."""
    rows = []
    for m in METHODS:
        acc = accuracy_matrix(records, keys, m)
        table = ablation_table if m == "damtl_fa" else main_table
        for t, col in enumerate(columns):
            paper = published.get("damtl", table, PAPER_NAMES[m], col)
            rows.append(Row.from_splits(
                PAPER_NAMES[m], "accuracy", list(acc[:, t]), paper,
                dataset=col, std=float(np.std(acc[:, t], ddof=1))
                if len(keys) > 1 else 0.0))
    return rows


def _paired(records, keys, a, b) -> tuple[float, int]:
    da = accuracy_matrix(records, keys, a).mean(axis=1)
    db = accuracy_matrix(records, keys, b).mean(axis=1)
    return float((da - db).mean()), int(np.sum(da > db))


def claims_for(records, keys, prefix: str, label: str,
               methods=METHODS) -> list[Claim]:
    """The paper's statements, evaluated on our numbers (mean accuracy
    over the tasks and draws)."""
    summ = summary(records, keys, methods)
    n = len(keys)
    claims = []

    def beats(a, b, cid, text):
        diff, wins = _paired(records, keys, a, b)
        claims.append(Claim(
            f"{prefix}.{cid}", f"{label}: {text}",
            summ[a]["mean"] > summ[b]["mean"],
            f"{PAPER_NAMES[a]} {summ[a]['mean']:.3f} vs {PAPER_NAMES[b]} "
            f"{summ[b]['mean']:.3f} (paired difference {diff:+.3f}; "
            f"higher in {wins}/{n} draws)"))

    if "damtl" in methods and "single" in methods:
        beats("damtl", "single", "damtl_beats_single",
              "DAMTL beats Single-Task (Tables 4-5)")
    if "damtl" in methods and "multi" in methods:
        beats("damtl", "multi", "damtl_beats_multi",
              "DAMTL beats Multi-task (Tables 4-5)")
    if "damtl" in methods and "damtl_fa" in methods:
        beats("damtl", "damtl_fa", "alignment_helps",
              "removing the alignment (DAMTL_Fa) lowers accuracy "
              "(Tables 6-7)")
    table = [m for m in TABLE_METHODS if m in methods]
    if "damtl" in table and len(table) > 1:
        best = max(table, key=lambda m: summ[m]["mean"])
        claims.append(Claim(
            f"{prefix}.damtl_best", f"{label}: DAMTL has the highest "
            "accuracy of the six methods of Tables 4-5",
            best == "damtl", ", ".join(
                f"{PAPER_NAMES[m]} {summ[m]['mean']:.3f}" for m in table)))
    if "single" in methods and len(table) > 1:
        fastest = min(table, key=lambda m: summ[m]["seconds_mean"])
        claims.append(Claim(
            f"{prefix}.single_fastest", f"{label}: Single-Task trains "
            "fastest (Fig. 5)", fastest == "single", ", ".join(
                f"{PAPER_NAMES[m]} {summ[m]['seconds_mean']:.1f}s"
                for m in table)))
    return claims


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
    for methods, table in ((TABLE_METHODS, paper_main),
                           (ABLATION_METHODS, paper_ablation)):
        methods = [m for m in methods if m in summ]
        if not methods:
            continue
        cols = published.columns("damtl", table)
        paper = paper_table(table)
        head = (["method"] + [f"ours: {label}/{n}" for n in task_names]
                + ["ours: mean"] + [f"paper {table[:5].title()} "
                                    f"{table[5:]}: {c}" for c in cols])
        number = table.replace("table", "Table ")
        lines += [f"### Shaped like the paper's {number}",
                  "", "| " + " | ".join(head) + " |",
                  "|" + "---|" * len(head)]
        for m in methods:
            s = summ[m]
            ours = [_pm(a, b) for a, b in zip(s["task_mean"],
                                              s["task_std"])]
            ours.append(_pm(s["mean"], s["std"]))
            row = paper.get(PAPER_NAMES[m], {})
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
                task_names: Sequence[str], methods=METHODS) -> list[str]:
    """Fig. 4-like accuracy bars, Fig. 5 time bars and Fig. 6
    convergence of Eq. (5) for DAMTL; returns the file names."""
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
    a.set_xticklabels(names, rotation=20)
    a.set_ylabel("test accuracy (mean ± std over draws)")
    a.set_title(f"{label}: accuracy per method ({len(keys)} draws)")
    a.legend(fontsize=8)
    lo = min(summ[m]["mean"] - summ[m]["std"] for m in methods)
    a.set_ylim(max(0.0, lo - 0.15), 1.0)
    written += plotting.save_figure(fig, workdir, "fig4_accuracy")

    fig, ax = plotting.new_figure(1, 1, size=(7, 3.6), layout="constrained")
    a = ax[0][0]
    a.bar(xs, [summ[m]["seconds_mean"] for m in methods],
          yerr=[summ[m]["seconds_std"] for m in methods], capsize=3,
          color=[COLORS[m] for m in methods])
    a.set_xticks(xs)
    a.set_xticklabels(names, rotation=20)
    a.set_ylabel("training time per draw (s)")
    a.set_title(f"{label}: time cost (Fig. 5)")
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
