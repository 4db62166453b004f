"""Import TensorFlow without its native start-up chatter on the user's terminal.

TF 2.21 writes oneDNN notes, CUDA probing and absl warnings to file descriptor 2 from
C++ before any Python logging setting applies (TF_CPP_MIN_LOG_LEVEL does not reach the
messages logged before absl is initialised). The CLI imports TensorFlow once through
`quiet_import()`, with fd 2 pointed at /dev/null for the import and the first device
initialisation, so later imports are silent cache hits. Python-level warnings and
errors after that are untouched. FRAUDSTREAM_TF_VERBOSE=1 turns this off.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager


@contextmanager
def _stderr_to_devnull():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_import() -> None:
    if os.environ.get("FRAUDSTREAM_TF_VERBOSE") == "1" or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_to_devnull():
        try:
            import tensorflow as tf

            tf.constant(0.0)  # device initialisation: the CUDA probe logs here
        except Exception:  # a broken install reports itself at the real import, not here
            pass
