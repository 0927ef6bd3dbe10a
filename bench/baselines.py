"""Baselines on the same generated events as `bench ingest`: how fast the machine can do the
simplest version of each part of gamelake's ingest, measured in the same run.

- spark_jsonl_to_parquet: one Spark job per family, JSONL text -> from_json with the
  contract's schema -> the contract's leaves as columns -> parquet (no Kafka, no Delta, no
  gates, no dedup): gamelake's silver without its guarantees;
- duckdb_read_json_to_parquet: DuckDB read_json (auto-detected schema) -> parquet, one file per
  family: the machine's practical limit for JSON -> columnar;
- kafka_consume: confluent-kafka consumer reading every record of the family topics once.

Ratios are gamelake's ingest events/s (bench/results/ingest.json, end to end and in batches)
over each baseline's. Writes bench/results/baselines.json.

    .venv/bin/python -m bench baselines [--events N] [--env local]

--events defaults to the event count of bench/results/ingest.json, so that a run right after
`bench ingest` compares the same events; a ratio over other counts is flagged in the output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from gamelake import feed, kafka_io
from gamelake.config import load_settings
from gamelake.contracts import Contract, load_contracts
from gamelake.generator import GeneratorOptions, generate

RESULTS = Path(__file__).parent / "results"


def options(events: int) -> GeneratorOptions:
    """The generator options `bench ingest` produces with (seed 1, same fractions)."""
    return GeneratorOptions(
        seed=1, events=events, late_fraction=0.02, duplicate_fraction=0.03, malformed_fraction=0.05
    )


def write_jsonl(contracts: dict[str, Contract], events: int, folder: Path) -> dict[str, int]:
    """One JSONL file per family of the generated values; line counts per family."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {f: open(folder / f"{f}.jsonl", "wb") for f in contracts}  # noqa: SIM115
    counts = dict.fromkeys(contracts, 0)
    try:
        for r in generate(contracts, options(events)):
            # A raw value is one line of JSONL; a malformed one must not become two.
            files[r.family].write(r.value.replace(b"\n", b" ") + b"\n")
            counts[r.family] += 1
    finally:
        for fh in files.values():
            fh.close()
    return counts


def _rate(events: int, seconds: float) -> dict[str, Any]:
    return {"events": events, "seconds": round(seconds, 2), "events_per_s": round(events / seconds)}


def spark_baseline(
    settings, contracts: dict[str, Contract], src: Path, out: Path, counts: dict[str, int]
) -> dict[str, Any]:
    """Single-pass JSONL -> flattened parquet per family with the contract's Spark schema."""
    from pyspark.sql import functions as F

    from gamelake.spark import build_session

    started = time.perf_counter()
    spark = build_session(settings, app_name="bench-baselines")
    session_s = time.perf_counter() - started
    try:
        started = time.perf_counter()
        for family, contract in contracts.items():
            parsed = spark.read.text(str(src / f"{family}.jsonl")).select(
                F.from_json("value", contract.spark_schema()).alias("e")
            )
            leaves = [
                F.col("e." + ".".join(f.path)).alias(f.silver_column) for f in contract.leaves()
            ]
            parsed.select(*leaves).write.mode("overwrite").parquet(str(out / family))
        result = _rate(sum(counts.values()), time.perf_counter() - started)
    finally:
        spark.stop()
    return {
        **result,
        "session_start_s": round(session_s, 2),
        "what": "spark.read.text -> from_json(contract schema) -> leaves -> parquet",
    }


