"""Exceptions that carry a one-line message meant for the user.

Deep code raises these; the CLI turns them into a single line and a non-zero exit.
"""


class BudgetMLError(Exception):
    """A problem the user can fix; its message says what to do."""


class ConfigError(BudgetMLError):
    """A run configuration or preset is malformed."""


class TaskError(BudgetMLError):
    """A task folder is missing or malformed."""


class ModelError(BudgetMLError):
    """A model cannot be used or a provider refused the call for good."""


class ContextOverflowError(ModelError):
    """The prompt, plus room for the reply, does not fit the model's context window."""


class MissingKeyError(ModelError):
    """A hosted model needs an API key that is not in the environment."""


class ScriptExhaustedError(ModelError):
    """A scripted model was asked for more replies than its file holds."""
