"""The jobs' process shell: their logging, and the main wrapper that turns an error a user can
act on into its cause and fix on stderr and exit code 2."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from gamelake.errors import GamelakeError

# Libraries whose INFO lines are per-call chatter (py4j: every callback; GX: every
# registered function at import, its temporary folders; kafka-python: every connection),
# drowning what the job says it did.
QUIET_LOGGERS = ("py4j", "great_expectations", "kafka")


class _QuietLibraries(logging.Filter):
    """Lets through the quiet loggers' warnings and errors only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not any(
            record.name == name or record.name.startswith(name + ".") for name in QUIET_LOGGERS
        )


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # And on the handlers: GX sets some of its loggers' own level to INFO when imported,
    # which overrides the level of their parent.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _QuietLibraries) for f in handler.filters):
            handler.addFilter(_QuietLibraries())


def run_job(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """The exit code of `run(args)` with the jobs' logging; 2 after a GamelakeError's cause
    and fix are printed."""
    configure_logging()
    try:
        return run(args)
    except GamelakeError as exc:
        print(f"error: {exc.cause}", file=sys.stderr)
        if exc.fix:
            print(f"fix: {exc.fix}", file=sys.stderr)
        return 2
