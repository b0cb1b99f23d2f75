"""DMTRL on MNIST, Appendix A (Table 1) and Appendix B (Table 2), on
the one-vs-all tasks, settings and deep methods of
:mod:`amtfl_tf.experiments.dmtrl.mnist`.

Appendix A adds, at 1% training data, the classic shallow methods (STL,
Evgeniou & Pontil 2004, Argyriou et al. 2008, Kumar & Daumé 2012) on PCA
features and on CNN features: the 512-d penultimate (FC1) layer of a UD-MTL
network with N = 3, where FC1 is shared, so one feature serves all tasks
(the paper does not say which network it used). Their hyper-parameters are
chosen on a 20% validation part of the training subset; logistic loss
(not stated in the paper). Appendix B adds parameter counts and
UD-MTL-Large (UD-MTL with FC1 widened to match DMTRL's parameter count).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from amtfl_tf import published
from amtfl_tf.experiments.config import CommonConfig
from amtfl_tf.experiments.config import uses_runtime
from amtfl_tf.experiments.dmtrl import common as dc
from amtfl_tf.experiments.dmtrl.mnist import ARCH
from amtfl_tf.experiments.dmtrl.mnist import DEEP
from amtfl_tf.experiments.dmtrl.mnist import IMAGE
from amtfl_tf.experiments.dmtrl.mnist import NUM_TASKS
from amtfl_tf.experiments.dmtrl.mnist import MnistTasks
from amtfl_tf.experiments.dmtrl.mnist import Settings
from amtfl_tf.experiments.dmtrl.mnist import errors
from amtfl_tf.experiments.dmtrl.mnist import fit_deep
from amtfl_tf.experiments.dmtrl.mnist import load_tasks
from amtfl_tf.experiments.dmtrl.mnist import predict
from amtfl_tf.experiments.dmtrl.mnist import settings_for
from amtfl_tf.experiments.dmtrl.mnist import training_subset
from amtfl_tf.experiments import search as sh
from amtfl_tf.experiments.runner import run_splits
from amtfl_tf.experiments.runner import seed_everything
from amtfl_tf.models import dmtrl as dm
from amtfl_tf.results import Claim
from amtfl_tf.results import Results
from amtfl_tf.results import Row
from amtfl_tf.results import RunDir

CLASSIC = ("STL", "Evgeniou-Pontil", "MTFL", "GO-MTL")
CLASSIC_PAPER = {"STL": "Single Task Learning",
                 "Evgeniou-Pontil": "Evgeniou & Pontil (2004)",
                 "MTFL": "Argyriou et al. (2008)",
                 "GO-MTL": "Kumar & Daume III (2012)"}
CLASSIC_SEARCHED = {"STL": ("lam",), "GO-MTL": ("mu", "lam"),
                    **sh.CLASSIC_SEARCHED}


def fc1_features(model: dm.DMTRLNetwork, x) -> np.ndarray:
    """The shared 512-d FC1 activations (the input of the task-specific
    output layer) of a UD-MTL network with N = 3."""
    if model.sharing[2] != "shared":
        raise ValueError("fc1_features needs a network whose FC1 is shared "
                         f"(UD-MTL N = 3). Received: sharing="
                         f"{model.sharing}")
    return np.concatenate([np.asarray(model.features(x[i:i + 1000], "fc2"))
                           for i in range(0, len(x), 1000)])


def fit_classic(train_x, train_y, val_x, val_y, test_x, test_labels,
                s: Settings, seed: int) -> dict[str, dict[str, Any]]:
    """The classic shallow methods on fixed features, hyper-parameters
    chosen on the validation part (mean binary error)."""
    y01 = {"train": (train_y > 0).astype(np.float32),
           "val": (val_y > 0).astype(np.float32)}
    out = {}
    for method in CLASSIC:
        model = sh.build_model(method, NUM_TASKS, train_x.shape[1],
                               loss="logistic",
                               hidden_units=s.classic_latent, seed=seed)
        trainer = sh.Trainer(model, train_x, y01["train"], None,
                             sh.TrainConfig(
                                 steps=s.classic_steps, learning_rate=0.01,
                                 steps_per_execution=min(s.classic_steps,
                                                         250)))

        def val_error(m=model):
            out_ = sh.predict(m, val_x)
            return float(np.mean((out_ >= 0) != (val_y > 0)))

        res = sh.search(trainer, val_error,
                        {h: s.classic_grid for h in CLASSIC_SEARCHED[method]},
                        "coordinate", 1)
        model.set_weights(res.weights)
        out[method] = {**errors(sh.predict(model, test_x), test_labels),
                       "hyperparameters": res.best}
    return out


def appendix_records(cfg: CommonConfig, **overrides) -> tuple[
        Settings, dict[str, dict[str, Any]], RunDir]:
    """Appendix A's folds (each: the deep methods, the classic methods on
    PCA and CNN features), computed or resumed in ``cfg.workdir``."""
    s = settings_for(cfg.profile, cfg.seed, **overrides)
    data = load_tasks(cfg, s)
    run = RunDir(cfg.workdir, overwrite=cfg.overwrite,
                 fingerprint={"experiment": "dmtrl_table_a1",
                              **s.to_dict()})
    run.write_config({**cfg.to_dict(), "settings": s.to_dict()})
    keys = [f"fold{k}" for k in range(1, s.appendix_folds + 1)]
    name = cfg.experiment

    def compute(key):
        def log(msg):
            print(f"[{name}] {key} {msg}", flush=True)

        idx = training_subset(len(data.labels_train), s.appendix_fraction,
                              s.seed, key)
        log(f"{len(idx)} training images")
        rec = fit_deep(data, idx, s, s.seed, log, keep_models=True)
        models = rec.pop("_models")
        t = s.train
        ud = models["ud-mtl"]
        x, labels = data.x_train[idx], data.labels_train[idx]
        if ud.sharing[2] != "shared":
            ud = dc.new_network("ud-mtl", NUM_TASKS, IMAGE, ARCH, t,
                                ud_shared_layers=3)
            dc.train(ud, (x, MnistTasks.signs(labels)), t)
        rng = np.random.default_rng([s.seed, 5])
        perm = rng.permutation(len(idx))
        cut = max(1, len(idx) // 5)
        va, tr = perm[:cut], perm[cut:]
        y = MnistTasks.signs(labels)
        flat_tr = x[tr].reshape(len(tr), -1)
        pca = sh.pca_features(flat_tr, [x[va].reshape(len(va), -1),
                             data.x_test.reshape(len(data.x_test), -1)],
                   s.pca_dim)
        feats = [fc1_features(ud, a) for a in (x[tr], x[va], data.x_test)]
        mu, sd = feats[0].mean(0), feats[0].std(0) + 1e-6
        feats = [((f - mu) / sd).astype(np.float32) for f in feats]
        rec["classic_pca"] = fit_classic(pca[0], y[tr], pca[1], y[va],
                                         pca[2], data.labels_test, s, s.seed)
        rec["classic_cnn"] = fit_classic(feats[0], y[tr], feats[1], y[va],
                                         feats[2], data.labels_test, s,
                                         s.seed)
        log("classic: " + ", ".join(
            f"{m} PCA {rec['classic_pca'][m]['binary_error']:.2f}% / CNN "
            f"{rec['classic_cnn'][m]['binary_error']:.2f}%"
            for m in CLASSIC))
        return rec

    return s, run_splits(run, keys, compute, name), run


@uses_runtime
def run_table_a1(cfg: CommonConfig, **overrides) -> Results:
    start = time.monotonic()
    s, records, run = appendix_records(cfg, **overrides)
    keys = list(records)
    rows = []
    vals = {}
    for col, part in (("PCA feature", "classic_pca"),
                      ("CNN feature", "classic_cnn")):
        for m in CLASSIC:
            v = [records[k][part][m]["binary_error"] for k in keys]
            vals[(CLASSIC_PAPER[m], col)] = float(np.mean(v))
            rows.append(Row.from_splits(
                CLASSIC_PAPER[m], "binary_error_pct", v,
                dataset=f"mnist/{col}", paper=published.get(
                    "dmtrl", "appendix_table1", CLASSIC_PAPER[m],
                    col)))
    for m in DEEP[1:]:
        v = [records[k][m]["binary_error"] for k in keys]
        vals[(dm.PAPER_NAMES[m], "CNN feature")] = float(np.mean(v))
        rows.append(Row.from_splits(
            dm.PAPER_NAMES[m], "binary_error_pct", v,
            dataset="mnist/CNN feature", paper=published.get(
                "dmtrl", "appendix_table1", dm.PAPER_NAMES[m],
                "CNN feature")))
    v = [records[k]["stl"]["binary_error"] for k in keys]
    rows.append(Row.from_splits("STL (deep)", "binary_error_pct", v,
                                dataset="mnist/end-to-end"))
    deep = {m: vals[(dm.PAPER_NAMES[m], "CNN feature")] for m in DEEP[2:]}
    classic_cnn = {m: vals[(CLASSIC_PAPER[m], "CNN feature")]
                   for m in CLASSIC}
    classic_pca = {m: vals[(CLASSIC_PAPER[m], "PCA feature")]
                   for m in CLASSIC}
    mtl = [m for m in CLASSIC if m != "STL"]
    claims = [
        Claim("dmtrl.a1.classic_improve_on_stl",
              "Every classic MTL method beats classic STL (both features)",
              all(classic_pca[m] < classic_pca["STL"]
                  and classic_cnn[m] < classic_cnn["STL"] for m in mtl),
              "; ".join(f"{m}: PCA {classic_pca[m]:.2f}, CNN "
                        f"{classic_cnn[m]:.2f}" for m in CLASSIC)),
        Claim("dmtrl.a1.cnn_features_better",
              "Every classic method is better on CNN than on PCA features",
              all(classic_cnn[m] < classic_pca[m] for m in CLASSIC),
              "see the first claim's numbers"),
        Claim("dmtrl.a1.dmtrl_beats_best_classic",
              "Every DMTRL variant beats the best classic method on CNN "
              "features", max(deep.values()) < min(classic_cnn.values()),
              f"worst DMTRL {max(deep.values()):.2f}, best classic "
              f"{min(classic_cnn.values()):.2f}"),
        Claim("dmtrl.a1.dmtrl_below_6pct_at_1000",
              "DMTRL's binary error is below 6% with ~1,000 training images "
              "(Sec. 4.1 text; we use the appendix fraction)",
              min(deep.values()) < 6.0,
              f"best DMTRL {min(deep.values()):.2f}% with "
              f"{records[keys[0]]['n_train']} images"),
    ]
    results = Results(
        experiment=cfg.experiment, profile=cfg.profile, dataset="mnist",
        rows=rows, claims=claims, figures=[],
        wall_seconds=time.monotonic() - start,
        notes=[
            f"{s.appendix_fraction:.1%} training data "
            f"({records[keys[0]]['n_train']} images), {len(keys)} random "
            "subsets ('10-fold CV' in the paper, whose folds are not "
            "described); mean binary error (%) on "
            f"{s.test_size or 10000} test images.",
            "Classic methods: logistic loss, hyper-parameters on a 20% "
            f"validation part over {list(s.classic_grid)}; PCA-{s.pca_dim}"
            " fitted on the training part; CNN feature = the shared FC1 "
            "(512-d) of a UD-MTL (N = 3) network trained on the subset, "
            "standardised.",
            "'STL (deep)' is the end-to-end single-task CNN (Appendix B's "
            "STL row).",
        ],
        extra={"settings": s.to_dict(), "hyperparameters": {
            k: {p: {m: records[k][p][m]["hyperparameters"] for m in CLASSIC}
                for p in ("classic_pca", "classic_cnn")} for k in keys}})
    run.write_results(results)
    return results


def ud_large_network(s: dc.TrainSettings, width: int) -> dm.DMTRLNetwork:
    """UD-MTL (N = 3) with FC1 widened to ``width`` units."""
    arch = dict(dm.ARCHITECTURES[ARCH])
    layers = tuple(("dense", width) if spec[0] == "dense" else spec
                   for spec in arch["layers"])
    key = f"{ARCH}_fc{width}"
    dm.ARCHITECTURES.setdefault(key, {**arch, "layers": layers})
    model = dc.new_network("ud-mtl", NUM_TASKS, IMAGE, key, s,
                           ud_shared_layers=3)
    return model


def ud_large_width(target: float) -> int:
    """FC1 width w of UD-MTL (N = 3) with about ``target`` parameters:
    832 + 32832 + (1024 + 1) w + 10 (w + 1)."""
    return max(1, int(round((target - 832 - 32832 - 10) / (1024 + 1 + 10))))


def _ud_large_records(cfg: CommonConfig, s: Settings, data: MnistTasks,
                      keys: list[str], width: int, source_workdir: str
                      ) -> tuple[RunDir, dict[str, dict[str, Any]]]:
    """UD-MTL-Large trained on every Appendix A subset, computed or resumed
    in ``cfg.workdir``; returns the run folder and the records."""
    run = RunDir(cfg.workdir, overwrite=cfg.overwrite,
                 fingerprint={"experiment": cfg.experiment, **s.to_dict(),
                              "width": width})
    run.write_config({**cfg.to_dict(), "settings": s.to_dict(),
                      "source_workdir": source_workdir,
                      "ud_large_width": width})

    def compute(key):
        idx = training_subset(len(data.labels_train), s.appendix_fraction,
                              s.seed, key)
        seed_everything(s.seed)
        m = ud_large_network(s.train, width)
        secs = dc.train(m, (data.x_train[idx],
                            MnistTasks.signs(data.labels_train[idx])),
                        s.train)
        return {**errors(predict(m, data.x_test), data.labels_test),
                "params": m.effective_param_count(), "seconds": secs}

    large = run_splits(run, keys, compute, cfg.experiment)
    return run, large


def _table_a2_rows(records: dict[str, dict[str, Any]],
                   large: dict[str, dict[str, Any]], keys: list[str]
                   ) -> tuple[list[tuple[str, str]], list[Row],
                              dict[str, float]]:
    """Table 2's (method, paper name) lines, its rows (error, parameters
    in K, ratio to STL) and the mean parameter count (K) of each method."""
    stl_params = records[keys[0]]["stl"]["params"]
    rows, counts = [], {}
    table = [(m, dm.PAPER_NAMES[m]) for m in ("stl",) + DEEP[2:] +
             ("ud-mtl",)] + [("ud-large", "UD-MTL-Large")]
    for m, paper_name in table:
        recs = ([large[k] for k in keys] if m == "ud-large"
                else [records[k][m] for k in keys])
        err = [r["binary_error"] for r in recs]
        params = [r["params"] / 1000.0 for r in recs]
        counts[m] = float(np.mean(params))
        pub = {c: published.get("dmtrl", "appendix_table2", paper_name, c)
               for c in ("error_pct", "num_params_k", "param_ratio")}
        rows.append(Row.from_splits(paper_name, "binary_error_pct", err,
                                    dataset="mnist",
                                    paper=pub["error_pct"]))
        rows.append(Row.from_splits(paper_name, "num_params_k", params,
                                    dataset="mnist",
                                    paper=pub["num_params_k"]))
        rows.append(Row.from_splits(
            paper_name, "param_ratio",
            [p * 1000.0 / stl_params for p in params], dataset="mnist",
            paper=pub["param_ratio"]))
    return table, rows, counts


def _claims_a2(counts: dict[str, float], err: dict[str, float],
               ud_n: list[int]) -> list[Claim]:
    """Table 2's claims from the mean parameter counts (K) and errors (%)
    of each method and UD-MTL's chosen N."""
    return [
        Claim("dmtrl.a2.dmtrl_fewer_params_than_stl",
              "Every DMTRL variant has fewer parameters than STL",
              all(counts[m] < counts["stl"] for m in DEEP[2:]),
              ", ".join(f"{dm.PAPER_NAMES[m]} {counts[m]:.0f}K"
                        for m in DEEP[2:]) + f" vs STL {counts['stl']:.0f}K"),
        Claim("dmtrl.a2.dmtrl_more_params_than_udmtl",
              "Every DMTRL variant has more parameters than UD-MTL",
              all(counts[m] > counts["ud-mtl"] for m in DEEP[2:]),
              f"UD-MTL {counts['ud-mtl']:.0f}K with N = {ud_n} shared "
              "layers (CV choice)"),
        Claim("dmtrl.a2.ud_large_not_better",
              "Widening UD-MTL to DMTRL's size does not lower its error",
              err["ud-large"] >= err["ud-mtl"],
              f"UD-MTL {err['ud-mtl']:.2f}%, UD-MTL-Large "
              f"{err['ud-large']:.2f}% ({counts['ud-large']:.0f}K)"),
        Claim("dmtrl.a2.best_dmtrl_beats_ud_large",
              "The best DMTRL variant beats UD-MTL-Large",
              min(err[m] for m in DEEP[2:]) < err["ud-large"],
              f"best DMTRL {min(err[m] for m in DEEP[2:]):.2f}%, "
              f"UD-MTL-Large {err['ud-large']:.2f}%"),
    ]


