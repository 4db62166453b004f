"""Detection quality on the real frauds, by stratified 5-fold cross-validation, one run.

    .venv/bin/python bench/detection_quality.py [PATH_TO_creditcard_sample.csv] [--synthetic N] [--folds K]
    .venv/bin/python bench/detection_quality.py --fraud-curve     (the trees by number of training frauds)

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sample", nargs="?", type=Path, default=DEFAULT_SAMPLE)
    ap.add_argument("--synthetic", type=int, default=100_000, help="synthetic normal rows (default: %(default)s)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epochs", type=int, help="maximum autoencoder epochs (default: fraudstream train's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fraud-curve", action="store_true",
                    help="only the supervised learning curve: plain trees trained on every training normal and "
                         "N of the round's training frauds, for several N (no autoencoder; seconds, not minutes)")
    args = ap.parse_args(argv)
    if args.fraud_curve:
        return fraud_curve(args)

    from sklearn.ensemble import IsolationForest
    from sklearn.model_selection import StratifiedKFold

    from fraudstream.core.hybrid import Autoencoder
    from fraudstream.producers.synthetic import TransactionGenerator
    from fraudstream.trainer import hybrid
    from fraudstream.trainer.csv_eval import load_csv
    from fraudstream.trainer.model import ModelConfig, calibrate, limit_threads, reconstruction_errors, train
    from fraudstream.trainer.prepare import fit_scaler

    limit_threads(args.threads)
    real = load_csv(args.sample)
    x, y = real.x, real.y.astype(int)
    synth = TransactionGenerator(seed=args.seed, fraud_rate=0.0).sample(args.synthetic)
    x_synth = synth.drop(columns=["Class"]).to_numpy(dtype=np.float64)
    cfg = ModelConfig(seed=args.seed) if args.epochs is None else ModelConfig(epochs=args.epochs, seed=args.seed)
    trees_cfg = hybrid.HybridConfig(seed=args.seed)
    print(f"{args.sample.name}: {len(y):,} rows, {int(y.sum())} frauds; {args.folds} stratified folds; "
          f"autoencoder and IsolationForest also see {args.synthetic:,} synthetic normal rows; trees: "
          f"{trees_cfg.max_iter} iterations, depth {trees_cfg.max_depth}, learning rate {trees_cfg.learning_rate}",
          flush=True)

    results: dict[str, list[dict[str, float]]] = {m: [] for m in MODELS}
    seconds: dict[str, float] = dict.fromkeys(MODELS, 0.0)
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed).split(x, y)
    for k, (tr, te) in enumerate(folds):
        assert not set(tr) & set(te)
        y_te = y[te]
        pool = np.concatenate([x_synth, x[tr][y[tr] == 0]])
        np.random.default_rng(args.seed + k).shuffle(pool)
        n_val = max(1, len(pool) // 10)
        x_val, x_fit = pool[:n_val], pool[n_val:]
        scaler = fit_scaler(x_fit)

        t = time.perf_counter()
        ae = train(scaler.transform(x_fit), scaler.transform(x_val), cfg)
        published, rms = calibrate(ae.model, scaler.transform(x_val), cfg.error_scaling)
        results["autoencoder"].append(fold_metrics(y_te, reconstruction_errors(published, scaler.transform(x[te]))))
        seconds["autoencoder"] += time.perf_counter() - t

        t = time.perf_counter()
        forest = IsolationForest(n_estimators=200, random_state=args.seed, n_jobs=1).fit(scaler.transform(x_fit))
        results["IsolationForest"].append(fold_metrics(y_te, -forest.score_samples(scaler.transform(x[te]))))
        seconds["IsolationForest"] += time.perf_counter() - t

        t = time.perf_counter()
        plain = hybrid.fit_trees(x[tr], y[tr], trees_cfg)
        results["plain gradient-boosted trees"].append(fold_metrics(y_te, plain.decision_function(x[te])))
        seconds["plain gradient-boosted trees"] += time.perf_counter() - t

        t = time.perf_counter()
        encoder = Autoencoder.from_keras(ae.model, rms)
        clf = hybrid.fit_trees(hybrid.tree_inputs(encoder, x[tr], scaler.transform(x[tr])), y[tr], trees_cfg)
        s = clf.decision_function(hybrid.tree_inputs(encoder, x[te], scaler.transform(x[te])))
        results["hybrid"].append(fold_metrics(y_te, s))
        seconds["hybrid"] += time.perf_counter() - t
        line = ", ".join(f"{m} {results[m][-1]['auprc_corrected']:.3f}" for m in MODELS)
        print(f"fold {k + 1}/{args.folds} ({len(te):,} rows, {int(y_te.sum())} frauds; autoencoder "
              f"{ae.epochs_run} epochs, best {ae.best_epoch}): corrected AUPRC {line}", flush=True)

    print()
    print("| model | ROC-AUC | AUPRC raw | AUPRC prevalence-corrected (0.1727%) | recall at 90% corrected precision "
          "| fit+score s (all folds) |")
    print("|---|---|---|---|---|---|")
    summary = {}
    for m in MODELS:
        rows = results[m]
        cells = []
        for key in ("roc_auc", "auprc_raw", "auprc_corrected", "recall_at_p90"):
            vals = np.array([r[key] for r in rows])
            summary[(m, key)] = vals.mean()
            cells.append(f"{vals.mean():.3f} ± {vals.std():.3f}")
        print(f"| {m} | {' | '.join(cells)} | {seconds[m]:.0f} |")
    print("\nper fold, corrected AUPRC:")
    for m in MODELS:
        folds = ", ".join(f"{r['auprc_corrected']:.3f}" for r in results[m])
        print(f"  {m}: {folds}")
    auc_goal = summary[("autoencoder", "roc_auc")] >= 0.96
    ap_goal = summary[("hybrid", "auprc_corrected")] >= 0.80
    print(f"\ngoal hybrid corrected AUPRC >= 0.80: {'met' if ap_goal else 'NOT met'} "
          f"({summary[('hybrid', 'auprc_corrected')]:.3f}); goal autoencoder ROC-AUC >= 0.96: "
          f"{'met' if auc_goal else 'NOT met'} ({summary[('autoencoder', 'roc_auc')]:.3f})")
    return 0


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
