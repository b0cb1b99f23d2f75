"""DMTRL on MNIST, Appendix A (Table 1) and Appendix B (Table 2), on
the one-vs-all tasks, settings and deep methods of
:mod:`amtfl_tf.experiments.dmtrl.mnist`.

Appendix A adds, at 1% training data, the classic shallow methods (STL,
Evgeniou & Pontil 2004, Argyriou et al. 2008, Kumar & Daumé 2012) on PCA
features and on CNN features: the 512-d penultimate (FC1) layer of a UD-MTL
network with N = 3, where FC1 is shared, so one feature serves all tasks
(the paper does not say which network it used). Their hyper-parameters are
chosen on a 20% validation part of the training subset; logistic loss
(not stated in the paper). With ``appendix_fair`` (faithful, paper) they
are then refit on the whole subset, and the feature network is trained on
the other 80% only. Appendix B adds parameter counts and
UD-MTL-Large (UD-MTL with FC1 widened to match DMTRL's parameter count).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from amtfl_tf import published
from amtfl_tf import verdicts
from amtfl_tf.experiments.config import CommonConfig
from amtfl_tf.experiments.config import uses_runtime
from amtfl_tf.experiments.dmtrl import common as dc
from amtfl_tf.experiments.dmtrl.mnist import ARCH
from amtfl_tf.experiments.dmtrl.mnist import BINARY_NOTE
from amtfl_tf.experiments.dmtrl.mnist import DEEP
from amtfl_tf.experiments.dmtrl.mnist import IMAGE
from amtfl_tf.experiments.dmtrl.mnist import NUM_TASKS
from amtfl_tf.experiments.dmtrl.mnist import PROFILES
from amtfl_tf.experiments.dmtrl.mnist import MnistTasks
from amtfl_tf.experiments.dmtrl.mnist import Settings
from amtfl_tf.experiments.dmtrl.mnist import errors
from amtfl_tf.experiments.dmtrl.mnist import fit_deep
from amtfl_tf.experiments.dmtrl.mnist import load_tasks
from amtfl_tf.experiments.dmtrl.mnist import predict
from amtfl_tf.experiments.dmtrl.mnist import settings_for
from amtfl_tf.experiments.dmtrl.mnist import stopping_split
from amtfl_tf.experiments.dmtrl.mnist import training_subset
from amtfl_tf.experiments import profiles
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
                s: Settings, seed: int, refit: bool = False
                ) -> dict[str, dict[str, Any]]:
    """The classic shallow methods on fixed features, hyper-parameters
    chosen on the validation part (mean binary error); with ``refit``,
    then trained again from the same start on train + validation with the
    chosen values (so they see the same images as the deep methods)."""
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
                        "coordinate", 1, progress=f"appendix {method}")
        model.set_weights(res.weights)
        if refit:
            model = sh.build_model(method, NUM_TASKS, train_x.shape[1],
                                   loss="logistic",
                                   hidden_units=s.classic_latent, seed=seed)
            sh.Trainer(model, np.concatenate([train_x, val_x]),
                       np.concatenate([y01["train"], y01["val"]]), None,
                       trainer.config).fit(**res.best)
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
                 fingerprint=dc.record_fingerprint(
                     "dmtrl_table_a1", s.appendix_fingerprint()))
    run.write_config({**cfg.to_dict(), "settings": s.to_dict()})
    keys = [f"fold{k}" for k in range(1, s.appendix_folds + 1)]
    name = cfg.experiment

    def compute(key):
        def log(msg):
            print(f"[{name}] {key} {msg}", flush=True)

        idx, held = stopping_split(data, training_subset(
            len(data.labels_train), s.appendix_fraction, s.seed, key), s,
            key)
        log(f"{len(idx)} training images")
        rec = fit_deep(data, idx, s, s.seed, log, keep_models=True,
                       validation=held)
        models = rec.pop("_models")
        t = s.train
        ud = models["ud-mtl"]
        x, labels = data.x_train[idx], data.labels_train[idx]
        if ud.sharing[2] != "shared":
            ud = dc.new_network("ud-mtl", NUM_TASKS, IMAGE, ARCH, t,
                                ud_shared_layers=3)
            secs = dc.train(ud, (x, MnistTasks.signs(labels)), t,
                            validation=held)
            # the paper's UD-MTL (N = 3): UD-MTL-Large's like-with-like
            # reference when CV chose another N
            rec["ud-mtl-n3"] = {
                **errors(predict(ud, data.x_test), data.labels_test),
                "params": ud.effective_param_count(), "seconds": secs}
        else:
            rec["ud-mtl-n3"] = dict(rec["ud-mtl"])
        rng = np.random.default_rng([s.seed, 5])
        perm = rng.permutation(len(idx))
        cut = max(1, len(idx) // 5)
        va, tr = perm[:cut], perm[cut:]
        y = MnistTasks.signs(labels)
        flat_tr = x[tr].reshape(len(tr), -1)
        pca = sh.pca_features(flat_tr, [x[va].reshape(len(va), -1),
                             data.x_test.reshape(len(data.x_test), -1)],
                   s.pca_dim)
        if s.appendix_fair:
            # a feature network that never saw the classic methods'
            # validation (or test) images
            ud = dc.new_network("ud-mtl", NUM_TASKS, IMAGE, ARCH, t,
                                ud_shared_layers=3)
            dc.train(ud, (x[tr], y[tr]), t, validation=held)
        feats = [fc1_features(ud, a) for a in (x[tr], x[va], data.x_test)]
        mu, sd = feats[0].mean(0), feats[0].std(0) + 1e-6
        feats = [((f - mu) / sd).astype(np.float32) for f in feats]
        rec["classic_pca"] = fit_classic(pca[0], y[tr], pca[1], y[va],
                                         pca[2], data.labels_test, s, s.seed,
                                         refit=s.appendix_fair)
        rec["classic_cnn"] = fit_classic(feats[0], y[tr], feats[1], y[va],
                                         feats[2], data.labels_test, s,
                                         s.seed, refit=s.appendix_fair)
        log("classic: " + ", ".join(
            f"{m} PCA {rec['classic_pca'][m]['binary_error']:.2f}% / CNN "
            f"{rec['classic_cnn'][m]['binary_error']:.2f}%"
            for m in CLASSIC))
        return rec

    return s, run_splits(run, keys, compute, name), run


def claims_a1(records: dict[str, dict], keys: list[str],
              s: Settings) -> list[Claim]:
    """Appendix A's claims: paired tests over the subsets (every method,
    deep and classic, ran on the same subset and test images)."""
    def err(part, m):
        return np.array([(records[k][part][m] if part else records[k][m])[
            "binary_error"] for k in keys])

    pca = {m: err("classic_pca", m) for m in CLASSIC}
    cnn = {m: err("classic_cnn", m) for m in CLASSIC}
    deep = {m: err(None, m) for m in DEEP[2:]}
    mtl = [m for m in CLASSIC if m != "STL"]
    unit = "(binary error %, per subset)"
    source = "DMTRL Appendix A, Table 1"
    val_note = (
        "Like with like: the classic methods choose their hyper-parameters "
        "on 20% of each subset and are then refit on all of it, as the "
        "deep methods train on all of it; the CNN feature comes from a "
        "UD-MTL (N = 3) network trained on the other 80% only."
        if s.appendix_fair else
        "The classic methods train on 80% of each subset (20% chooses "
        "their hyper-parameters) while the deep methods train on all of "
        "it: an advantage of the deep methods by design. The CNN feature "
        "comes from a UD-MTL network trained end-to-end on the whole "
        "subset, validation part included.")

    def listing(tab, label):
        return ", ".join(f"{m} {label} {tab[m].mean():.2f}" for m in tab)

    n_train = records[keys[0]]["n_train"]
    return [
        Claim.of(
            "dmtrl.a1.classic_improve_on_stl",
            "Every classic MTL method (Evgeniou & Pontil, MTFL, GO-MTL) has "
            "a lower binary error than classic STL, on PCA and on CNN "
            "features",
            verdicts.all_of(
                [verdicts.paired(pca["STL"], pca[m],
                                 f"STL − {m} on PCA {unit}") for m in mtl]
                + [verdicts.paired(cnn["STL"], cnn[m],
                                   f"STL − {m} on CNN {unit}")
                   for m in mtl],
                "every classic MTL method below classic STL"),
            source=source,
            statement="As expected, the classic methods improve on STL",
            detail=listing(pca, "PCA") + "; " + listing(cnn, "CNN"),
            note="Paired by subset; hyper-parameters of every method from "
                 f"the same grid {list(s.classic_grid)} by a coordinate "
                 "search on the same validation part."),
        Claim.of(
            "dmtrl.a1.cnn_features_better",
            "Every classic method has a lower binary error on CNN than on "
            "PCA features",
            verdicts.all_of([verdicts.paired(
                pca[m], cnn[m], f"{m}: PCA − CNN {unit}") for m in CLASSIC],
                "every classic method better on CNN features"),
            source=source,
            statement="they perform significantly better with CNN than "
                      "PCA features",
            detail=listing(pca, "PCA") + "; " + listing(cnn, "CNN"),
            note=val_note),
        Claim.of(
            "dmtrl.a1.dmtrl_beats_classic_cnn",
            "Every DMTRL variant has a lower binary error than every "
            "classic method on CNN features (each pair tested, so no "
            "'best classic' is picked on the test numbers)",
            verdicts.all_of([verdicts.paired(
                cnn[c], deep[m], f"{c} (CNN) − {dm.PAPER_NAMES[m]} {unit}")
                for m in deep for c in CLASSIC],
                "every DMTRL variant below every classic method (CNN)"),
            source=source,
            statement="our DMTRL methods still outperform the best classic "
                      "methods, even when they are enhanced by CNN "
                      "features",
            detail=", ".join(f"{dm.PAPER_NAMES[m]} {deep[m].mean():.2f}"
                             for m in deep) + "; " + listing(cnn, "CNN"),
            note=val_note + " " + dc.budget_note(s.train)),
        Claim.of(
            "dmtrl.a1.dmtrl_beats_shallow_pca",
            f"Every DMTRL variant has a lower binary error than every "
            f"shallow MTL method on PCA features ({n_train} training "
            "images; each pair tested)",
            verdicts.all_of([verdicts.paired(
                pca[c], deep[m], f"{c} (PCA) − {dm.PAPER_NAMES[m]} {unit}")
                for m in deep for c in mtl],
                "every DMTRL variant below every shallow MTL method (PCA)"),
            source="DMTRL §4.1 (Further Discussion); Appendix A, Table 1",
            statement="in the case of binary classification with 1000 "
                      "training data, shallow matrix-based MTL methods "
                      "with PCA feature ... reported 14.0% / 13.4% error "
                      "rate. With the same amount of data, our methods "
                      "have error rate below 6%",
            detail=", ".join(f"{dm.PAPER_NAMES[m]} {deep[m].mean():.2f}"
                             for m in deep) + "; " + listing(pca, "PCA")
            + "; always answering 'no' scores 10%",
            note=("Rewritten from 'DMTRL is below 6%': " + BINARY_NOTE
                  + f" The subsets hold {n_train} images (1% of 60k, "
                  "Appendix A's fraction), not 1000. " + val_note)),
    ]


def _error_rows(name: str, recs: list[dict[str, Any]], dataset: str,
                paper=None) -> list[Row]:
    """The binary error row of ``recs`` and, where every record has it,
    the balanced one beside it with the same published value (which of
    the two the paper's numbers are is what the comparison shows)."""
    rows = [Row.from_splits(name, "binary_error_pct",
                            [r["binary_error"] for r in recs],
                            dataset=dataset, paper=paper)]
    if all("balanced_error" in r for r in recs):
        rows.append(Row.from_splits(name, "balanced_error_pct",
                                    [r["balanced_error"] for r in recs],
                                    dataset=dataset, paper=paper))
    return rows


@uses_runtime
def run_table_a1(cfg: CommonConfig, **overrides) -> Results:
    start = time.monotonic()
    s, records, run = appendix_records(cfg, **overrides)
    keys = list(records)
    rows = []
    for col, part in (("PCA feature", "classic_pca"),
                      ("CNN feature", "classic_cnn")):
        for m in CLASSIC:
            rows += _error_rows(
                CLASSIC_PAPER[m], [records[k][part][m] for k in keys],
                f"mnist/{col}", published.get(
                    "dmtrl", "appendix_table1", CLASSIC_PAPER[m], col))
    for m in DEEP[1:]:
        rows += _error_rows(
            dm.PAPER_NAMES[m], [records[k][m] for k in keys],
            "mnist/CNN feature", published.get(
                "dmtrl", "appendix_table1", dm.PAPER_NAMES[m],
                "CNN feature"))
    rows += _error_rows("STL (deep)", [records[k]["stl"] for k in keys],
                        "mnist/end-to-end")
    claims = claims_a1(records, keys, s)
    results = Results(
        experiment=cfg.experiment, profile=cfg.profile, dataset="mnist",
        profile_changes=profiles.changes(s, PROFILES, nested="train"),
        rows=rows, claims=claims, figures=[],
        wall_seconds=time.monotonic() - start,
        notes=[
            f"{s.appendix_fraction:.1%} training data "
            f"({records[keys[0]]['n_train']} images), {len(keys)} random "
            "subsets ('10-fold CV' in the paper, whose folds are not "
            "described); mean binary error (%) on "
            f"{s.test_size or 10000} test images.",
            "Classic methods: logistic loss, hyper-parameters on a 20% "
            f"validation part over {list(s.classic_grid)}"
            + ("; then refit on the whole subset" if s.appendix_fair
               else "") + f"; PCA-{s.pca_dim} fitted on the training "
            "part; CNN feature = the shared FC1 (512-d) of a UD-MTL "
            "(N = 3) network trained on the "
            + ("80% training part only" if s.appendix_fair else "subset")
            + ", standardised.",
            "'STL (deep)' is the end-to-end single-task CNN (Appendix B's "
            "STL row).",
            BINARY_NOTE + " The paper's 'below 6% with 1000 training data' "
            "(Sec. 4.1) is therefore not tested against 6%; its point, deep "
            "DMTRL against shallow MTL on PCA features, is the claim "
            "dmtrl.a1.dmtrl_beats_shallow_pca.",
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
                 fingerprint={**dc.record_fingerprint(
                     cfg.experiment, s.appendix_fingerprint()),
                     "width": width})
    run.write_config({**cfg.to_dict(), "settings": s.to_dict(),
                      "source_workdir": source_workdir,
                      "ud_large_width": width})

    def compute(key):
        idx, held = stopping_split(data, training_subset(
            len(data.labels_train), s.appendix_fraction, s.seed, key), s,
            key)
        seed_everything(s.seed)
        m = ud_large_network(s.train, width)
        secs = dc.train(m, (data.x_train[idx],
                            MnistTasks.signs(data.labels_train[idx])),
                        s.train, validation=held)
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
        params = [r["params"] / 1000.0 for r in recs]
        counts[m] = float(np.mean(params))
        pub = {c: published.get("dmtrl", "appendix_table2", paper_name, c)
               for c in ("error_pct", "num_params_k", "param_ratio")}
        rows += _error_rows(paper_name, recs, "mnist", pub["error_pct"])
        rows.append(Row.from_splits(paper_name, "num_params_k", params,
                                    dataset="mnist",
                                    paper=pub["num_params_k"]))
        rows.append(Row.from_splits(
            paper_name, "param_ratio",
            [p * 1000.0 / stl_params for p in params], dataset="mnist",
            paper=pub["param_ratio"]))
    return table, rows, counts


STL_INIT_NOTE = (
    "stl_init='shared': the ten STL networks start from one random draw, so "
    "the stacked STL kernels are close to rank one in the task mode and ε "
    "picks small ranks from the shared draw, not from what STL learned; "
    "every DMTRL parameter count here reflects that choice.")


def _fewest(larger, smaller, statistic: str) -> verdicts.Evidence:
    """A parameter-count comparison: counts are exact (no sampling error
    within a subset), so the claim "larger on every subset" is decided by
    the smallest difference over the subsets."""
    d = np.asarray(larger, float) - np.asarray(smaller, float)
    return verdicts.exact(float(d.min()), f"{statistic}, the smallest over "
                          f"{d.size} subset(s)")


def claims_a2(records: dict[str, dict], large: dict[str, dict],
              keys: list[str], s: Settings) -> tuple[list[Claim], list[str]]:
    """Table 2's claims, paired by subset, and the notes on the claims
    removed or not tested."""
    def get(m, field):
        return np.array([(large[k] if m == "ud-large" else records[k][m])[
            field] for k in keys], dtype=float)

    variants = DEEP[2:]
    names = dict(dm.PAPER_NAMES, **{"ud-large": "UD-MTL-Large",
                                    "ud-mtl-n3": "UD-MTL (N = 3)"})
    params = {m: get(m, "params") / 1000.0 for m in
              ("stl", "ud-mtl") + variants + ("ud-large",)}
    err = {m: get(m, "binary_error") for m in
           ("stl", "ud-mtl") + variants + ("ud-large",)}
    has_n3 = all("ud-mtl-n3" in records[k] for k in keys)
    ud_n = [records[k]["ud-mtl"]["ud_shared_layers"] for k in keys]
    if has_n3:
        ref = "ud-mtl-n3"
        params[ref], err[ref] = get(ref, "params") / 1000.0, \
            get(ref, "binary_error")
    elif all(n == 3 for n in ud_n):
        ref = "ud-mtl"
    else:
        ref = None
    source = "DMTRL Appendix B, Table 2"
    init_note = STL_INIT_NOTE if s.train.stl_init == "shared" else \
        "stl_init='independent': the STL networks start from independent " \
        "draws, so the ranks reflect what STL learned."
    notes, claims = [], []

    def count_listing(ms):
        return ", ".join(f"{names[m]} {params[m].mean():.0f}K" for m in ms)

    if s.train.stl_init == "shared":
        notes.append(
            "Claim removed: 'every DMTRL variant has fewer parameters than "
            "STL' (Table 2) is true by construction under stl_init='shared' "
            "(" + STL_INIT_NOTE + ") Run with --stl_init=independent to "
            "test it: with independent draws ε = 10% keeps near-full ranks "
            "(papers-spec pitfall 4).")
    else:
        claims.append(Claim.of(
            "dmtrl.a2.dmtrl_fewer_params_than_stl",
            "Every DMTRL variant, initialised from independently drawn STL "
            "networks, has fewer parameters than STL",
            verdicts.all_of([_fewest(
                params["stl"], params[m], f"STL − {names[m]} parameters "
                "(K)") for m in variants],
                "every DMTRL variant smaller than STL"),
            source=source,
            statement="Our soft-sharing methods also significantly reduce "
                      "the number of parameters compared to STL",
            detail=count_listing(("stl",) + variants), note=init_note))
    if ref is None:
        ev_more = verdicts.not_tested(
            "DMTRL − UD-MTL (N = 3) parameters (K)",
            "UD-MTL (N = 3) was not recorded (records made before it was; "
            "rerun dmtrl_table_a1 with --overwrite)")
    else:
        ev_more = verdicts.all_of([_fewest(
            params[m], params[ref], f"{names[m]} − {names[ref]} parameters "
            "(K)") for m in variants],
            "every DMTRL variant larger than UD-MTL (N = 3)")
    claims.append(Claim.of(
        "dmtrl.a2.dmtrl_more_params_than_udmtl",
        "Every DMTRL variant has more parameters than UD-MTL with the "
        "paper's N = 3 (conv1, conv2, FC1 shared)",
        ev_more, source=source,
        statement="Our soft-sharing methods ... are larger than UD-MTL's "
                  "hard sharing",
        detail=count_listing(variants + ((ref,) if ref else ()))
        + f"; UD-MTL's CV choice: N = {sorted(set(ud_n))} "
          f"({params['ud-mtl'].mean():.0f}K)",
        note="Compared with N = 3, the UD-MTL the paper's Table 2 counts "
             "('share all layers except the top layer'), not our CV choice "
             "of N. " + init_note))
    like = ref is not None and bool(np.all(params["ud-large"] >
                                           params[ref]))
    statistic = "UD-MTL-Large − UD-MTL (N = 3) binary error (%) per subset"
    if ref is None:
        ev = verdicts.not_tested(statistic, "UD-MTL (N = 3) was not recorded")
    elif not like:
        ev = verdicts.not_tested(statistic, "UD-MTL-Large is not larger than "
                                      "UD-MTL (N = 3)")
    else:
        ev = verdicts.paired(err["ud-large"], err[ref], statistic)
    claims.append(Claim.of(
        "dmtrl.a2.ud_large_not_better",
        "Widening UD-MTL (N = 3) to DMTRL's parameter count does not lower "
        "its binary error",
        ev, source=source,
        statement="we expanded UD-MDL by adding more hidden neurons so its "
                  "number of parameter is close to our methods (denoted "
                  "UD-MTL-Large). However UD-MDL performance does not "
                  "increase",
        detail=(f"{names[ref]} {err[ref].mean():.2f}% "
                f"({params[ref].mean():.0f}K), " if ref else "")
        + f"UD-MTL-Large {err['ud-large'].mean():.2f}% "
          f"({params['ud-large'].mean():.0f}K)",
        note="Compared with the UD-MTL it widens (N = 3, FC1 widened), so "
             "the two differ only in capacity; the paper's own Table 2 "
             "UD-MTL-Large (1644K) has more parameters than its UD-MTL "
             "(436K). A 'does not improve' claim holds here only if "
             "UD-MTL-Large is worse; 'inconclusive' means no difference "
             "was detected, which agrees with the paper without proving "
             "it; 'contradicted' means widening helped."))
    claims.append(Claim.of(
        "dmtrl.a2.dmtrl_beats_ud_large",
        "Every DMTRL variant has a lower binary error than UD-MTL-Large "
        "(UD-MTL widened to DMTRL's mean parameter count)",
        verdicts.all_of([verdicts.paired(
            err["ud-large"], err[m], f"UD-MTL-Large − {names[m]} binary "
            "error (%) per subset") for m in variants],
            "every DMTRL variant below UD-MTL-Large"),
        source=source,
        statement="This is evidence that our model's good performance is "
                  "not simply due to greater capacity than UD-MTL",
        detail=", ".join(f"{names[m]} {err[m].mean():.2f}%" for m in
                         variants + ("ud-large",)),
        note=("Capacity matched to DMTRL's mean count. "
              + dc.budget_note(s.train) + " " + BINARY_NOTE)))
    return claims, notes


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
    _, rows, _ = _table_a2_rows(records, large, keys)
    claims, claim_notes = claims_a2(records, large, keys, s)
    first = records[keys[0]]
    results = Results(
        experiment=cfg.experiment, profile=cfg.profile, dataset="mnist",
        profile_changes=profiles.changes(s, PROFILES, nested="train"),
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
            *claim_notes,
        ],
        extra={"settings": s.to_dict(), "ud_large_width": width,
               "ranks": {m: first[m]["ranks"] for m in DEEP[2:]}})
    run.write_results(results)
    return results


__all__ = ["run_table_a1", "run_table_a2", "appendix_records",
           "fit_classic", "fc1_features", "ud_large_network",
           "ud_large_width"]
