"""The watchdog around blocking transactional calls: answers, errors and hangs."""

from __future__ import annotations

import threading
import time

import pytest

from fraudstream.clients.transactional import _Hung, _Watchdog


def test_answers_and_errors_come_back_from_the_worker() -> None:
    dog = _Watchdog(timeout_s=5)
    assert dog.call("add", lambda: 1 + 1) == 2
    with pytest.raises(ZeroDivisionError):
        dog.call("divide", lambda: 1 / 0)
    assert dog.call("again", lambda: "still works") == "still works"


def test_a_call_that_never_returns_is_given_up_and_the_next_call_gets_a_new_worker() -> None:
    dog = _Watchdog(timeout_s=0.3)
    release = threading.Event()
    t0 = time.monotonic()
    with pytest.raises(_Hung, match="stuck did not return within 0s"):
        dog.call("stuck", lambda: release.wait(30))
    assert time.monotonic() - t0 < 5
    assert dog.call("next", lambda: threading.current_thread().name) == "transactional-calls"
    release.set()


def _loop(max_rebuilds: int):
    from fraudstream.clients.transactional import LoopConfig, TransactionalLoop

    cfg = LoopConfig(bootstrap_servers="127.0.0.1:1", group="g", topics=["t"], transactional_id="tx",
                     max_rebuilds=max_rebuilds)
    loop = TransactionalLoop(cfg, lambda msgs: [], threading.Event())
    loop._make_producer = lambda: None            # no client: only the counting is under test
    loop._init_transactions = lambda timeout_s: None
    return loop


def test_producers_replaced_for_a_hung_call_are_not_taken_for_a_fence() -> None:
    from fraudstream.clients.transactional import FencedError

    loop = _loop(max_rebuilds=1)
    for _ in range(5):  # a broker that keeps hanging calls: rebuilt every time, never "fenced"
        loop._rebuild_producer("send_offsets_to_transaction did not return within 12s", fenced=False)
    assert loop.rebuilds == 5
    loop._rebuild_producer("old epoch")  # the first real fatal error: one rebuild allowed
    with pytest.raises(FencedError, match="held by another live instance"):
        loop._rebuild_producer("old epoch")  # the second within the window: a fence


def test_a_call_that_keeps_failing_retriably_is_given_up_after_the_retry_limit() -> None:
    from confluent_kafka import KafkaError, KafkaException

    loop = _loop(max_rebuilds=3)
    loop.cfg.retry_limit_s, loop.cfg.backoff_initial_s, loop.cfg.backoff_max_s = 0.5, 0.05, 0.1
    calls = []

    def timing_out() -> None:  # what abort_transaction answered for minutes after a broker restart
        calls.append(time.monotonic())
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "Timed out waiting for operation to finish, retry "
                                        "call to resume", retriable=True))

    t0 = time.monotonic()
    with pytest.raises(_Hung, match="abort_transaction kept failing for 0s .* retry call to resume"):
        loop._retrying("abort_transaction", timing_out)
    assert 0.5 <= time.monotonic() - t0 < 3 and len(calls) >= 3

    answers = iter([KafkaException(KafkaError(KafkaError._TRANSPORT, "Broker transport failure", retriable=True))])

    def once_then_fine() -> None:  # a broker away for a moment: retried, no replacement
        exc = next(answers, None)
        if exc is not None:
            raise exc

    loop._retrying("commit_transaction", once_then_fine)


def test_an_abandoned_worker_ends_and_lets_go_of_its_client_once_the_call_returns() -> None:
    """A producer given up on (its call hung) must not live on in the abandoned worker:
    after each broker restart with a hang, one more producer with its threads and sockets."""
    import gc
    import weakref

    class Client:
        def __init__(self) -> None:
            self.release = threading.Event()

        def stuck(self) -> bool:
            workers.append(threading.current_thread())
            return self.release.wait(30)

    workers: list[threading.Thread] = []
    dog = _Watchdog(timeout_s=0.2)
    client = Client()
    gone = weakref.ref(client)
    release = client.release
    with pytest.raises(_Hung):
        dog.call("stuck", client.stuck)
    worker = workers[0]
    del client
    release.set()
    worker.join(5)
    assert not worker.is_alive()
    gc.collect()
    assert gone() is None
