"""fraudstream: real-time credit-card fraud detection on Apache Kafka.

This package holds the shared core: settings and topic names, errors, Kafka client
factory, Avro schemas and the command line. Services live in sibling packages
(producers, trainer, scorer, monitor) and the Docker-free stand-ins in `embedded`.
"""

__version__ = "0.1.0"
