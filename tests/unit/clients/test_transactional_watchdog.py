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
