"""Running a job's stages: once, one after the other, each draining what the previous one
wrote (--once); or side by side until stopped, streaming gold started as its silver tables
appear and batch gold rebuilt every so often."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from gamelake.gold.streaming import GOLD_STREAMS
from gamelake.io import batches_run, rows_read
from gamelake.stages import Stages

log = logging.getLogger(__name__)


def _rebuild_batch_gold(stages: Stages) -> bool:
    """Rebuild batch gold; False when a gate held a table back (it keeps its published
    version)."""
    written, held = stages.batch_gold()
    if held is not None:
        log.error("%s", held)
    log.info("batch gold: %s", ", ".join(f"{t}={n}" for t, n in written.items()))
    return held is None


def run_once(stages: Stages, names: Sequence[str]) -> int:
    """Run each named stage until it has read what is there, in order; the exit code, 1 when
    a gate held a batch gold table back."""
    for stage in names:
        if stage == "gold_batch":
            if not _rebuild_batch_gold(stages):
                return 1
            continue
        for query in stages.start(stage):
            query.awaitTermination()
            if stages.recorder is not None and not stages.recorder.caught_up(query):
                log.warning("%s: its last batch's progress did not arrive", query.name)
            batches, batch_ms = batches_run(query)
            log.info("%s done: %d records read in %d batches (%d ms in batches)",
                     query.name, rows_read(query), batches, batch_ms)  # fmt: skip
        stages.flush_progress()
    return 0


def run_streaming(stages: Stages, names: Sequence[str], gold_batch_every: float) -> None:
    """Run the named stages side by side until one stops (its error raised) or Ctrl-C;
    batch gold is rebuilt every `gold_batch_every` seconds (0: never)."""
    queries = [q for stage in names if stage in ("bronze", "silver") for q in stages.start(stage)]
    gold_running: dict = {}
    last_rebuild = time.monotonic()
    log.info("streaming %s; stop with Ctrl-C", ", ".join(names))
    while all(q.isActive for q in queries + list(gold_running.values())):
        if "gold" in names and stages.gold(gold_running):
            log.info("gold streams running: %s", ", ".join(sorted(gold_running)))
        # Look for new silver tables often until every gold stream runs.
        waiting = "gold" in names and len(gold_running) < len(GOLD_STREAMS)
        stages.spark.streams.awaitAnyTermination(timeout=5 if waiting else 30)
        stages.flush_progress()
        due = gold_batch_every > 0 and time.monotonic() - last_rebuild > gold_batch_every
        if "gold_batch" in names and due:
            # A held table keeps its published version; the streams go on and the next
            # rebuild retries it.
            _rebuild_batch_gold(stages)
            last_rebuild = time.monotonic()
    for q in queries + list(gold_running.values()):
        if q.exception():
            raise q.exception()
