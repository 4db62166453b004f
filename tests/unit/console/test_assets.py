"""The vendored chart library is the file its VENDOR.md names (licence included)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import fraudstream.console

VENDOR = Path(fraudstream.console.__file__).parent / "static" / "vendor"


def test_vendored_files_match_their_recorded_checksums():
    table = re.findall(r"\| `([^`]+)` \| [^|]+ \| `([0-9a-f]{64})` \|", (VENDOR / "VENDOR.md").read_text())
    assert {name for name, _ in table} == {"uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE.txt"}
    for name, digest in table:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (VENDOR / "uPlot.LICENSE.txt").read_text()


def test_no_script_or_style_comes_from_a_cdn():
    root = VENDOR.parent.parent
    for path in list((root / "templates").glob("*.html")) + [root / "static" / "console.js"]:
        text = path.read_text()
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", text), path
        assert "import(" not in text and "cdn" not in text.lower(), path
