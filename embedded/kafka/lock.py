"""Maintainers only: regenerate a jar lock file from a POM with Maven.

    python -m fraudstream.embedded.kafka.lock                  # the broker: pom.xml -> kafka.lock
    python -m fraudstream.embedded.kafka.lock POM LOCK [TITLE] # any other POM (the tests' Avro jars)

Maven resolves the POM's runtime classpath (in classpath order); each jar's coordinates
come from its place in the local repository, its SHA-256 and size from the file. Every
jar is then checked against the SHA-1 the repository publishes next to it, so the lock
only ever pins Maven Central's bytes. Users never run this: they fetch the locked files
(maven.py) and need neither Maven nor a JDK.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fraudstream.embedded.kafka.maven import LockedJar, read_lock, repository_url, tls_context

HERE = Path(__file__).parent
POM = HERE / "pom.xml"
LOCK = HERE / "kafka.lock"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
REPO_TOKEN = "@@REPO@@"


def resolve(pom: Path) -> list[tuple[LockedJar, Path]]:
    mvn = shutil.which("mvn")
    if not mvn:
        raise SystemExit("error: regenerating a lock file needs Maven (mvn) on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "classpath.txt"
        real = Path(tmp) / "real.txt"
        for target, extra in ((out, [f"-Dmdep.localRepoProperty={REPO_TOKEN}"]), (real, [])):
            proc = subprocess.run(
                [mvn, "-B", "-q", "-f", str(pom), f"{DEPENDENCY_PLUGIN}:build-classpath",
                 "-Dmdep.includeScope=runtime", f"-Dmdep.outputFile={target}", *extra],
                capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                raise SystemExit(f"error: Maven failed on {pom}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        tokens = out.read_text().strip().split(":")
        paths = [Path(p) for p in real.read_text().strip().split(":")]
    jars = []
    for token, path in zip(tokens, paths, strict=True):
        parts = token.split("/")
        if parts[0] != REPO_TOKEN or len(parts) < 5:
            raise SystemExit(f"error: {token} is not in the local Maven repository layout")
        group, artifact, version, file = ".".join(parts[1:-3]), parts[-3], parts[-2], parts[-1]
        data = path.read_bytes()
        jars.append((LockedJar(group, artifact, version, file, len(data),
                               hashlib.sha256(data).hexdigest()), path))
    return jars


def check_published_sha1(jars: list[tuple[LockedJar, Path]], repository: str) -> None:
    import httpx

    with httpx.Client(follow_redirects=True, timeout=30, verify=tls_context()) as client:
        for jar, path in jars:
            url = f"{repository}/{jar.path}.sha1"
            response = client.get(url)
            response.raise_for_status()
            published = response.text.split()[0].strip().lower()
            local = hashlib.sha1(path.read_bytes()).hexdigest()
            if published != local:
                raise SystemExit(f"error: {path} differs from {url} (sha1 {local} vs {published}); "
                                 "clear it from ~/.m2 and run again")


def write_lock(jars: list[LockedJar], lock: Path, title: str, pom: Path) -> None:
    width = max(len(j.coordinates) for j in jars)
    fwidth = max(len(j.file) for j in jars)
    lines = [
        f"# {title}",
        f"# Generated from {pom.name} by `python -m fraudstream.embedded.kafka.lock` (needs Maven);",
        "# do not edit. Fetched over HTTPS by fraudstream.embedded.kafka.maven, each file checked",
        "# against its SHA-256. Classpath order; columns: coordinates, file, size in bytes, sha256.",
    ]
    lines += [f"{j.coordinates.ljust(width)}  {j.file.ljust(fwidth)}  {j.size}  {j.sha256}" for j in jars]
    lock.write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    pom = Path(argv[0]) if argv else POM
    lock = Path(argv[1]) if len(argv) > 1 else LOCK
    title = argv[2] if len(argv) > 2 else "The embedded Kafka broker's runtime classpath."
    resolved = resolve(pom)
    check_published_sha1(resolved, repository_url())
    write_lock([j for j, _ in resolved], lock, title, pom)
    read_lock(lock)  # the file we wrote parses
    print(f"wrote {lock}: {len(resolved)} jars, {sum(j.size for j, _ in resolved) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
