"""Generator throughput into the real Kafka: events/s, per client and process count.

Scenarios: the generator alone (no sink), kafka-python (large batches, lz4), confluent-kafka
(librdkafka, the bulk producer gamelake uses) with 1 and 2 generator processes. Writes
bench/results/generator.json.

    .venv/bin/python -m bench generator [--events 200000] [--env local]

Events go to `bench.generator.<family>` topics (one hour of retention), outside bronze's
topic pattern, so benchmark data never reaches the lake.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

from gamelake import kafka_io, shards
from gamelake.config import load_settings
from gamelake.contracts import load_contracts
from gamelake.generator import GeneratorOptions, generate
from gamelake.producer import BULK_SETTINGS

RESULTS = Path(__file__).parent / "results" / "generator.json"
TARGET = 50_000
KAFKA_PYTHON_SETTINGS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 50,
    "batch_size": 1 << 20,
    "compression_type": "lz4",
    "max_request_size": 8 << 20,
}


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its finished children, MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self": round(own, 1), "largest_child": round(children, 1)}


def generate_only(contracts: dict, options: GeneratorOptions) -> dict[str, Any]:
    """Events/s of the generator alone (records built and encoded, sent nowhere)."""
    started = time.perf_counter()
    n = sum(1 for _ in generate(contracts, options))
    seconds = time.perf_counter() - started
    return {"events": n, "seconds": round(seconds, 2), "events_per_s": round(n / seconds)}


def with_kafka_python(
    bootstrap: str, contracts: dict, options: GeneratorOptions, topics: dict[str, str]
) -> dict[str, Any]:
    """Events/s of the generator sending through kafka-python, until every ack is in."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, **KAFKA_PYTHON_SETTINGS)
    started = time.perf_counter()
    n = 0
    for record in generate(contracts, options):
        producer.send(topics[record.family], key=record.key, value=record.value)
        n += 1
    producer.flush()
    seconds = time.perf_counter() - started
    producer.close()
    return {"events": n, "seconds": round(seconds, 2), "events_per_s": round(n / seconds)}


def with_confluent(
    bootstrap: str, conf_dir: Path, options: GeneratorOptions, topics: dict[str, str], workers: int
) -> dict[str, Any]:
    """Events/s of `gamelake generate --workers N`'s path, until every ack is in."""
    summary = shards.to_kafka_sharded(bootstrap, conf_dir / "contracts", options, topics, workers)
    return {
        "events": summary.records,
        "seconds": round(summary.seconds, 2),
        "events_per_s": round(summary.rate),
        "workers": workers,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings(args.env)
    bootstrap = settings.kafka.bootstrap_servers
    contracts = load_contracts(settings.paths.conf / "contracts")
    topics = {f: f"bench.generator.{f}" for f in contracts}
    kafka_io.create_topics(bootstrap, topics.values(), 2, 1)
    options = GeneratorOptions(seed=1, events=args.events)
    load_before = os.getloadavg()[0]

    scenarios: dict[str, Any] = {}
    scenarios["generator_only"] = generate_only(contracts, options)
    scenarios["confluent_kafka_1_process"] = with_confluent(
        bootstrap, settings.paths.conf, options, topics, 1
    )
    scenarios["confluent_kafka_2_processes"] = with_confluent(
        bootstrap, settings.paths.conf, options, topics, 2
    )
    small = GeneratorOptions(seed=1, events=min(args.events, 50_000))
    scenarios["kafka_python_1_process"] = with_kafka_python(bootstrap, contracts, small, topics)
    best = max(
        (s for name, s in scenarios.items() if name.startswith("confluent")),
        key=lambda s: s["events_per_s"],
    )
    result = {
        "benchmark": "generator",
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "events": best["events"],
        "seconds": best["seconds"],
        "events_per_s": best["events_per_s"],
        "client": f"confluent-kafka {_confluent_version()}, {best['workers']} process(es)",
        "target_events_per_s": TARGET,
        "meets_target": best["events_per_s"] >= TARGET,
        "scenarios": scenarios,
        "settings": {
            "confluent_kafka": dict(BULK_SETTINGS),
            "kafka_python": KAFKA_PYTHON_SETTINGS,
            "topics": "bench.generator.<family>, 2 partitions, replication 1",
            "families": sorted(contracts),
            "seed": 1,
        },
        "peak_rss_mb": peak_rss_mb(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m_before": round(load_before, 2),
            "load_average_1m_after": round(os.getloadavg()[0], 2),
            "note": "the broker runs on the same machine and shares its cores",
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _confluent_version() -> str:
    import confluent_kafka

    return f"{confluent_kafka.__version__} (librdkafka {confluent_kafka.libversion()[0]})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench generator", description=__doc__)
    parser.add_argument("--env", default="local", help="conf/env profile (Kafka address)")
    parser.add_argument("--events", type=int, default=200_000, help="events per scenario")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps({k: result[k] for k in ("events_per_s", "client", "meets_target")}))
    for name, scenario in result["scenarios"].items():
        print(f"  {name}: {scenario['events_per_s']:,} events/s")


if __name__ == "__main__":
    main()
