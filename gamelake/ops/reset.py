"""Reset of the bronze stream: a new checkpoint at explicit offsets, with nothing lost or doubled.

A reset (1) resolves its start (the old checkpoint's committed offsets by default, or the
earliest offsets, a time, explicit offsets) and refuses starts Kafka's retention deleted or
that would skip records the old stream never landed; (2) backfills [start, now) into bronze
by Kafka coordinates, so re-reading what bronze holds adds nothing; (3) moves the old
checkpoint aside; (4) starts a new checkpoint exactly at the end offsets of (2), so the next
`gamelake run` continues there. The streams must be stopped while it runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from gamelake import lakefs
from gamelake.ops.offsets import Bound, Offsets, checkpoint_offsets, offsets_json

log = logging.getLogger(__name__)


def default_start(committed: Offsets | None, latest: Offsets) -> Bound | None:
    """Where a reset starts when not told: the old checkpoint's committed offsets, topics it
    never saw from their earliest offset; None without an old checkpoint."""
    if committed is None:
        return None
    # Topics created since the old checkpoint: resolve_bound starts absent partitions at
    # the earliest offset, so naming the topic with no partitions is enough.
    offsets = {t: dict(committed.get(t, {})) for t in latest}
    return Bound("offsets", offsets=offsets)


def set_aside_path(checkpoint: Path, now: dt.datetime) -> Path:
    """Where the replaced checkpoint is kept: beside it, named by the reset time."""
    return lakefs.sibling(
        checkpoint, f"{checkpoint.name}.replaced-{now.strftime('%Y%m%dT%H%M%SZ')}"
    )


def set_aside(checkpoint: Path, now: dt.datetime | None = None) -> Path | None:
    """Move a checkpoint out of the way (kept for inspection or undo); returns where to."""
    if not lakefs.exists(checkpoint):
        return None
    target = set_aside_path(checkpoint, now or dt.datetime.now(dt.UTC))
    # Atomic on a local disk. On S3 it is not: every object is copied, then the old prefix
    # deleted. A crash while copying leaves the old checkpoint whole (delete the partial copy);
    # one while deleting leaves a whole copy and a partial old one, which must be deleted
    # before the next start, or the stream would resume from it.
    lakefs.rename(checkpoint, target)
    log.info("old checkpoint kept at %s (rename it back to undo)", target)
    return target


def committed(checkpoint: Path) -> Offsets | None:
    return checkpoint_offsets(checkpoint) if lakefs.exists(checkpoint) else None


def start_json(end: Offsets) -> str:
    import json

    return json.dumps(offsets_json(end))
