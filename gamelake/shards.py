"""A generator run split across worker processes, each generating and sending one shard (an
independent world) of it: the events and the rate are split between them."""

from __future__ import annotations

import dataclasses
import multiprocessing
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gamelake.errors import GamelakeError
from gamelake.feed import Summary, to_kafka
from gamelake.generator import GeneratorOptions, generate


def _shard_worker(
    bootstrap_servers: str,
    contracts_dir: Path,
    options: GeneratorOptions,
    topics: dict[str, str],
    rate: float,
    duration_s: float | None,
    producer_settings: dict[str, str | int | bool] | None,
    progress: Any,
    results: Any,
) -> None:
    from gamelake.contracts import load_contracts

    def on_progress(n: int) -> None:
        progress.value = n

    try:
        records = generate(load_contracts(contracts_dir), options)
        summary = to_kafka(
            bootstrap_servers, records, topics, rate, duration_s, on_progress, producer_settings
        )
        results.put((options.shard, summary, None))
    except Exception as exc:  # reported by the parent, which raises it
        results.put((options.shard, None, str(exc)))


def _shard_options(options: GeneratorOptions, shard: int, workers: int) -> GeneratorOptions:
    """The options of one of `workers` shards: its number and its share of the events."""
    share = None
    if options.events is not None:
        share = options.events // workers + (shard < options.events % workers)
    return dataclasses.replace(options, shard=shard, events=share)


def _gather(
    procs: list[Any],
    results: Any,
    counters: list[Any],
    on_progress: Callable[[int], None] | None,
) -> Summary:
    """The merged summaries the worker processes report; raises when any failed or died."""
    total = Summary()
    errors = []
    pending = len(procs)
    while pending:
        try:
            _, summary, error = results.get(timeout=0.25)
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and results.empty():
                errors.append("a generator process died without a report")
                break
        else:
            pending -= 1
            if error:
                errors.append(error)
            else:
                total.merge(summary)
        if on_progress is not None:
            on_progress(sum(c.value for c in counters))
    for proc in procs:
        proc.join()
    if errors:
        raise GamelakeError(f"generator processes failed: {'; '.join(errors)}")
    return total


def to_kafka_sharded(
    bootstrap_servers: str,
    contracts_dir: Path,
    options: GeneratorOptions,
    topics: dict[str, str],
    workers: int,
    rate: float = 0.0,
    duration_s: float | None = None,
    on_progress: Callable[[int], None] | None = None,
    producer_settings: dict[str, str | int | bool] | None = None,
) -> Summary:
    """Counts of the records `workers` processes sent to Kafka, each generating one shard."""
    from gamelake.contracts import load_contracts

    if workers <= 1:
        records = generate(load_contracts(contracts_dir), options)
        return to_kafka(
            bootstrap_servers, records, topics, rate, duration_s, on_progress, producer_settings
        )
    # Fresh interpreters: librdkafka's threads must not be inherited through fork.
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    counters = [ctx.Value("q", 0, lock=False) for _ in range(workers)]
    procs = []
    started = time.monotonic()
    for shard in range(workers):
        proc = ctx.Process(
            target=_shard_worker,
            args=(
                bootstrap_servers, contracts_dir, _shard_options(options, shard, workers), topics,
                rate / workers, duration_s, producer_settings, counters[shard], results,
            ),
            name=f"gamelake-generator-{shard}",
        )  # fmt: skip
        proc.start()
        procs.append(proc)
    total = _gather(procs, results, counters, on_progress)
    total.seconds = time.monotonic() - started
    return total
