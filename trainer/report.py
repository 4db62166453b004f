"""Evaluation report: the plots a person looks at, in one self-contained HTML file.

Plots (PNG files next to the report, and embedded in it so the HTML can be mailed):
loss curves per epoch (training and validation, best epoch marked), ROC curve,
precision-recall curves (raw and prevalence-corrected), and histograms of the
reconstruction error per class on a log scale with the threshold drawn in, and the
confusion matrix at the threshold.
Each plot is a `draw_*` function on a matplotlib Axes (the notebooks draw the same
figures inline) wrapped by a `plot_*` function that writes the PNG. Files are written
from `matplotlib.figure.Figure` objects, never through pyplot: no display is needed and
the process's backend is left alone.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from fraudstream.trainer.evaluate import prevalence_weights


def _figure(size: tuple[float, float]):
    """A figure not registered with pyplot: writing files never changes the backend of
    the process (a notebook that imports this module keeps its inline plots)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    return fig, fig.add_subplot()


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def draw_loss(ax, history: dict[str, list[float]], best_epoch: int | None = None) -> None:
    """Training and validation loss per epoch, the restored best epoch marked."""
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    ax.plot(epochs, history.get("loss", []), label="training (normal rows)")
    if "val_loss" in history:
        ax.plot(epochs, history["val_loss"], label="validation (normal rows)")
    if best_epoch:
        ax.axvline(best_epoch, color="grey", ls="--", lw=1, label=f"best epoch {best_epoch} (restored)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (MSE + L1 penalty)")
    ax.set_yscale("log")
    ax.set_title("Loss curves")
    ax.legend()


def draw_roc(ax, y: np.ndarray, s: np.ndarray, threshold: float | None = None, label: str = "") -> None:
    """ROC curve (false-positive rate on a symlog axis), the threshold's point marked."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, s)
    ax.plot(fpr, tpr, label=f"{label + ': ' if label else ''}ROC-AUC {roc_auc_score(y, s):.4f}")
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
    if threshold is not None:
        pred = s > threshold
        ax.plot([pred[y == 0].mean()], [pred[y == 1].mean()], "o", color="red", label="threshold")
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_xlim(0, 1)
    ax.set_xlabel("false-positive rate (symlog)")
    ax.set_ylabel("true-positive rate (recall)")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right")


def draw_pr(ax, y: np.ndarray, s: np.ndarray, threshold: float | None = None, label: str = "",
            raw: bool = True) -> None:
    """Precision-recall curves, raw and prevalence-corrected (0.1727 % frauds)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    w = prevalence_weights(y)
    prefix = label + ", " if label else ""
    curves = [(w, f"{prefix}prevalence-corrected (0.1727%)")]
    if raw:
        curves.insert(0, (None, f"{prefix}raw (fraud share as evaluated, {100 * y.mean():.2f}%)"))
    for weights, name in curves:
        p, r, _ = precision_recall_curve(y, s, sample_weight=weights)
        ap = average_precision_score(y, s, sample_weight=weights)
        ax.plot(r, p, label=f"{name}: AUPRC {ap:.4f}")
    if threshold is not None:
        pred = s > threshold
        ax.axvline(pred[y == 1].mean(), color="red", ls="--", lw=1, label="recall at threshold")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall curves")
    ax.legend(loc="lower left", fontsize=8)


def draw_histograms(ax, y: np.ndarray, s: np.ndarray, threshold: float | None = None) -> None:
    """Reconstruction error per class, log-log, the threshold drawn in."""
    pos = s[s > 0]
    lo = max(pos.min() if len(pos) else 1e-6, 1e-8)
    bins = np.logspace(np.log10(lo), np.log10(max(s.max(), lo * 10)), 80)
    for cls, name, colour in ((0, "normal", "tab:blue"), (1, "fraud", "tab:red")):
        vals = np.clip(s[y == cls], lo, None)
        ax.hist(vals, bins=bins, alpha=0.55, color=colour, label=f"{name} ({len(vals):,})")
    if threshold is not None:
        ax.axvline(threshold, color="black", ls="--", lw=1, label=f"threshold {threshold:.4g}")
    ax.set_xscale("log")
    ax.set_yscale("log")  # a few hundred frauds next to many thousand normal rows stay visible
    ax.set_xlabel("anomaly score: reconstruction error (mean square, scaled residuals)")
    ax.set_ylabel("rows (log scale)")
    ax.set_title("Reconstruction error per class")
    ax.legend()


