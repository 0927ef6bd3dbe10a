"""Collector throughput: sustained accepted events/s and request latency against the real Kafka.

Runs the collector (gamelake/collector/) under uvicorn in a child process on a free loopback
port (so the client does not share its interpreter), posts batches of valid events from concurrent
asyncio clients for a bounded time, and writes bench/results/collector.json.

    .venv/bin/python -m bench.collector [--seconds 20] [--concurrency 8] [--batch 100]

Events go to `bench.collector.<family>` topics (one hour of retention), outside bronze's
topic pattern, so benchmark data never reaches the lake.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

TOPIC_PREFIX = "bench.collector."
REJECTS_TOPIC = "bench.collector._rejects"
FAMILIES = ("telemetry", "user_score", "player_action", "transaction", "game_api")
RESULTS = Path(__file__).resolve().parent / "results" / "collector.json"
TARGET_EVENTS_PER_S = 5_000


def sample_event(family: str, rng: random.Random, n: int) -> dict[str, Any]:
    """One valid event of a family, varied by `n` and the generator."""
    player = f"p{rng.randrange(10_000)}"
    iso = f"2026-01-01T00:{n % 60:02d}:{rng.randrange(60):02d}Z"
    if family == "telemetry":
        return {"family": family, "player_id": player, "event_type": rng.choice(["kill", "death"]),
                "timestamp": 1_767_225_600_000 + n}  # fmt: skip
    if family == "user_score":
        return {"family": family, "user_id": player, "team_id": f"t{rng.randrange(50)}",
                "score": rng.randrange(1000),
                "event_time_millis": 1_767_225_600_000 + n}  # fmt: skip
    user = {"user_id": player, "platform": rng.choice(["PC", "Console", "Mobile"])}
    if family == "player_action":
        return {
            "family": family, "event_name": "player_action", "event_timestamp": iso,
            "parameters": {"player_id": player, "session_id": f"s{rng.randrange(10**6)}",
                           "event_type": rng.choice(["move", "interaction", "level_complete"]),
                           "level_id": f"level_{rng.randrange(10)}",
                           "map_id": f"map_{rng.randrange(5)}"},
            "user_data": user,
        }  # fmt: skip
    if family == "transaction":
        return {
            "family": family, "event_name": "transaction", "event_timestamp": iso,
            "parameters": {"transaction_id": f"tx{n}-{rng.randrange(10**9)}",
                           "transaction_type": "purchase", "currency": "USD",
                           "amount": round(rng.uniform(0.99, 99.99), 2), "item_id": "skin_dragon",
                           "item_type": "skin"},
            "user_data": user,
        }  # fmt: skip
    stamp = f"2026-01-01 00:{n % 60:02d}:00.000000"
    return {
        "family": "game_api", "event_type": "buy_sword", "timestamp": stamp, "user_id": player,
        "user_name": "dirk", "password": "never-lands", "status": "approved_purchase",
        "type": "cutlass", "cost": 50.0,
        "request": {"method": "POST", "path": "/buy/sword", "host": "bench", "accept": "*/*",
                    "user_agent": "bench"},
        "player": {"wealth": 1000.0, "health": 100, "created": stamp,
                   "inventory": ["cutlass", {"item": "charm", "kind": "spell", "qty": 1}],
                   "affiliations": [{"org": "soldiers", "level": "squire", "joined_ts": stamp}]},
    }  # fmt: skip


def sample_bodies(batch: int, count: int, seed: int = 7) -> list[bytes]:
    """`count` JSON bodies of `batch` valid events each, the families mixed evenly."""
    rng = random.Random(seed)
    mixed = (FAMILIES[i % len(FAMILIES)] for i in range(batch * count))
    events = [sample_event(family, rng, n) for n, family in enumerate(mixed)]
    return [orjson.dumps(events[b * batch : (b + 1) * batch]) for b in range(count)]


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int, bootstrap: str, keys_file: Path) -> None:
    """Nothing: runs the collector on the loopback port until terminated."""
    import uvicorn

    from gamelake.collector.app import create_app
    from gamelake.config import project_root
    from gamelake.contracts import load_contracts
    from gamelake.keys import KeyRing, RateLimiter
    from gamelake.producer import REQUEST_SETTINGS, KafkaProducer

    sink = KafkaProducer(bootstrap, "gamelake-collector", REQUEST_SETTINGS)
    contracts = load_contracts(project_root() / "conf" / "contracts")
    # The key is checked on every request as in service; no rate limit, to measure throughput.
    app = create_app(
        contracts, sink, lambda f: TOPIC_PREFIX + f, REJECTS_TOPIC, health_check=sink.check,
        keys=KeyRing(keys_file), rate_limiter=RateLimiter(rate=0),
    )  # fmt: skip
    try:
        uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")
    finally:
        sink.close()


def _cpu_seconds(pid: int) -> float:
    # utime + stime of a child, in clock ticks: how much CPU the server itself burned.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(
    url: str, key: str, bodies: list[bytes], concurrency: int, warmup_s: float, seconds: float
):
    import httpx2

    latencies: list[float] = []
    accepted = 0
    failures: dict[str, int] = {}
    start = time.perf_counter()
    measure_from = start + warmup_s
    stop = measure_from + seconds

    async def worker(n: int, client: Any) -> None:
        nonlocal accepted
        i = n
        while (now := time.perf_counter()) < stop:
            body = bodies[i % len(bodies)]
            i += concurrency
            response = await client.post(
                url,
                content=body,
                headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
            )
            done = time.perf_counter()
            if now < measure_from:
                continue
            latencies.append((done - now) * 1000)
            if response.status_code == 202:
                accepted += response.json()["accepted"]
            else:
                failures[str(response.status_code)] = failures.get(str(response.status_code), 0) + 1

    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(limits=limits, timeout=60) as client:
        await asyncio.gather(*(worker(n, client) for n in range(concurrency)))
    return latencies, accepted, failures, time.perf_counter() - measure_from


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The benchmark's measurements and settings, also written to `args.out`."""
    import httpx2

    from gamelake.config import load_settings
    from gamelake.kafka_io import create_topics
    from gamelake.keys import create_key, key_store_path

    settings = load_settings(args.env)
    bootstrap = settings.kafka.bootstrap_servers
    create_topics(bootstrap, [TOPIC_PREFIX + f for f in FAMILIES] + [REJECTS_TOPIC], 2, 1)
    port = free_port()
    keys_dir = tempfile.TemporaryDirectory(prefix="bench-collector-keys-")
    keys_file = key_store_path(Path(keys_dir.name))
    _, key = create_key(keys_file, "bench")
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.collector", "serve", "--port", str(port),
         "--bootstrap", bootstrap, "--keys-file", str(keys_file)],
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx2.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the collector did not come up on {base}")
            time.sleep(0.3)
        bodies = sample_bodies(args.batch, 50)
        cpu_before = _cpu_seconds(server.pid)
        client_before = time.process_time()
        latencies, accepted, failures, elapsed = asyncio.run(
            _load(f"{base}/v1/events", key, bodies, args.concurrency, args.warmup, args.seconds)
        )
        server_cpu = _cpu_seconds(server.pid) - cpu_before
        client_cpu = time.process_time() - client_before
    finally:
        server.terminate()
        server.wait(timeout=30)
        keys_dir.cleanup()
    result = {
        "benchmark": "collector",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "events_per_s": round(accepted / elapsed, 1),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "meets_target": accepted / elapsed >= TARGET_EVENTS_PER_S,
        "latency_ms": {
            "p50": round(_percentile(latencies, 0.50), 2),
            "p95": round(_percentile(latencies, 0.95), 2),
            "p99": round(_percentile(latencies, 0.99), 2),
            "max": round(max(latencies, default=float("nan")), 2),
            "mean": round(statistics.fmean(latencies), 2) if latencies else None,
        },
        "accepted_events": accepted,
        "requests": len(latencies),
        "failed_requests": failures,
        # CPU seconds per second (warm-up included in the totals): the machine is shared.
        "server_cpu_s_per_s": round(server_cpu / (elapsed + args.warmup), 2),
        "client_cpu_s_per_s": round(client_cpu / (elapsed + args.warmup), 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "settings": {
            "seconds": args.seconds,
            "warmup_s": args.warmup,
            "batch": args.batch,
            "concurrency": args.concurrency,
            "producer": "confluent",
            "producer_conf": "acks=all, idempotent, linger 2 ms, each request waits for its acks",
            "auth": "a collector key checked on every request, no rate limit",
            "server": "uvicorn, 1 process, h11, access log off",
            "families": list(FAMILIES),
            "bootstrap": bootstrap,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.collector", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    srv = sub.add_parser("serve", help="(internal) run the collector under test")
    srv.add_argument("--port", type=int, required=True)
    srv.add_argument("--bootstrap", required=True)
    srv.add_argument("--keys-file", type=Path, required=True)
    parser.add_argument("--env", default="local", help="conf/env profile (Kafka address)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured lead-in")
    parser.add_argument("--batch", type=int, default=100, help="events per request")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.port, args.bootstrap, args.keys_file)
        return
    result = run(args)
    print(json.dumps({k: result[k] for k in ("events_per_s", "requests_per_s", "latency_ms")}))


if __name__ == "__main__":
    main()
