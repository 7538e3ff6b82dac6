"""Errors of the training CLI that reach the user as one line."""

from drowsy.errors import UserError


class TrainingError(UserError):
    """Bad dataset, checkpoint or export target."""
