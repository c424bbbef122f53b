"""likra's error classes: every failure a user can cause or meet is one of these.

`LikraError` and its subclasses are *expected* failures (bad input, a bad or unfinished artefact, a
setting out of range). The command line turns each into a one-paragraph message and exit code 2;
anything else is a bug and keeps its traceback. They subclass ValueError so code that caught
ValueError before keeps working. Stdlib only: imported by every layer.
"""

from __future__ import annotations


class LikraError(ValueError):
    """An expected failure with a message that says what is wrong and, where it can, how to fix it."""

    exit_code = 2


class ConfigError(LikraError):
    """A setting (flag, config-file value or API argument) of the wrong type or out of range."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        """The setting as a config-file key, e.g. 'data.n_train' (the CLI maps it to its flag)."""
        super().__init__(message)


class DataError(LikraError):
    """Bad input, located precisely: which file, which line (1-based) and which field."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field, self.reason = path, line, field, message
        where = ":".join(str(p) for p in (path, line) if p is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field '{field}')" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")


class ArtifactError(DataError):
    """A file likra wrote earlier (score table, saved head, run or head record) is missing, truncated,
    corrupt or inconsistent. Located like DataError: file, line, field."""


class RunStateError(LikraError):
    """A training run is not in a state its use needs (heads stopped at different points, a head
    missing); the message says which command finishes it."""


class NotFinished(LikraError):
    """An experiment run with --finished-only met a run, score table or mined file it would have to make
    (train, score or mine); the experiment leaves that part out and lists it in its record."""


class LengthError(LikraError):
    """Questions longer than the model's context; the message lists them and the opt-in policies."""
