"""The broker's runtime classpath: the jars pinned in `kafka.lock`, fetched once per user.

`kafka.lock` (next to this file) lists Apache Kafka and its runtime dependencies, plus the
SLF4J binding the kafka_2.13 POM lacks, as Maven resolved them from `pom.xml` for the
maintainers (lock.py). Users fetch those files over HTTPS into the per-user cache
(maven.py): no Maven, no local resolution, the second start touches no network.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fraudstream.embedded.kafka.maven import Report, fetch, missing, read_lock, repository_url

LOCK = Path(__file__).with_name("kafka.lock")
KAFKA = ("org.apache.kafka", "kafka_2.13")


def kafka_version() -> str:
    for jar in read_lock(LOCK):
        if (jar.group, jar.artifact) == KAFKA:
            return jar.version
    raise ValueError(f"{LOCK} does not pin {':'.join(KAFKA)}")


def resolve_classpath(report: Report | None = None) -> str:
    """The broker's classpath, fetching the locked jars on first use."""
    return ":".join(str(p) for p in fetch(read_lock(LOCK), report=report))


def jars_missing() -> int:
    return len(missing(read_lock(LOCK)))


def fetch_with_progress_bar(label: str, lock: Path = LOCK) -> tuple[list[Path], int, float]:
    """Fetch a lock's jars, drawing a progress bar on a terminal (one line otherwise).

    Returns (paths, bytes downloaded, seconds)."""
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    jars = read_lock(lock)
    todo = missing(jars)
    if not todo:
        return fetch(jars), 0, 0.0
    console = Console(stderr=True)
    total = sum(j.size for j in todo)
    if not console.is_terminal:
        print(f"{label}: fetching {len(todo)} jars ({total / 1e6:.1f} MB) from {repository_url()}",
              file=sys.stderr, flush=True)
    started = time.monotonic()
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=console,
                  disable=not console.is_terminal, transient=True) as bar:
        task = bar.add_task(f"{label}: {len(todo)} jars", total=total)
        paths = fetch(jars, report=lambda done, _total: bar.update(task, completed=done))
    return paths, total, time.monotonic() - started
