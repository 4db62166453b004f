"""Serving the console: uvicorn on a socket bound before it starts.

Binding first means a busy port is a one-line error before anything else starts, and
port 0 ("any free port") is known at once, so the URL can be printed (and a test or
`fraudstream up --console` can read it) before the first request.
"""

from __future__ import annotations

import asyncio
import socket
import threading

from fraudstream.core.errors import ConfigError

DEFAULT_PORT = 8480


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: uvicorn's h11 writes a response's head and body
    # separately, and with Nagle the body waits for the client's delayed ACK (40 ms on
    # Linux) on every keep-alive request; asyncio sets no TCP_NODELAY on a socket passed in.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"the console cannot listen on {host}:{port}: {exc.strerror}; pick another --port "
                          f"(0 = any free port)") from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _config(app, ssl_certfile: str | None = None, ssl_keyfile: str | None = None):
    import uvicorn

    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", loop="asyncio", http="h11",
                          timeout_graceful_shutdown=2, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)


def serve_forever(app, sock: socket.socket, **tls) -> None:
    """Run until SIGINT/SIGTERM (uvicorn's handlers), then close the socket."""
    import uvicorn

    server = uvicorn.Server(_config(app, **tls))
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sock.close()


class BackgroundServer:
    """The console in a daemon thread (tests, the demo): `start()` returns its URL."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.url = ""
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> str:
        import time

        import uvicorn

        sock = bind(self.host, self.port)
        self.url = url_of(sock, self.host)
        self._server = uvicorn.Server(_config(self.app))
        # uvicorn installs no signal handlers outside the main thread

        def run() -> None:
            try:
                asyncio.run(self._server.serve(sockets=[sock]))
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name="console-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
