"""A restarted scorer reads the prepared NumPy forward pass from disk instead of
importing TensorFlow: the cached chain computes exactly what the prepared one did."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from fraudstream.scorer import forward_cache
from fraudstream.scorer.models import ScoringModel
from tests.unit.scorer.support import make_bundle, raw_rows


def test_a_prepared_numpy_chain_is_cached_and_read_back_identically(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_SCORER_CACHE", str(tmp_path))
    bundle = make_bundle(version=3, seed=5)
    assert forward_cache.load(bundle) is None
    slow = ScoringModel.from_bundle(bundle, mode="numpy")
    assert slow.forward.name == "numpy" and "cached" not in slow.timings
    assert len(list(tmp_path.glob("*.npz"))) == 1

    fast = ScoringModel.from_bundle(bundle, mode="auto")
    assert fast.timings == {"cached": 0.0} and fast.forward.name == "numpy"
    x = raw_rows(300, seed=9)
    np.testing.assert_array_equal(fast.score(x), slow.score(x))  # same arrays, same arithmetic

    other = make_bundle(version=4, seed=6)  # another model: its own entry, never the cached one
    assert forward_cache.load(other) is None


def test_a_damaged_entry_is_ignored(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_SCORER_CACHE", str(tmp_path))
    bundle = make_bundle(version=1, seed=2)
    (tmp_path / f"{forward_cache.key(bundle)}.npz").write_bytes(b"not an npz")
    assert forward_cache.load(bundle) is None
    assert ScoringModel.from_bundle(bundle, mode="numpy").forward.name == "numpy"  # rewritten
    assert forward_cache.load(bundle) is not None


def test_a_restart_with_a_cached_model_never_imports_tensorflow(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_SCORER_CACHE", str(tmp_path))
    bundle = make_bundle(version=2, seed=3)
    ScoringModel.from_bundle(bundle, mode="auto")  # prepares (TensorFlow) and caches
    (tmp_path / "bundle.bin").write_bytes(bundle.to_bytes())
    code = ("import sys; from fraudstream.core.model_bundle import ModelBundle; "
            "from fraudstream.scorer.models import ScoringModel; "
            f"b = ModelBundle.from_bytes(open({str(tmp_path / 'bundle.bin')!r}, 'rb').read()); "
            "m = ScoringModel.from_bundle(b, mode='auto'); "
            "print(m.forward.name, m.timings, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "FRAUDSTREAM_SCORER_CACHE": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["numpy", "{'cached':", "0.0}", "False"], out.stdout