def draw_confusion(ax, y: np.ndarray, s: np.ndarray, threshold: float) -> None:
    """Confusion matrix at the threshold (anomaly: score > threshold), counts in the cells."""
    from sklearn.metrics import confusion_matrix

    m = confusion_matrix(np.asarray(y).astype(int), (np.asarray(s) > threshold).astype(int), labels=[0, 1])
    ax.imshow(m, cmap="Blues", norm="log" if m.min() > 0 else None)
    names = ["normal", "fraud"]
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{m[i, j]:,}", ha="center", va="center",
                    color="white" if m[i, j] > m.max() / 2 else "black", fontsize=12)
    ax.set_xticks([0, 1], [f"flagged {n}" if n == "fraud" else "not flagged" for n in names])
    ax.set_yticks([0, 1], names)
    ax.set_xlabel(f"prediction (score > {threshold:.4g})")
    ax.set_ylabel("label")
    ax.set_title("Confusion matrix at the threshold")


def plot_loss(history: dict[str, list[float]], best_epoch: int | None, path: Path) -> Path:
    fig, ax = _figure((6, 4))
    draw_loss(ax, history, best_epoch)
    return _save(fig, path)


def plot_roc(y: np.ndarray, s: np.ndarray, path: Path, threshold: float | None = None) -> Path:
    fig, ax = _figure((5, 5))
    draw_roc(ax, y, s, threshold)
    return _save(fig, path)


def plot_pr(y: np.ndarray, s: np.ndarray, path: Path, threshold: float | None = None) -> Path:
    fig, ax = _figure((6, 5))
    draw_pr(ax, y, s, threshold)
    return _save(fig, path)


def plot_histograms(y: np.ndarray, s: np.ndarray, threshold: float | None, path: Path) -> Path:
    fig, ax = _figure((7, 4))
    draw_histograms(ax, y, s, threshold)
    return _save(fig, path)


def plot_confusion(y: np.ndarray, s: np.ndarray, threshold: float, path: Path) -> Path:
    fig, ax = _figure((5, 4))
    draw_confusion(ax, y, s, threshold)
    return _save(fig, path)


def make_plots(out: Path, y: np.ndarray, s: np.ndarray, threshold: float | None,
               history: dict | None = None, best_epoch: int | None = None) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    plots = {}
    if history:
        plots["Loss curves"] = plot_loss(history, best_epoch, out / "loss.png")
    plots["ROC curve"] = plot_roc(y, s, out / "roc.png", threshold)
    plots["Precision-recall curves"] = plot_pr(y, s, out / "precision_recall.png", threshold)
    plots["Reconstruction error per class"] = plot_histograms(y, s, threshold, out / "errors_by_class.png")
    if threshold is not None:
        plots["Confusion matrix"] = plot_confusion(y, s, threshold, out / "confusion_matrix.png")
    return plots


def _metrics_table(m: dict) -> str:
    rows = [("rows / frauds", f"{m['rows']:,} / {m['frauds']:,} ({100 * m['fraud_share']:.3f}% frauds)"),
            ("ROC-AUC", f"{m['roc_auc']:.4f}")]
    for key, label in (("raw", "raw"), ("prevalence_corrected", "prevalence-corrected (0.1727%)")):
        part = m[key]
        rows.append((f"AUPRC, {label}", f"{part['auprc']:.4f}"))
        if "precision" in part:
            rows.append((f"precision / recall / F1 at threshold, {label}",
                         f"{part['precision']:.4f} / {part['recall']:.4f} / {part['f1']:.4f}"))
    if "confusion_matrix" in m:
        c = m["confusion_matrix"]
        rows.append(("confusion matrix", f"TN {c['tn']:,} · FP {c['fp']:,} · FN {c['fn']:,} · TP {c['tp']:,}"))
    body = "".join(f"<tr><th>{html.escape(a)}</th><td>{html.escape(b)}</td></tr>" for a, b in rows)
    return f"<table>{body}</table>"


def write_html(path: Path, title: str, metrics: dict, plots: dict[str, Path], details: dict) -> Path:
    imgs = "".join(
        f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,"
        f"{base64.b64encode(p.read_bytes()).decode()}'><figcaption>{html.escape(name)} "
        f"({html.escape(p.name)})</figcaption></figure>"
        for name, p in plots.items()
    )
    detail_rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td><pre>{html.escape(v if isinstance(v, str) else json.dumps(v, indent=1))}"
        f"</pre></td></tr>" for k, v in details.items()
    )
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}th{{text-align:left;padding-right:1em;
vertical-align:top}}td pre{{margin:0;white-space:pre-wrap}}figure{{display:inline-block;margin:0.5em}}
table{{border-collapse:collapse}}tr{{border-bottom:1px solid #ddd}}</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>Test metrics</h2>{_metrics_table(metrics)}
<p>Precision and AUPRC depend on the fraud share of the evaluated rows: the prevalence-corrected
figures weight normal rows so that frauds make up 0.1727% (their share in the full Kaggle data).
ROC-AUC does not depend on it.</p>
<h2>Plots</h2>{imgs}
<h2>Run details</h2><table>{detail_rows}</table>
</body></html>"""
    path.write_text(doc)
    return path
