"""Jars pinned in a lock file, fetched from a Maven repository over plain HTTPS.

Why not Maven: a data scientist's laptop has Python, not Maven (nor often Java: see
java.py). A Maven repository is only a web server with a fixed layout, so a locked jar
is one GET of `<repo>/<group path>/<artifact>/<version>/<file>`. The lock file pins each
jar's coordinates, file name, size and SHA-256; Maven resolved the list once, for the
maintainers (lock.py), so users never resolve anything.

Fetching is parallel (8 connections), checks every file's size and SHA-256 before it
enters the cache, and is atomic: a file is written under a temporary name next to its
place and renamed only once verified, so an interrupted run, a corrupt transfer or a
mirror serving other bytes leaves nothing half-written behind, only a one-line error.
The cache mirrors the repository layout under `<user cache>/maven`, shared by every
lock (the broker's, the tests'), so a jar is downloaded once per machine.
`FRAUDSTREAM_MAVEN_REPO` points at a corporate mirror of Maven Central (credentials in
the URL or ~/.netrc; HTTPS_PROXY and SSL_CERT_FILE are honoured; certificates are checked
against the system's trust store and certifi's).

Written with httpx (already a dependency) rather than a Maven client library: the only
Python ones resolve POMs too, which the lock makes unnecessary.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from fraudstream.core.settings import cache_dir
from fraudstream.embedded.kafka.errors import KafkaRunnerError

ENV_REPOSITORY = "FRAUDSTREAM_MAVEN_REPO"
MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2"
CONNECTIONS = 8
ATTEMPTS = 3  # per file: a dropped connection or a 5xx is retried, a 404 is not
CHUNK = 1 << 16

Report = Callable[[int, int], None]  # (bytes done, bytes total)


class FetchError(KafkaRunnerError):
    """A locked jar could not be fetched or did not match its checksum."""


@dataclass(frozen=True)
class LockedJar:
    group: str
    artifact: str
    version: str
    file: str
    size: int
    sha256: str

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def path(self) -> str:
        """The file's path in a Maven repository (and in the cache)."""
        return "/".join([*self.group.split("."), self.artifact, self.version, self.file])


