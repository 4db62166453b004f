"""The test CA and server certificate must pass strict RFC 5280 verification.

Python 3.13's `ssl.create_default_context()` verifies with VERIFY_X509_STRICT; certificates
without key identifiers pass on 3.11 and fail there (a CI run on 3.13 failed this way).
The handshake runs over memory BIOs, so no socket or server is needed.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from tests.support.tls import make_tls


def _handshake(client: ssl.SSLObject, server: ssl.SSLObject,
               c_in: ssl.MemoryBIO, c_out: ssl.MemoryBIO,
               s_in: ssl.MemoryBIO, s_out: ssl.MemoryBIO) -> None:
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, obj in (("client", client), ("server", server)):
            if done[name]:
                continue
            try:
                obj.do_handshake()
                done[name] = True
            except ssl.SSLWantReadError:
                pass
            s_in.write(c_out.read())
            c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError(f"handshake did not finish: {done}")


def test_server_certificate_verifies_strictly(tmp_path: Path):
    tls = make_tls(tmp_path)
    client_ctx = ssl.create_default_context(cafile=str(tls.ca))
    client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(tls.cert), str(tls.key))
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    _handshake(client, server, c_in, c_out, s_in, s_out)
    assert client.getpeercert()["subject"] == ((("commonName", "localhost"),),)
