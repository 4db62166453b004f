"""fraudstream: real-time credit-card fraud detection on Apache Kafka.

`import fraudstream as fs` gives the Python API a notebook needs (`fraudstream.api`):

    fs.endpoints()                                 the cluster (environment, else `fraudstream up`'s stack)
    fs.read_topic(topic)                           a Confluent-Avro topic as a pandas DataFrame
    fs.prepare(df)                                 labelled rows, stratified split, scaler
    fs.train(data, epochs=...)                     the autoencoder on normal training rows
    fs.choose_threshold(model, data, "max-f1")     a rule on validation scores
    fs.evaluate(model, data, threshold)            metrics on held-out test rows
    fs.publish(model, data, choice, test)          to fraud_models, where the scorers pick it up
    fs.load_model()                                the published model
    fs.score(bundle, df)                           scores and flags, as the live scorer computes them

They are loaded on first use, so `import fraudstream` stays instant (no pandas, no
TensorFlow). The packages below hold the rest: `fraudstream.core` (settings, errors,
schemas, model bundle), `fraudstream.clients` (Kafka and KSQL clients), the services
`fraudstream.producers`, `.trainer`, `.scorer`, `.monitor`, the Docker-free stand-ins
`fraudstream.embedded`, the stack manager `fraudstream.stack` and the CLI `fraudstream.cli`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: The API's names, loaded from `fraudstream.api` on first use.
API = ("endpoints", "read_topic", "prepare", "train", "choose_threshold", "evaluate", "publish",
       "load_model", "score")
__all__ = ["__version__", *API]

if TYPE_CHECKING:
    from fraudstream.api import (choose_threshold, endpoints, evaluate, load_model, prepare, publish,
                                 read_topic, score, train)


def __getattr__(name: str) -> Any:
    if name in API:  # PEP 562: the API module is imported on first use only
        from fraudstream import api

        return getattr(api, name)
    raise AttributeError(f"module 'fraudstream' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API})
