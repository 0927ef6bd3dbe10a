"""`gamelake generate` (simulated events to Kafka or a record file) and `gamelake produce`
(replay a file's lines to Kafka byte for byte)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.progress import Progress

    from gamelake.config import Settings
    from gamelake.contracts import Contract
    from gamelake.feed import Summary
    from gamelake.generator import GeneratorOptions

log = logging.getLogger("gamelake")


def _progress(total: int | None) -> Progress:
    """A stderr progress bar showing the count and the live rate of events per second."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    from gamelake.display import make_console

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:  # type: ignore[no-untyped-def]
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} events/s" if speed else "- events/s")

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if total else TextColumn("{task.completed:,}"),
        RateColumn(),
        TimeElapsedColumn(),
        console=make_console(stderr=True),
        speed_estimate_period=5.0,
    )


def _parse_start(start: str | None, seeded: bool) -> int:
    """The first event time, epoch ms: --start, else a fixed time for seeded runs, else now."""
    from gamelake.errors import GamelakeError
    from gamelake.generator import DEFAULT_START

    if start is None:
        when = DEFAULT_START if seeded else dt.datetime.now(dt.UTC)
    else:
        try:
            when = dt.datetime.fromisoformat(start)
        except ValueError as exc:
            raise GamelakeError(
                f"--start {start!r} is no ISO 8601 time", fix="e.g. --start 2024-06-01T00:00:00Z"
            ) from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def _log_summary(summary: Summary, where: str) -> None:
    log.info(
        "sent %d records to %s in %.1fs (%.0f events/s)",
        summary.records,
        where,
        summary.seconds,
        summary.rate,
    )
    log.info("per family: %s", ", ".join(f"{f}={n}" for f, n in sorted(summary.per_family.items())))
    malformed = sum(summary.malformed.values())
    kinds = ", ".join(f"{k}={n}" for k, n in sorted(summary.malformed.items()))
    log.info(
        "duplicates: %d, malformed: %d%s, late: %d",
        summary.duplicates,
        malformed,
        f" ({kinds})" if kinds else "",
        summary.late,
    )
    for topic, n in sorted(summary.per_topic.items()):
        log.info("  %s: %d", topic, n)


# Options of `gamelake generate`, declared once here so its signature stays readable.
Events = Annotated[int | None, typer.Option("--events", "-n", help="How many records to send.")]
Duration = Annotated[float | None, typer.Option("--duration", help="Stop after this many seconds.")]
Rate = Annotated[
    float,
    typer.Option("--rate", help="Average events/s, steady with bursts; 0 = as fast as possible."),
]
Seed = Annotated[
    int | None,
    typer.Option("--seed", min=0, help="Same seed and options => byte-identical records."),
]
Families = Annotated[
    str | None,
    typer.Option("--families", help="Comma-separated families (default: all contracts)."),
]
Start = Annotated[
    str | None,
    typer.Option("--start", help="First event time, ISO 8601 (default: fixed when seeded)."),
]
LateFraction = Annotated[
    float, typer.Option("--late-fraction", help="Share of events whose time is minutes behind.")
]
DuplicateFraction = Annotated[
    float,
    typer.Option("--duplicate-fraction", help="Share of exact re-sends of earlier records."),
]
MalformedFraction = Annotated[
    float,
    typer.Option("--malformed-fraction", help="Share of broken or contract-violating records."),
]
Out = Annotated[
    Path | None,
    typer.Option("--out", help="Write a record file (JSONL, see gamelake.record_file) not Kafka."),
]
TopicPrefix = Annotated[
    str | None, typer.Option("--topic-prefix", help="Topic prefix (default: conf/pipeline.yaml's).")
]
Workers = Annotated[
    int,
    typer.Option(
        "--workers",
        min=1,
        help="Processes sending to Kafka, each an independent shard of the world.",
    ),
]


def _check_amounts(events: int | None, duration: float | None, rate: float) -> int | None:
    """How many events to send: --events, None to stop after --duration, else 1000."""
    from gamelake.errors import GamelakeError

    if events is not None and duration is not None:
        raise GamelakeError("both --events and --duration given", fix="give one of them")
    if rate < 0:
        raise GamelakeError(f"--rate is {rate}", fix="give events/s >= 0 (0: unpaced)")
    return 1000 if events is None and duration is None else events


def _family_names(families: str | None) -> tuple[str, ...] | None:
    """The families of a comma-separated --families, None for every family."""
    return tuple(f.strip() for f in families.split(",") if f.strip()) if families else None


@dataclasses.dataclass(frozen=True)
class _Sending:
    """How the records go: by how many processes, how fast, for how long, reporting to whom."""

    workers: int
    rate: float
    duration: float | None
    on_progress: Callable[[int], None]


def _to_file(
    out: Path, contracts: dict[str, Contract], options: GeneratorOptions, sending: _Sending
) -> tuple[Summary, str]:
    """The summary of writing the records to a record file, and where they went."""
    from gamelake import feed, generator
    from gamelake.errors import GamelakeError

    if sending.workers > 1:
        raise GamelakeError("--workers needs Kafka", fix="drop --out or --workers")
    records = generator.generate(contracts, options)
    summary = feed.to_file(out, records, sending.rate, sending.duration, sending.on_progress)
    return summary, str(out)


