"""Silver micro-batch cost vs size: the gated silver handler against Spark's own pass on the
same rows, in one session, batch after batch (so per-commit costs such as Delta checkpoints
show up as they do in a stream).

Generated events (every family, the ingest bench's fractions of late, duplicate and malformed
records) become a bronze Delta table, read back and cached; each size is cut into
`--batches` consecutive micro-batches handed to `write_silver_batch` (the foreachBatch
handler's body) with the gates of conf/rules, into a private lake. Beside each batch, the
bare pass: the same rows' from_json with each contract's schema, leaves as columns, appended
to parquet. Reports per size the median and max seconds of both, their ratio, and the
handler's phases from its log.
Writes bench/results/microbatch.json.

    .venv/bin/python -m bench microbatch [--sizes 1000,10000,100000] [--batches 12]
        [--no-gates] [--env local]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import statistics
import time
import uuid
from pathlib import Path

from gamelake.config import load_settings
from gamelake.contracts import load_contracts
from gamelake.generator import GeneratorOptions, generate

RESULTS = Path(__file__).parent / "results" / "microbatch.json"
TOPIC_PREFIX = "gamelake."
BRONZE_SLICE = 100_000
BRONZE_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
)


class _PhaseLog(logging.Handler):
    """Keeps the silver handler's per-batch log lines (its phase split)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(("silver batch", "dq batch rules")):
            self.lines.append(message)


def bronze_rows(spark, contracts, events: int, secrets, folder: Path):
    """`events` generated records as bronze rows with an event id (cached), offsets 0..n-1,
    read back from a Delta table in `folder` as the stream reads bronze."""
    from gamelake.bronze import to_bronze
    from gamelake.silver import with_event_id

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # Event times of the last hour, as a live stream has them (the freshness rules judge them).
    start_ms = int(now.replace(tzinfo=dt.UTC).timestamp() * 1000) - 3_600_000
    options = GeneratorOptions(
        seed=3, events=events, late_fraction=0.02, duplicate_fraction=0.03,
        malformed_fraction=0.05, start_ms=start_ms, world_rate=max(1.0, events / 3600),
    )  # fmt: skip
    rows = [
        (r.key, r.value, f"{TOPIC_PREFIX}{r.family}", 0, i, now)
        for i, r in enumerate(generate(contracts, options))
    ]
    # Written and read back: a frame made from a Python list carries its rows in every task
    # (1.8 MB each for 12,000 rows), a cost each of the handler's jobs paid and no stream has.
    # In slices: 1.2M rows in one list frame outgrew the 2 GB driver.
    for start in range(0, len(rows), BRONZE_SLICE):
        kafka = spark.createDataFrame(rows[start : start + BRONZE_SLICE], BRONZE_SCHEMA)
        to_bronze(kafka, TOPIC_PREFIX, secrets).write.format("delta").mode("append").save(
            str(folder)
        )
    return with_event_id(spark.read.format("delta").load(str(folder)), contracts).cache()


def bare_pass(batch, contracts, out: Path) -> None:
    """Spark's own pass: each family's JSON parsed with its contract schema, leaves appended
    to parquet (no dedup, rules, quarantine or Delta)."""
    from pyspark.sql import functions as F

    for family, contract in contracts.items():
        parsed = batch.where(F.col("family") == family).select(
            F.from_json(F.col("value").cast("string"), contract.spark_schema()).alias("e")
        )
        leaves = [F.col("e." + ".".join(f.path)).alias(f.silver_column) for f in contract.leaves()]
        parsed.select(*leaves).write.mode("append").parquet(str(out / family))


