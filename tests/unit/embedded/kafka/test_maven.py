"""Locked jars fetched over HTTP from a real (local) web server laid out like a Maven repository.

Each failure a user can meet (a wrong checksum, a truncated or dropped transfer, a 404,
no network) must end in one line and leave nothing half-written in the cache.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudstream.embedded.kafka.classpath import LOCK, kafka_version
from fraudstream.embedded.kafka.maven import FetchError, LockedJar, fetch, missing, read_lock

ROOT = Path(__file__).resolve().parents[4]


class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate: dict[str, int] = {}  # path -> bytes to send before dropping the connection

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        cut = self.truncate.get(self.path.lstrip("/"))
        if cut is None:
            return super().do_GET()
        data = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))  # promises more than it sends
        self.end_headers()
        self.wfile.write(data[:cut])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "repo"
    root.mkdir()
    handler = lambda *a, **k: _Handler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/maven2", root / "maven2"
    finally:
        server.shutdown()
        server.server_close()
        _Handler.truncate = {}


def publish(root: Path, group: str, artifact: str, version: str, data: bytes) -> LockedJar:
    jar = LockedJar(group, artifact, version, f"{artifact}-{version}.jar", len(data),
                    hashlib.sha256(data).hexdigest())
    target = root / jar.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return jar


def leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_fetches_every_jar_verified_in_lock_order_and_reports_progress(repo, tmp_path: Path):
    url, root = repo
    jars = [publish(root, "org.example.deep", f"a{i}", "1.0", bytes([i]) * (70_000 + i)) for i in range(12)]
    cache = tmp_path / "cache"
    seen: list[tuple[int, int]] = []
    paths = fetch(jars, root=cache, repository=url, report=lambda done, total: seen.append((done, total)))
    assert paths == [cache / j.path for j in jars]
    for jar, path in zip(jars, paths):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == jar.sha256
    assert seen[-1] == (sum(j.size for j in jars),) * 2
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert sorted(leftovers(cache)) == sorted(paths)  # no temporary files
    assert missing(jars, cache) == []


def test_a_cached_jar_is_not_fetched_again(repo, tmp_path: Path):
    url, root = repo
    jar = publish(root, "g", "a", "1", b"x" * 1000)
    cache = tmp_path / "cache"
    fetch([jar], root=cache, repository=url)
    (root / jar.path).unlink()  # the repository no longer has it: only the cache can answer
    assert fetch([jar], root=cache, repository=url) == [cache / jar.path]


def test_checksum_mismatch_is_one_line_and_writes_nothing(repo, tmp_path: Path):
    url, root = repo
    good = publish(root, "g", "good", "1", b"g" * 5000)
    jar = publish(root, "g", "a", "1", b"served bytes")
    wrong = LockedJar(jar.group, jar.artifact, jar.version, jar.file, jar.size, "0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(FetchError) as info:
        fetch([wrong, good], root=cache, repository=url)
    message = str(info.value)
    assert "checksum mismatch for a-1.jar" in message and "\n" not in message
    assert not (cache / jar.path).exists()
    assert not [p for p in leftovers(cache) if p.name.endswith(".part")]


def test_a_dropped_transfer_is_retried_then_reported_and_leaves_no_file(repo, tmp_path: Path):
    url, root = repo
    jar = publish(root, "g", "a", "1", b"y" * 300_000)
    _Handler.truncate = {f"maven2/{jar.path}": 100_000}
    cache = tmp_path / "cache"
    with pytest.raises(FetchError) as info:
        fetch([jar], root=cache, repository=url)
    message = str(info.value)
    assert "g:a:1" in message and "after 3 attempts" in message and "\n" not in message
    assert leftovers(cache) == []


def test_a_short_file_is_an_incomplete_download(repo, tmp_path: Path):
    url, root = repo
    jar = publish(root, "g", "a", "1", b"z" * 1000)
    longer = LockedJar(jar.group, jar.artifact, jar.version, jar.file, 2000, jar.sha256)
    with pytest.raises(FetchError, match=r"incomplete download of a-1.jar .*1000 of 2000 bytes"):
        fetch([longer], root=tmp_path / "cache", repository=url)
    assert leftovers(tmp_path / "cache") == []


def test_missing_artifact_names_coordinates_and_mirror(repo, tmp_path: Path):
    url, _ = repo
    ghost = LockedJar("org.nowhere", "ghost", "9", "ghost-9.jar", 10, "a" * 64)
    with pytest.raises(FetchError) as info:
        fetch([ghost], root=tmp_path / "cache", repository=url)
    message = str(info.value)
    assert "org.nowhere:ghost:9" in message and "HTTP 404" in message
    assert "FRAUDSTREAM_MAVEN_REPO" in message


def test_read_lock_names_file_and_line(tmp_path: Path):
    lock = tmp_path / "x.lock"
    lock.write_text("# comment\ng:a:1 a-1.jar 10 " + "b" * 64 + "\ng:b a.jar ten abc\n")
    with pytest.raises(FetchError, match=rf"{lock}:3: expected"):
        read_lock(lock)


def test_the_broker_lock_pins_kafka_with_checksums():
    jars = read_lock(LOCK)
    assert kafka_version() == next(j.version for j in jars if j.artifact == "kafka_2.13")
    assert {j.artifact for j in jars} >= {"kafka-clients", "kafka-server", "log4j-core", "log4j-slf4j-impl"}
    assert len({j.path for j in jars}) == len(jars)


def test_resolve_without_network_is_one_line(tmp_path: Path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "FRAUDSTREAM_MAVEN_REPO": f"http://127.0.0.1:{closed_port()}/maven2"}
    proc = subprocess.run([sys.executable, "-m", "fraudstream.embedded.kafka", "resolve"], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 5, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("Kafka ") and "fetching" in lines[0]  # not a terminal: one line, no bar
    assert len(lines) == 2 and lines[1].startswith("error: cannot fetch "), proc.stderr
    assert "FRAUDSTREAM_MAVEN_REPO" in lines[1] and "Traceback" not in proc.stderr
    cache = tmp_path / "cache"
    assert not cache.exists() or leftovers(cache) == []