def read_lock(lock: Path) -> list[LockedJar]:
    """Parse a lock file: `group:artifact:version  file  size  sha256` per line, in order."""
    jars = []
    for number, line in enumerate(Path(lock).read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        coords = fields[0].split(":") if fields else []
        if (len(fields) != 4 or len(coords) != 3 or not fields[2].isdigit()
                or len(fields[3]) != 64 or "/" in fields[1]):
            raise FetchError(f"{lock}:{number}: expected `group:artifact:version file size sha256`, "
                             f"got {line[:120]!r}")
        jars.append(LockedJar(*coords, fields[1], int(fields[2]), fields[3].lower()))
    if not jars:
        raise FetchError(f"{lock}: no jars listed")
    return jars


def repository_url() -> str:
    return (os.environ.get(ENV_REPOSITORY) or MAVEN_CENTRAL).strip().rstrip("/")


def tls_context() -> ssl.SSLContext:
    """The system's trust store (where a corporate proxy's CA is installed) plus certifi's
    (a Python without system certificates, as on macOS); SSL_CERT_FILE still applies."""
    context = ssl.create_default_context()
    try:
        import certifi

        context.load_verify_locations(certifi.where())
    except (ImportError, OSError):
        pass
    return context


def jar_cache() -> Path:
    return cache_dir() / "maven"


def missing(jars: Sequence[LockedJar], root: Path | None = None) -> list[LockedJar]:
    """Jars not yet in the cache. A cached file was verified before it was renamed into
    place; its size is checked again here (a truncated file is fetched anew)."""
    root = root or jar_cache()
    out = []
    for jar in jars:
        try:
            if (root / jar.path).stat().st_size == jar.size:
                continue
        except OSError:
            pass
        out.append(jar)
    return out


def fetch(jars: Sequence[LockedJar], *, root: Path | None = None, repository: str | None = None,
          report: Report | None = None) -> list[Path]:
    """Make every jar of the lock present in the cache; return their paths in lock order."""
    root = root or jar_cache()
    repository = (repository or repository_url()).rstrip("/")
    todo = missing(jars, root)
    if todo:
        remove_stale_parts(root)
        _download_all(todo, root, repository, report)
    return [root / jar.path for jar in jars]


def _download_all(todo: Sequence[LockedJar], root: Path, repository: str,
                  report: Report | None) -> None:
    import httpx

    total = sum(j.size for j in todo)
    done = [0]
    lock = threading.Lock()
    cancelled = threading.Event()

    def progress(n: int) -> None:
        with lock:
            done[0] += n
            if report:
                report(done[0], total)

    if report:
        report(0, total)
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    timeout = httpx.Timeout(30.0, read=60.0)
    with httpx.Client(follow_redirects=True, timeout=timeout, limits=limits, verify=tls_context()) as client, \
            ThreadPoolExecutor(CONNECTIONS, thread_name_prefix="jar-fetch") as pool:
        futures = [pool.submit(_download, client, repository, jar, root, progress, cancelled)
                   for jar in todo]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            cancelled.set()  # the others stop at their next chunk and delete their files
            for f in futures:
                f.cancel()
            raise


def _download(client, repository: str, jar: LockedJar, root: Path, progress: Callable[[int], None],
              cancelled: threading.Event) -> None:
    import httpx

    url = f"{repository}/{jar.path}"
    target = root / jar.path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"cannot create the jar cache {target.parent}: {exc.strerror}") from exc
    for attempt in range(1, ATTEMPTS + 1):
        tmp = target.with_name(f".{jar.file}.{os.getpid()}.{threading.get_ident()}.part")
        counted = 0
        try:
            digest = hashlib.sha256()
            with client.stream("GET", url) as response:
                if response.status_code != 200:
                    retry = response.status_code >= 500 and attempt < ATTEMPTS
                    if not retry:
                        raise FetchError(
                            f"cannot fetch {jar.coordinates}: HTTP {response.status_code} from {url}"
                            + ("" if repository == MAVEN_CENTRAL else
                               f" (does {ENV_REPOSITORY}={repository} mirror Maven Central?)"))
                    raise _Retry(f"HTTP {response.status_code}")
                with open(tmp, "wb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        if cancelled.is_set():
                            raise _Cancelled()
                        out.write(chunk)
                        digest.update(chunk)
                        counted += len(chunk)
                        progress(len(chunk))
                    size = out.tell()
            if size != jar.size:
                raise FetchError(f"incomplete download of {jar.file} from {url}: {size} of {jar.size} bytes"
                                 " (nothing was written to the cache; run again)")
            if digest.hexdigest() != jar.sha256:
                raise FetchError(f"checksum mismatch for {jar.file} from {url}: expected sha256 "
                                 f"{jar.sha256[:16]}…, got {digest.hexdigest()[:16]}… "
                                 "(nothing was written to the cache)")
            os.replace(tmp, target)
            return
        except (_Retry, httpx.TransportError) as exc:
            progress(-counted)
            if attempt == ATTEMPTS:
                reason = str(exc) or "no detail"
                if not isinstance(exc, _Retry):
                    reason = f"{exc.__class__.__name__}: {reason}"
                raise FetchError(f"cannot fetch {jar.coordinates} from {repository} after {ATTEMPTS} "
                                 f"attempts ({reason[:200]}); check the network or set "
                                 f"{ENV_REPOSITORY} to a reachable mirror") from None
            time.sleep(0.5 * attempt)
        except OSError as exc:
            raise FetchError(f"cannot write {target}: {exc.strerror or exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)


class _Retry(Exception):
    pass


class _Cancelled(Exception):
    pass


def remove_stale_parts(root: Path | None = None) -> int:
    """Delete `.part` files a killed fetch left behind (older than an hour)."""
    root = root or jar_cache()
    removed = 0
    if root.is_dir():
        cutoff = time.time() - 3600
        for part in root.rglob(".*.part"):
            try:
                if part.stat().st_mtime < cutoff:
                    part.unlink()
                    removed += 1
            except OSError:
                pass
    return removed