def _to_kafka(
    settings: Settings,
    families: tuple[str, ...],
    topic_prefix: str | None,
    options: GeneratorOptions,
    sending: _Sending,
) -> tuple[Summary, str]:
    """The summary of sending the records to their families' topics, and where they went."""
    from gamelake import shards
    from gamelake.conventions import load_pipeline_conf
    from gamelake.kafka_io import create_topics

    pipeline = load_pipeline_conf(settings.paths.conf)
    if topic_prefix:
        pipeline = dataclasses.replace(pipeline, topic_prefix=topic_prefix)
    topics = {f: pipeline.topic_for(f) for f in families}
    bootstrap = settings.kafka.bootstrap_servers
    created = create_topics(
        bootstrap,
        topics.values(),
        pipeline.topic_partitions,
        pipeline.topic_retention_hours,
        settings.kafka.replication_factor,
    )
    if created:
        log.info("created topics: %s", ", ".join(created))
    summary = shards.to_kafka_sharded(
        bootstrap, settings.paths.conf / "contracts", options, topics, sending.workers,
        sending.rate, sending.duration, sending.on_progress,
    )  # fmt: skip
    processes = f" from {sending.workers} processes" if sending.workers > 1 else ""
    return summary, f"Kafka at {bootstrap}{processes}"


def generate(
    ctx: typer.Context,
    events: Events = None,
    duration: Duration = None,
    rate: Rate = 0.0,
    seed: Seed = None,
    families: Families = None,
    start: Start = None,
    late_fraction: LateFraction = 0.0,
    duplicate_fraction: DuplicateFraction = 0.0,
    malformed_fraction: MalformedFraction = 0.0,
    out: Out = None,
    topic_prefix: TopicPrefix = None,
    workers: Workers = 1,
) -> None:
    """Simulated game events of every family, to their Kafka topics or to a record file."""
    import random

    from gamelake.contracts import load_contracts
    from gamelake.generator import GeneratorOptions, validate_options

    settings = ctx.obj
    events = _check_amounts(events, duration, rate)
    contracts = load_contracts(settings.paths.conf / "contracts")
    options = GeneratorOptions(
        seed=random.SystemRandom().randrange(2**32) if seed is None else seed,
        events=events,
        families=_family_names(families),
        start_ms=_parse_start(start, seeded=seed is not None),
        late_fraction=late_fraction,
        duplicate_fraction=duplicate_fraction,
        malformed_fraction=malformed_fraction,
    )
    chosen = validate_options(contracts, options)
    log.info("seed %d, families: %s", options.seed, ", ".join(chosen))
    total = events if events is not None else (int(duration * rate) if rate else None)
    with _progress(total) as progress:
        task = progress.add_task("generate", total=total)

        def on_progress(n: int) -> None:
            progress.update(task, completed=n)

        sending = _Sending(workers, rate, duration, on_progress)
        if out is not None:
            summary, where = _to_file(out, contracts, options, sending)
        else:
            summary, where = _to_kafka(settings, chosen, topic_prefix, options, sending)
    _log_summary(summary, where)


def produce(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A JSONL file: record-file lines or raw payloads."),
    topic: str = typer.Option(None, "--topic", help="Send every line to this topic."),
    family: str = typer.Option(None, "--family", help="Send every line to this family's topic."),
    raw: bool = typer.Option(
        False, "--raw", help="Every line is a payload, even one that looks like a wrapper."
    ),
    rejects_topic: str = typer.Option(
        None, "--rejects-topic", help="Where unsendable lines go (default: the pipeline's)."
    ),
) -> None:
    """Send each line of a file to Kafka exactly as it is (record-file lines unwrapped);
    lines no family claims, by name or by shape, go to the pipeline's default topic. A line
    that cannot be sent (over Kafka's message limit, no UTF-8 text, binary) goes to the
    rejects topic, cut and with its reason, and the rest still goes: the summary names it
    and the exit code is 1."""
    import dataclasses

    from gamelake.contracts import load_contracts
    from gamelake.conventions import load_pipeline_conf
    from gamelake.replay import replay_file
    from gamelake.routing import recognisers
    from gamelake.secrets import declared_secrets, load_policy

    settings = ctx.obj
    pipeline = load_pipeline_conf(settings.paths.conf)
    if rejects_topic:
        pipeline = dataclasses.replace(pipeline, rejects_topic=rejects_topic)
    contracts = load_contracts(settings.paths.conf / "contracts")
    policy = load_policy(settings.paths.conf, declared_secrets(contracts))
    result = replay_file(
        settings.kafka.bootstrap_servers, file, pipeline, list(contracts), topic, family, raw,
        redact=policy.redact_text, recognisers=recognisers(contracts),
        replication_factor=settings.kafka.replication_factor,
    )  # fmt: skip
    for name, n in sorted(result.per_topic.items()):
        log.info("  %s: %d", name, n)
    if result.unrouted:
        log.warning(
            "%d lines matched no family, by name or shape: sent to %s (--topic or --family)",
            result.unrouted,
            pipeline.default_topic,
        )
    if result.blank_lines:
        log.info("skipped %d blank lines", result.blank_lines)
    for reject in result.first_rejects:
        log.error("line %d rejected (%s): %s", reject.line_no, reject.reason, reject.message)
    rejected = sum(result.rejected.values())
    if rejected > len(result.first_rejects):
        log.error("... and %d more lines rejected", rejected - len(result.first_rejects))
    why = ", ".join(f"{reason}={n}" for reason, n in sorted(result.rejected.items()))
    log.info(
        "sent %d records from %s (%d unrouted); rejected %d lines%s", result.sent, file,
        result.unrouted, rejected, f" ({why}) to {pipeline.rejects_topic}" if why else "",
    )  # fmt: skip
    if rejected:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(generate)
    app.command()(produce)
