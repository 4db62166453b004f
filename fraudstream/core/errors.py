"""Exceptions shared by every fraudstream package.

Every error a user can cause (bad input, unreachable broker, missing tool) derives from
`FraudstreamError`; the CLI turns it into a one-line message and a non-zero exit code
instead of a traceback. Packages derive their own subclasses so callers can catch
precisely.
"""


class FraudstreamError(Exception):
    """A failure the user can act on; its message is shown as is."""

    exit_code: int = 1


class ConfigError(FraudstreamError):
    """A setting is missing or invalid."""

    exit_code = 2


class KafkaUnavailableError(FraudstreamError):
    """The Kafka cluster did not answer within the allowed time."""

    exit_code = 3


class KafkaAuthError(FraudstreamError):
    """The Kafka cluster refused the client's credentials or its TLS handshake failed.
    Not a KafkaUnavailableError on purpose: callers that wait out an unavailable broker
    (the scorer, the trainer's --wait-records) must not wait for a wrong password."""

    exit_code = 3


class InputError(FraudstreamError):
    """Input data (a file, a record) is malformed."""

    exit_code = 4
