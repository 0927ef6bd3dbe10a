"""Freshness: produce time -> visible in Trino, with the pipeline streaming continuously.

For each rate of --rates, a fresh private lake and topics: jobs/pipeline.py without --once
(bronze, silver, gold streams; short trigger) starts, generated events are produced at that
rate for --seconds, and every second a marker telemetry event (a unique player id) is slipped
in. A poller asks Trino every --poll seconds which markers silver.telemetry and
gold.player_kd_5m show (reading only what arrived since the last marker it saw); freshness is
the time from handing a marker to the producer to its first sight in Trino. After production
stops, markers have --drain seconds to show up.

The streaming application is measured warm: before the measured production it gets
--warm-seconds at the same rate, with markers of its own, and up to --drain seconds to show
them all. A fresh JVM compiles every stream's code in its first minutes (a first silver
batch costs about twice what the later ones do), which a deployment pays once, not every
minute. The default minute warms the streams' plans, not the JIT: on two cores HotSpot's C2
compiler takes ~0.3 cores for the first five minutes and ~0.1 only after ten
(docs/hot-path.md), so `--warm-seconds 300` or more measures a JVM past its warm-up. The
warm-up's own latencies and how long the app took to catch up are reported beside the
measured ones (`warm_up`), so the cold start is not hidden either.

Per rate and table: p50/p95/p99/max of the markers seen (targets: TARGET_P95_S at 10k
events/s), the median latency of the first and last quarter of the markers, and whether the
pipeline kept up: every marker seen and the backlog not growing (the last quarter's median no
more than GROWING_S above the first's). `behind_at_end_s` says by how much it was behind:
the age, when the run ended, of the oldest marker still unseen (the pipeline had not reached
data that old). Writes bench/results/freshness.json.

    .venv/bin/python -m bench freshness [--rates 2000,5000,10000] [--seconds 60] [--drain 180]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bench._jobs import batch_digest
from gamelake import feed, kafka_io, lakefs, trino_client
from gamelake.config import load_settings
from gamelake.contracts import load_contracts
from gamelake.conventions import is_delta_table, load_pipeline_conf, table_path
from gamelake.generator import GeneratorOptions, Record, generate
from gamelake.gold.streaming import GOLD_STREAMS
from gamelake.spark import submit_command, submit_env

RESULTS = Path(__file__).parent / "results" / "freshness.json"
TARGET_RATE = 10_000
# Issue 20's freshness targets: p95 seconds from produce to visible in Trino, per table.
TARGET_P95_S = {"silver.telemetry": 15.0, "gold.player_kd_5m": 30.0}
# A backlog that grows by more than this over a run (median latency, last quarter of the
# markers against the first) is not kept up with, even if the drain lets it catch up.
GROWING_S = 10.0
# Per watched table: the marker's column, a column by which a poll skips what earlier polls
# read, and how far before the last marker seen an unseen one can be in it. Silver shows rows
# in the order bronze ingested them (ingest time never goes back). Gold's window follows the
# markers' send times, but two markers a second apart on different Kafka partitions can reach
# bronze in either order, so across a window boundary the earlier one may show later: one
# window of slack.
WATCHED = {
    "silver.telemetry": ("player_id", "ingested_at", dt.timedelta(0)),
    "gold.player_kd_5m": ("player_id", "window_start", dt.timedelta(minutes=5)),
}


def with_markers(
    records: Iterator[Record], run: str, sent: dict[str, float], phase: str = ""
) -> Iterator[Record]:
    """The generated records with a marker telemetry kill every second (player ids
    `fresh<run>_<phase><n>`); in `sent`, the time each marker was sent.

    A marker counts as sent once the producer asks for the record after it: a producer whose
    time is up stops with the record it just took unsent, and a marker counted then would
    be waited for in vain."""
    next_at = time.monotonic()
    n = 0
    for record in records:
        now = time.monotonic()
        if now >= next_at:
            n += 1
            player = f"fresh{run}_{phase}{n}"
            event = {
                "player_id": player,
                "event_type": "kill",
                "event_id": f"fresh{run}-{phase}{n}",
                "timestamp": int(time.time() * 1000),
                "source": "bench",
                "schema_version": 1,
            }
            yield Record("telemetry", player.encode(), orjson.dumps(event))
            sent[player] = time.monotonic()
            next_at += 1.0
        yield record


def _storage(lake: Path, table: str) -> Path:
    layer, name = table.split(".")
    return table_path(lake, layer, GOLD_STREAMS[name].storage if layer == "gold" else name)


def poll_query(table: str, run: str, since: dt.datetime | None) -> str:
    """Trino SQL: the run's markers in `table` with their ordering value, from `since` on."""
    col, order, slack = WATCHED[table]
    bound = ""
    if since is not None:
        bound = f" and {order} >= from_iso8601_timestamp('{(since - slack).isoformat()}')"
    return (
        f"select {col}, max({order}) from {table}"
        f" where {col} like 'fresh{run}_%'{bound} group by {col}"
    )


