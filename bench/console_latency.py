"""Benchmark: how fast the browser console shows an alert, and how fast its pages load.

Alert to screen, side by side in one run: alerts are produced one at a time (as ksqlDB
writes `fraud_alerts`: Avro value, BIGINT key) and the time from each produce call to
its arrival is taken on three paths at once:

* baseline: a bare confluent-kafka consumer on the topic (assigned, read_committed, the
  same `fetch.wait.max.ms` as the console's follower, `poll` returning at each record):
  what any reader of the topic gets;
* the console's event stream (`/events`, what a page's EventSource receives);
* with Chromium installed, the page itself: the moment the row is in the DOM.

The ratio console / baseline is the console's own cost on top of reading the topic.
Page loads: each page fetched repeatedly over HTTP (server rendering included), against
`/health` of the same server as the baseline, and, with Chromium, the browser's
navigation timing (load event) of each page after the first visit.

    .venv/bin/python bench/console_latency.py [--alerts 40] [--interval 0.25] [--alerts-held 200]

Uses KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL when set, else starts the embedded
broker and registry for the run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fraudstream.console.app import make_app  # noqa: E402
from fraudstream.console.auth import Accounts, decide  # noqa: E402
from fraudstream.console.server import BackgroundServer  # noqa: E402
from fraudstream.console.service import ConsoleService, Settings  # noqa: E402
from fraudstream.core import avro_wire  # noqa: E402
from fraudstream.core.settings import Endpoints  # noqa: E402
from bench.cluster import endpoints  # noqa: E402
from tests.integration.console.test_console_kafka import ALERT_SCHEMA  # noqa: E402


def alert(now: int) -> dict:
    return {"USER": "nn42", "CITY": "Kiel", "AMOUNT": 12.5, "SCORE": 3.0, "THRESHOLD": 2.0, "MODEL_VERSION": 1,
            "EXPLANATION": [{"FEATURE": "V14", "SHARE": 0.6}, {"FEATURE": "V4", "SHARE": 0.2},
                            {"FEATURE": "V12", "SHARE": 0.1}], "EVENT_TS": now, "SCORED_TS": now}


def bare_reader(bootstrap: str, topic: str, seen: dict, stop: threading.Event, ready: threading.Event) -> None:
    from confluent_kafka import OFFSET_END, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}", "enable.auto.commit": False,
                  "isolation.level": "read_committed", "fetch.wait.max.ms": 100})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_END) for p in parts])
    c.consume(1, timeout=1.0)
    ready.set()
    while not stop.is_set():
        m = c.poll(0.05)  # returns at the first record: the least a reader of the topic can wait
        if m is not None and m.error() is None:
            seen[struct.unpack(">q", m.key())[0]] = time.time()
    c.close()


def sse_reader(url: str, seen: dict, stop: threading.Event, ready: threading.Event) -> None:
    import httpx

    with httpx.stream("GET", url + "events", timeout=None) as r:
        kind = None
        for line in r.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                if kind == "hello":
                    ready.set()
                elif kind == "alert":
                    seen[json.loads(line[6:])["id"]] = time.time()


def stats(xs: list[float]) -> str:
    a = np.asarray(xs) * 1000
    return f"p50 {np.percentile(a, 50):7.1f} ms  p95 {np.percentile(a, 95):7.1f} ms  max {a.max():7.1f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=40)
    ap.add_argument("--interval", type=float, default=0.25, help="seconds between two alerts")
    ap.add_argument("--alerts-held", type=int, default=200, help="alerts already in the topic (the page's rows)")
    ap.add_argument("--loads", type=int, default=20, help="fetches per page")
    args = ap.parse_args(argv)

    from confluent_kafka import Producer

    from tests.support.browser import chromium, chromium_path, playwright

    with ExitStack() as stack:
        bootstrap, registry = endpoints(stack, "console-bench-")
        topic = f"bench_alerts_{uuid.uuid4().hex[:8]}"
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
        enc = avro_wire.WireEncoder(ALERT_SCHEMA, avro_wire.register_value_schema(
            avro_wire.registry_client(registry), topic, ALERT_SCHEMA))
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "enable.idempotence": True})
        now = int(time.time() * 1000)
        for i in range(args.alerts_held):
            producer.produce(topic, enc.encode(alert(now - 60_000 + i)), struct.pack(">q", i))
        producer.flush(30)

        ep = Endpoints(bootstrap, registry, "")
        svc = ConsoleService(lambda: ep, Settings(alerts_topic=topic, labels_topic=topic + "_labels",
                                                  scores_topic=topic + "_scores", drift_topic=topic + "_drift"))
        server = BackgroundServer(make_app(svc, decide("127.0.0.1", Accounts())))
        url = server.start()
        stack.callback(server.stop)
        deadline = time.monotonic() + 60
        while len(svc.book) < args.alerts_held and time.monotonic() < deadline:
            time.sleep(0.1)

        # ---- page loads over HTTP ---------------------------------------------------------------
        import httpx

        def fetch_times(path: str) -> list[float]:
            with httpx.Client(base_url=url) as c:
                c.get(path)
                out = []
                for _ in range(args.loads):
                    t = time.perf_counter()
                    r = c.get(path, headers={"accept-encoding": "gzip"})
                    r.read()
                    out.append(time.perf_counter() - t)
                return out

        base = statistics.median(fetch_times("health"))
        print(f"console on {url}; {len(svc.book)} alerts held; page fetches (median of {args.loads}):")
        print(f"  {'/health (baseline)':22s} {1000 * base:7.2f} ms")
        pages = ("alerts?time=all", "overview", "models", "drift")
        for p in pages:
            m = statistics.median(fetch_times(p))
            print(f"  {'/' + p:22s} {1000 * m:7.2f} ms   ratio {m / base:6.1f}")

        # ---- alert to screen ---------------------------------------------------------------------
        stop = threading.Event()
        bare: dict[int, float] = {}
        sse: dict[int, float] = {}
        r1, r2 = threading.Event(), threading.Event()
        threading.Thread(target=bare_reader, args=(bootstrap, topic, bare, stop, r1), daemon=True).start()
        threading.Thread(target=sse_reader, args=(url, sse, stop, r2), daemon=True).start()
        r1.wait(30)
        r2.wait(30)
        browser_shown: dict = {}
        page_loads: dict[str, list[float]] = {}
        pw_ctx = None
        if chromium_path():
            pw = stack.enter_context(playwright())
            pw_ctx = stack.enter_context(chromium(pw))
            page = pw_ctx.new_page()
            for p in pages:
                for _ in range(6):
                    page.goto(url + p)
                    page.wait_for_load_state("load")
                    page_loads.setdefault(p, []).append(page.evaluate(
                        "() => performance.getEntriesByType('navigation')[0].loadEventEnd"))
            page.goto(url + "alerts?time=all")
            page.wait_for_function("() => document.getElementById('live').textContent === 'live'")
        sent: dict[int, float] = {}
        for n in range(args.alerts):
            ident = 1_000_000 + n
            t = time.time()
            producer.produce(topic, enc.encode(alert(int(t * 1000))), struct.pack(">q", ident))
            producer.flush(10)
            sent[ident] = t
            time.sleep(args.interval)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (len(bare) < len(sent) or len(sse) < len(sent)):
            time.sleep(0.1)
        if pw_ctx is not None:
            while time.monotonic() < deadline:
                browser_shown = page.evaluate("() => window.__console.shown")
                if len(browser_shown) >= len(sent):
                    break
                time.sleep(0.1)
        stop.set()
        ids = [i for i in sent if i in bare and i in sse]
        b = [bare[i] - sent[i] for i in ids]
        s = [sse[i] - sent[i] for i in ids]
        print(f"\nalert to screen, {len(ids)} of {len(sent)} alerts one every {args.interval}s, from the produce call:")
        print(f"  bare consumer (baseline)  {stats(b)}")
        print(f"  console event stream      {stats(s)}   ratio of medians {np.median(s) / np.median(b):5.2f}")
        if browser_shown:
            d = [browser_shown[str(i)] / 1000 - sent[i] for i in ids if str(i) in browser_shown]
            print(f"  row in the browser's DOM  {stats(d)}   ratio of medians {np.median(d) / np.median(b):5.2f}")
        if page_loads:
            print("\nbrowser page loads (load event, ms; first visit, then median of the next 5):")
            for p, v in page_loads.items():
                print(f"  /{p:20s} first {v[0]:7.1f}   then {statistics.median(v[1:]):7.1f}")
        else:
            print("\n(no Chromium: browser timings skipped; apt-get install chromium)")
        producer.flush(10)
        del producer
        svc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
