"""`python -m fraudstream.embedded.kafka resolve`: fetch the broker's jars now (set-up step), or
`python -m fraudstream.embedded.kafka run DIR`: run a broker in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from fraudstream.embedded.kafka.classpath import fetch_with_progress_bar, kafka_version
from fraudstream.embedded.kafka.errors import KafkaRunnerError
from fraudstream.embedded.kafka.java import find_java
from fraudstream.embedded.kafka.runner import KafkaBroker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fraudstream.embedded.kafka")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("resolve", help="fetch the Kafka jars pinned in kafka.lock (cached per user)")
    run = sub.add_parser("run", help="run a broker in the foreground")
    run.add_argument("workdir", type=Path)
    run.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "resolve":
            label = f"Kafka {kafka_version()}"
            paths, size, seconds = fetch_with_progress_bar(label)
            fetched = f"fetched {size / 1e6:.1f} MB in {seconds:.1f} s" if size else "cached"
            print(f"{label}: {len(paths)} jars ({fetched}); runs on {find_java().describe()}")
            return 0
        broker = KafkaBroker(args.workdir, port=args.port)
        print(f"Kafka broker on {broker.start()} (Ctrl-C stops it)", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        broker.stop()
        return 0
    except KafkaRunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted (nothing half-written was left in the cache)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
