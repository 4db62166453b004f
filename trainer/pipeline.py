"""One `fraudstream train` run: topic → split → autoencoder (and, for the hybrid, the
trees) → threshold → evaluation → artifacts → fraud_models. The steps are `trainer.steps` (the functions the Python API
and the notebooks call too); this module only sequences them, writes the run directory,
records what happened, and says so on the console."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from fraudstream.clients.models_topic import publish_bundle, read_state
from fraudstream.core.model_bundle import ModelBundle, ModelBundleError
from fraudstream.core.settings import TOPICS, Endpoints
from fraudstream.trainer import artifacts, ingest, prepare, report, steps, tensorboard, threshold
from fraudstream.trainer.hybrid import MIN_FRAUDS_FOR_HYBRID, HybridConfig
from fraudstream.trainer.model import ModelConfig

DEFAULT_MODEL_NAME = "fraud-autoencoder"


@dataclass
class TrainOptions:
    topic: str = TOPICS.preprocessed
    max_records: int | None = None
    window_s: float | None = None  # only records of the last window_s seconds (rolling history)
    model: ModelConfig = field(default_factory=ModelConfig)
    kind: str = "auto"  # auto | autoencoder | hybrid
    hybrid: HybridConfig = field(default_factory=HybridConfig)
    rule: threshold.Rule = field(default_factory=lambda: threshold.Rule("max-f1"))
    out: Path = Path("artifacts")
    tensorboard_dir: Path | None = None  # default: <out>/tensorboard
    publish: bool = True
    publish_as: str = "challenger"  # or champion; the first version of a name is champion anyway
    model_name: str = DEFAULT_MODEL_NAME
    models_topic: str = TOPICS.models
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    progress: bool = True
    threads: int | None = None
    timeout: float = 60.0

    def as_dict(self) -> dict:
        return {"topic": self.topic, "max_records": self.max_records, "model": self.model.as_dict(),
                "kind": self.kind, "hybrid": self.hybrid.as_dict(),
                "threshold_rule": str(self.rule), "out": str(self.out),
                "tensorboard_dir": str(self.tensorboard_dir) if self.tensorboard_dir else None,
                "publish": self.publish, "model_name": self.model_name, "models_topic": self.models_topic,
                "val_fraction": self.val_fraction, "test_fraction": self.test_fraction}


@dataclass
class RunResult:
    run_dir: Path
    bundle: ModelBundle
    metrics: dict
    tensorboard_run: Path
    published: tuple[int, int, str] | None  # (partition, offset, role)
    ingest: ingest.IngestResult


def next_version(endpoints: Endpoints, opts: TrainOptions, console: Console) -> int:
    """ms since epoch, and above the version currently published under the name."""
    if not opts.publish:
        return int(time.time() * 1000)
    try:
        return publish_version(endpoints.bootstrap_servers, opts.models_topic, opts.model_name, timeout=opts.timeout)
    except ModelBundleError as exc:  # a bad bundle must not block publishing a good one
        console.print(f"[yellow]warning:[/yellow] {exc}; versioning by time only", highlight=False)
        return int(time.time() * 1000)


def publish_version(bootstrap: str, models_topic: str, model_name: str, timeout: float = 60.0) -> int:
    """The version a new model gets: ms since epoch, above every version published under the name."""
    version = int(time.time() * 1000)
    newest = read_state(bootstrap, models_topic, model_name, timeout=timeout).newest_version
    if newest is not None and newest >= version:
        version = newest + 1
    return version


def choose_kind(requested: str, frauds: int) -> tuple[str, str]:
    """(kind to train, why): `auto` trains the hybrid from MIN_FRAUDS_FOR_HYBRID labelled frauds on."""
    if requested == "autoencoder":
        return "autoencoder", "--model autoencoder"
    if requested == "hybrid":
        return "hybrid", "--model hybrid"
    if frauds >= MIN_FRAUDS_FOR_HYBRID:
        return "hybrid", f"{frauds:,} labelled frauds >= {MIN_FRAUDS_FOR_HYBRID} (--model auto)"
    return "autoencoder", (f"only {frauds:,} labelled frauds, fewer than the {MIN_FRAUDS_FOR_HYBRID} the hybrid "
                           f"needs to learn, calibrate and be tested on (--model auto)")


def run(opts: TrainOptions, endpoints: Endpoints, console: Console | None = None) -> RunResult:
    console = console or Console(stderr=True)
    say = lambda msg: console.print(msg, highlight=False)  # noqa: E731
    version = next_version(endpoints, opts, console)

    got = ingest.read_topic(endpoints.bootstrap_servers, opts.topic, registry_url=endpoints.schema_registry_url,
                            max_records=opts.max_records, progress=opts.progress, console=console,
                            timeout=opts.timeout,
                            since_ms=None if opts.window_s is None else int((time.time() - opts.window_s) * 1000))
    say(f"read {got.read:,} records from {opts.topic} in {got.seconds:.1f}s ({got.rate:,.0f} records/s); "
        f"{got.skip_summary()}")
    data = prepare.extract(got.frame)
    say(data.summary())
    kind, why = choose_kind(opts.kind, data.frauds)
    say(f"model: {kind} ({why})")
    dataset = steps.dataset_from(data, seed=opts.model.seed, val_fraction=opts.val_fraction,
                                 test_fraction=opts.test_fraction, offsets=got.offsets,
                                 supervised=kind == "hybrid")
    parts = dataset.split

    run_dir, version = artifacts.new_version_dir(opts.out, opts.model_name, version)
    tb_root = opts.tensorboard_dir or (opts.out / "tensorboard")
    tb_run = tensorboard.new_run_dir(tb_root, f"{opts.model_name}-{version}")
    say(f"training the autoencoder on {len(parts.x_train_normal):,} normal rows, early stopping on "
        f"{len(parts.x_val_normal):,} validation normal rows (TensorBoard: {tb_run})")
    callbacks = tensorboard.callbacks(tb_run, parts.x_train_normal.shape[1])
    if kind == "hybrid":
        model = steps.fit_hybrid(dataset, opts.model, opts.hybrid, callbacks=callbacks, threads=opts.threads)
        fit = model.autoencoder
    else:
        model = fit = steps.fit(dataset, opts.model, callbacks=callbacks, threads=opts.threads)
    say(f"trained {fit.epochs_run} epoch(s) in {fit.seconds:.1f}s, best epoch {fit.best_epoch} "
        f"(val loss {fit.best_val_loss:.4f})")
    if kind == "hybrid":
        say(f"trained {model.trees} trees on {len(parts.x_train):,} rows ({int(parts.labels_train.sum()):,} frauds) "
            f"and a {opts.hybrid.calibration} calibration on {len(parts.y_val):,} validation rows in "
            f"{model.seconds:.1f}s")

    choice = steps.choose_threshold(model, dataset, opts.rule)
    test = steps.evaluate(model, dataset, choice.threshold)
    test_metrics = test.metrics
    metrics = {
        "model": opts.model_name,
        "version": version,
        "threshold": choice.as_dict(),
        "test": test_metrics,
        "validation": steps.evaluate(model, dataset, choice.threshold, part="validation").metrics,
        "kind": kind,
        "data": {"topic": opts.topic, "records_read": got.read, "decoded": got.decoded,
                 "undecodable_skipped": got.skipped_count, "labelled_rows": len(data.y), "frauds": data.frauds,
                 "unknown_label_rows": data.unknown, "dropped_rows": data.dropped_count, "split": parts.sizes(),
                 "seed": opts.model.seed},
        "training": {"epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch, "seconds": fit.seconds,
                     "final_loss": fit.history["loss"][-1], "best_val_loss": fit.best_val_loss,
                     "error_scaling": opts.model.error_scaling,
                     "error_scale": dict(zip(data.features, fit.error_scale.tolist())),
                     **({"hybrid": {**opts.hybrid.as_dict(), "trees": model.trees, "seconds": model.seconds}}
                        if kind == "hybrid" else {})},
        "ingest": {"seconds": got.seconds, "records_per_second": got.rate, "schema_ids": got.schema_ids},
    }

    bundle = steps.make_bundle(model, dataset, choice, test, name=opts.model_name, version=version)
    scaler = dataset.scaler
    (run_dir / "model.keras").write_bytes(bundle.keras_model)
    (run_dir / "bundle.avro").write_bytes(bundle.to_bytes())
    artifacts.write_json(run_dir / "scaler.json", {"features": data.features, "mean": scaler.mean,
                                                   "scale": scaler.scale, "kind": "sklearn StandardScaler"})
    artifacts.write_json(run_dir / "threshold.json", {
        **choice.as_dict(), "anomaly_if": "score > threshold",
        "score": "calibrated fraud probability" if kind == "hybrid" else "mean squared reconstruction error"})
    artifacts.write_json(run_dir / "metrics.json", metrics)
    artifacts.write_json(run_dir / "offsets.json", {"topic": opts.topic, "partitions": got.offsets,
                                                    "records_read": got.read})
    artifacts.write_json(run_dir / "versions.json", bundle.library_versions)
    artifacts.write_json(run_dir / "config.json", {**opts.as_dict(), "version": version,
                                                   "tensorboard_run": str(tb_run)})
    artifacts.write_json(run_dir / "history.json", fit.history)
    artifacts.write_jsonl(run_dir / "skipped.jsonl", got.skipped)
    artifacts.write_jsonl(run_dir / "dropped.jsonl", data.dropped)
    plots = report.make_plots(run_dir / "plots", test.y, test.scores, choice.threshold, fit.history, fit.best_epoch)
    report.write_html(run_dir / "report.html", f"{opts.model_name} v{version}: test evaluation", test_metrics, plots, {
        "threshold": choice.as_dict(), "data": metrics["data"], "training": metrics["training"],
        "model": opts.model.as_dict(), "offsets": [vars(o) for o in got.offsets],
        "tensorboard run": str(tb_run)})

    published = None
    if opts.publish:
        published = publish_bundle(endpoints.bootstrap_servers, bundle, topic=opts.models_topic, timeout=opts.timeout,
                                   role=opts.publish_as)
        roles = read_state(endpoints.bootstrap_servers, opts.models_topic, opts.model_name, timeout=opts.timeout).roles
        role = "champion" if roles and roles.champion == version else "challenger"
        published = (*published, role)
        artifacts.write_json(run_dir / "published.json", {"topic": opts.models_topic, "key": opts.model_name,
                                                          "role": role,
                                                          "partition": published[0], "offset": published[1],
                                                          "version": version})
    return RunResult(run_dir=run_dir, bundle=bundle, metrics=metrics, tensorboard_run=tb_run,
                     published=published, ingest=got)


def summary_lines(metrics: dict) -> list[str]:
    t = metrics["test"]
    th = metrics["threshold"]
    lines = [
        f"test: {t['rows']:,} rows, {t['frauds']:,} frauds; ROC-AUC {t['roc_auc']:.4f}; "
        f"AUPRC {t['raw']['auprc']:.4f} (prevalence-corrected {t['prevalence_corrected']['auprc']:.4f})",
        f"threshold {th['threshold']:.5g} ({th['rule']}): precision {t['raw']['precision']:.3f}, "
        f"recall {t['raw']['recall']:.3f}, F1 {t['raw']['f1']:.3f}; confusion TN {t['confusion_matrix']['tn']:,} "
        f"FP {t['confusion_matrix']['fp']:,} FN {t['confusion_matrix']['fn']:,} TP {t['confusion_matrix']['tp']:,}",
    ]
    if th.get("note"):
        lines.append(f"note: {th['note']}")
    return lines

