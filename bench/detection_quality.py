"""Detection quality on the real frauds: our autoencoder against two baselines, one run.

    .venv/bin/python bench/detection_quality.py [PATH_TO_creditcard_sample.csv] [--synthetic N]

Training data: synthetic normal transactions from the calibrated generator
(`producers.synthetic.TransactionGenerator`) plus a training split of the real sample's
normal rows. Evaluation: the rest of the real sample, i.e. its held-out normal rows and
all 492 real frauds, which no model ever sees in training. Models, all trained on the same
rows with the same scaler:

* ours: `trainer.model` with the defaults of `fraudstream train` (linear output, early
  stopping on normal validation rows, residual-RMS error scaling);
* reference: the well-known architecture with a relu output, trained 5 epochs;
* IsolationForest (scikit-learn, 200 trees), score = -score_samples.

ROC-AUC, and AUPRC raw (frauds are ~17 % of the evaluation rows) and
prevalence-corrected (normals weighted so frauds are 0.1727 %, as
../shared/data/README.md prescribes). The goal: ours ROC-AUC >= 0.95 and an AUPRC above
both baselines.
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sample", nargs="?", type=Path, default=DEFAULT_SAMPLE)
    ap.add_argument("--synthetic", type=int, default=100_000, help="synthetic normal rows (default: %(default)s)")
    ap.add_argument("--real-train-fraction", type=float, default=0.5,
                    help="share of the real normals used for training (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epochs", type=int, help="maximum epochs of ours (default: fraudstream train's)")
    ap.add_argument("--ablation", action="store_true", help="also show ours without error scaling")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    from fraudstream.producers.synthetic import TransactionGenerator
    from sklearn.ensemble import IsolationForest
    from sklearn.model_selection import train_test_split

    from fraudstream.trainer.csv_eval import load_csv
    from fraudstream.trainer.evaluate import detection_metrics
    from fraudstream.trainer.model import ModelConfig, calibrate, limit_threads, reconstruction_errors, train
    from fraudstream.trainer.prepare import fit_scaler

    limit_threads(args.threads)
    real = load_csv(args.sample)
    x_norm, x_fraud = real.x[real.y == 0], real.x[real.y == 1]
    tr_idx, ev_idx = train_test_split(np.arange(len(x_norm)), train_size=args.real_train_fraction,
                                      random_state=args.seed)
    synth = TransactionGenerator(seed=args.seed, fraud_rate=0.0).sample(args.synthetic)
    x_synth = synth.drop(columns=["Class"]).to_numpy(dtype=np.float64)
    pool = np.concatenate([x_synth, x_norm[tr_idx]])
    rng = np.random.default_rng(args.seed)
    rng.shuffle(pool)
    n_val = max(1, len(pool) // 10)
    x_val, x_train = pool[:n_val], pool[n_val:]
    x_eval = np.concatenate([x_norm[ev_idx], x_fraud])
    y_eval = np.r_[np.zeros(len(ev_idx), int), np.ones(len(x_fraud), int)]
    scaler = fit_scaler(x_train)
    z_train, z_val, z_eval = (scaler.transform(a) for a in (x_train, x_val, x_eval))
    print(f"training rows: {len(x_train):,} normal ({args.synthetic:,} synthetic + {len(tr_idx):,} real, "
          f"less {n_val:,} for validation); evaluation: {len(ev_idx):,} real normal + {len(x_fraud):,} real frauds "
          f"from {args.sample.name}", flush=True)

    results = []
    t = time.perf_counter()
    cfg = ModelConfig(seed=args.seed) if args.epochs is None else ModelConfig(epochs=args.epochs, seed=args.seed)
    ours = train(z_train, z_val, cfg)
    published, _ = calibrate(ours.model, z_val, cfg.error_scaling)
    results.append((f"ours: autoencoder, linear output, residual-RMS error scaling ({ours.epochs_run} epochs, "
                    f"best {ours.best_epoch})", reconstruction_errors(published, z_eval), time.perf_counter() - t))
    if args.ablation:
        results.append(("ours without error scaling (ablation)", reconstruction_errors(ours.model, z_eval), 0.0))
    t = time.perf_counter()
    ref_cfg = ModelConfig(output_activation="relu", epochs=5, patience=10_000, seed=args.seed)
    ref = train(z_train, z_val, ref_cfg)
    results.append(("reference autoencoder, relu output, 5 epochs", reconstruction_errors(ref.model, z_eval),
                    time.perf_counter() - t))
    t = time.perf_counter()
    forest = IsolationForest(n_estimators=200, random_state=args.seed, n_jobs=1).fit(z_train)
    results.append(("IsolationForest (200 trees)", -forest.score_samples(z_eval), time.perf_counter() - t))

    header = "| model | ROC-AUC | AUPRC raw | AUPRC prevalence-corrected (0.1727%) | fit+score s |"
    print()
    print(header)
    print("|---|---|---|---|---|")
    table = []
    for name, scores, secs in results:
        m = detection_metrics(y_eval, scores)
        table.append((name, m))
        print(f"| {name} | {m['roc_auc']:.4f} | {m['raw']['auprc']:.4f} | "
              f"{m['prevalence_corrected']['auprc']:.4f} | {secs:.1f} |")
    print(f"\nevaluation rows: {len(y_eval):,}, frauds {int(y_eval.sum())} ({100 * y_eval.mean():.1f}% raw)")
    ours_m = table[0][1]
    goal_auc = ours_m["roc_auc"] >= 0.95
    baselines = [m for name, m in table[1:] if "ablation" not in name]
    goal_ap = all(ours_m[k]["auprc"] > m[k]["auprc"] for m in baselines for k in ("raw", "prevalence_corrected"))
    print(f"goal ROC-AUC >= 0.95: {'met' if goal_auc else 'NOT met'}; "
          f"AUPRC above both baselines (raw and corrected): {'met' if goal_ap else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
