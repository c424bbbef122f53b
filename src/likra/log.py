"""likra's messages go through the `logging` module, under the logger "likra".

Like transformers, likra gives its logger a handler of its own, so a script that calls likra sees its
messages on stderr without configuring logging; `set_level` (the CLI's --quiet / --verbose) or the
standard `logging.getLogger("likra").setLevel(...)` change what is shown. Under several data-parallel
processes only the main one shows messages below WARNING, so a 8-process run logs each line once.
"""

from __future__ import annotations

import logging
import sys

ROOT = "likra"


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (pytest's capture, a redirected stream)."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ assigns it; the property always follows sys.stderr
        pass


class _MainProcessOnly(logging.Filter):
    """Warnings and errors from every process; the rest only from the main one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        from likra.distributed import is_main

        return is_main()


def _setup() -> logging.Logger:
    root = logging.getLogger(ROOT)
    if not any(isinstance(h, _Stderr) for h in root.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(_MainProcessOnly())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False  # shown once, by our handler, not again by an application's root handler
    return root


def get_logger(name: str) -> logging.Logger:
    """The logger of one likra module, e.g. get_logger(__name__)."""
    _setup()
    return logging.getLogger(name if name.startswith(ROOT) else f"{ROOT}.{name}")


def set_level(quiet: bool = False, verbose: bool = False) -> None:
    """quiet: warnings and errors only; verbose (--verbose): debug messages too; neither: progress
    messages. The CLI's --quiet only hides progress bars: resume and skip messages still matter there."""
    _setup().setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
