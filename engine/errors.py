"""Errors a user can cause. The CLI maps them to exit code 2 and one line on stderr."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a config, a dataset, a model path.

    The message is one line that names the file (when there is one) and the problem,
    and is shown as is, never with a traceback.
    """

    def __init__(self, message: str, *, source: str | None = None):
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class ConfigError(UserError):
    """A run or study configuration that does not validate."""


class DatasetError(UserError):
    """A dataset file that cannot be loaded or does not fit the task."""


class ModelError(UserError):
    """A base model that cannot be found or loaded safely."""


class OutOfMemory(Exception):
    """The device ran out of memory: not the user's input, but the message says what to try."""
