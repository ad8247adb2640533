"""The project's own error types.

Every error a user can cause (bad file, bad key, bad value, bad decision) is raised as a
subclass of :class:`StratsimError`, whose message names the file, the key or column,
the value and what was expected. The CLI turns them into one line on stderr and exit 2.
"""

from __future__ import annotations


class StratsimError(Exception):
    """Base class of every user-facing error in stratsim."""


class ScenarioError(StratsimError):
    """A scenario file or value is invalid (names the key, the value, the expectation)."""


class DecisionError(StratsimError):
    """A decision (allocation) is invalid; raised before any state changes."""


class ModelError(StratsimError):
    """A model cannot be used: missing features, bad file, sha256 mismatch."""


class DataError(StratsimError):
    """Training data is unusable (names the file, the column and the rows)."""


class TrainingError(StratsimError):
    """Training stopped abnormally (e.g. a NaN or infinite loss)."""


class SessionError(StratsimError):
    """A session file is invalid or cannot be written."""
