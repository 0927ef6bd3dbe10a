"""Query speed: every sql/queries question on a generated lake after compaction.

Builds a private lake the way users do (generated events into private topics, spark-submit
jobs/pipeline.py --once: bronze, silver, streaming and batch gold, in the profile's bounded
micro-batches), compacts it with the ops job (jobs/maintain.py optimize), registers it in a
private Trino catalog, then runs each question once to warm up and --repeat times measured.
Reports the median latency per question (target: <= 1 s each on a 10M-event lake), and live
files per table. Writes bench/results/queries.json.

    .venv/bin/python -m bench queries [--events 10000000] [--repeat 5] [--reuse]
    .venv/bin/python -m bench queries --lake PATH     # an existing lake: measure only

A 10M-event lake takes hours to build on a 2-core laptop (bench/results/ingest.json has the
rate), so --reuse keeps it in <lake>/_bench/queries-<events>/ with the record of its build,
and later runs with --reuse measure that lake again instead of building a new one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from bench._jobs import run_job
from gamelake import kafka_io, lakefs, trino_client
from gamelake.config import load_settings
from gamelake.conventions import find_delta_tables, load_pipeline_conf
from gamelake.queries import list_queries

RESULTS = Path(__file__).parent / "results" / "queries.json"
TARGET_S = 1.0
TARGET_EVENTS = 10_000_000


def build_lake(
    settings, events: int, workers: int, area: Path, prefix: str, logs: Path
) -> dict[str, Any]:
    """Generated events -> private topics -> the --once pipeline -> compaction; the jobs' logs
    in the local folder `logs` (an s3a:// lake is no folder)."""
    from bench.ingest import produce

    produced = produce(settings, events, prefix, workers)
    print(f"produced {produced['events']} events in {produced['seconds']} s", flush=True)
    lake = area / "lake"
    pipeline_s = run_job(
        settings, "pipeline",
        ["--once", "--topic-prefix", prefix, "--lake", str(lake),
         "--checkpoint-root", str(area / "checkpoints")],
        logs / "pipeline.log",
    )  # fmt: skip
    print(f"pipeline --once: {pipeline_s} s", flush=True)
    optimize_s = run_job(
        settings, "maintain", ["optimize", "--lake", str(lake)], logs / "maintain.log"
    )
    print(f"optimize: {optimize_s} s", flush=True)
    return {"produce": produced, "pipeline_s": pipeline_s, "optimize_s": optimize_s}


def files_per_table(conn, lake: Path, layers: tuple[str, ...]) -> dict[str, int]:
    """Live data files of every table (those the current version reads), as Trino sees them."""
    return {
        f"{layer}.{table}": trino_client.run(
            conn, f'select count(distinct "$path") from {layer}.{table}'
        ).rows[0][0]
        for layer, table in find_delta_tables(lake, layers)
    }


def time_queries(conn, sql_dir: Path, repeat: int) -> dict[str, Any]:
    """Median, min and max seconds of each question over `repeat` runs after a warm-up."""
    out = {}
    for q in list_queries(sql_dir):
        try:
            rows = len(trino_client.run(conn, q.sql).rows)  # warm-up: metadata and file caches
        except Exception as exc:  # one failing question must not hide the others' numbers
            out[q.name] = {"error": str(exc)[:300], "meets_target": False}
            print(f"{q.name}: FAILED {exc}", flush=True)
            continue
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            trino_client.run(conn, q.sql)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        out[q.name] = {
            "median_s": round(median, 3),
            "min_s": round(min(times), 3),
            "max_s": round(max(times), 3),
            "rows": rows,
            "meets_target": median <= TARGET_S,
        }
        print(f"{q.name}: {median:.3f} s ({rows} rows)", flush=True)
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench queries", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=TARGET_EVENTS)
    parser.add_argument("--repeat", type=int, default=5, help="measured runs per question")
    parser.add_argument("--workers", type=int, default=2, help="generator processes")
    parser.add_argument(
        "--lake", type=lakefs.located, default=None, help="measure this lake, build none"
    )
    parser.add_argument("--env", default=os.environ.get("GAMELAKE_ENV", "local"))
    parser.add_argument("--keep", action="store_true", help="keep the private lake and topics")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the built lake in <lake>/_bench/queries-<events>/ and measure it again on "
        "later runs instead of building one",
    )
    args = parser.parse_args(argv)

    settings = load_settings(args.env)
    layers = load_pipeline_conf(settings.paths.conf).layers
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench.queries{run_id}."
    # Under the profile's lake folder: Trino's local filesystem may read it there.
    area = (
        settings.paths.lake
        / "_bench"
        / (f"queries-{args.events}" if args.reuse else f"queries-{run_id}")
    )
    built = area / "build.json"  # written once the lake is whole: a half-built one is redone
    catalog = f"benchq{run_id}"
    admin = trino_client.connect(settings.trino)
    build: dict[str, Any] = {"lake": str(args.lake)} if args.lake else {}
    keep = args.keep or args.reuse
    try:
        if args.lake:
            lake = lakefs.resolved(lakefs.located(args.lake, settings.s3))
        elif args.reuse and lakefs.exists(built):
            build = {**json.loads(lakefs.read_text(built)), "reused": str(area)}
            lake = area / "lake"
            print(f"measuring the lake built {build.get('built_at')}: {lake}", flush=True)
        else:
            lakefs.delete(area)
            lakefs.mkdirs(area)
            logs = settings.paths.logs / "bench" / area.name
            logs.mkdir(parents=True, exist_ok=True)
            build = build_lake(settings, args.events, args.workers, area, prefix, logs)
            build["built_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            kafka_io.delete_topics_with_prefix(settings.kafka.bootstrap_servers, prefix)
            lake = area / "lake"
            if args.reuse:
                lakefs.create_if_absent(built, json.dumps(build, indent=2) + "\n")
        trino_client.create_lake_catalog(admin, catalog, lake)
        trino_client.register_lake_at(admin, catalog, lake, layers)
        conn = trino_client.connect(settings.trino, catalog=catalog)
        files = files_per_table(conn, lake, layers)
        queries = time_queries(conn, settings.paths.root / "sql", args.repeat)
        bronze_rows = trino_client.run(
            conn,
            "select count(*) from bronze." + load_pipeline_conf(settings.paths.conf).bronze_table,
        ).rows[0][0]
    finally:
        trino_client.drop_catalog(admin, catalog)
        if not keep and not args.lake:
            lakefs.delete(area)
        if not args.keep:
            kafka_io.delete_topics_with_prefix(settings.kafka.bootstrap_servers, prefix)

    medians = [q["median_s"] for q in queries.values() if "median_s" in q]
    result = {
        "benchmark": "queries",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "events": build.get("produce", {}).get("events"),
        "bronze_rows": bronze_rows,
        "target_events": TARGET_EVENTS,
        "target_median_s": TARGET_S,
        "build": build,
        "queries": queries,
        "slowest_median_s": max(medians),
        "all_meet_target": all(q["meets_target"] for q in queries.values()),
        "files_per_table": files,
        "settings": {"env": args.env, "cpus": os.cpu_count(), "repeat": args.repeat},
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("events", "slowest_median_s", "all_meet_target")}))
