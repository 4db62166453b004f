"""Errors of the trainer; all are `FraudstreamError`s, so the CLI prints one line and exits non-zero."""

from fraudstream.core.errors import FraudstreamError


class TrainerError(FraudstreamError):
    """Training could not run or finish."""

    exit_code = 6


class TopicError(TrainerError):
    """The input topic is missing, empty or holds nothing decodable."""


class DataError(TrainerError):
    """The data cannot train or evaluate a model (no normal rows, one class only, ...)."""

    exit_code = 4


class OptionError(TrainerError):
    """A command-line option has an invalid value."""

    exit_code = 2