def run_size(spark, settings, contracts, size: int, batches: int, gated: bool, area: Path):
    """Seconds per batch of the silver handler and of the bare pass for `batches` batches of
    `size` rows."""
    from pyspark.sql import functions as F

    from gamelake.dq.gate import silver_gate
    from gamelake.secrets import declared_secrets, load_policy
    from gamelake.silver import DEDUP_KEY
    from gamelake.streams import write_silver_batch

    lake = area / f"lake-{size}"
    secrets = load_policy(settings.paths.conf, declared_secrets(contracts))
    bronze = bronze_rows(spark, contracts, size * batches, secrets, area / f"bronze-{size}")
    bronze.count()
    gate = (
        silver_gate(settings.paths.conf, lake, f"bench.{size}", area / "state") if gated else None
    )
    phases = _PhaseLog()
    logging.getLogger("gamelake").addHandler(phases)
    handler_s, bare_s = [], []
    try:
        for b in range(batches):
            # The stream's dedup (dropDuplicatesWithinWatermark) within the batch.
            batch = bronze.where(
                F.col("kafka_offset").between(b * size, (b + 1) * size - 1)
            ).dropDuplicates(["family", DEDUP_KEY])
            started = time.perf_counter()
            write_silver_batch(
                batch, b, contracts=contracts, lake=lake, app_id=f"bench.{size}",
                rejects_family="_rejects", gate=gate,
            )  # fmt: skip
            handler_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            bare_pass(batch, contracts, area / f"bare-{size}")
            bare_s.append(time.perf_counter() - started)
            print(f"size {size} batch {b}: handler {handler_s[-1]:.2f} s, "
                  f"bare pass {bare_s[-1]:.2f} s", flush=True)  # fmt: skip
    finally:
        logging.getLogger("gamelake").removeHandler(phases)
        bronze.unpersist()
    # The first batch of a size pays table creation and warm-up: steady state is the rest.
    steady_h, steady_b = handler_s[1:] or handler_s, bare_s[1:] or bare_s
    return {
        "rows_per_batch": size,
        "batches": batches,
        "gated": gated,
        "handler_s": [round(s, 2) for s in handler_s],
        "bare_pass_s": [round(s, 2) for s in bare_s],
        "handler_median_s": round(statistics.median(steady_h), 2),
        "handler_max_s": round(max(steady_h), 2),
        "bare_median_s": round(statistics.median(steady_b), 2),
        "ratio_bare_over_handler": round(
            statistics.median(steady_b) / statistics.median(steady_h), 3
        ),
        "handler_events_per_s": round(size / statistics.median(steady_h)),
        "log": phases.lines,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench microbatch", description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="rows per micro-batch, comma list")  # fmt: skip
    parser.add_argument("--batches", type=int, default=12, help="micro-batches per size")
    parser.add_argument("--no-gates", action="store_true", help="run the handler ungated")
    parser.add_argument("--env", default=os.environ.get("GAMELAKE_ENV", "local"))
    args = parser.parse_args(argv)
    from gamelake.jobmain import configure_logging
    from gamelake.spark import build_session

    configure_logging()
    settings = load_settings(args.env)
    contracts = load_contracts(settings.paths.conf / "contracts")
    area = settings.paths.state / "bench" / f"microbatch-{uuid.uuid4().hex[:8]}"
    spark = build_session(settings, app_name="bench-microbatch")
    results = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            results.append(
                run_size(spark, settings, contracts, size, args.batches, not args.no_gates, area)
            )
    finally:
        spark.stop()
        shutil.rmtree(area, ignore_errors=True)
    out = {
        "scenario": "microbatch",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "settings": {"env": args.env, "cpus": os.cpu_count()},
        "target": "a ~1,000-row gated silver batch <= 5 s; handler >= 0.5x the bare pass",
        "sizes": [{k: v for k, v in r.items() if k != "log"} for r in results],
        "logs": {str(r["rows_per_batch"]): r["log"] for r in results},
    }
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    for r in results:
        print(f"{r['rows_per_batch']:>7} rows: handler median {r['handler_median_s']} s "
              f"(max {r['handler_max_s']}), bare pass {r['bare_median_s']} s, "
              f"ratio {r['ratio_bare_over_handler']}")  # fmt: skip
