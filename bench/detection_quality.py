"""Detection quality on the real frauds, by stratified 5-fold cross-validation, one run.

    .venv/bin/python bench/detection_quality.py [PATH_TO_creditcard_sample.csv] [--synthetic N] [--folds K]
    .venv/bin/python bench/detection_quality.py --fraud-curve     (the trees by number of training frauds)

Studies (same folds, one arm or a few): `--arms autoencoder` trains only the autoencoder
(about 6 minutes a fold here), `--cache DIR` keeps each fold's trained autoencoder and
reuses it for the same settings (then the trees, IsolationForest and the error scalings
cost seconds), `--error-scalings residual-rms,none,residual-mad,whiten` scores one
trained autoencoder several ways, `--ae-features`, `--layers`, `--ae-learning-rate`,
`--epochs` change the autoencoder, `--trees-params min_samples_leaf=40,...` the trees;
the arms `trees-tuned` and `hybrid-tuned` choose the trees' settings by an inner CV of
each round's training rows (`TUNING_GRID`), never by the round's test fold.

The real sample (5,412 rows: all 492 real frauds and 4,920 random normal rows) is split
into K stratified folds; each fold is the test set once, and nothing of it is trained on
in that round (its frauds included). Per round, on the other K-1 folds:

* **autoencoder** (`fraudstream train --model autoencoder`'s defaults: linear output,
  early stopping on normal validation rows, residual-RMS error scaling): trained on the
  synthetic normal rows of the calibrated generator plus the round's real normal rows
  (10 % of that pool held out for early stopping and the error scale); unsupervised,
  its labels are never used;
* **IsolationForest** (scikit-learn, 200 trees) on the same standardised rows, score =
  -score_samples;
* **plain gradient-boosted trees**: `HistGradientBoostingClassifier` with the hybrid's
  settings, on the raw features of the round's real rows, frauds included;
* **hybrid** (`--model hybrid`): the same trees on the features plus the round's
  autoencoder's scaled residuals and its score (`fraudstream.core.hybrid`).

The supervised scores are the trees' decision values: the hybrid's calibration is a
monotone map of them, so it leaves every ranking figure here unchanged.

Figures per model, mean ± standard deviation over the folds: ROC-AUC, AUPRC raw (frauds
are ~9 % of the sample) and prevalence-corrected (normal rows weighted so that frauds
are 0.1727 %, their share in the full dataset), and recall at 90 % prevalence-corrected
precision (0 when no cut reaches it). Goals (issue 15): corrected AUPRC >= 0.80 for the
hybrid, ROC-AUC >= 0.96 for the autoencoder.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tests.support.shared import shared_dir  # noqa: E402

DEFAULT_SAMPLE = (shared_dir() or ROOT.parent / "shared") / "data" / "creditcard_sample.csv"
MODELS = ("autoencoder", "IsolationForest", "plain gradient-boosted trees", "hybrid")
ARMS = ("autoencoder", "isolation-forest", "trees", "hybrid", "trees-tuned", "hybrid-tuned")
ARM_MODEL = dict(zip(ARMS, (*MODELS, "plain trees, tuned by inner CV", "hybrid, trees tuned by inner CV")))

#: the nested search of the '-tuned' arms: every combination is scored by an inner
#: stratified CV of the round's training rows only, at 100..MAX_ITER iterations (staged
#: decision values of one fit), and the best mean inner corrected AUPRC is refitted on
#: all of the round's training rows; the round's test fold plays no part in the choice
TUNING_GRID = {"learning_rate": (0.05, 0.1), "min_samples_leaf": (10, 40), "l2_regularization": (1.0, 10.0)}
TUNING_ITERS = (100, 200, 300, 400)


def _log_amount(x: np.ndarray) -> np.ndarray:
    out = x.copy()
    out[:, -1] = np.log1p(np.maximum(out[:, -1], 0.0))
    return out


def _hour(x: np.ndarray) -> np.ndarray:
    angle = 2 * np.pi * (x[:, :1] % 86_400.0) / 86_400.0
    return np.hstack([np.sin(angle), np.cos(angle), x[:, 1:]])


#: the autoencoder's inputs from the raw columns Time, V1..V28, Amount (a study: only
#: 'raw' is what fraudstream train and the scorer use)
FEATURE_VARIANTS = {
    "raw": lambda x: x,
    "log-amount": _log_amount,
    "no-time": lambda x: x[:, 1:],
    "hour": _hour,
    "hour+log-amount": lambda x: _hour(_log_amount(x)),
    "no-time+log-amount": lambda x: _log_amount(x)[:, 1:],
}
ERROR_SCALINGS = ("residual-rms", "none", "residual-mad", "whiten")


def error_scores(resid_val: np.ndarray, resid_test: np.ndarray, scaling: str) -> np.ndarray:
    """The autoencoder's score of test rows for an error scaling fitted on validation normal
    rows' residuals: 'residual-rms' (the trainer's), 'none' (plain MSE), 'residual-mad'
    (each feature's residual over 1.4826 x its median absolute deviation: robust to a few
    large validation errors), 'whiten' (Mahalanobis: residuals whitened by the inverse
    Cholesky factor of their validation covariance, which a Dense layer could carry)."""
    if scaling == "none":
        return np.mean(resid_test ** 2, axis=1)
    if scaling == "residual-rms":
        rms = np.sqrt(np.mean(resid_val ** 2, axis=0))
        return np.mean((resid_test / np.where(rms > 1e-12, rms, 1.0)) ** 2, axis=1)
    if scaling == "residual-mad":
        mad = 1.4826 * np.median(np.abs(resid_val - np.median(resid_val, axis=0)), axis=0)
        return np.mean((resid_test / np.where(mad > 1e-12, mad, 1.0)) ** 2, axis=1)
    if scaling == "whiten":
        cov = np.cov(resid_val, rowvar=False) + 1e-9 * np.eye(resid_val.shape[1])
        white = np.linalg.solve(np.linalg.cholesky(cov), resid_test.T).T
        return np.mean(white ** 2, axis=1)
    raise SystemExit(f"unknown error scaling {scaling!r} (one of {', '.join(ERROR_SCALINGS)})")


def recall_at_precision(y: np.ndarray, s: np.ndarray, w: np.ndarray, target: float = 0.9) -> float:
    """The most recall of a cut whose weighted precision is >= target (0 if none is)."""
    from fraudstream.trainer.threshold import Rule, choose

    c = choose(Rule("precision", target), y, s, w)
    return 0.0 if c.note else c.recall


def fold_metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    from fraudstream.trainer.evaluate import detection_metrics, prevalence_weights

    m = detection_metrics(y, s)
    return {"roc_auc": m["roc_auc"], "auprc_raw": m["raw"]["auprc"],
            "auprc_corrected": m["prevalence_corrected"]["auprc"],
            "recall_at_p90": recall_at_precision(y, s, prevalence_weights(y))}


def tuned_trees(inputs: np.ndarray, y: np.ndarray, seed: int, inner_folds: int = 3):
    """(trees refitted on all rows with the settings of the best inner-CV score, settings)."""
    import itertools
    from dataclasses import replace

    from sklearn.model_selection import StratifiedKFold

    from fraudstream.trainer import hybrid

    base = hybrid.HybridConfig(seed=seed, max_iter=max(TUNING_ITERS))
    combos = [dict(zip(TUNING_GRID, v)) for v in itertools.product(*TUNING_GRID.values())]
    scores = np.zeros((len(combos), len(TUNING_ITERS)))
    for itr, ite in StratifiedKFold(inner_folds, shuffle=True, random_state=seed).split(inputs, y):
        for c, combo in enumerate(combos):
            clf = hybrid.fit_trees(inputs[itr], y[itr], replace(base, **combo))
            for i, d in enumerate(clf.staged_decision_function(inputs[ite])):
                if i + 1 in TUNING_ITERS:
                    scores[c, TUNING_ITERS.index(i + 1)] += fold_metrics(y[ite], d)["auprc_corrected"] / inner_folds
    c, i = np.unravel_index(np.argmax(scores), scores.shape)
    chosen = {**combos[c], "max_iter": TUNING_ITERS[i]}
    return hybrid.fit_trees(inputs, y, replace(base, **chosen)), {**chosen, "inner": round(float(scores[c, i]), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sample", nargs="?", type=Path, default=DEFAULT_SAMPLE)
    ap.add_argument("--synthetic", type=int, default=100_000, help="synthetic normal rows (default: %(default)s)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epochs", type=int, help="maximum autoencoder epochs (default: fraudstream train's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--arms", default=",".join(ARMS[:4]),
                    help=f"comma-separated arms to run, of {', '.join(ARMS)} (default: the first four; "
                         "'--arms autoencoder' is the quick loop for autoencoder studies)")
    ap.add_argument("--trees-params", default="", metavar="NAME=VALUE,...",
                    help="the trees' settings other than the trainer's defaults (HybridConfig names), e.g. "
                         "min_samples_leaf=40")
    ap.add_argument("--ae-learning-rate", type=float, help="Adam learning rate (default: fraudstream train's)")
    ap.add_argument("--layers", help="autoencoder hidden layers as --layers of fraudstream train (default: its default)")
    ap.add_argument("--ae-features", choices=sorted(FEATURE_VARIANTS), default="raw",
                    help="the autoencoder's input columns (a study; 'raw' is what the pipeline serves)")
    ap.add_argument("--error-scalings", default="residual-rms",
                    help=f"autoencoder scores to report, of {', '.join(ERROR_SCALINGS)}, computed from one "
                         "trained autoencoder per fold (the first one is the hybrid's)")
    ap.add_argument("--cache", type=Path,
                    help="keep each fold's trained autoencoder here and reuse it when the same settings "
                         "come again (studies of the scores and the trees without retraining)")
    ap.add_argument("--fraud-curve", action="store_true",
                    help="only the supervised learning curve: plain trees trained on every training normal and "
                         "N of the round's training frauds, for several N (no autoencoder; seconds, not minutes)")
    args = ap.parse_args(argv)
    if args.fraud_curve:
        return fraud_curve(args)

    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if not arms or set(arms) - set(ARMS):
        ap.error(f"--arms {args.arms!r}: choose from {', '.join(ARMS)}")
    scalings = [e.strip() for e in args.error_scalings.split(",") if e.strip()]
    if not scalings or set(scalings) - set(ERROR_SCALINGS):
        ap.error(f"--error-scalings {args.error_scalings!r}: choose from {', '.join(ERROR_SCALINGS)}")

    from sklearn.ensemble import IsolationForest
    from sklearn.model_selection import StratifiedKFold

    from fraudstream.core.hybrid import Autoencoder
    from fraudstream.producers.synthetic import TransactionGenerator
    from fraudstream.trainer import hybrid
    from fraudstream.trainer.csv_eval import load_csv
    from fraudstream.trainer.model import ModelConfig, limit_threads, parse_layers, train
    from fraudstream.trainer.prepare import fit_scaler

    limit_threads(args.threads)
    real = load_csv(args.sample)
    x, y = real.x, real.y.astype(int)
    needs_ae = bool({"autoencoder", "isolation-forest", "hybrid"} & set(arms))
    synth = TransactionGenerator(seed=args.seed, fraud_rate=0.0).sample(args.synthetic if needs_ae else 0)
    x_synth = synth.drop(columns=["Class"]).to_numpy(dtype=np.float64)
    cfg = ModelConfig(seed=args.seed)
    if args.epochs is not None:
        cfg.epochs = args.epochs
    if args.layers:
        cfg.layers = parse_layers(args.layers)
    if args.ae_learning_rate:
        cfg.learning_rate = args.ae_learning_rate
    ae_in = FEATURE_VARIANTS[args.ae_features]
    trees_cfg = hybrid.HybridConfig(seed=args.seed, **_params(args.trees_params))
    tag = (f"synth{args.synthetic}-seed{args.seed}-folds{args.folds}-ep{cfg.epochs}-"
           f"{'_'.join(f'{layer.units}{layer.activation}' for layer in cfg.layers)}-{args.ae_features}"
           + ("" if cfg.learning_rate == ModelConfig().learning_rate else f"-lr{cfg.learning_rate:g}"))
    print(f"{args.sample.name}: {len(y):,} rows, {int(y.sum())} frauds; {args.folds} stratified folds; "
          f"autoencoder and IsolationForest also see {args.synthetic:,} synthetic normal rows; autoencoder "
          f"{tag}; trees: {trees_cfg.max_iter} iterations, depth {trees_cfg.max_depth}, learning rate "
          f"{trees_cfg.learning_rate}, l2 {trees_cfg.l2_regularization}, min_samples_leaf {trees_cfg.min_samples_leaf}",
          flush=True)

    models = [ARM_MODEL[a] for a in ARMS if a in arms]
    if "autoencoder" in arms:
        models[0:1] = ["autoencoder" + ("" if e == scalings[0] else f" ({e})") for e in scalings]
    results: dict[str, list[dict[str, float]]] = {m: [] for m in models}
    seconds: dict[str, float] = dict.fromkeys(models, 0.0)
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed).split(x, y)
    for k, (tr, te) in enumerate(folds):
        assert not set(tr) & set(te)
        y_te = y[te]
        pool = np.concatenate([x_synth, x[tr][y[tr] == 0]])
        np.random.default_rng(args.seed + k).shuffle(pool)
        n_val = max(1, len(pool) // 10)
        x_val, x_fit = ae_in(pool[:n_val]), ae_in(pool[n_val:])
        scaler = fit_scaler(x_fit)
        note = ""

        if needs_ae:
            t = time.perf_counter()
            ae_model, note = _autoencoder(args.cache, tag, k, lambda: train(
                scaler.transform(x_fit), scaler.transform(x_val), cfg))
            encoder = Autoencoder.from_keras(ae_model, np.ones(x_fit.shape[1]))
            resid_val = encoder.residuals(scaler.transform(x_val))
            resid_te = encoder.residuals(scaler.transform(ae_in(x[te])))
            fit_seconds = time.perf_counter() - t
        if "autoencoder" in arms:
            for e, m in zip(scalings, models):
                t = time.perf_counter()
                results[m].append(fold_metrics(y_te, error_scores(resid_val, resid_te, e)))
                seconds[m] += fit_seconds + time.perf_counter() - t

        if "isolation-forest" in arms:
            t = time.perf_counter()
            forest = IsolationForest(n_estimators=200, random_state=args.seed, n_jobs=1).fit(scaler.transform(x_fit))
            results["IsolationForest"].append(fold_metrics(y_te, -forest.score_samples(scaler.transform(ae_in(x[te])))))
            seconds["IsolationForest"] += time.perf_counter() - t

        if "trees" in arms:
            t = time.perf_counter()
            plain = hybrid.fit_trees(x[tr], y[tr], trees_cfg)
            results["plain gradient-boosted trees"].append(fold_metrics(y_te, plain.decision_function(x[te])))
            seconds["plain gradient-boosted trees"] += time.perf_counter() - t

        if "trees-tuned" in arms:
            t = time.perf_counter()
            clf, chosen = tuned_trees(x[tr], y[tr], args.seed)
            results[ARM_MODEL["trees-tuned"]].append(fold_metrics(y_te, clf.decision_function(x[te])))
            seconds[ARM_MODEL["trees-tuned"]] += time.perf_counter() - t
            note += f"; plain trees chose {chosen}"

        if {"hybrid", "hybrid-tuned"} & set(arms):
            t = time.perf_counter()
            rms = np.sqrt(np.mean(resid_val ** 2, axis=0))
            encoder = Autoencoder(encoder.layers, np.where(rms > 1e-12, rms, 1.0))
            h_tr = hybrid.tree_inputs(encoder, x[tr], scaler.transform(ae_in(x[tr])))
            h_te = hybrid.tree_inputs(encoder, x[te], scaler.transform(ae_in(x[te])))
            t_inputs = time.perf_counter() - t
        if "hybrid" in arms:
            t = time.perf_counter()
            s = hybrid.fit_trees(h_tr, y[tr], trees_cfg).decision_function(h_te)
            results["hybrid"].append(fold_metrics(y_te, s))
            seconds["hybrid"] += t_inputs + time.perf_counter() - t
        if "hybrid-tuned" in arms:
            t = time.perf_counter()
            clf, chosen = tuned_trees(h_tr, y[tr], args.seed)
            results[ARM_MODEL["hybrid-tuned"]].append(fold_metrics(y_te, clf.decision_function(h_te)))
            seconds[ARM_MODEL["hybrid-tuned"]] += t_inputs + time.perf_counter() - t
            note += f"; hybrid chose {chosen}"
        line = ", ".join(f"{m} {results[m][-1]['auprc_corrected']:.3f}" for m in models)
        auc = ", ".join(f"{m} {results[m][-1]['roc_auc']:.3f}" for m in models)
        print(f"fold {k + 1}/{args.folds} ({len(te):,} rows, {int(y_te.sum())} frauds{note}): "
              f"corrected AUPRC {line}; ROC-AUC {auc}", flush=True)

    print()
    print("| model | ROC-AUC | AUPRC raw | AUPRC prevalence-corrected (0.1727%) | recall at 90% corrected precision "
          "| fit+score s (all folds) |")
    print("|---|---|---|---|---|---|")
    summary = {}
    for m in models:
        rows = results[m]
        cells = []
        for key in ("roc_auc", "auprc_raw", "auprc_corrected", "recall_at_p90"):
            vals = np.array([r[key] for r in rows])
            summary[(m, key)] = vals.mean()
            cells.append(f"{vals.mean():.3f} ± {vals.std():.3f}")
        print(f"| {m} | {' | '.join(cells)} | {seconds[m]:.0f} |")
    print("\nper fold, corrected AUPRC:")
    for m in models:
        folds = ", ".join(f"{r['auprc_corrected']:.3f}" for r in results[m])
        print(f"  {m}: {folds}")
    print()
    if "hybrid" in models:
        got = summary[("hybrid", "auprc_corrected")]
        print(f"goal hybrid corrected AUPRC >= 0.80: {'met' if got >= 0.80 else 'NOT met'} ({got:.3f})")
    if "autoencoder" in models:
        got = summary[("autoencoder", "roc_auc")]
        print(f"goal autoencoder ROC-AUC >= 0.96: {'met' if got >= 0.96 else 'NOT met'} ({got:.3f})")
    return 0


def _params(spec: str) -> dict:
    out = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.partition("=")
        out[name.strip()] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
    return out


def _autoencoder(cache: Path | None, tag: str, fold: int, fit):
    """(trained Keras autoencoder, note): from `cache` when this fold's was kept there."""
    import keras

    path = None if cache is None else cache / tag / f"fold{fold + 1}.keras"
    if path is not None and path.exists():
        return keras.saving.load_model(path, compile=False), "; autoencoder from the cache"
    result = fit()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        result.model.save(path)
    return result.model, f"; autoencoder {result.epochs_run} epochs, best {result.best_epoch}"


