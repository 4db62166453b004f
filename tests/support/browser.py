"""Headless Chromium for the console's browser tests: Debian's `chromium` driven by
Playwright (the PyPI wheel carries its driver; no browser is downloaded).

`.ci/run` installs the `chromium` package when /usr/bin/chromium is missing. Without it
the browser tests are skipped with that reason, which the test summary prints.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ENV = "FRAUDSTREAM_CHROMIUM"
# This machine's flags: no sandbox (root in a container), no GPU, nothing phoning home.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    explicit = os.environ.get(CHROMIUM_ENV, "").strip()
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(name).exists():
            return name
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def playwright() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@contextmanager
def chromium(pw, credentials: tuple[str, str] | None = None) -> Iterator[object]:
    """A Chromium of its own (fresh --user-data-dir) as a Playwright BrowserContext;
    `credentials` answer the console's basic-auth challenge."""
    exe = chromium_path()
    if exe is None:
        raise RuntimeError(f"no Chromium: install Debian's `chromium` (apt-get install chromium) or set {CHROMIUM_ENV}")
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    try:
        # launch_persistent_context is Playwright's way to give Chromium its own --user-data-dir
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=exe, headless=True, args=FLAGS, viewport={"width": 1400, "height": 900},
            http_credentials=({"username": credentials[0], "password": credentials[1]} if credentials else None))
        try:
            yield ctx
        finally:
            ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
