"""`python -m fraudstream.embedded.ksqldb`: the KSQL server on a real broker, in the foreground.

Hypercorn serves the app because ksql-python-ng's `use_http2=True` speaks HTTP/2 with
prior knowledge over cleartext (h2c) and `/inserts-stream` needs HTTP/2; Hypercorn
accepts both that and HTTP/1.1 on one port. SIGTERM stops the push queries, lets each
persistent query finish its batch in flight and commit, then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import signal
import sys

from fraudstream.embedded.ksqldb.errors import KsqlError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fraudstream.embedded.ksqldb", description=__doc__)
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", ""))
    parser.add_argument("--schema-registry-url", default=os.environ.get("SCHEMA_REGISTRY_URL", ""))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--service-id", default="default_")
    parser.add_argument("--auth", metavar="USER:PASSWORD", default=os.environ.get("KSQL_BASIC_AUTH"),
                        help="require HTTP Basic credentials (or env KSQL_BASIC_AUTH)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # `kill -USR1 <pid>` writes every thread's stack to the log: where a stuck query waits
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    if not args.bootstrap_servers:
        print("error: --bootstrap-servers (or KAFKA_BOOTSTRAP_SERVERS) is required", file=sys.stderr)
        return 2
    auth = None
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep:
            print("error: --auth must be USER:PASSWORD", file=sys.stderr)
            return 2
        auth = (user, password)

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from fraudstream.embedded.ksqldb.runtime.runtime import KafkaRuntime
    from fraudstream.embedded.ksqldb.server.app import create_app

    runtime = KafkaRuntime(args.bootstrap_servers, args.schema_registry_url or None, service_id=args.service_id)
    try:
        runtime.start()
    except (KsqlError, Exception) as exc:  # broker unreachable, command topic unreadable
        print(f"error: the KSQL server could not start: {exc}", file=sys.stderr)
        return 1
    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.accesslog = None
    config.errorlog = "-"
    config.graceful_timeout = 5

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(create_app(runtime, auth), config, shutdown_trigger=stop.wait)

    try:
        asyncio.run(run())
    finally:
        runtime.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
