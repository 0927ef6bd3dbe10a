"""Records of the rejects topic for input that cannot be sent as it is: a body that is no JSON,
an event or a file line over Kafka's message limit, a line that is no UTF-8 text.

Each is JSON: ``{"reason", "family", "index", "errors": [{"path", "message"}], "raw",
"raw_bytes", "truncated", "received_at", ...}`` plus where it came from (the collector's
``request``, or ``produce``'s ``origin``: file and line). ``raw`` is the head of the input as
text (bytes that are no UTF-8 become U+FFFD), secrets masked; ``raw_bytes`` its full size.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

# Rejected input is kept for diagnosis, not archived: its head is enough to see what broke.
RAW_KEEP_BYTES = 64 * 1024


def raw_keep(max_record_bytes: int, keep: int = RAW_KEEP_BYTES) -> int:
    """How many bytes of rejected input a rejects record holds and still fits Kafka's limit:
    as text, a byte can grow to 6 (a JSON escape such as \\u0001)."""
    return min(keep, max_record_bytes // 8)


def iso_utc(moment: datetime) -> str:
    """ISO-8601 text of a UTC time with microseconds and a Z suffix: a rejects record's
    `received_at`, and the collector's envelope's."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def raw_reject(
    reason: str,
    errors: list[dict[str, str]],
    data: bytes,
    keep: int,
    redact: Callable[[str], str],
    received_at: str,
    *,
    size: int | None = None,
    family: str | None = None,
    index: int | None = None,
    **where: Any,
) -> bytes:
    """A rejects-topic record: the reason, and at most `keep` bytes of the input as text with
    its secrets masked (`size` is the input's full size when `data` is only its head)."""
    size = len(data) if size is None else size
    head = data[:keep]
    return orjson.dumps(
        {
            "reason": reason,
            "family": family,
            "index": index,
            "errors": errors,
            "raw": redact(head.decode("utf-8", errors="replace")),
            "raw_bytes": size,
            "truncated": size > len(head),
            "received_at": received_at,
            **where,
        }
    )
