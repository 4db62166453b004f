"""A prepared NumPy forward pass kept on local disk, so a restarted scorer scores at once.

Preparing a model takes TensorFlow: import it (3-8 s), load the Keras model, read its
Dense chain, check that chain against the model's own output on a probe batch and, in
`auto` mode, time the three forward passes. On a busy 2-core machine that was 20 s, the
whole of a scorer's restart (issue 16: resume within 15 s of a restart). What comes out of
it for a plain Dense model is a handful of arrays, so the chain that passed the check is
written here, keyed by the SHA-256 of the bundle's Keras bytes; the next start with the
same bundle reads it back in milliseconds without importing TensorFlow. Only NumPy chains
that won (or were asked for) are kept, so the cached choice is the one the slow path made.

Location: `$FRAUDSTREAM_SCORER_CACHE`, else `<user cache>/fraudstream/scorer-forward`. A
cache entry that cannot be read is ignored (the slow path runs and rewrites it); writing
is atomic (temporary file, rename), so a process killed mid-write leaves nothing half.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from fraudstream.core.model_bundle import ModelBundle
from fraudstream.core.settings import cache_dir
from fraudstream.scorer.inference import ACTIVATIONS, NumpyForward, DenseLayer

log = logging.getLogger("fraudstream.scorer.forward_cache")

FORMAT = 1  # bump when the stored layout or the forward pass's arithmetic changes


def directory() -> Path:
    explicit = os.environ.get("FRAUDSTREAM_SCORER_CACHE")
    return Path(explicit) if explicit else cache_dir() / "scorer-forward"


def key(bundle: ModelBundle) -> str:
    digest = hashlib.sha256(bundle.keras_model).hexdigest()
    return f"v{FORMAT}-{digest}-{len(bundle.feature_names)}"


def load(bundle: ModelBundle) -> NumpyForward | None:
    path = directory() / f"{key(bundle)}.npz"
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            layers = []
            for i, act in enumerate(meta["activations"]):
                if act not in ACTIVATIONS:
                    return None
                bias = data[f"bias{i}"] if meta["has_bias"][i] else None
                layers.append(DenseLayer(np.array(data[f"kernel{i}"], dtype=np.float64),
                                     None if bias is None else np.array(bias, dtype=np.float64), act))
        return NumpyForward(layers, meta["n_features"])
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - a bad entry only costs the slow path
        log.warning("ignoring the cached forward pass %s: %s", path, exc)
        return None


def save(bundle: ModelBundle, forward: NumpyForward) -> None:
    folder = directory()
    path = folder / f"{key(bundle)}.npz"
    meta = {"activations": [layer.activation for layer in forward.layers],
            "has_bias": [layer.bias is not None for layer in forward.layers], "n_features": forward.n_features}
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    for i, layer in enumerate(forward.layers):
        arrays[f"kernel{i}"] = layer.kernel
        if layer.bias is not None:
            arrays[f"bias{i}"] = layer.bias
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{path.name}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        tmp.replace(path)
    except OSError as exc:  # a read-only home: the scorer still works, restarts are slower
        log.warning("could not keep the forward pass in %s: %s", folder, exc)
