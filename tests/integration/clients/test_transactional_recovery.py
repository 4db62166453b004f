"""The shared exactly-once loop on a real broker, when things go wrong (issue 16):

* a record the processor raises on, or whose output the broker refuses, is isolated by
  splitting the batch, replaced by the hook's dead letter, and nothing around it is lost
  or doubled;
* a dead letter that is refused too: the record is skipped with its offset committed;
* a producer fenced once (what a broker restart's epoch bump looks like to the client)
  is rebuilt and the stream goes on exactly once; fenced again and again right after
  each rebuild (another live instance), the loop stops with FencedError, and closing the
  dead clients does not replace that error.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from confluent_kafka import Producer

from fraudstream.clients.transactional import FencedError, LoopConfig, LoopHooks, Produce, TransactionalLoop
from tests.integration.scorer.support import create_topic, read_committed

pytestmark = pytest.mark.integration


class Hooks(LoopHooks):
    def __init__(self, dlq: str, poison_size: int = 10) -> None:
        self.dlq = dlq
        self.poison_size = poison_size
        self.quarantined_at: list[int] = []
        self.skipped_at: list[int] = []
        self.rebuild_reasons: list[str] = []
        self.committed_keys: list[bytes] = []

    def committed(self, msgs, outputs, seconds, result) -> None:
        self.committed_keys += [m.key() for m in msgs]

    def poisoned(self, msg, reason: str) -> list[Produce]:
        return [Produce(self.dlq, msg.key(), b"x" * self.poison_size, None, [("reason", reason.encode())])]

    def quarantined(self, msg, reason: str) -> None:
        self.quarantined_at.append(msg.offset())

    def skipped(self, msg, reason: str) -> None:
        self.skipped_at.append(msg.offset())

    def rebuilt(self, reason: str) -> None:
        self.rebuild_reasons.append(reason)


def _fill(bootstrap: str, topic: str, n: int, partitions: int, poison: dict[int, bytes] | None = None) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(n):
        value = (poison or {}).get(i, f"v{i}".encode())
        p.produce(topic, key=str(i).encode(), value=value, partition=i % partitions)
    assert p.flush(30) == 0


def _run(loop: TransactionalLoop, until, timeout: float = 120.0) -> threading.Thread:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            loop.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    th = threading.Thread(target=target, daemon=True)
    th.errors = errors  # type: ignore[attr-defined]
    th.start()
    deadline = time.monotonic() + timeout
    while th.is_alive() and not until() and time.monotonic() < deadline:
        time.sleep(0.05)
    return th


def _stop(loop: TransactionalLoop, th: threading.Thread) -> None:
    loop.stop.set()
    th.join(60)
    assert not th.is_alive()


def _cfg(bootstrap: str, base: str, **kw) -> LoopConfig:
    return LoopConfig(bootstrap_servers=bootstrap, group=f"{base}_g", topics=[base], transactional_id=f"{base}_tx",
                      batch_size=kw.pop("batch_size", 500), max_wait_ms=50, session_timeout_ms=6000, **kw)


def _exactly_once(values: list[bytes], expected: set[bytes]) -> None:
    counts = Counter(values)
    assert not [v for v, c in counts.items() if c > 1], "a record was written twice"
    assert set(counts) == expected, f"missing {sorted(expected - set(counts))[:5]}, extra {sorted(set(counts) - expected)[:5]}"


def test_a_record_the_processor_raises_on_is_isolated_and_dead_lettered(kafka_bootstrap, topic_name) -> None:
    n, poison_at = 2000, 777
    create_topic(kafka_bootstrap, topic_name, partitions=2)
    _fill(kafka_bootstrap, topic_name, n, 2, poison={poison_at: b"POISON"})
    out, dlq = f"{topic_name}_out", f"{topic_name}_dlq"

    def copy(msgs):
        if any(m.value() == b"POISON" for m in msgs):
            raise ValueError("cannot handle POISON")
        return [Produce(out, m.key(), m.value()) for m in msgs]

    hooks = Hooks(dlq)
    loop = TransactionalLoop(_cfg(kafka_bootstrap, topic_name), copy, threading.Event(), hooks)
    th = _run(loop, lambda: len(hooks.committed_keys) + len(hooks.quarantined_at) >= n)
    _stop(loop, th)
    assert not th.errors, th.errors
    assert loop.quarantined == 1 and loop.skipped == 0
    _exactly_once([r.raw for r in read_committed(kafka_bootstrap, out, n - 1)],
                  {f"v{i}".encode() for i in range(n) if i != poison_at})
    dead = read_committed(kafka_bootstrap, dlq, 1)
    assert [d.key for d in dead] == [str(poison_at).encode()]
    assert "processing failed: ValueError: cannot handle POISON" in dead[0].headers["reason"]


def test_an_output_the_broker_refuses_is_isolated_and_records_behind_it_go_on(kafka_bootstrap, topic_name) -> None:
    n, big_at = 1500, 321
    create_topic(kafka_bootstrap, topic_name, partitions=1)
    _fill(kafka_bootstrap, topic_name, n, 1, poison={big_at: b"BIG"})
    out, dlq = f"{topic_name}_out", f"{topic_name}_dlq"

    def blow_up(msgs):  # 1.5 MB output for one input: over the producer's and the broker's limit
        return [Produce(out, m.key(), b"y" * 1_500_000 if m.value() == b"BIG" else m.value()) for m in msgs]

    hooks = Hooks(dlq)
    loop = TransactionalLoop(_cfg(kafka_bootstrap, topic_name), blow_up, threading.Event(), hooks)
    th = _run(loop, lambda: len(hooks.committed_keys) + len(hooks.quarantined_at) >= n)
    _stop(loop, th)
    assert not th.errors, th.errors
    assert hooks.quarantined_at == [big_at]
    _exactly_once([r.raw for r in read_committed(kafka_bootstrap, out, n - 1)],
                  {f"v{i}".encode() for i in range(n) if i != big_at})
    dead = read_committed(kafka_bootstrap, dlq, 1)
    assert "MSG_SIZE_TOO_LARGE" in dead[0].headers["reason"].upper().replace(" ", "_") or \
        "too large" in dead[0].headers["reason"].lower()


def test_a_record_whose_dead_letter_is_refused_too_is_skipped_and_counted(kafka_bootstrap, topic_name) -> None:
    n, poison_at = 600, 100
    create_topic(kafka_bootstrap, topic_name, partitions=1)
    _fill(kafka_bootstrap, topic_name, n, 1, poison={poison_at: b"POISON"})
    out, dlq = f"{topic_name}_out", f"{topic_name}_dlq"

    def copy(msgs):
        if any(m.value() == b"POISON" for m in msgs):
            raise ValueError("cannot handle POISON")
        return [Produce(out, m.key(), m.value()) for m in msgs]

    hooks = Hooks(dlq, poison_size=2_000_000)  # the dead letter itself is too large
    loop = TransactionalLoop(_cfg(kafka_bootstrap, topic_name, batch_size=100), copy, threading.Event(), hooks)
    th = _run(loop, lambda: len(hooks.committed_keys) + len(hooks.skipped_at) >= n)
    _stop(loop, th)
    assert not th.errors, th.errors
    assert hooks.skipped_at == [poison_at] and loop.skipped == 1 and loop.quarantined == 0
    _exactly_once([r.raw for r in read_committed(kafka_bootstrap, out, n - 1)],
                  {f"v{i}".encode() for i in range(n) if i != poison_at})


def _feed(bootstrap: str, topic: str, stop: threading.Event) -> None:
    """Steady input until `stop`: a fence shows when a transaction is attempted."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    i = 0
    while not stop.is_set():
        p.produce(topic, key=str(i).encode(), value=f"v{i}".encode())
        p.poll(0)
        i += 1
        time.sleep(0.002)
    p.flush(30)


