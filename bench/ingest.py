"""Ingest throughput: generated events Kafka -> bronze -> silver with `--once`, stage by stage.

Each stage runs as users run it (spark-submit of jobs/pipeline.py with --stages), on a private
topic prefix and a private lake under the profile's state folder, so nothing touches the
real lake. Reports seconds per stage (its JVM's start and teardown included when it runs
alone; with --one-app those are reported once), its time in batches (the job's own account),
events/s end to end, and the per-batch log of each stage.
Writes bench/results/ingest.json.

    .venv/bin/python -m bench ingest [--events 1000000] [--env local] [--one-app]

--one-app runs bronze and silver in one application, as `gamelake run --once` does: one JVM
start, and silver's first batch on a JVM bronze already warmed.
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


def run_app(settings, stages: tuple[str, ...], prefix: str, area: Path) -> dict[str, Any]:
    """Run `stages` with --once in one spark-submit; its seconds, and per stage its time in
    batches and its micro-batches."""
    log_file = area / f"{'+'.join(stages)}.log"
    seconds = run_job(
        settings, "pipeline",
        ["--once", "--stages", ",".join(stages), "--topic-prefix", prefix,
         "--lake", str(area / "lake"), "--checkpoint-root", str(area / "checkpoints")],
        log_file,
    )  # fmt: skip
    log = log_file.read_text()
    done = {m.group(1): m for m in _DONE_LINE.finditer(log)}
    per_stage = {}
    for stage in stages:
        query = "bronze_events" if stage == "bronze" else stage
        phases = silver_phases(log) if stage == "silver" else {}
        batches = [
            {**{k: b[k] for k in ("batch", "rows", "ms")}, **phases.get(b["batch"], {})}
            for b in logged_batches(log, (query,))
        ]
        line = done.get(query)
        in_batches_s = int(line.group(3)) / 1000 if line else sum(b["ms"] for b in batches) / 1000
        per_stage[stage] = {
            "seconds_in_batches": round(in_batches_s, 1),
            "batches_run": int(line.group(2)) if line else len(batches),
            "batches": batches,
        }
    return {"seconds": round(seconds, 1), "stages": per_stage}


def run_stages(
    settings, apps: list[tuple[str, ...]], prefix: str, area: Path
) -> tuple[dict[str, dict[str, Any]], float | None]:
    """Each stage's results when `apps` run one after the other, and the JVM start and
    teardown of an application several stages shared (None: each stage ran alone). A stage
    alone in its application is charged the application's whole time; stages sharing one are
    charged their time in batches, and the shared start and teardown are reported once."""
    out: dict[str, dict[str, Any]] = {}
    shared: float | None = None
    for stages in apps:
        app = run_app(settings, stages, prefix, area)
        in_batches = sum(s["seconds_in_batches"] for s in app["stages"].values())
        alone = len(stages) == 1
        if not alone:
            shared = round((shared or 0.0) + app["seconds"] - in_batches, 1)
        for stage, result in app["stages"].items():
            seconds = app["seconds"] if alone else result["seconds_in_batches"]
            out[stage] = {
                "seconds": round(seconds, 1),
                **result,
                "startup_and_teardown_s": round(seconds - result["seconds_in_batches"], 1),
            }
    return out, shared


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="generator processes")
    parser.add_argument("--env", default=os.environ.get("GAMELAKE_ENV", "local"))
    parser.add_argument("--keep", action="store_true", help="keep the private lake and topics")
    parser.add_argument(
        "--one-app",
        action="store_true",
        help="run bronze and silver in one application (as `gamelake run --once` does), "
        "not one spark-submit each",
    )
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
            apps = [("bronze", "silver")] if args.one_app else [("bronze",), ("silver",)]
            stages, shared_s = run_stages(settings, apps, prefix, area)
        for stage, result in stages.items():
            print(f"{stage}: {result['seconds']} s ({result['seconds_in_batches']} s in batches)")
    finally:
        if not args.keep:
            shutil.rmtree(area, ignore_errors=True)
            kafka_io.delete_topics_with_prefix(settings.kafka.bootstrap_servers, prefix)

    total_s = sum(s["seconds"] for s in stages.values()) + (shared_s or 0.0)
    batches_s = sum(s["seconds_in_batches"] for s in stages.values())
    result = {
        "benchmark": "ingest",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "events": produced["events"],
        "produce": produced,
        "stages": stages,
        "shared_startup_and_teardown_s": shared_s,
        "end_to_end_s": round(total_s, 1),
        "events_per_s": round(produced["events"] / total_s),
        "events_per_s_in_batches": round(produced["events"] / batches_s) if batches_s else None,
        "target_events_per_s": TARGET,
        "meets_target": produced["events"] / total_s >= TARGET,
        "settings": {
            "env": args.env,
            "cpus": os.cpu_count(),
            "stages": "spark-submit --once, "
            + ("bronze and silver in one JVM" if args.one_app else "one JVM per stage"),
        },
        "load_average_1m": round(os.getloadavg()[0], 2),
        "peak_rss_mb": rss.summary(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("events", "end_to_end_s", "events_per_s")}))
