"""Errors of the producers; each is a `FraudstreamError` the CLI shows as one line."""

from __future__ import annotations

from fraudstream.core.errors import ConfigError, FraudstreamError, InputError, KafkaUnavailableError


class ProducerError(FraudstreamError):
    """Base of every producer failure."""


class ProducerConfigError(ProducerError, ConfigError):
    """An option or parameter is out of range."""


class SourceError(ProducerError, InputError):
    """The input file cannot be used at all (missing, unreadable, empty, unknown layout)."""


class BadRowError(ProducerError, InputError):
    """One input row is malformed; `--strict` stops on the first one."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = path, line, reason


class BrokerUnavailableError(ProducerError, KafkaUnavailableError):
    """The Kafka cluster did not answer within the connect timeout."""


class DeliveryError(ProducerError):
    """Some records were not acknowledged by the broker."""

    exit_code = 5
