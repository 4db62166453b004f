"""Exceptions of the scorer, one class per thing that can go wrong.

`ScorerError` and its subclasses are user-facing (the CLI prints the message and exits
with `exit_code`). `BadRecord` is not an error of the service: it marks one input record
that cannot be scored and goes to the dead-letter topic with its `category` and `reason`.
"""

from __future__ import annotations

from fraudstream.core.errors import FraudstreamError


class ScorerError(FraudstreamError):
    """The scorer cannot start or cannot go on."""

    exit_code = 6


class SchemaRegistryError(ScorerError):
    """The schema registry is not configured, unreachable or refused a schema."""


class ModelError(ScorerError):
    """A published model cannot be used for scoring (bad bundle, wrong features)."""


class UnsupportedModelError(ModelError):
    """The NumPy forward pass cannot reproduce this Keras model (layer type, activation,
    topology); the scorer falls back to calling the model."""


class FencedError(ScorerError):
    """Another scorer instance with the same transactional id took over: this one stops."""

    exit_code = 7


class BadRecord(Exception):
    """One input record that cannot be scored; carries a short category for the metric
    label and a reason for the dead-letter header."""

    def __init__(self, category: str, reason: str) -> None:
        super().__init__(reason)
        self.category = category
        self.reason = reason
