"""TensorBoard logs: one run directory per training run, one graph event per run.

Why not just `keras.callbacks.TensorBoard(write_graph=True)` on a fixed log dir: every
re-run appends another graph (and another set of scalars starting at step 0) to the same
run, which TensorBoard then shows as one tangled run, and in Keras 3 the graph it writes
is the whole training step (optimizer included) taken from private attributes of the
train function. Here:

* each run gets a fresh directory `<tensorboard-dir>/<model>-<version>` (never reused:
  a name that exists gets a numeric suffix), with TensorBoard's usual `train/` and
  `validation/` sub-runs;
* Keras's own callback writes the per-epoch scalars (loss, val loss, learning rate) with
  `write_graph=False`, `histogram_freq=0`, `update_freq="epoch"` and no profiler, so the
  event files stay a few KB;
* `GraphOnce` writes exactly one graph event, the forward (inference) graph of the model,
  into `train/` when training begins.

Viewing needs the `tensorboard` package (`pip install tensorboard`), which writing does not.
"""

from __future__ import annotations

from pathlib import Path


def new_run_dir(root: Path, name: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    candidate = root / name
    n = 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = root / f"{name}-{n}"


def callbacks(run_dir: Path, n_features: int) -> list:
    import keras
    import tensorflow as tf

    class GraphOnce(keras.callbacks.Callback):
        """Writes the model's forward graph once per run (see module docstring)."""

        def __init__(self) -> None:
            super().__init__()
            self.written = False

        def on_train_begin(self, logs=None) -> None:
            if self.written:
                return
            model = self.model
            fn = tf.function(lambda x: model(x, training=False))
            concrete = fn.get_concrete_function(tf.TensorSpec([None, n_features], tf.float32, name="features"))
            writer = tf.summary.create_file_writer(str(run_dir / "train"), filename_suffix=".graph")
            with writer.as_default():
                tf.summary.graph(concrete.graph)
            writer.close()
            self.written = True

    board = keras.callbacks.TensorBoard(log_dir=str(run_dir), histogram_freq=0, write_graph=False,
                                        write_images=False, update_freq="epoch", profile_batch=0)
    return [GraphOnce(), board]


def event_summary(run_dir: Path) -> dict:
    """Count graph events and scalar tags of every event file under `run_dir` (for tests
    and for `fraudstream train` to report)."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    graphs = 0
    scalars: dict[str, int] = {}
    size = 0
    files = sorted(p for p in Path(run_dir).rglob("events.out.tfevents.*") if p.is_file())
    for path in files:
        size += path.stat().st_size
        for raw in tf.data.TFRecordDataset(str(path)):
            ev = event_pb2.Event.FromString(raw.numpy())
            if ev.HasField("graph_def"):
                graphs += 1
            for v in ev.summary.value:
                key = f"{path.parent.name}/{v.tag}"
                scalars[key] = scalars.get(key, 0) + 1
    return {"graph_events": graphs, "tags": scalars, "bytes": size, "files": len(files)}
