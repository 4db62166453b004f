"""The fitted synthetic-transaction model: per class, 30 marginals and a latent correlation.

Fitting (tail scales, segment exponents, NORTA correlations) takes a few seconds, so the
result is stored in `data/synthetic_model.json` next to the figures it was fitted on,
tagged with their sha256. `load_model()` uses the stored fit when the tag matches and
refits in-process otherwise (a changed calibration file can never be paired with a stale
fit). `python -m fraudstream.producers.synthetic_model` rewrites the stored fit; a unit test checks
that it equals a fresh one within the fit's accuracy (tests/unit/producers/test_producers_stored_model.py).
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from fraudstream.producers.calibration import (
    CALIBRATION_FILE,
    CLASSES,
    DATA_DIR,
    FEATURES,
    calibration_digest,
    load_calibration,
)
from fraudstream.producers.copula import latent_correlation
from fraudstream.producers.marginals import QuantileMarginal

MODEL_FILE = DATA_DIR / "synthetic_model.json"
HOUR = 3600.0


def _single_threaded_blas():
    """OpenBLAS threads a (4096 x 30) @ (30 x 30) product; on a busy 2-core machine the
    hand-off costs 10x the product itself (measured 0.67 vs 0.05 us per row). threadpoolctl
    (a scikit-learn dependency) limits it for this call only; without it, run as is."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS = ThreadpoolController()
        except ImportError:  # pragma: no cover - scikit-learn brings it
            _BLAS = False
    return _BLAS.limit(limits=1, user_api="blas") if _BLAS else contextlib.nullcontext()


_BLAS = None
Z_LIMIT = 8.5  # |z| beyond this has probability < 2e-17: clamped to the table's ends
Z_POINTS = 16385


@dataclass
class ClassModel:
    """Everything needed to sample one class: marginals in FEATURES order + Cholesky.

    Sampling does not evaluate the quantile functions per draw: each column's
    `Q(Phi(z))` is tabulated once on a uniform grid of z (spacing 0.001) and draws are
    linearly interpolated, all columns in one vectorised gather. That is ~5x faster than
    `QuantileMarginal.from_normal`; sample means agree with it to 1e-6 std (a single
    draw differs by at most 0.13 std, in the few grid cells where a warped segment
    starts steeply).
    """

    marginals: list[QuantileMarginal]
    latent: np.ndarray

    def __post_init__(self) -> None:
        self.cholesky = np.linalg.cholesky(self.latent)
        grid = np.linspace(-Z_LIMIT, Z_LIMIT, Z_POINTS)
        self._step = grid[1] - grid[0]
        table = np.stack([m.from_normal(grid) for m in self.marginals])  # (columns, points)
        self._table = np.ascontiguousarray(table).ravel()
        self._offsets = (np.arange(len(self.marginals)) * Z_POINTS).astype(np.int64)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        with _single_threaded_blas():
            z = rng.standard_normal((n, len(self.marginals))) @ self.cholesky.T
        pos = (np.clip(z, -Z_LIMIT, Z_LIMIT) + Z_LIMIT) * (1.0 / self._step)
        idx = np.minimum(pos.astype(np.int64), Z_POINTS - 2)
        frac = pos - idx
        flat = idx + self._offsets
        lo = self._table[flat]
        hi = self._table[flat + 1]
        return lo + (hi - lo) * frac


def _v_marginal(fig: dict) -> QuantileMarginal:
    q = fig["quantiles"]
    m = QuantileMarginal([float(p) for p in q], list(q.values()), fig["min"], fig["max"])
    return m.fit(fig["mean"], fig["std"])


def _amount_marginal(fig: dict) -> QuantileMarginal:
    """Point masses at 0 and at 1.00, log-linear body above.

    The published shares of amounts equal to 0 and at most 1.00 become flat stretches of
    the quantile function: 37 % of frauds are <= 1.00 ("card testing") while their 25th
    percentile is already 1.00, so a continuous body would put far too few there.
    """
    zero, le_1 = float(fig["zero_share"]), float(fig["le_1_share"])
    knots = {zero: 0.0}
    for p, v in fig["quantiles"].items():
        if float(p) > zero:
            knots[float(p)] = v
    if all(not (p > le_1 and v <= 1.0) for p, v in knots.items()):
        knots = {p: v for p, v in knots.items() if not (p < le_1 and v > 1.0)}
        knots[le_1] = 1.0
    p = sorted(knots)
    m = QuantileMarginal(p, [knots[k] for k in p], 0.0, fig["max"], log_space=True)
    return m.fit(fig["mean"], fig["std"])