def duckdb_baseline(
    contracts: dict[str, Contract], src: Path, out: Path, counts: dict[str, int]
) -> dict[str, Any]:
    """DuckDB read_json (newline-delimited, bad lines skipped) -> parquet per family."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("set threads = 2")
    started = time.perf_counter()
    rows = 0
    for family in contracts:
        rows += con.execute(
            f"copy (select * from read_json('{src / family}.jsonl', format = 'newline_delimited',"
            f" ignore_errors = true, maximum_object_size = 16777216))"
            f" to '{out / family}.parquet' (format parquet)"
        ).fetchone()[0]
    result = _rate(sum(counts.values()), time.perf_counter() - started)
    con.close()
    return {
        **result,
        "rows_written": rows,
        "duckdb": duckdb.__version__,
        "what": "read_json(auto schema, ignore_errors) -> parquet, 2 threads",
    }


def kafka_baseline(settings, contracts: dict[str, Contract], events: int) -> dict[str, Any]:
    """Raw consume rate: produce the events to private topics, then read them all once."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    bootstrap = settings.kafka.bootstrap_servers
    prefix = f"bench.baselines{uuid.uuid4().hex[:8]}."
    topics = {f: prefix + f for f in contracts}
    kafka_io.create_topics(bootstrap, topics.values(), 2, 2)
    try:
        produced = feed.to_kafka(bootstrap, generate(contracts, options(events)), topics)
        # librdkafka's default fetch settings: larger fetch buffers stalled the consumer here.
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": prefix + "consume",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        # Explicit start offsets: without them the consumer first asks the group coordinator
        # for committed offsets, and a broker still loading its coordinator (right after
        # `bench ingest` on a fresh one) left it waiting out the whole deadline: 0 records.
        consumer.assign(
            [TopicPartition(t, p, OFFSET_BEGINNING) for t in topics.values() for p in range(2)]
        )
        seen, nbytes = 0, 0
        started = time.perf_counter()
        deadline = started + 300
        while seen < produced.records and time.perf_counter() < deadline:
            for msg in consumer.consume(num_messages=10_000, timeout=1.0):
                if msg.error() is None:
                    seen += 1
                    nbytes += len(msg.value() or b"")
        seconds = time.perf_counter() - started
        consumer.close()
    finally:
        kafka_io.delete_topics_with_prefix(bootstrap, prefix)
    return {
        **_rate(seen, seconds),
        "produced": produced.records,
        "mb_per_s": round(nbytes / seconds / 1e6, 1),
        "what": "confluent-kafka Consumer.consume(10000), 1 process, from earliest",
    }


DEFAULT_EVENTS = 200_000


def ratios(ingest: dict[str, Any] | None, baselines: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """gamelake's ingest events/s over each baseline's (end to end and time in batches)."""
    if not ingest:
        return {"missing": "bench/results/ingest.json (run `python -m bench ingest`)"}
    out: dict[str, Any] = {}
    for name, b in baselines.items():
        rate = b.get("events_per_s")
        if not rate:
            continue
        out[name] = {
            "gamelake_end_to_end": round(ingest["events_per_s"] / rate, 4),
            "gamelake_in_batches": round((ingest.get("events_per_s_in_batches") or 0) / rate, 4),
        }
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench baselines", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help="events to generate (default: those of bench/results/ingest.json, else 200000)",
    )
    parser.add_argument("--env", default=os.environ.get("GAMELAKE_ENV", "local"))
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["spark", "duckdb", "kafka"],
        help="leave a baseline out",
    )
    args = parser.parse_args(argv)
    ingest_file = RESULTS / "ingest.json"
    ingest = json.loads(ingest_file.read_text()) if ingest_file.exists() else None
    events = args.events or (ingest or {}).get("events") or DEFAULT_EVENTS

    settings = load_settings(args.env)
    contracts = load_contracts(settings.paths.conf / "contracts")
    area = settings.paths.state / "bench" / f"baselines-{uuid.uuid4().hex[:8]}"
    measured: dict[str, dict[str, Any]] = {}
    try:
        started = time.perf_counter()
        counts = write_jsonl(contracts, events, area / "jsonl")
        print(
            f"wrote {sum(counts.values())} events as JSONL in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        if "duckdb" not in args.skip:
            measured["duckdb_read_json_to_parquet"] = duckdb_baseline(
                contracts, area / "jsonl", area / "duckdb", counts
            )
            print("duckdb:", measured["duckdb_read_json_to_parquet"], flush=True)
        if "kafka" not in args.skip:
            measured["kafka_consume"] = kafka_baseline(settings, contracts, events)
            print("kafka:", measured["kafka_consume"], flush=True)
        if "spark" not in args.skip:
            measured["spark_jsonl_to_parquet"] = spark_baseline(
                settings, contracts, area / "jsonl", area / "spark", counts
            )
            print("spark:", measured["spark_jsonl_to_parquet"], flush=True)
    finally:
        shutil.rmtree(area, ignore_errors=True)

    same_events = bool(ingest) and ingest.get("events") == events
    if ingest and not same_events:
        print(f"note: ingest.json measured {ingest.get('events')} events, these baselines "
              f"{events}: the ratios compare different runs' sizes", flush=True)  # fmt: skip
    result = {
        "benchmark": "baselines",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "events": sum(counts.values()),
        "per_family": counts,
        "baselines": measured,
        "gamelake_ingest": {
            k: ingest.get(k)
            for k in ("events", "events_per_s", "events_per_s_in_batches", "measured_at")
        }
        if ingest
        else None,
        "ratio_gamelake_to_baseline": ratios(ingest, measured),
        "same_events_as_ingest": same_events,
        "settings": {
            "env": args.env,
            "cpus": os.cpu_count(),
            "generator": "seed 1, 5% malformed, 3% duplicate, 2% late (as bench ingest)",
        },
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "baselines.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["ratio_gamelake_to_baseline"]))
