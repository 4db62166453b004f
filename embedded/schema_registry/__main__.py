"""`python -m fraudstream.embedded.schema_registry`: run the registry in the foreground.

Ready when `GET /` answers 200: the HTTP server starts only after the `_schemas` topic was
read to its end. SIGTERM / SIGINT stop it cleanly (exit 0). An unreachable broker, a port
in use or an unusable topic print one line on stderr and exit non-zero within
`--kafka-timeout` seconds. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from fraudstream.embedded.schema_registry.errors import RegistryStartError
from fraudstream.core import processes
from fraudstream.core.settings import ENV_BOOTSTRAP, TOPICS

log = logging.getLogger("fraudstream.embedded.schema_registry")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fraudstream.embedded.schema_registry",
                                description="Confluent-compatible schema registry storing schemas in Kafka.")
    p.add_argument("--bootstrap-servers", default=os.environ.get(ENV_BOOTSTRAP, ""),
                   help=f"Kafka bootstrap servers (default: ${ENV_BOOTSTRAP})")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8081, help="port to listen on (default 8081)")
    p.add_argument("--topic", default=TOPICS.schemas, help=f"schemas topic (default {TOPICS.schemas})")
    p.add_argument("--kafka-timeout", type=float, default=30.0,
                   help="seconds to wait for Kafka at start-up and for each write (default 30)")
    p.add_argument("--max-body-bytes", type=int, default=2 * 1024 * 1024,
                   help="largest accepted request body (default 2 MiB)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except RegistryStartError as exc:
        print(f"schema registry: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from fraudstream.embedded.schema_registry.app import create_app
    from fraudstream.embedded.schema_registry.kafka_log import KafkaLog
    from fraudstream.embedded.schema_registry.store import SchemaStore

    if not args.bootstrap_servers:
        raise RegistryStartError(f"no Kafka given: pass --bootstrap-servers or set {ENV_BOOTSTRAP}")
    if not processes.port_is_free(args.port, args.host):
        raise RegistryStartError(f"port {args.port} on {args.host} is already in use")
    server: uvicorn.Server | None = None

    def on_signal(_signum: int, _frame: object) -> None:
        # Before the server runs: leave at once. While it runs: let it drain, then return 0.
        # (uvicorn re-raises the signal after its graceful shutdown; with this handler in
        # place that re-raise lands here instead of killing the process with -15.)
        if server is None:
            raise SystemExit(0)
        server.should_exit = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    store = SchemaStore()
    kafka = KafkaLog(args.bootstrap_servers, store.apply, topic=args.topic, timeout=args.kafka_timeout)
    try:
        kafka.start()
        store.attach(writer=kafka.append, sync=kafka.sync)
        app = create_app(store, max_body_bytes=args.max_body_bytes)
        config = uvicorn.Config(app, host=args.host, port=args.port, log_config=None,
                                log_level=args.log_level, access_log=True, lifespan="off",
                                timeout_graceful_shutdown=10)
        server = uvicorn.Server(config)
        log.info("serving http://%s:%d (topic %s on %s)", args.host, args.port, args.topic, args.bootstrap_servers)
        server.run()
        if not server.started:
            raise RegistryStartError(f"the HTTP server could not start on {args.host}:{args.port}")
    finally:
        kafka.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
