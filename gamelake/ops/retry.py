"""Retrying Delta commits that lost an optimistic-concurrency race with another writer."""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from gamelake.errors import GamelakeError

log = logging.getLogger(__name__)
T = TypeVar("T")

# The Java names Delta gives its conflicts; a py4j error that escaped the Python conversion
# still carries one of them in its message.
CONFLICT_NAMES = (
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "ConcurrentWriteException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "DeltaConcurrentModificationException",
)


def is_conflict(exc: BaseException) -> bool:
    """True when `exc` is a Delta concurrent-modification conflict (safe to retry)."""
    return any(name in type(exc).__name__ or name in str(exc)[:2000] for name in CONFLICT_NAMES)


@dataclasses.dataclass(frozen=True)
class Backoff:
    attempts: int = 8
    first_s: float = 0.5
    max_s: float = 15.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): doubling, with jitter."""
        base = min(self.max_s, self.first_s * 2 ** (attempt - 1))
        return base * (0.5 + (rng or random).random() / 2)


DEFAULT_BACKOFF = Backoff()


@dataclasses.dataclass
class Outcome(Generic[T]):
    value: T
    attempts: int


def with_conflict_retry(
    action: Callable[[], T],
    what: str,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome[T]:
    """Run `action` until it commits, retrying Delta conflicts with backoff.

    A conflict means another writer committed first and ours was not applied, so running
    the whole action again (re-reading the table) neither loses nor doubles anything.
    """
    for attempt in range(1, backoff.attempts + 1):
        try:
            return Outcome(action(), attempt)
        except Exception as exc:
            if not is_conflict(exc):
                raise
            if attempt == backoff.attempts:
                raise GamelakeError(
                    f"{what}: still conflicting with concurrent writers after {attempt} "
                    f"attempts ({type(exc).__name__})",
                    fix="run it again when the streams are quieter, or raise the attempts",
                ) from exc
            pause = backoff.delay(attempt)
            log.warning(
                "%s: concurrent commit won (%s); retry %d/%d in %.1fs",
                what,
                type(exc).__name__,
                attempt + 1,
                backoff.attempts,
                pause,
            )
            sleep(pause)
    raise AssertionError("unreachable")
