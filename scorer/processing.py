"""What happens to one batch between consume and produce, independent of Kafka transactions.

`ScoringProcessor` turns a list of consumed messages into output records (scores) and
dead letters: batch decode (wire format), feature matrix, one forward pass for the whole
batch, one encode pass. The transactional loop (`scorer.loop`) does not care what the
processor computes, which is how the benchmark runs a passthrough and a naive scorer
through the very same loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fraudstream.scorer import explain, features
from fraudstream.scorer.errors import BadRecord
from fraudstream.scorer.models import ScoringModel
from fraudstream.scorer.wire import WireEncoder, WriterSchemas, decode


@dataclass
class Output:
    """The records one batch produces."""

    records: list[tuple[bytes | None, bytes, int]] = field(default_factory=list)  # key, value, timestamp ms
    dead: list[tuple[Any, BadRecord]] = field(default_factory=list)               # (message, reason)
    anomalies: int = 0
    inference_s: float = 0.0
    model_version: int | None = None
    shadow: list[tuple[bytes | None, bytes, int]] = field(default_factory=list)  # the challenger's scores
    shadow_version: int | None = None
    shadow_anomalies: int = 0
    shadow_inference_s: float = 0.0
    features: np.ndarray | None = None  # raw feature rows of the scored records


def event_ts(msg) -> int:
    kind, ts = msg.timestamp()
    return int(ts) if kind != 0 and ts >= 0 else int(time.time() * 1000)  # 0 = TIMESTAMP_NOT_AVAILABLE


class ScoringProcessor:
    """Scores batches with the current model; `set_model` swaps it (between batches only).

    `explain_top` features with their share of the error go into each score
    (`EXPLANATION`); 0 leaves them out (the benchmark's "before" run). The scored feature
    matrix travels in `Output.features`, so whoever sees committed batches (the drift
    tracker) counts each event once even when a transaction is retried."""

    def __init__(self, schemas: WriterSchemas, encoder: WireEncoder, explain_top: int = explain.TOP_K,
                 shadow_encoder: WireEncoder | None = None) -> None:
        self.schemas = schemas
        self.encoder = encoder
        self.shadow_encoder = shadow_encoder or encoder
        if self.shadow_encoder.raw_tail != encoder.raw_tail:
            raise ValueError("the shadow encoder must write the explanation the way the scores' encoder does")
        self.explain_top = explain_top
        # the explanation as raw Avro bytes when the encoder lets us write that field
        self._tail: explain.AvroTail | None = None
        self.model: ScoringModel | None = None
        self.challenger: ScoringModel | None = None
        self._plans: dict[int, features.Plan] = {}

    def set_model(self, model: ScoringModel, challenger: ScoringModel | None = None) -> None:
        """The champion (and the challenger, shadow-scored on the same rows: it must read
        the same features, so one feature plan and one explanation encoder serve both)."""
        if challenger is not None and challenger.feature_names != model.feature_names:
            raise ValueError(f"challenger v{challenger.version} reads {challenger.feature_names}, the champion "
                             f"v{model.version} {model.feature_names}")
        if self.model is None or model.feature_names != self.model.feature_names:
            self._plans.clear()  # plans depend on the model's feature names
            if self.explain_top and self.encoder.raw_tail == "EXPLANATION":
                self._tail = explain.AvroTail(model.feature_names)
        self.model = model
        self.challenger = challenger

    def _plan(self, schema_id: int) -> features.Plan:
        plan = self._plans.get(schema_id)
        if plan is None:
            assert self.model is not None
            plan = features.make_plan(schema_id, self.schemas.raw(schema_id), self.model.feature_names)
            self._plans[schema_id] = plan
        return plan

    def decode_batch(self, msgs: list) -> list[tuple[features.Plan, dict] | BadRecord]:
        items: list[tuple[features.Plan, dict] | BadRecord] = []
        schemas = self.schemas
        for msg in msgs:
            try:
                schema_id, rec = decode(msg.value(), schemas)
                items.append((self._plan(schema_id), rec))
            except BadRecord as bad:
                items.append(bad)
        return items

    def __call__(self, msgs: list) -> Output:
        model = self.model
        assert model is not None, "no model: the loop must not call the processor before one is set"
        items = self.decode_batch(msgs)
        batch = features.extract(items, len(model.feature_names))
        out = Output(model_version=model.version)
        out.dead = [(msgs[i], bad) for i, bad in sorted(batch.bad.items())]
        if not batch.index:
            return out
        out.features = batch.x
        scored_ts = int(time.time() * 1000)
        stamps = [event_ts(msgs[i]) for i in batch.index]
        keys = [str(i).encode() for i in batch.ids]
        out.records, out.anomalies, out.inference_s = self._score(model, batch, stamps, keys, scored_ts, self.encoder,
                                                                  explain_top=self.explain_top)
        challenger = self.challenger
        if challenger is not None:
            # The shadow's EXPLANATION is left empty: nothing alerts on it, the comparison
            # needs the score and the flag only, and it would cost a top-k pass and ~40
            # bytes per record on the broker.
            out.shadow_version = challenger.version
            out.shadow, out.shadow_anomalies, out.shadow_inference_s = self._score(
                challenger, batch, stamps, keys, scored_ts, self.shadow_encoder, explain_top=0)
        return out

    def _score(self, model: ScoringModel, batch: features.Batch, stamps: list[int], keys: list[bytes],
               scored_ts: int, encoder: WireEncoder,
               explain_top: int) -> tuple[list[tuple[bytes | None, bytes, int]], int, float]:
        """(records, anomalies, forward-pass seconds) of one model on the batch's rows."""
        t0 = time.perf_counter()
        scores, errors = model.score_with_errors(batch.x)
        seconds = time.perf_counter() - t0
        explanations = tails = None
        if explain_top:
            parts = explain.top_contributions(errors, explain_top)
            if self._tail is not None:
                tails = self._tail.encode(*parts)
            else:
                explanations = explain.as_records(*parts, model.feature_names)
        elif encoder.raw_tail == "EXPLANATION":
            tails = [explain.EMPTY_ARRAY] * len(batch.index)  # explanations off: an empty array each
        threshold = model.threshold
        flags = scores > threshold
        version = model.version
        recs = []
        for j in range(len(batch.index)):
            recs.append({
                "ID": batch.ids[j],
                "USER": batch.users[j],
                "CITY": batch.cities[j],
                "AMOUNT": batch.amounts[j],
                "SCORE": float(scores[j]),
                "THRESHOLD": threshold,
                "IS_ANOMALY": bool(flags[j]),
                "LABEL": batch.labels[j],
                "MODEL_VERSION": version,
                "EVENT_TS": stamps[j],
                "SCORED_TS": scored_ts,
            })
            if tails is None:  # fastavro writes the field (a schema without it ignores the key)
                recs[-1]["EXPLANATION"] = explanations[j] if explanations is not None else []
        values = encoder.encode_many(recs, tails)
        return [(keys[j], values[j], stamps[j]) for j in range(len(values))], int(np.count_nonzero(flags)), seconds