def _time_marginal(fig: dict, span: float) -> QuantileMarginal:
    """Two days of the hour-of-day profile, uniform within each hour.

    The share of day two is the one free number; it is solved so the mean equals the
    published one (the dataset's two days are not equally busy).
    """
    share = np.asarray(fig["hour_share"], dtype=np.float64)
    share = share / share.sum()
    day_mean = float((share * (np.arange(24) * HOUR + HOUR / 2)).sum())
    second = float(np.clip((fig["mean"] - day_mean) / (24 * HOUR), 0.0, 1.0))
    probs = np.concatenate([(1.0 - second) * share, second * share])
    edges = np.arange(49) * HOUR
    edges[-1] = span
    p = np.concatenate([[0.0], np.cumsum(probs)])
    p[-1] = 1.0
    keep = np.concatenate([[True], np.diff(p) > 0])  # hours with no share add no knot
    return QuantileMarginal(p[keep], edges[keep], 0.0, span)


def fit_model(calibration: dict) -> dict[str, ClassModel]:
    models = {}
    span = float(calibration["time"]["span_seconds"])
    for cls in CLASSES:
        marginals = [_time_marginal(calibration["time"][cls], span)]
        marginals += [_v_marginal(calibration["v_marginals"][cls][f]) for f in FEATURES[1:-1]]
        marginals.append(_amount_marginal(calibration["amount"][cls]))
        target = np.asarray(calibration["correlations"][cls]["matrix"], dtype=np.float64)
        models[cls] = ClassModel(marginals, latent_correlation(marginals, target))
    return models


def _marginal_to_json(m: QuantileMarginal) -> dict:
    return {
        "p": m.p.tolist(), "x": m.x.tolist(), "lo": m.lo, "hi": m.hi,
        "log_space": m.log_space,
        "lower_scale": m.lower_scale if np.isfinite(m.lower_scale) else "inf",
        "upper_scale": m.upper_scale if np.isfinite(m.upper_scale) else "inf",
        "warp": m.warp.tolist(),
    }


def _marginal_from_json(d: dict) -> QuantileMarginal:
    return QuantileMarginal(
        d["p"], d["x"], d["lo"], d["hi"], log_space=d["log_space"],
        lower_scale=float(d["lower_scale"]), upper_scale=float(d["upper_scale"]),
        warp=np.asarray(d["warp"]),
    )


def model_to_json(models: dict[str, ClassModel], digest: str) -> dict:
    return {
        "about": "Fitted synthetic-transaction model (producers/synthetic_model.py); "
                 "derived from creditcard_calibration.json, do not edit by hand.",
        "calibration_sha256": digest,
        "columns": FEATURES,
        "classes": {
            cls: {
                "marginals": [_marginal_to_json(m) for m in model.marginals],
                "latent_correlation": model.latent.tolist(),
            }
            for cls, model in models.items()
        },
    }


def model_from_json(data: dict) -> dict[str, ClassModel]:
    return {
        cls: ClassModel([_marginal_from_json(m) for m in d["marginals"]],
                        np.asarray(d["latent_correlation"]))
        for cls, d in data["classes"].items()
    }


@lru_cache(maxsize=None)
def load_model(calibration_path: Path = CALIBRATION_FILE,
               model_path: Path = MODEL_FILE) -> dict[str, ClassModel]:
    digest = calibration_digest(calibration_path)
    if model_path.is_file():
        stored = json.loads(model_path.read_text())
        if stored.get("calibration_sha256") == digest:
            return model_from_json(stored)
    return fit_model(load_calibration(calibration_path))


def main(argv: list[str]) -> int:
    models = fit_model(load_calibration(CALIBRATION_FILE))
    MODEL_FILE.write_text(json.dumps(model_to_json(models, calibration_digest()), indent=1) + "\n")
    print(f"wrote {MODEL_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
