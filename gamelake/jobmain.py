"""The jobs' process shell: their logging, and the main wrapper that turns an error a user can
act on into its cause and fix on stderr and exit code 2."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from gamelake.errors import GamelakeError

# Libraries whose INFO lines are per-call chatter (py4j: every callback; GX: every
# registered function at import), drowning what the job says it did.
QUIET_LOGGERS = ("py4j", "great_expectations")


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


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
