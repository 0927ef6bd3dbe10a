"""Errors a user can act on: one line naming the cause, one naming the fix."""

from __future__ import annotations


class GamelakeError(Exception):
    """A failure with a cause and, where known, the fix; the CLI prints both and exits 1."""

    def __init__(self, cause: str, fix: str | None = None):
        super().__init__(cause)
        self.cause = cause
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.cause} (fix: {self.fix})" if self.fix else self.cause