def _fence(bootstrap: str, transactional_id: str) -> Producer:
    """What another instance (or an epoch bump) does to the loop's producer."""
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id})
    p.init_transactions(30)
    return p


def test_a_fenced_producer_is_rebuilt_and_the_stream_stays_exactly_once(kafka_bootstrap, topic_name) -> None:
    n = 6000
    create_topic(kafka_bootstrap, topic_name, partitions=2)
    out = f"{topic_name}_out"
    cfg = _cfg(kafka_bootstrap, topic_name, batch_size=100)
    hooks = Hooks(f"{topic_name}_dlq")
    slow = threading.Event()

    def copy(msgs):
        if slow.is_set():
            time.sleep(0.02)  # keep transactions open long enough to be fenced mid-way
        return [Produce(out, m.key(), m.value()) for m in msgs]

    loop = TransactionalLoop(cfg, copy, threading.Event(), hooks)
    feeder = threading.Thread(target=_fill, args=(kafka_bootstrap, topic_name, n, 2))
    feeder.start()
    th = _run(loop, lambda: len(hooks.committed_keys) >= 500)
    slow.set()
    _fence(kafka_bootstrap, cfg.transactional_id)
    deadline = time.monotonic() + 120
    while len(hooks.committed_keys) < n and time.monotonic() < deadline and th.is_alive():
        time.sleep(0.05)
    feeder.join(60)
    _stop(loop, th)
    assert not th.errors, th.errors
    # one fence, one rebuild when the machine is quiet; at load average 11-15 the rebuilt
    # producer was seen fenced again ("old epoch", 2 and 3 rebuilds in all) by this single
    # other instance; why is not known yet (issue 16's report). What must hold: every
    # record once and no FencedError within the default 3 rebuilds
    assert 1 <= loop.rebuilds <= 3 and len(hooks.rebuild_reasons) == loop.rebuilds, hooks.rebuild_reasons
    _exactly_once([r.raw for r in read_committed(kafka_bootstrap, out, n)], {f"v{i}".encode() for i in range(n)})


