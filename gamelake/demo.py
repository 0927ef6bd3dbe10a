"""`gamelake demo`: the main job end to end on the embedded stack, printed for a person.

up -> topics -> generated game events into Kafka -> bronze, silver and gold (spark-submit
jobs/pipeline.py --once) -> every lake table and view registered in Trino -> a handful of
business questions of sql/queries answered by Trino from gold and silver.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import random
import subprocess

from rich.console import Console

from gamelake import feed, kafka_io, trino_client
from gamelake.config import Settings
from gamelake.contracts import load_contracts
from gamelake.conventions import load_pipeline_conf
from gamelake.display import print_result
from gamelake.errors import GamelakeError
from gamelake.generator import GeneratorOptions, generate, start_ms_ending_at
from gamelake.queries import load_query
from gamelake.runtime import stack
from gamelake.spark import submit_command, submit_env

log = logging.getLogger(__name__)

DEMO_EVENTS = 20_000
# Business questions of sql/queries answered at the end, one per seed and the classic work.
QUESTIONS = (
    "rooms/top_rooms_by_players",
    "combat/kd_ratio_per_player_5m",
    "engagement/where_players_get_stuck",
    "player_state/time_to_first_purchase_and_org_join",
    "leaderboards/team_mvps",
    "classic/abuse_detection",
)
# A question with many rows shows its first ones.
MAX_ROWS = 10


def demo_options(seed: int, now: dt.datetime, events: int = DEMO_EVENTS) -> GeneratorOptions:
    """The demo's generator options: some late, duplicate and malformed records, and event
    times ending by `now`, so that freshness rules judge the demo's data as just made."""
    return GeneratorOptions(
        seed=seed,
        events=events,
        start_ms=start_ms_ending_at(now, events),
        late_fraction=0.02,
        duplicate_fraction=0.03,
        malformed_fraction=0.05,
    )


def run(settings: Settings, console: Console, now: dt.datetime, events: int = DEMO_EVENTS) -> None:
    """Run the demo, its events ending by `now`, printing each step; raises GamelakeError on
    the first failure."""
    pipeline = load_pipeline_conf(settings.paths.conf)
    contracts = load_contracts(settings.paths.conf / "contracts")
    console.rule("1/5 services")
    stack.up(settings)
    kafka_io.ensure_family_topics(settings)

    console.rule(f"2/5 {events} generated game events into Kafka")
    options = demo_options(random.randrange(1 << 30), now, events)
    summary = feed.to_kafka(
        settings.kafka.bootstrap_servers,
        generate(contracts, options),
        {f: pipeline.topic_for(f) for f in contracts},
    )
    log.info(
        "sent %d events (%d duplicates, %d malformed, %d late) in %.1fs; the faulty ones are "
        "on purpose: silver drops, quarantines or warns about them (`dq warn`)",
        summary.records, summary.duplicates, sum(summary.malformed.values()), summary.late,
        summary.seconds,
    )  # fmt: skip

    console.rule("3/5 bronze, silver and gold (spark-submit jobs/pipeline.py --once)")
    cmd = submit_command(settings, "pipeline", ["--once"])
    log.info("$ %s", " ".join(cmd))
    if subprocess.run(cmd, env=submit_env(dict(os.environ), settings.spark.master)).returncode != 0:
        raise GamelakeError("the pipeline job failed", fix="read its output above")

    console.rule("4/5 register lake tables in Trino")
    new = trino_client.register_lake(settings)
    log.info("registered: %s", ", ".join(new) if new else "all tables were registered already")

    console.rule("5/5 business questions answered by Trino (sql/queries)")
    conn = trino_client.connect(settings.trino)
    sql_dir = settings.paths.root / "sql"
    for name in QUESTIONS:
        query = load_query(sql_dir, name)
        result = trino_client.run(conn, query.sql)
        shown = dataclasses.replace(result, rows=result.rows[:MAX_ROWS])
        more = len(result.rows) - len(shown.rows)
        title = f"{name}: {query.question}" + (
            f" (first {MAX_ROWS} of {len(result.rows)})" if more else ""
        )
        print_result(console, shown, title)
    console.print(
        f"[green]demo ok:[/green] {summary.records} events Kafka -> bronze -> silver -> gold -> "
        f"Trino; more questions: `gamelake query --list`, the console: `gamelake sql`"
    )
