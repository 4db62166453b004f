"""Rebuild `creditcard_calibration.json` from the shared statistics file.

The synthetic generator must not depend on ../shared/data at run time (users install
the package without it), so the figures it needs are carried into a data file of the
project's own. This script is the provenance of that file: it selects the figures,
keeps every figure's `source` text and the source catalogue (S1..S7) verbatim, and
writes nothing it did not read. Run it again if the statistics file changes:

    .venv/bin/python producers/data/build_calibration.py [path/to/creditcard_stats.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fraudstream.core.features import FEATURES

HERE = Path(__file__).resolve().parent
DEFAULT_STATS = HERE.parents[2] / "shared" / "data" / "creditcard_stats.json"
OUT = HERE / "creditcard_calibration.json"
V_COLUMNS = list(FEATURES[1:-1])  # V1..V28
QUANTILE_KEYS = ["q01", "q05", "q25", "q50", "q75", "q95", "q99"]


def _probability(key: str) -> str:
    """'q05' -> '0.05', 'p99.9' -> '0.999' (string keys keep the JSON readable)."""
    return repr(round(float(key[1:]) / 100.0, 6))


def _v_marginals(stats: dict) -> dict:
    out: dict[str, dict] = {"class0": {}, "class1": {}}
    for name in V_COLUMNS:
        col = stats["columns"][name]
        c0, c1, overall = col["class0"], col["class1"], col["overall"]
        est = c0["sample_estimate_n4920"]
        out["class0"][name] = {
            "mean": c0["mean"],
            "std": c0["std"],
            "min": overall["min"],
            "max": overall["max"],
            "quantiles": {_probability(k): est[k] for k in QUANTILE_KEYS},
            "source": {
                "mean, std": c0["source"],
                "quantiles": est["source"],
                "min, max": "overall bounds of the column, "
                + overall["source"]
                + "; a class-0 bound lies within them",
            },
        }
        out["class1"][name] = {
            "mean": c1["mean"],
            "std": c1["std"],
            "min": c1["min"],
            "max": c1["max"],
            "quantiles": {_probability(k): c1[k] for k in QUANTILE_KEYS},
            "source": c1["source"],
        }
    return out


def _amount(stats: dict) -> dict:
    a = stats["amount"]
    col = stats["columns"]["Amount"]
    return {
        "class0": {
            "mean": a["class0_published"]["mean"],
            "std": a["class0_published"]["std"],
            "min": a["class0_published"]["min"],
            "max": a["class0_published"]["max"],
            "zero_share": a["class0_sample_share_amount_eq_0"],
            "le_1_share": a["class0_sample_share_amount_le_1"],
            "quantiles": {_probability(k): v for k, v in a["class0_sample_quantiles_n4920"].items()},
            "source": {
                "mean, std, min, max": col["class0"]["source"],
                "quantiles, zero_share, le_1_share": col["class0"]["sample_estimate_n4920"]["source"],
            },
        },
        "class1": {
            "mean": a["class1_published"]["mean"],
            "std": a["class1_published"]["std"],
            "min": a["class1_published"]["min"],
            "max": a["class1_published"]["max"],
            "zero_share": a["class1_share_amount_eq_0"],
            "le_1_share": a["class1_share_amount_le_1"],
            "quantiles": {_probability(k): v for k, v in a["class1_exact_quantiles"].items()},
            "source": col["class1"]["source"],
        },
        "notes": a["notes"],
    }


def _time(stats: dict) -> dict:
    t = stats["time"]
    col = stats["columns"]["Time"]
    out = {"span_seconds": t["span_seconds"], "span_note": t["span_note"], "hour_note": t["hour_note"]}
    for cls, published, hours, source in (
        ("class0", t["class0_published"], t["hour_of_day_share_class0_sample_n4920"],
         {"mean, std, quartiles": col["class0"]["source"],
          "hour_share": col["class0"]["sample_estimate_n4920"]["source"]}),
        ("class1", t["class1_published"], t["hour_of_day_share_class1_exact"], col["class1"]["source"]),
    ):
        out[cls] = {
            "mean": published["mean"],
            "std": published["std"],
            "min": published["min"],
            "max": published["max"],
            "quartiles": {"0.25": published["q25"], "0.5": published["q50"], "0.75": published["q75"]},
            "hour_share": hours,
            "source": source,
        }
    return out


def _correlations(stats: dict) -> dict:
    c = stats["correlations"]
    c0, c1 = c["class0_matrix_derived"], c["class1_matrix_exact"]
    assert c0["columns"] == c1["columns"]
    return {
        "columns": c0["columns"],
        "class0": {"matrix": c0["matrix"], "source": c0["method"] + " (S3, S6, S1)"},
        "class1": {
            "matrix": c1["matrix"],
            "source": "exact: computed from all 492 frauds present in S1 and S2",
        },
        "notes": c["notes"],
    }


def build(stats: dict) -> dict:
    d = stats["dataset"]
    return {
        "about": (
            "Figures of the Kaggle creditcardfraud dataset that calibrate the synthetic "
            "transaction generator (producers/synthetic.py). Selected from "
            "../shared/data/creditcard_stats.json by producers/data/build_calibration.py; "
            "every figure keeps the source text of that file and S1..S7 refer to `sources`."
        ),
        "dataset": {
            "name": d["name"],
            "rows": d["rows"],
            "frauds": d["frauds"],
            "fraud_rate": d["fraud_rate"],
            "fraud_rate_pct": d["fraud_rate_pct"],
            "citation": d["citation"],
            "source": "S3 (N=284807) and the dataset description on Kaggle mlg-ulb/creditcardfraud",
        },
        "columns": ["Time", *V_COLUMNS, "Amount"],
        "v_marginals": _v_marginals(stats),
        "amount": _amount(stats),
        "time": _time(stats),
        "correlations": _correlations(stats),
        "sources": stats["sources"],
    }


def main(argv: list[str]) -> int:
    src = Path(argv[0]) if argv else DEFAULT_STATS
    stats = json.loads(src.read_text())
    OUT.write_text(json.dumps(build(stats), indent=1) + "\n")
    print(f"wrote {OUT} from {src}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