def test_fenced_again_after_every_rebuild_is_a_real_fence(kafka_bootstrap, topic_name) -> None:
    create_topic(kafka_bootstrap, topic_name, partitions=1)
    cfg = _cfg(kafka_bootstrap, topic_name, batch_size=50, max_rebuilds=2, rebuild_window_s=120)
    out = f"{topic_name}_out"
    hooks = Hooks(f"{topic_name}_dlq")
    loop = TransactionalLoop(cfg, lambda msgs: [Produce(out, m.key(), m.value()) for m in msgs],
                             threading.Event(), hooks)
    stop_feeding = threading.Event()
    feeder = threading.Thread(target=_feed, args=(kafka_bootstrap, topic_name, stop_feeding))
    feeder.start()
    try:
        th = _run(loop, lambda: len(hooks.committed_keys) >= 100)
        others = []
        deadline = time.monotonic() + 120
        while th.is_alive() and time.monotonic() < deadline:
            before = loop.rebuilds
            others.append(_fence(kafka_bootstrap, cfg.transactional_id))  # the other instance (re)starts
            # A fence sent while the loop is re-initialising is overtaken by the loop's own
            # newer epoch and fences nothing (it failed CI that way under load): the other
            # instance starts again after a while without a rebuild.
            again = time.monotonic() + 10
            while th.is_alive() and loop.rebuilds == before and time.monotonic() < min(deadline, again):
                time.sleep(0.05)
        th.join(30)
    finally:
        stop_feeding.set()
        feeder.join(60)
    assert not th.is_alive()
    assert len(th.errors) == 1 and isinstance(th.errors[0], FencedError), th.errors
    message = str(th.errors[0])
    assert "held by another live instance" in message and "\n" not in message
    assert loop.rebuilds == 2  # two fences were taken for restarts of the broker's epoch; the third is not


def _rival(bootstrap: str, cfg: LoopConfig, polls: int = 30):
    """A consumer joining with the loop's group.instance.id (what a second process with the
    same instance id does; a restarted coordinator can do the same to the loop's own
    consumer). It fences the loop's consumer, then leaves."""
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": cfg.group, "group.instance.id": cfg.group_instance_id,
                  "session.timeout.ms": 6000, "enable.auto.commit": False})
    c.subscribe(cfg.topics)
    for _ in range(polls):
        c.poll(0.1)
    return c


def test_a_fenced_static_consumer_is_rebuilt_and_the_stream_stays_exactly_once(kafka_bootstrap, topic_name) -> None:
    n = 4000
    create_topic(kafka_bootstrap, topic_name, partitions=2)
    out = f"{topic_name}_out"
    cfg = _cfg(kafka_bootstrap, topic_name, batch_size=100, group_instance_id=f"{topic_name}_static")
    hooks = Hooks(f"{topic_name}_dlq")
    loop = TransactionalLoop(cfg, lambda msgs: [Produce(out, m.key(), m.value()) for m in msgs],
                             threading.Event(), hooks)
    feeder = threading.Thread(target=_fill, args=(kafka_bootstrap, topic_name, n, 2))
    feeder.start()
    th = _run(loop, lambda: len(hooks.committed_keys) >= 300)
    rival = _rival(kafka_bootstrap, cfg)
    deadline = time.monotonic() + 60
    while loop.consumer_rebuilds == 0 and time.monotonic() < deadline and th.is_alive():
        time.sleep(0.1)
    rival.close()
    while len(hooks.committed_keys) < n and time.monotonic() < deadline + 60 and th.is_alive():
        time.sleep(0.05)
    feeder.join(60)
    _stop(loop, th)
    assert not th.errors, th.errors
    assert loop.consumer_rebuilds == 1
    _exactly_once([r.raw for r in read_committed(kafka_bootstrap, out, n)], {f"v{i}".encode() for i in range(n)})


