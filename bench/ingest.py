"""Ingest throughput: generated events Kafka -> bronze -> silver with `--once`, stage by stage.

Each stage runs as users run it (spark-submit of jobs/pipeline.py with --stages), on a private
topic prefix and a private lake under the profile's state folder, so nothing touches the
real lake. Reports seconds per stage (JVM start included, and the time from the job's own
first-batch log to its end), events/s end to end, and the per-batch log of each stage.
Writes bench/results/ingest.json.

    .venv/bin/python -m bench ingest [--events 1000000] [--env local]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from bench._jobs import logged_batches, run_job, silver_phases
from bench._rss import RssSampler
from gamelake import kafka_io, shards
from gamelake.config import load_settings
from gamelake.contracts import load_contracts
from gamelake.generator import GeneratorOptions

RESULTS = Path(__file__).parent / "results" / "ingest.json"
TARGET = 100_000
# The job's own account of a stage, from the query (the listener's last batch line may be lost
# when the job exits right after it).
_DONE_LINE = re.compile(
    r"(bronze_events|silver) done: \d+ records read in (\d+) batches \((\d+) ms"
)


def produce(settings, events: int, prefix: str, workers: int) -> dict[str, Any]:
    """Generate `events` records into `<prefix><family>` topics; returns counts and time."""
    conf = settings.paths.conf
    contracts = load_contracts(conf / "contracts")
    topics = {f: f"{prefix}{f}" for f in contracts}
    kafka_io.create_topics(settings.kafka.bootstrap_servers, topics.values(), 2, 2)
    options = GeneratorOptions(
        seed=1, events=events, late_fraction=0.02, duplicate_fraction=0.03, malformed_fraction=0.05
    )
    started = time.perf_counter()
    summary = shards.to_kafka_sharded(
        settings.kafka.bootstrap_servers, conf / "contracts", options, topics, workers
    )
    return {"events": summary.records, "seconds": round(time.perf_counter() - started, 1)}


def run_stage(settings, stage: str, prefix: str, area: Path, extra: list[str]) -> dict[str, Any]:
    """Run one stage with --once through spark-submit; seconds, and its micro-batches."""
    log_file = area / f"{stage}.log"
    seconds = run_job(
        settings, "pipeline",
        ["--once", "--stages", stage, "--topic-prefix", prefix, "--lake", str(area / "lake"),
         "--checkpoint-root", str(area / "checkpoints"), *extra],
        log_file,
    )  # fmt: skip
    log = log_file.read_text()
    phases = silver_phases(log) if stage == "silver" else {}
    batches = [
        {**{k: b[k] for k in ("batch", "rows", "ms")}, **phases.get(b["batch"], {})}
        for b in logged_batches(log, ("bronze_events", "silver"))
    ]
    done = _DONE_LINE.search(log)
    in_batches_s = int(done.group(3)) / 1000 if done else sum(b["ms"] for b in batches) / 1000
    return {
        "seconds": round(seconds, 1),
        "seconds_in_batches": round(in_batches_s, 1),
        "startup_and_teardown_s": round(seconds - in_batches_s, 1),
        "batches_run": int(done.group(2)) if done else len(batches),
        "batches": batches,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="generator processes")
    parser.add_argument("--env", default=os.environ.get("GAMELAKE_ENV", "local"))
    parser.add_argument("--keep", action="store_true", help="keep the private lake and topics")
    args = parser.parse_args(argv)

    settings = load_settings(args.env)
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench.ingest{run_id}."
    area = settings.paths.state / "bench" / f"ingest-{run_id}"
    area.mkdir(parents=True)
    try:
        produced = produce(settings, args.events, prefix, args.workers)
        print(f"produced {produced['events']} events in {produced['seconds']} s", flush=True)
        # Peak memory of Kafka, Trino and the stages' Spark JVMs while the stages run.
        with RssSampler.for_stack(settings) as rss:
            stages = {
                stage: run_stage(settings, stage, prefix, area, [])
                for stage in ("bronze", "silver")
            }
        for stage, result in stages.items():
            print(f"{stage}: {result['seconds']} s ({result['seconds_in_batches']} s in batches)")
    finally:
        if not args.keep:
            shutil.rmtree(area, ignore_errors=True)
            kafka_io.delete_topics_with_prefix(settings.kafka.bootstrap_servers, prefix)

    total_s = sum(s["seconds"] for s in stages.values())
    batches_s = sum(s["seconds_in_batches"] for s in stages.values())
    result = {
        "benchmark": "ingest",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "events": produced["events"],
        "produce": produced,
        "stages": stages,
        "end_to_end_s": round(total_s, 1),
        "events_per_s": round(produced["events"] / total_s),
        "events_per_s_in_batches": round(produced["events"] / batches_s) if batches_s else None,
        "target_events_per_s": TARGET,
        "meets_target": produced["events"] / total_s >= TARGET,
        "settings": {
            "env": args.env,
            "cpus": os.cpu_count(),
            "stages": "spark-submit --once, one JVM per stage",
        },
        "load_average_1m": round(os.getloadavg()[0], 2),
        "peak_rss_mb": rss.summary(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("events", "end_to_end_s", "events_per_s")}))