def poll_markers(
    conn, run: str, seen: dict[str, dict[str, float]], since: dict[str, dt.datetime]
) -> None:
    """Note, per watched table, when each of the run's markers was first seen in Trino.

    A marker not seen yet is ordered at or after the last one seen (`since`, per table, less
    its slack), so each poll reads only the files from there on: scanning the whole table
    every poll cost Trino 0.1-0.4 of the two cores by the end of a run, taken from the
    pipeline measured."""
    for table in seen:
        rows = trino_client.run(conn, poll_query(table, run, since.get(table))).rows
        note_seen(table, rows, time.monotonic(), seen, since)


def note_seen(
    table: str,
    rows: list[tuple[str, dt.datetime]],
    now: float,
    seen: dict[str, dict[str, float]],
    since: dict[str, dt.datetime],
) -> None:
    """Record a poll's (marker, ordering value) rows: each marker's first sight, and the
    table's bound for the next poll (the largest ordering value seen)."""
    for marker, ordered_at in rows:
        seen[table].setdefault(marker, now)
        if table not in since or ordered_at > since[table]:
            since[table] = ordered_at


def log_since(log: str, since: dt.datetime) -> str:
    """The lines of a job's log stamped at or after `since` (local time, as the job logs)."""
    stamp = since.strftime("%Y-%m-%d %H:%M:%S")
    return "".join(line for line in log.splitlines(keepends=True) if line[:19] >= stamp)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(
    sent: dict[str, float], seen: dict[str, float], ended: float, target_p95_s: float
) -> dict[str, Any]:
    """Latency percentiles of the markers seen; how far behind the pipeline was at `ended`;
    whether it kept up: every marker seen, and the backlog not growing (the markers of the
    last quarter of the run no more than GROWING_S later, at the median, than the first's)."""
    lags = [seen[m] - sent[m] for m in seen if m in sent]
    unseen = [sent[m] for m in sent if m not in seen]
    out: dict[str, Any] = {
        "markers_sent": len(sent),
        "markers_seen": len(lags),
        "caught_up": bool(sent) and not unseen,
        "behind_at_end_s": round(ended - min(unseen), 1) if unseen else 0.0,
    }
    if lags:
        out.update(
            p50_s=round(statistics.median(lags), 2),
            p95_s=round(percentile(lags, 0.95), 2),
            p99_s=round(percentile(lags, 0.99), 2),
            max_s=round(max(lags), 2),
        )
    by_send = sorted(sent, key=sent.get)
    quarter = max(1, len(by_send) // 4)
    first, last = (
        [seen[m] - sent[m] for m in part if m in seen]
        for part in (by_send[:quarter], by_send[-quarter:])
    )
    if first and last:
        out.update(
            p50_first_quarter_s=round(statistics.median(first), 2),
            p50_last_quarter_s=round(statistics.median(last), 2),
        )
    growing = out.get("p50_last_quarter_s", 0) - out.get("p50_first_quarter_s", 0) > GROWING_S
    out["kept_up"] = out["caught_up"] and not growing
    out["meets_target"] = out["kept_up"] and out.get("p95_s", float("inf")) <= target_p95_s
    return out


def measure_rate(settings, contracts, pipeline, rate: float, args) -> dict[str, Any]:
    """One rate on a fresh pipeline, lake and topics: markers' latency per watched table."""
    run = uuid.uuid4().hex[:8]
    prefix = f"bench.fresh{run}."
    area = settings.paths.lake / "_bench" / f"freshness-{run}"
    lake = area / "lake"
    # The job's log is a local file whatever holds the lake (an s3a:// lake is no folder).
    log_path = settings.paths.logs / f"bench-freshness-{run}.log"
    catalog = f"benchf{run}"
    bootstrap = settings.kafka.bootstrap_servers
    topics = {f: prefix + f for f in contracts}
    kafka_io.create_topics(bootstrap, topics.values(), 2, 2)
    job_args = ["--topic-prefix", prefix, "--lake", str(lake), "--checkpoint-root",
                str(area / "checkpoints"), "--stages", args.stages]  # fmt: skip
    lakefs.mkdirs(area)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path, "wb")  # noqa: SIM115 (open for the job's life)
    env = submit_env(dict(os.environ))
    # Set-up: a --once pass over a few events creates every table (a stream cannot start
    # on a Delta table that does not exist yet) and the checkpoints the run continues from.
    options = GeneratorOptions(seed=7, start_ms=int(time.time() * 1000), world_rate=rate)
    first = dataclasses.replace(options, seed=8, events=2000)
    feed.to_kafka(bootstrap, generate(contracts, first), topics)
    once = submit_command(settings, "pipeline", ["--once", *job_args])
    if subprocess.run(once, env=env, stdout=log_file, stderr=log_file).returncode != 0:
        raise SystemExit(f"the set-up pipeline failed; see {log_path}")
    cmd = submit_command(
        settings, "pipeline",
        [*job_args, "--trigger-interval", args.trigger, "--gold-batch-every", "0",
         *(["--gold-trigger-interval", args.gold_trigger] if args.gold_trigger else [])],
    )  # fmt: skip
    # Its own process group, stopped as Ctrl-C stops it in a terminal: SIGINT to spark-submit's
    # JVM alone left the Python driver running until the kill 60 s later, and the lake kept.
    job = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=log_file, start_new_session=True)
    admin = trino_client.connect(settings.trino)
    sent: dict[str, float] = {}
    warm_sent: dict[str, float] = {}
    # The watched tables of the stages run, each with the markers seen in it.
    seen: dict[str, dict[str, float]] = {
        t: {} for t in WATCHED if t.split(".")[0] in args.stages.split(",")
    }
    since: dict[str, dt.datetime] = {}  # per watched table, the last marker's ordering value
    produced: dict[str, Any] = {}
    warm_up: dict[str, Any] = {}
    ended = time.monotonic()
    measured_from = None
    try:
        while not all(is_delta_table(_storage(lake, t)) for t in seen):
            if job.poll() is not None:
                raise SystemExit(f"the pipeline stopped; see {log_path}")
            time.sleep(2)
        trino_client.create_lake_catalog(admin, catalog, lake)
        trino_client.register_lake_at(admin, catalog, lake, pipeline.layers)
        conn = trino_client.connect(settings.trino, catalog=catalog)

        def produce(seconds: float, label: str, sent: dict[str, float], info: dict) -> None:
            # Event time starts now, so a phase's events are as current as its markers; the
            # warm-up's seed differs from the measured one's, so no event is a duplicate.
            gen = dataclasses.replace(
                options, seed=options.seed + 2 * bool(label), start_ms=int(time.time() * 1000)
            )
            records = with_markers(generate(contracts, gen), run, sent, label)
            s = feed.to_kafka(bootstrap, records, topics, rate=rate, duration_s=seconds)
            info.update(events=s.records, seconds=round(s.seconds, 1), rate=round(s.rate))

        def phase(label: str, seconds: float, sent: dict[str, float]) -> tuple[float, float]:
            """Produce at `rate` for `seconds` with markers, watch for them; when production
            ended and when the watch stopped (all markers seen, or --drain after the end)."""
            info: dict[str, Any] = {}
            producer = threading.Thread(
                target=produce, args=(seconds, label, sent, info), daemon=True
            )
            producer.start()
            stop_at = None
            while True:
                poll_markers(conn, run, seen, since)
                if job.poll() is not None:
                    raise SystemExit(f"the pipeline stopped; see {log_path}")
                if not producer.is_alive():
                    stop_at = stop_at or time.monotonic() + args.drain
                    if all(m in s for s in seen.values() for m in sent):
                        break
                    if time.monotonic() > stop_at:
                        break
                time.sleep(args.poll)
            produced.setdefault(label, {}).update(info)
            return stop_at - args.drain, time.monotonic()

        if args.warm_seconds > 0:
            print(f"rate {rate:,.0f}/s: pipeline streaming; warming it up for "
                  f"{args.warm_seconds:g} s", flush=True)  # fmt: skip
            warm_end, warm_stop = phase("w", args.warm_seconds, warm_sent)
            warm_tables = {t: summary(warm_sent, s, warm_stop, TARGET_P95_S[t])
                           for t, s in seen.items()}  # fmt: skip
            caught_up = all(t["caught_up"] for t in warm_tables.values())
            warm_up.update(
                seconds=args.warm_seconds,
                caught_up=caught_up,
                caught_up_after_s=round(warm_stop - warm_end, 1) if caught_up else None,
                tables=warm_tables,
            )
            print(f"rate {rate:,.0f}/s warm-up: {json.dumps(warm_up)}", flush=True)
        print(f"rate {rate:,.0f}/s: producing for {args.seconds:g} s", flush=True)
        measured_from = dt.datetime.now()
        _, ended = phase("", args.seconds, sent)
    finally:
        os.killpg(job.pid, signal.SIGINT)
        try:
            job.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
        log_file.close()
        trino_client.drop_catalog(admin, catalog)
        kafka_io.delete_topics_with_prefix(bootstrap, prefix)
        log_text = log_path.read_text(errors="replace")
        if job.returncode in (0, -signal.SIGINT, 130) and "" in produced and not args.keep:
            lakefs.delete(area)
            log_path.unlink(missing_ok=True)
        else:  # keep the job's log for the post-mortem
            print(f"pipeline log kept: {log_path}", flush=True)
    tables = {t: summary(sent, s, ended, TARGET_P95_S[t]) for t, s in seen.items()}
    print(f"rate {rate:,.0f}/s: {json.dumps(tables)}", flush=True)
    # Why the latency is what it is: how often each stream ran and what a batch cost while
    # the measured events were produced and drained.
    batches = batch_digest(log_since(log_text, measured_from) if measured_from else log_text)
    print(f"rate {rate:,.0f}/s batches: {json.dumps(batches)}", flush=True)
    return {
        "rate_asked": rate,
        "produced": produced.get("", {}),
        "drain_s": args.drain,
        "warm_up": {**warm_up, "produced": produced.get("w", {})} if warm_up else None,
        "tables": tables,
        "batches": batches,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench freshness", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates", default="2000,5000,10000", help="events/s produced, one run per rate"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to produce")
    parser.add_argument("--warm-seconds", type=float, default=60.0,
                        help="production at the same rate before the measured one, to warm the "
                        "streaming app (0: measure it cold; the JIT needs ~10 minutes on two "
                        "cores)")  # fmt: skip
    parser.add_argument("--trigger", default="1 second", help="micro-batch interval")
    parser.add_argument(
        "--stages",
        default="bronze,silver,gold",
        help="the pipeline's stages (without gold, only silver is watched)",
    )
    parser.add_argument(
        "--gold-trigger",
        default=None,
        help="streaming gold's interval (default: the profile's, else --trigger)",
    )
    # Each poll queries both watched tables on the same two cores as the pipeline: ~0.22 s of
    # Trino CPU on a 5k/s lake, so a 0.5 s poll took ~a third of a core from what it measured.
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between Trino polls")
    parser.add_argument("--drain", type=float, default=180.0,
                        help="seconds to wait for markers once production stops")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep each rate's lake and log")
    parser.add_argument("--env", default=os.environ.get("GAMELAKE_ENV", "local"))
    args = parser.parse_args(argv)

    settings = load_settings(args.env)
    pipeline = load_pipeline_conf(settings.paths.conf)
    contracts = load_contracts(settings.paths.conf / "contracts")
    runs = [
        measure_rate(settings, contracts, pipeline, float(rate), args)
        for rate in args.rates.split(",")
    ]
    result = {
        "benchmark": "freshness",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "seconds_produced": args.seconds,
        "warm_up_seconds": args.warm_seconds,
        "trigger": args.trigger,
        "gold_trigger": args.gold_trigger,
        "stages": args.stages,
        "target_rate": TARGET_RATE,
        "target_p95_s": TARGET_P95_S,
        "settings": {"env": args.env, "cpus": os.cpu_count(), "poll_s": args.poll},
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
