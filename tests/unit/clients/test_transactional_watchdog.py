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
