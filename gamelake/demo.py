"""`gamelake demo`: the main job end to end on the embedded stack, printed for a person.

up -> topics -> generated game events into Kafka -> bronze and silver (spark-submit, --once)
-> every lake table registered in Trino -> a few questions answered from silver by Trino.
"""

from __future__ import annotations

import logging
import os
import random
import subprocess

from rich.console import Console

from gamelake import kafka_io, sinks, trino_client
from gamelake.config import Settings
from gamelake.contracts import load_contracts
from gamelake.display import print_result
from gamelake.errors import GamelakeError
from gamelake.generator import GeneratorOptions, generate
from gamelake.pipeline import load_pipeline_conf
from gamelake.runtime import stack
from gamelake.spark import submit_command, submit_env

log = logging.getLogger(__name__)

DEMO_EVENTS = 20_000
# (title, query) shown at the end; {c} is the catalog.
QUESTIONS = (
    (
        "events per family in silver, and what quarantine caught",
        """
        with silver as (
            select family, count(*) as events from {c}.silver.telemetry group by 1
            union all select family, count(*) from {c}.silver.player_action group by 1
            union all select family, count(*) from {c}.silver.transaction group by 1
            union all select family, count(*) from {c}.silver.game_api group by 1
            union all select family, count(*) from {c}.silver.user_score group by 1
        ),
        quarantined as (
            select family, count(*) as quarantined from {c}.ops.quarantine group by 1
        )
        select s.family, s.events, coalesce(q.quarantined, 0) as quarantined
        from silver as s left join quarantined as q on s.family = q.family
        order by s.family
        """,
    ),
    (
        "kills, deaths and K/D per player (top 5 by kills)",
        """
        select player_id,
               count_if(event_type = 'kill') as kills,
               count_if(event_type = 'death') as deaths,
               round(cast(count_if(event_type = 'kill') as double)
                     / nullif(count_if(event_type = 'death'), 0), 2) as kd_ratio
        from {c}.silver.telemetry
        group by player_id
        order by kills desc, player_id
        limit 5
        """,
    ),
    (
        "purchases and refunds by item type (USD)",
        """
        select item_type, transaction_type, count(*) as transactions, sum(amount) as amount
        from {c}.silver.transaction
        where currency = 'USD'
        group by 1, 2
        order by 1, 2
        """,
    ),
    (
        "top 5 teams by total score",
        """
        select team_id, sum(score) as total_score, count(distinct user_id) as players
        from {c}.silver.user_score
        group by team_id
        order by total_score desc
        limit 5
        """,
    ),
)


def run(settings: Settings, console: Console, events: int = DEMO_EVENTS) -> None:
    """Run the demo, printing each step; raises GamelakeError on the first failure."""
    pipeline = load_pipeline_conf(settings.paths.conf)
    contracts = load_contracts(settings.paths.conf / "contracts")
    console.rule("1/5 services")
    stack.up(settings)
    kafka_io.ensure_family_topics(settings)

    console.rule(f"2/5 {events} generated game events into Kafka")
    options = GeneratorOptions(
        seed=random.randrange(1 << 30),
        events=events,
        late_fraction=0.02,
        duplicate_fraction=0.03,
        malformed_fraction=0.05,
    )
    summary = sinks.to_kafka(
        settings.kafka.bootstrap_servers,
        generate(contracts, options),
        {f: pipeline.topic_for(f) for f in contracts},
    )
    log.info(
        "sent %d events (%d duplicates, %d malformed, %d late) in %.1fs",
        summary.records, summary.duplicates, sum(summary.malformed.values()), summary.late,
        summary.seconds,
    )  # fmt: skip

    console.rule("3/5 bronze and silver (spark-submit jobs/pipeline.py --once)")
    cmd = submit_command(settings, "pipeline", ["--once"])
    log.info("$ %s", " ".join(cmd))
    if subprocess.run(cmd, env=submit_env(dict(os.environ))).returncode != 0:
        raise GamelakeError("the pipeline job failed", fix="read its output above")

    console.rule("4/5 register lake tables in Trino")
    new = trino_client.register_lake(settings)
    log.info("registered: %s", ", ".join(new) if new else "all tables were registered already")

    console.rule("5/5 questions answered by Trino from silver")
    conn = trino_client.connect(settings.trino)
    for title, sql in QUESTIONS:
        print_result(console, trino_client.run(conn, sql.format(c=settings.trino.catalog)), title)
    console.print(
        f"[green]demo ok:[/green] {summary.records} events Kafka -> bronze -> silver -> Trino; "
        f"open the console with `gamelake sql`"
    )
