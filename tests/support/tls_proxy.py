"""An HTTPS front for a plain-HTTP test service, optionally demanding HTTP Basic
credentials: what a managed schema registry or ksqlDB endpoint looks like to a client
(TLS with a certificate from a private CA, basic auth with an API key and secret).

The embedded registry and KSQL server speak plain HTTP on loopback; putting this in front
lets the tests drive the project's real clients (confluent-kafka's SchemaRegistryClient,
the KSQL engine's registry client, the CLI's KSQL client) through TLS and basic auth.
Whole requests and responses are relayed (no streaming): enough for /subjects, /schemas,
/ksql and /info, which is what the secured-cluster test asks of them.
"""

from __future__ import annotations

import base64
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


class TlsProxy:
    def __init__(self, upstream: str, cert: Path, key: Path, credentials: tuple[str, str] | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.credentials = credentials
        self.refused = 0  # requests without the right credentials
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _relay(self) -> None:
                if proxy.credentials is not None:
                    user, password = proxy.credentials
                    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                    if self.headers.get("Authorization") != expected:
                        proxy.refused += 1
                        body = b'{"error_code":401,"message":"Unauthorized"}'
                        self.send_response(401)
                        self.send_header("WWW-Authenticate", 'Basic realm="test"')
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                        return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                resp = httpx.request(self.command, proxy.upstream + self.path, content=body, headers=headers,
                                     timeout=60.0)
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            do_GET = do_POST = do_PUT = do_DELETE = _relay

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="tls-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "TlsProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