def test_a_static_consumer_fenced_after_every_rebuild_is_a_real_fence(kafka_bootstrap, topic_name) -> None:
    create_topic(kafka_bootstrap, topic_name, partitions=1)
    cfg = _cfg(kafka_bootstrap, topic_name, batch_size=50, max_rebuilds=2, rebuild_window_s=120,
               group_instance_id=f"{topic_name}_static")
    hooks = Hooks(f"{topic_name}_dlq")
    loop = TransactionalLoop(cfg, lambda msgs: [Produce(f"{topic_name}_out", m.key(), m.value()) for m in msgs],
                             threading.Event(), hooks)
    stop_feeding = threading.Event()
    feeder = threading.Thread(target=_feed, args=(kafka_bootstrap, topic_name, stop_feeding))
    feeder.start()
    try:
        th = _run(loop, lambda: len(hooks.committed_keys) >= 200)
        deadline = time.monotonic() + 120
        while th.is_alive() and time.monotonic() < deadline:  # the other process keeps coming back
            _rival(kafka_bootstrap, cfg, polls=20).close()
        th.join(30)
    finally:
        stop_feeding.set()
        feeder.join(60)
    assert not th.is_alive()
    assert len(th.errors) == 1 and isinstance(th.errors[0], FencedError), th.errors
    assert "group.instance.id" in str(th.errors[0]) and loop.consumer_rebuilds == 2


def test_a_consumer_that_stops_delivering_is_replaced_and_the_stream_stays_exactly_once(kafka_bootstrap,
                                                                                        topic_name) -> None:
    """The fault-injection test once saw a query's consumer return nothing for minutes after
    a broker restart, records waiting and no error anywhere. Simulated here by pausing the
    loop's partitions behind its back: the loop finds records it did not deliver, replaces
    the consumer, and the records come out once."""
    create_topic(kafka_bootstrap, topic_name, partitions=2)
    out = f"{topic_name}_out"
    cfg = _cfg(kafka_bootstrap, topic_name, batch_size=100, stall_s=1.5)
    hooks = Hooks(f"{topic_name}_dlq")
    pause_now, paused = threading.Event(), threading.Event()

    def pause_behind_its_back() -> None:
        # in the loop's own thread: a confluent-kafka consumer is not to be called from a
        # second thread while it polls (pause() from the test's thread blocked for minutes)
        if pause_now.is_set() and not paused.is_set():
            from confluent_kafka import TopicPartition

            loop.consumer.pause([TopicPartition(t, p) for t, p in sorted(loop.assigned)])
            paused.set()

    loop = TransactionalLoop(cfg, lambda msgs: [Produce(out, m.key(), m.value()) for m in msgs],
                             threading.Event(), hooks, before_batch=pause_behind_its_back)
    _fill(kafka_bootstrap, topic_name, 200, 2)
    th = _run(loop, lambda: len(hooks.committed_keys) >= 200)
    assert len(hooks.committed_keys) == 200 and loop.stall_rebuilds == 0
    pause_now.set()  # stops delivering, silently
    deadline = time.monotonic() + 30
    while not paused.is_set() and time.monotonic() < deadline and th.is_alive():
        time.sleep(0.05)
    assert paused.is_set()
    _fill(kafka_bootstrap, topic_name, 400, 2)  # keys 0..399 again: values v0..v399, 200 new ones
    deadline = time.monotonic() + 60
    while len(hooks.committed_keys) < 600 and time.monotonic() < deadline and th.is_alive():
        time.sleep(0.05)
    _stop(loop, th)
    assert not th.errors, th.errors
    assert loop.stall_rebuilds >= 1 and len(hooks.committed_keys) == 600
    values = [r.raw for r in read_committed(kafka_bootstrap, out, 600)]
    assert len(values) == 600
    assert Counter(values) == Counter([f"v{i}".encode() for i in range(200)] + [f"v{i}".encode() for i in range(400)])


def test_an_idle_consumer_at_transaction_markers_and_aborted_records_is_left_alone(kafka_bootstrap,
                                                                                  topic_name) -> None:
    """At a partition's end a commit marker, or an aborted batch with its marker, raise the
    high watermark above what can be delivered: no stall, whatever the offsets say."""
    create_topic(kafka_bootstrap, topic_name, partitions=1)
    p = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": f"{topic_name}_writer"})
    p.init_transactions(30)
    for commit in (True, False):
        p.begin_transaction()
        for i in range(20):
            p.produce(topic_name, key=str(i).encode(), value=f"v{i}".encode())
        p.commit_transaction(30) if commit else p.abort_transaction(30)
    cfg = _cfg(kafka_bootstrap, topic_name, stall_s=1.0)
    hooks = Hooks(f"{topic_name}_dlq")
    loop = TransactionalLoop(cfg, lambda msgs: [], threading.Event(), hooks)
    th = _run(loop, lambda: len(hooks.committed_keys) >= 20)
    time.sleep(6)  # three checks' worth of idling at 42 offsets past the 20 records delivered
    _stop(loop, th)
    assert not th.errors, th.errors
    assert len(hooks.committed_keys) == 20 and loop.stall_rebuilds == 0
