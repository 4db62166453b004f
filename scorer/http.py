"""The scorer's HTTP side: /metrics (Prometheus), /health (alive) and /ready (serving).

A Starlette app served by uvicorn in a daemon thread of the service, on a socket bound
before the thread starts, so port 0 ("pick one") is known to the caller at once and a
busy port is a clear start-up error rather than a log line in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fraudstream.scorer.errors import ScorerError

log = logging.getLogger("fraudstream.scorer.http")


@dataclass
class Health:
    """What the service reports about itself; written by the loop, read by the endpoints."""

    state: str = "starting"           # starting, waiting_for_model, running, stopping, stopped, failed
    model_version: int | None = None
    model_name: str = ""
    inference: str = ""
    assigned: list[str] = field(default_factory=list)
    heartbeat: float = field(default_factory=time.monotonic)
    stall_after_s: float = 120.0
    detail: str = ""

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def alive(self) -> bool:
        return self.state not in ("failed",) and time.monotonic() - self.heartbeat < self.stall_after_s

    def ready(self) -> bool:
        return self.state == "running" and self.model_version is not None

    def as_dict(self) -> dict:
        return {
            "state": self.state,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "inference": self.inference,
            "assigned_partitions": list(self.assigned),
            "seconds_since_heartbeat": round(time.monotonic() - self.heartbeat, 3),
            "detail": self.detail,
        }


def make_app(registry, health: Health) -> Starlette:
    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_: Request) -> Response:
        body = health.as_dict()
        return JSONResponse(body, status_code=200 if health.alive() else 503)

    async def ready(_: Request) -> Response:
        body = health.as_dict()
        return JSONResponse(body, status_code=200 if health.ready() else 503)

    return Starlette(routes=[
        Route("/metrics", metrics),
        Route("/health", healthz),
        Route("/ready", ready),
    ])


class HttpServer:
    """uvicorn in a background thread; `start()` returns the bound port."""

    def __init__(self, registry, health: Health, host: str = "127.0.0.1", port: int = 0) -> None:
        self.registry = registry
        self.health = health
        self.host = host
        self.port = port
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        import uvicorn

        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise ScorerError(f"the metrics endpoint cannot listen on {self.host}:{self.port}: {exc.strerror}; "
                              f"pick another --metrics-port (0 = any free port, -1 = no HTTP endpoint)") from exc
        sock.listen(64)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(make_app(self.registry, self.health), log_level="warning", access_log=False,
                                lifespan="off", loop="asyncio", http="h11")
        self._server = uvicorn.Server(config)

        def serve() -> None:
            try:
                asyncio.run(self._server.serve(sockets=[sock]))
            except Exception:  # pragma: no cover - logged, the service keeps scoring
                log.exception("metrics endpoint stopped", extra={"event": "http_failed"})
            finally:
                sock.close()

        self._thread = threading.Thread(target=serve, name="scorer-http", daemon=True)
        self._thread.start()
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
