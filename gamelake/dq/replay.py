"""Quarantine replay: re-validate quarantined records after a contract or rule fix, and move
those that now pass into silver exactly once.

The records are re-read from bronze at their Kafka place (topic, partition, offset), so they
go through exactly the silver transforms the stream uses (with_event_id, parse_family, the
gate's row rules, to_silver / to_children), called here as a library. Exactly once:
- a row is appended to silver only if its event_id is not there yet (a crash between the
  silver append and the quarantine delete, or a second run, adds nothing);
- the quarantine rows whose record is now in silver are deleted (one Delta MERGE per family).
Running it twice changes nothing the second time.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from gamelake.bronze import KAFKA_COORDINATES
from gamelake.contracts import Contract
from gamelake.conventions import is_delta_table, table_path
from gamelake.dq.gate import SilverGate
from gamelake.io import delta_append
from gamelake.silver import (
    QUARANTINE_TABLE,
    is_valid,
    parse_family,
    partition_columns,
    table_properties,
    to_tables,
    with_event_id,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ReplayOutcome:
    """Per family: quarantined records looked at, moved to silver, still failing."""

    family: str
    candidates: int
    promoted: int
    still_failing: int


def quarantined(spark: SparkSession, lake: Path, rule: str | None, family: str | None) -> DataFrame:
    """ops.quarantine rows, optionally those of one family / failing one rule."""
    q = spark.read.format("delta").load(str(table_path(lake, "ops", QUARANTINE_TABLE)))
    if family:
        q = q.where(F.col("family") == family)
    if rule:
        q = q.where(F.array_contains("rules", rule))
    return q


def _append_new(
    df: DataFrame, path: Path, partition_by: tuple[str, ...], properties: Mapping[str, str]
) -> int:
    """Append the rows of `df` whose event_id the table lacks (key: event_id [+ position])."""
    keys = ["event_id", "position"] if "position" in df.columns else ["event_id"]
    if is_delta_table(path):
        have = df.sparkSession.read.format("delta").load(str(path)).select(*keys)
        df = df.join(have, keys, "left_anti")
    df = df.persist()
    try:
        n = df.count()
        if n:
            delta_append(df, partition_by, **properties).save(str(path))
        return n
    finally:
        df.unpersist()


def replay(
    spark: SparkSession,
    lake: Path,
    bronze_path: Path,
    contracts: Mapping[str, Contract],
    gate: SilverGate,
    rule: str | None = None,
    family: str | None = None,
    zorder: Mapping[str, Sequence[str]] | None = None,
) -> list[ReplayOutcome]:
    """Move the quarantined records (of `family`, failing `rule`) that now pass into silver
    (a silver table created here keeps statistics on its `zorder` columns)."""
    from delta.tables import DeltaTable

    q_path = table_path(lake, "ops", QUARANTINE_TABLE)
    if not is_delta_table(q_path):
        return []
    candidates = quarantined(spark, lake, rule, family).where(F.col("family").isin(list(contracts)))
    places = candidates.select("family", *KAFKA_COORDINATES).distinct().persist()
    outcomes = []
    try:
        per_family = {r["family"]: r["count"] for r in places.groupBy("family").count().collect()}
        bronze = spark.read.format("delta").load(str(bronze_path))
        records = with_event_id(
            bronze.join(places, ["family", *KAFKA_COORDINATES], "left_semi"), contracts
        )
        for fam, n in sorted(per_family.items()):
            contract = contracts[fam]
            parsed = gate.rows(parse_family(records, contract), contract).persist()
            try:
                # Fail-rules judge the replayed rows as a batch, as they would in the stream.
                gate.check(spark, int(time.time()), {fam: parsed}, contracts)
                passing = parsed.where(is_valid())
                for table, out in to_tables(parsed, contract).items():
                    partition_by = partition_columns(table, contract)
                    added = _append_new(
                        out, table_path(lake, "silver", table), partition_by,
                        table_properties(table, contract, zorder),
                    )  # fmt: skip
                    log.info("replay %s: %d rows appended to silver.%s", fam, added, table)
                moved = passing.select(F.lit(fam).alias("family"), *KAFKA_COORDINATES).persist()
                promoted = moved.count()
                if promoted:
                    cond = " and ".join(f"q.{c} = m.{c}" for c in ("family", *KAFKA_COORDINATES))
                    (
                        DeltaTable.forPath(spark, str(q_path))
                        .alias("q")
                        .merge(moved.alias("m"), cond)
                        .whenMatchedDelete()
                        .execute()
                    )
                moved.unpersist()
            finally:
                parsed.unpersist()
            outcomes.append(ReplayOutcome(fam, n, promoted, n - promoted))
    finally:
        places.unpersist()
    return outcomes
