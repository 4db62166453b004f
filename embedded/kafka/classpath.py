"""Resolve the broker's runtime classpath with Maven, once per user and POM.

Why Maven and not a tarball: Maven Central is the one Java source this project's machines
reach, and `pom.xml` next to this file pins Kafka plus the SLF4J binding the kafka_2.13
POM lacks. The resolved classpath is cached under the user's cache directory keyed by a
hash of the POM, so the second `fraudstream up` starts without touching the network.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

from fraudstream.embedded.kafka.errors import KafkaRunnerError
from fraudstream.core.settings import cache_dir

POM = Path(__file__).with_name("pom.xml")
# Pinned: Maven 3.8's super-POM default for this plugin is too old for build-classpath options.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"


def kafka_version() -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if not match:
        raise KafkaRunnerError(f"{POM} does not declare <kafka.version>")
    return match.group(1)


def require_java() -> str:
    """Return the java executable, or say what to install."""
    java = shutil.which("java")
    if not java:
        raise KafkaRunnerError(
            "java not found on PATH: install a Java 17+ runtime (e.g. `apt install openjdk-17-jre-headless`)"
        )
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KafkaRunnerError(f"`java -version` failed: {exc}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):
            major = int(match.group(2))
        if major < 17:
            raise KafkaRunnerError(f"Kafka 4.x needs Java 17 or newer, found Java {major} at {java}")
    return java


def _cache_file() -> Path:
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    return cache_dir() / f"kafka-{kafka_version()}-{digest}" / "classpath.txt"


def resolve_classpath() -> str:
    """Return the broker's classpath, resolving it with Maven on first use."""
    cached = _cache_file()
    if cached.exists():
        classpath = cached.read_text().strip()
        if classpath and all(Path(p).exists() for p in classpath.split(":")):
            return classpath
    mvn = shutil.which("mvn")
    if not mvn:
        raise KafkaRunnerError(
            "mvn not found on PATH: install Apache Maven (e.g. `apt install maven`) so the Kafka jars can be resolved"
        )
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    cmd = [
        mvn, "-B", "-q", "-f", str(POM),
        f"{DEPENDENCY_PLUGIN}:build-classpath",
        "-Dmdep.includeScope=runtime",
        f"-Dmdep.outputFile={tmp}",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as exc:
        raise KafkaRunnerError("Maven did not resolve the Kafka jars within 15 minutes; check network access to Maven Central") from exc
    if proc.returncode != 0 or not tmp.exists():
        errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "ERROR" in ln]
        detail = errors[0].replace("[ERROR]", "").strip() if errors else f"exit code {proc.returncode}"
        raise KafkaRunnerError(f"Maven could not resolve Kafka {kafka_version()} from Maven Central: {detail[:300]}")
    tmp.replace(cached)
    return cached.read_text().strip()