@uses_runtime
def run_table_a2(cfg: CommonConfig, source_workdir: str,
                 **overrides) -> Results:
    start = time.monotonic()
    source = dataclasses.replace(cfg, workdir=source_workdir,
                                 overwrite=False, experiment="dmtrl_table_a1")
    s, records, _ = appendix_records(source, **overrides)
    data = load_tasks(cfg, s)
    keys = list(records)
    dmtrl_mean = float(np.mean([records[k][m]["params"] for k in keys
                                for m in DEEP[2:]]))
    width = s.ud_large_width or ud_large_width(dmtrl_mean)
    run, large = _ud_large_records(cfg, s, data, keys, width,
                                   source_workdir)
    table, rows, counts = _table_a2_rows(records, large, keys)
    ud_n = sorted({records[k]["ud-mtl"]["ud_shared_layers"] for k in keys})
    err = {m: float(np.mean([(large[k] if m == "ud-large" else
                              records[k][m])["binary_error"]
                             for k in keys])) for m, _ in table}
    claims = _claims_a2(counts, err, ud_n)
    first = records[keys[0]]
    results = Results(
        experiment=cfg.experiment, profile=cfg.profile, dataset="mnist",
        rows=rows, claims=claims, figures=[],
        wall_seconds=time.monotonic() - start,
        notes=[
            "Parameter counts include biases. Ours are larger than the "
            "paper's for STL (559K per network vs ~435K): with 'valid' "
            "convolutions and floor pooling, FC1 sees 4x4x64 = 1,024 inputs"
            "; the paper's padding is not stated. DMTRL counts depend on the"
            " ranks ε picks from the trained STL weights: ranks (first fold)"
            " " + "; ".join(f"{dm.PAPER_NAMES[m]} {first[m]['ranks']}"
                            for m in DEEP[2:]) + ".",
            f"UD-MTL-Large: UD-MTL with N = 3 and FC1 widened to {width} "
            "units to match DMTRL's mean count (the paper does not say "
            "which layers it widened).",
            f"From the Appendix A runs in {source_workdir}.",
        ],
        extra={"settings": s.to_dict(), "ud_large_width": width,
               "ranks": {m: first[m]["ranks"] for m in DEEP[2:]}})
    run.write_results(results)
    return results


__all__ = ["run_table_a1", "run_table_a2", "appendix_records",
           "fit_classic", "fc1_features", "ud_large_network",
           "ud_large_width"]
