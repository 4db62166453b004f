"""`fraudstream train`: fit, evaluate and publish the autoencoder; or score a CSV with one.

Importing this module is cheap (no TensorFlow): `fraudstream --help` stays fast.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fraudstream.core.argtypes import duration as _duration
from fraudstream.core.argtypes import open_fraction as _fraction
from fraudstream.core.argtypes import positive_float as _positive_float
from fraudstream.core.argtypes import positive_int as _positive_int
from fraudstream.core.settings import TOPICS, Endpoints

EPILOG = """\
examples:
  fraudstream train                                   read the preprocessed topic, train, publish
  fraudstream train --model hybrid                    trees on the features + autoencoder errors (needs frauds)
  fraudstream train --max-records 100000 --epochs 20 --threshold-rule precision:0.9
  fraudstream train --no-publish --evaluate-csv creditcard.csv
  fraudstream train --model artifacts/fraud-autoencoder/<version> --evaluate-csv creditcard.csv
threshold rules: max-f1 | precision:P | recall:R | fpr:F (chosen on validation data)
models: auto (default) trains the hybrid from 70 labelled frauds on, else the autoencoder;
  with --evaluate-csv, --model names a run directory, a bundle file or 'published' instead
  (write ./hybrid for a directory called hybrid)
"""

MODEL_KINDS = ("auto", "autoencoder", "hybrid")


class _ModelAction(argparse.Action):
    """`--model KIND` chooses what to train; any other value is the model that scores
    `--evaluate-csv` (a local file needs no cluster: the CLI does not start the stack)."""

    def __call__(self, parser, namespace, values, _option_string=None):
        if values in MODEL_KINDS:
            namespace.kind = values
            return
        setattr(namespace, self.dest, values)
        if values != "published":
            namespace.needs_cluster = False


def register(subparsers) -> None:
    from fraudstream.trainer.model import DEFAULT_LAYERS

    p = subparsers.add_parser(
        "train", help="fit, evaluate and publish the fraud autoencoder",
        description="Read the preprocessed Avro topic (bounded), train a Keras autoencoder on normal rows, "
                    "choose a threshold on validation data, evaluate on a held-out test split, write a "
                    "versioned artifact directory with a report, and publish the model to fraud_models.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = p.add_argument_group("data")
    data.add_argument("--topic", default=TOPICS.preprocessed, help="input topic (default: %(default)s)")
    data.add_argument("--max-records", type=_positive_int, help="read at most this many records")
    data.add_argument("--window", type=_duration, metavar="DURATION",
                      help="only the records of the last DURATION (e.g. 30d): a rolling window of history")
    data.add_argument("--wait-records", type=_positive_int, metavar="N",
                      help="first wait until the topic holds at least N records (offsets), e.g. in compose "
                           "where the trainer starts before the history has arrived")
    data.add_argument("--wait-timeout", type=_positive_float, default=900.0, metavar="SECONDS",
                      help="give up waiting after this long (default: %(default)s)")
    data.add_argument("--val-fraction", type=_fraction, default=0.2, help="validation share (default: %(default)s)")
    data.add_argument("--test-fraction", type=_fraction, default=0.2, help="test share (default: %(default)s)")
    model = p.add_argument_group("model")
    model.add_argument("--layers", default=DEFAULT_LAYERS,
                       help="hidden layers, size[:activation] comma-separated (default: %(default)s)")
    model.add_argument("--l1", type=float, default=1e-5, help="L1 activity penalty on the first layer (default: %(default)s)")
    model.add_argument("--epochs", type=_positive_int, default=100, help="maximum epochs (default: %(default)s)")
    model.add_argument("--patience", type=_positive_int, default=10, help="early-stopping patience (default: %(default)s)")
    model.add_argument("--batch-size", type=_positive_int, default=256, help="(default: %(default)s)")
    model.add_argument("--learning-rate", type=_positive_float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    model.add_argument("--error-scaling", choices=["residual-rms", "none"], default="residual-rms",
                       help="divide each feature's reconstruction error by its RMS on validation normal rows "
                            "(default: %(default)s)")
    model.add_argument("--seed", type=int, default=42, help="split, initialisation and shuffling seed (default: %(default)s)")
    model.add_argument("--threshold-rule", default="max-f1",
                       help="max-f1 | precision:P | recall:R | fpr:F, on validation data (default: %(default)s)")
    model.add_argument("--threads", type=_positive_int, help="cap TensorFlow's threads (shared machines)")
    trees = p.add_argument_group("hybrid model (--model hybrid)")
    trees.add_argument("--trees", type=_positive_int, default=200, help="boosting iterations (default: %(default)s)")
    trees.add_argument("--tree-depth", type=_positive_int, default=4, help="maximum tree depth (default: %(default)s)")
    trees.add_argument("--tree-learning-rate", type=_positive_float, default=0.05,
                       help="boosting learning rate (default: %(default)s)")
    trees.add_argument("--calibration", choices=("sigmoid", "isotonic"), default="sigmoid",
                       help="probability calibration fitted on validation rows (default: %(default)s)")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, default=Path("artifacts"),
                     help="artifact root; a run writes <out>/<model-name>/<version>/ (default: %(default)s)")
    out.add_argument("--tensorboard-dir", type=Path, help="TensorBoard root (default: <out>/tensorboard)")
    out.add_argument("--model-name", default="fraud-autoencoder", help="key in the models topic (default: %(default)s)")
    out.add_argument("--models-topic", default=TOPICS.models, help="compacted models topic (default: %(default)s)")
    out.add_argument("--no-publish", action="store_true", help="do not publish the model to the models topic")
    out.add_argument("--publish-as", choices=("challenger", "champion"), default="challenger",
                     help="role of the new version: challenger (shadow-scored next to the champion until "
                          "`fraudstream models promote`) or champion (scorers switch at once); the first version "
                          "of a model is always champion (default: %(default)s)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    sched = p.add_argument_group("retraining on schedule")
    sched.add_argument("--every", type=_duration, metavar="DURATION",
                       help="train again every DURATION (e.g. 6h), each time publishing a challenger; runs until "
                            "stopped (SIGTERM/SIGINT); a failed run is reported and the next one tried")
    sched.add_argument("--auto-promote", metavar="METRIC:MARGIN@N",
                       help="with --every: promote the challenger when its METRIC (f1, precision, recall) beats the "
                            "champion's by MARGIN on at least N labelled events both scored (the KSQL comparison "
                            "tables), checked every minute; without it nothing is ever promoted automatically")
    ev = p.add_argument_group("evaluation on a CSV (Kaggle layout)")
    ev.add_argument("--evaluate-csv", type=Path, metavar="PATH",
                    help="also score this CSV with the model and write its metrics and plots (never trained on)")
    ev.add_argument("--model", action=_ModelAction, metavar="auto|autoencoder|hybrid|DIR|FILE|published",
                    help="the kind of model to train (default: auto); or, with --evaluate-csv, score with this "
                         "run directory / bundle file, or the latest published model, instead of training one")
    p.set_defaults(func=run_train, needs_cluster=True, kind="auto")


def _options(args):
    from fraudstream.trainer import model as model_mod
    from fraudstream.trainer import threshold
    from fraudstream.trainer.hybrid import HybridConfig
    from fraudstream.trainer.pipeline import TrainOptions

    cfg = model_mod.ModelConfig(layers=model_mod.parse_layers(args.layers), l1=args.l1, epochs=args.epochs,
                                batch_size=args.batch_size, learning_rate=args.learning_rate,
                                patience=args.patience, seed=args.seed,
                                error_scaling=args.error_scaling)
    trees = HybridConfig(max_iter=args.trees, max_depth=args.tree_depth, learning_rate=args.tree_learning_rate,
                         calibration=args.calibration, seed=args.seed)
    return TrainOptions(topic=args.topic, max_records=args.max_records, model=cfg, kind=args.kind, hybrid=trees,
                        window_s=args.window,
                        rule=threshold.parse_rule(args.threshold_rule), out=args.out,
                        tensorboard_dir=args.tensorboard_dir, publish=not args.no_publish,
                        model_name=args.model_name, models_topic=args.models_topic, publish_as=args.publish_as,
                        val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                        progress=not args.no_progress, threads=args.threads)


def run_train(args) -> int:
    from rich.console import Console

    from fraudstream.trainer.errors import OptionError

    out = Console(soft_wrap=True)  # paths and figures stay on one line in logs
    err = Console(stderr=True, soft_wrap=True)
    if args.model and not args.evaluate_csv:
        raise OptionError("--model is for --evaluate-csv: it chooses the model that scores the CSV")
    if args.val_fraction + args.test_fraction >= 1:
        raise OptionError("--val-fraction plus --test-fraction must be below 1")
    opts = _options(args)  # validates --layers and --threshold-rule before anything slow
    endpoints = Endpoints.from_env()
    if args.model:
        return _evaluate_only(args, endpoints, out)

    from fraudstream.trainer import pipeline

    if args.auto_promote and not args.every:
        raise OptionError("--auto-promote goes with --every (or run `fraudstream models auto-promote RULE`)")
    if args.every:
        from fraudstream.trainer.schedule import run_every

        return run_every(args, opts, endpoints, out, err)
    if args.wait_records:
        _wait_for_records(endpoints.bootstrap_servers, args.topic, args.wait_records, args.wait_timeout, err)
    result = pipeline.run(opts, endpoints, console=err)
    for line in pipeline.summary_lines(result.metrics):
        out.print(line, highlight=False)
    out.print(f"artifacts: {result.run_dir} (report: {result.run_dir / 'report.html'})", highlight=False)
    out.print(f"TensorBoard run: {result.tensorboard_run}", highlight=False)
    if result.published:
        out.print(f"published {opts.model_name} v{result.bundle.version} to {opts.models_topic} as "
                  f"{result.published[2]} (partition {result.published[0]}, offset {result.published[1]})",
                  highlight=False)
    else:
        out.print("not published (--no-publish)", highlight=False)
    if args.evaluate_csv:
        from fraudstream.trainer.csv_eval import evaluate_csv

        m = evaluate_csv(result.bundle, args.evaluate_csv, result.run_dir / f"evaluation-{args.evaluate_csv.stem}")
        _print_csv(out, m, result.run_dir / f"evaluation-{args.evaluate_csv.stem}")
    return 0


def _wait_for_records(bootstrap: str, topic: str, wanted: int, timeout: float, err) -> None:
    """Poll the topic's committed offset span until it reaches `wanted` (a missing topic waits too)."""
    from fraudstream.trainer.errors import TopicError
    from fraudstream.trainer.ingest import topic_ranges

    deadline = time.monotonic() + timeout
    have = 0
    with err.status(f"waiting for {wanted:,} records in {topic} …") as status:
        while time.monotonic() < deadline:
            try:
                have = sum(hi - lo for lo, hi in topic_ranges(bootstrap, topic).values())
            except TopicError:
                have = 0
            if have >= wanted:
                return
            status.update(f"waiting for {wanted:,} records in {topic}: {have:,} so far …")
            time.sleep(2)
    raise TopicError(f"{topic} held {have:,} records after {timeout:.0f}s, fewer than --wait-records {wanted:,}")


def _evaluate_only(args, endpoints: Endpoints, out) -> int:
    from fraudstream.trainer.csv_eval import evaluate_csv, load_bundle

    bundle = load_bundle(args.model, endpoints.bootstrap_servers, args.models_topic, args.model_name)
    target = args.out / "evaluations" / f"{bundle.name}-{bundle.version}-{args.evaluate_csv.stem}-{int(time.time())}"
    m = evaluate_csv(bundle, args.evaluate_csv, target)
    _print_csv(out, m, target)
    return 0


def _print_csv(out, m: dict, where: Path) -> None:
    t = m["test"]
    out.print(f"{m['csv']}: {m['rows_scored']:,} rows, {t['frauds']:,} frauds; ROC-AUC {t['roc_auc']:.4f}; "
              f"AUPRC raw {t['raw']['auprc']:.4f}, prevalence-corrected {t['prevalence_corrected']['auprc']:.4f}; "
              f"at threshold: precision {t['raw']['precision']:.3f} (corrected "
              f"{t['prevalence_corrected']['precision']:.3f}), recall {t['raw']['recall']:.3f}", highlight=False)
    out.print(f"evaluation written to {where}", highlight=False)
