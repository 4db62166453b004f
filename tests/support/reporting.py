"""Lines a test prints into the run's output even while pytest captures: measured figures
(fuzz counts, recovery times) belong in CI's log, not only in a failure report."""

from __future__ import annotations


def report(config, line: str) -> None:
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
    else:  # pragma: no cover - plugins off
        print(line)
