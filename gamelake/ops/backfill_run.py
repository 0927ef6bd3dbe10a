"""A backfill as jobs/backfill.py runs it: the range planned and read into bronze; on a reset,
the bronze stream's checkpoint replaced by one starting where the backfill ended; then silver
run once, so the new bronze rows go onward."""

from __future__ import annotations

import logging

from gamelake.jobcontext import JobContext
from gamelake.jobgates import silver_gate_of
from gamelake.ops import reset
from gamelake.ops.backfill import BackfillRequest, backfill_bronze, dry_run_lines, plan_request
from gamelake.ops.offsets import Offsets
from gamelake.stages import Stages, open_stages
from gamelake.streams import StreamOptions

log = logging.getLogger(__name__)


def restart_bronze(stages: Stages, end: Offsets) -> None:
    """Set the bronze checkpoint aside and start a new one at `end`, run once."""
    checkpoint = stages.job.bronze_checkpoint
    # A rename: atomic on a local disk, copy-then-delete on S3 (see reset.set_aside).
    reset.set_aside(checkpoint)
    # The new checkpoint starts exactly where the backfill ended: no gap, no overlap.
    options = StreamOptions(once=True, starting_offsets=reset.start_json(end))
    stages.bronze(options).awaitTermination()
    print(f"reset: bronze checkpoint {checkpoint} now starts at the offsets backfilled to")


def run_backfill(
    job: JobContext,
    request: BackfillRequest,
    dry_run: bool = False,
    silver: bool = True,
    gates: bool = True,
) -> None:
    """Backfill (and reset) as requested; a dry run prints the plan and reads nothing."""
    bootstrap = job.settings.kafka.bootstrap_servers
    bound, plan = plan_request(bootstrap, job.topic_pattern, request, job.bronze_checkpoint)
    log.info("backfill %s -> %s: %s", bound.describe(), request.to, plan.describe())
    if dry_run:
        print("\n".join(dry_run_lines(plan, request, job.bronze_checkpoint)))
        return
    gate = silver_gate_of(job, gates) if silver else None
    stages = open_stages(job, "gamelake-backfill", gate, record_progress=False)
    result = backfill_bronze(
        stages.spark, bootstrap, plan.start, plan.end, job.topic_prefix, job.secret_policy(),
        job.bronze_path, job.pipeline.bronze_partition_by,
    )  # fmt: skip
    print(
        f"backfill: {result.rows_read} records read, {result.rows_added} added to bronze, "
        f"{result.rows_already_there} already there"
    )
    if request.reset_checkpoint:
        restart_bronze(stages, plan.end)
    if silver:
        stages.silver().awaitTermination()
        log.info("silver caught up with bronze")
