"""Score a CSV in the Kaggle layout with a trained model: the same metrics and plots.

Used for the real data (../shared/data/creditcard_sample.csv, the 5,412-row sample with
all 492 real frauds, or the full Kaggle file): the file is only ever scored, never
trained on. Rows with a missing feature or a label other than 0/1 are counted and
listed with their line number; unknown labels (-1 / empty) are left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fraudstream.core.errors import InputError
from fraudstream.clients.models_topic import latest_bundle
from fraudstream.core.model_bundle import ModelBundle, ModelBundleError
from fraudstream.trainer import artifacts, evaluate, prepare, report
from fraudstream.trainer.errors import TrainerError


def load_csv(path: Path) -> prepare.Labelled:
    """Labelled rows of a Kaggle-layout CSV (header row; columns matched case-insensitively)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, dtype={"Class": "string", "CLASS": "string", "class": "string"},
                            low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from exc
    try:
        return prepare.extract(frame, line_offset=2)  # line 1 is the header
    except TrainerError as exc:
        raise InputError(f"{path}: {exc}") from exc


def load_bundle(model: str, bootstrap: str = "", models_topic: str = "", name: str = "",
                timeout: float = 30.0) -> ModelBundle:
    """`model` is a run directory, a bundle file (.avro), or 'published' (latest in fraud_models)."""
    if model == "published":
        if not bootstrap:
            raise TrainerError("--model published needs a Kafka cluster (KAFKA_BOOTSTRAP_SERVERS)")
        bundle = latest_bundle(bootstrap, models_topic, name, timeout=timeout)
        if bundle is None:
            raise TrainerError(f"no model named {name!r} is published in {models_topic!r}")
        return bundle
    path = Path(model)
    if path.is_dir():
        path = path / "bundle.avro"
    if not path.is_file():
        raise InputError(f"{path}: no such model bundle (give a run directory, its bundle.avro, or 'published')")
    try:
        return ModelBundle.from_bytes(path.read_bytes())
    except ModelBundleError as exc:
        raise InputError(f"{path}: {exc}") from exc


def evaluate_csv(bundle: ModelBundle, csv_path: Path, out_dir: Path) -> dict:
    """Score `csv_path` with `bundle`; writes metrics.json, report.html and plots to `out_dir`."""
    data = load_csv(csv_path)
    if data.frauds == 0 or data.normals == 0:
        raise InputError(f"{csv_path}: evaluation needs both classes; it has {data.frauds} fraud(s) and "
                         f"{data.normals} normal row(s) with labels")
    scores = bundle.scores(data.x)
    m = evaluate.detection_metrics(data.y, scores, bundle.threshold)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = {"csv": str(csv_path), "model": bundle.name, "version": bundle.version,
               "threshold": {"threshold": bundle.threshold, "rule": bundle.threshold_rule},
               "rows_scored": int(len(data.y)), "unknown_label_rows": data.unknown,
               "dropped_rows": data.dropped_count, "test": m}
    artifacts.write_json(out_dir / "metrics.json", metrics)
    artifacts.write_jsonl(out_dir / "dropped.jsonl", data.dropped)
    np.save(out_dir / "scores.npy", scores)
    plots = report.make_plots(out_dir / "plots", data.y, scores, bundle.threshold)
    report.write_html(out_dir / "report.html", f"{bundle.name} v{bundle.version} on {Path(csv_path).name}", m, plots,
                      {"csv": str(csv_path), "rows": data.summary(), "threshold rule": bundle.threshold_rule,
                       "model trained on": [vars(o) for o in bundle.training_offsets]})
    return metrics