def fraud_curve(args) -> int:
    """Corrected AUPRC of the plain trees against the number of training frauds (the
    same folds; N frauds drawn at random from the round's training frauds, every training
    normal kept), to place `--model auto`'s cut-off (MIN_FRAUDS_FOR_HYBRID). The hybrid's
    trees see the same frauds plus the autoencoder's residuals; the autoencoder alone uses
    none, so its figure of the full run is the line the trees must clear."""
    from sklearn.model_selection import StratifiedKFold

    from fraudstream.trainer import hybrid
    from fraudstream.trainer.csv_eval import load_csv

    real = load_csv(args.sample)
    x, y = real.x, real.y.astype(int)
    cfg = hybrid.HybridConfig(seed=args.seed)
    rng = np.random.default_rng(args.seed)
    splits = list(StratifiedKFold(args.folds, shuffle=True, random_state=args.seed).split(x, y))
    print(f"{args.sample.name}: plain trees, corrected AUPRC by training frauds, {args.folds} folds x 2 draws")
    print("| training frauds | corrected AUPRC | recall at 90% corrected precision |\n|---|---|---|")
    for n in (5, 10, 20, 40, 80, 160, 10_000):
        got = []
        for tr, te in splits:
            frauds, normals = tr[y[tr] == 1], tr[y[tr] == 0]
            for _ in range(2 if n < len(frauds) else 1):
                idx = np.concatenate([normals, rng.choice(frauds, size=min(n, len(frauds)), replace=False)])
                got.append(fold_metrics(y[te], hybrid.fit_trees(x[idx], y[idx], cfg).decision_function(x[te])))
        ap_, rec = (np.array([g[k] for g in got]) for k in ("auprc_corrected", "recall_at_p90"))
        label = f"all ({int(y[splits[0][0]].sum())})" if n >= 10_000 else str(n)
        print(f"| {label} | {ap_.mean():.3f} ± {ap_.std():.3f} | {rec.mean():.3f} ± {rec.std():.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
