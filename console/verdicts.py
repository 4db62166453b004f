"""An analyst's verdict on an alert, written to `fraud_labels` exactly once.

The label itself is written by `fraudstream.clients.labels.LabelWriter`, the one writer
that `fraudstream label` and the producers use (same schema, key, partitioning). What
this module adds is the console's promise: one click, one label.

1. Everything written to `fraud_labels` until now is read first: the end offsets of its
   partitions are taken, and the labels follower must reach them (else: "try again",
   nothing written). A verdict given anywhere else before this moment is then known.
2. `AlertBook.claim` admits one writer per alert: a second click of the same analyst or
   another analyst's click is refused with who labelled it (or is labelling it).
3. The holder writes one record and waits for the broker's acknowledgement (idempotent
   producer, acks=all: a retried send is not duplicated); the claim is settled with the
   label's partition and offset, or released if the write failed, so a failed verdict
   can be given again and a written one never twice.

Writes go through one writer, one at a time: verdicts come at a human pace, and a single
writer in flight keeps the "flush, then look at the receipt" contract of LabelWriter
simple.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fraudstream.console.alerts import FRAUD, LEGIT, AlertBook, Claimed, Refused, Verdict
from fraudstream.console.follow import Follower, end_offsets
from fraudstream.core.settings import TOPICS, Endpoints

SOURCE = "analyst"
CATCH_UP_S = 5.0
MAX_NOTE = 1000


@dataclass(frozen=True)
class Outcome:
    status: str              # labelled, already-labelled, in-progress, unknown-alert, unavailable, bad-request
    message: str
    verdict: Verdict | None = None
    http_status: int = 200

    def as_dict(self) -> dict:
        return {"status": self.status, "message": self.message,
                "verdict": self.verdict.as_dict() if self.verdict else None}


def parse_verdict(text: str) -> int | None:
    return {"fraud": FRAUD, "legit": LEGIT}.get(str(text).strip().lower())


class VerdictDesk:
    def __init__(self, book: AlertBook, labels: Follower, endpoints: Callable[[], Endpoints],
                 topic: str = TOPICS.labels,
                 scores_topic: str = TOPICS.scores) -> None:
        self.book = book
        self.labels = labels
        self._endpoints = endpoints
        self.topic = topic
        self.scores_topic = scores_topic
        self._writer = None
        self._writer_for: str | None = None
        self._write_lock = threading.Lock()
        self.written = 0
        self.refused = 0

    def give(self, alert_id: int, verdict_text: str, note: str | None, by: str) -> Outcome:
        label = parse_verdict(verdict_text)
        if label is None:
            return Outcome("bad-request", f"verdict {verdict_text!r} is not fraud or legit", http_status=400)
        note = (note or "").strip() or None
        if note is not None and len(note) > MAX_NOTE:
            return Outcome("bad-request", f"the note is longer than {MAX_NOTE} characters", http_status=400)
        alert, _ = self.book.get(alert_id)
        if alert is None:
            return Outcome("unknown-alert", f"no alert with ID {alert_id} in the queue", http_status=404)
        ep = self._endpoints()
        try:
            ends = end_offsets(ep.bootstrap_servers, self.topic) if ep.bootstrap_servers else None
        except Exception as exc:
            return Outcome("unavailable", f"Kafka did not answer ({_short(exc)}); nothing was written, try again",
                           http_status=503)
        if not ep.bootstrap_servers:
            return Outcome("unavailable", "no cluster configured; nothing was written", http_status=503)
        if ends and not self.labels.wait_caught_up(ends, CATCH_UP_S):
            return Outcome("unavailable", f"{self.topic} could not be read up to date within {CATCH_UP_S:.0f}s; "
                                          "nothing was written, try again", http_status=503)
        claim = self.book.claim(alert_id, by)
        if isinstance(claim, Refused):
            self.refused += 1
            if claim.reason == "labelled":
                v = claim.verdict
                return Outcome("already-labelled", f"already labelled {v.as_dict()['verdict']} by {v.who}", v,
                               http_status=409)
            return Outcome("in-progress", f"already being labelled by {claim.by}", http_status=409)
        try:
            written = self._write(claim, label, note, ep)
        except Exception as exc:
            self.book.release(claim)
            return Outcome("unavailable", f"the label was not written ({_short(exc)}); try again", http_status=503)
        self.book.settle(claim, written)
        self.written += 1
        return Outcome("labelled", f"labelled {written.as_dict()['verdict']} by {by}", written)

    def _write(self, claim: Claimed, label: int, note: str | None, ep: Endpoints) -> Verdict:
        from fraudstream.clients.labels import LabelWriter
        from fraudstream.core.labels import Label

        at = int(time.time() * 1000)
        record = Label(claim.alert_id, label, SOURCE, at, note, given_by=claim.by)
        with self._write_lock:
            if self._writer is None or self._writer_for != ep.bootstrap_servers:
                self._writer = LabelWriter(ep.bootstrap_servers, ep.schema_registry_url, topic=self.topic,
                                           scores_topic=self.scores_topic, delivery_timeout=15.0)
                self._writer_for = ep.bootstrap_servers
            self._writer.send(record)
            receipt = self._writer.flush()
        if receipt.failed or not receipt.delivered:
            reason = receipt.failed[0][1] if receipt.failed else "no delivery report"
            raise RuntimeError(reason)
        d = receipt.delivered[-1]
        return Verdict(label, SOURCE, claim.by, at, note, d.partition, d.offset)


def _short(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:200]
