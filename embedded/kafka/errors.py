"""Errors of the embedded Kafka runner: one line each, saying what to install or do."""

from fraudstream.core.errors import FraudstreamError


class KafkaRunnerError(FraudstreamError):
    """The embedded broker could not be resolved, started or stopped."""

    exit_code = 5
