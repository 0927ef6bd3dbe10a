"""Bronze: every Kafka record as it arrived, with its Kafka coordinates and ingest time."""

from __future__ import annotations

import functools
import re

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from gamelake.secrets import SecretPolicy

# The columns that place a bronze row in Kafka: one record, one place.
KAFKA_COORDINATES = ("topic", "kafka_partition", "kafka_offset")


def family_of_topic(topic: Column, topic_prefix: str) -> Column:
    """The event family a topic carries: the topic name without the pipeline's prefix."""
    return F.regexp_replace(topic, "^" + re.escape(topic_prefix), "")


def redact_secrets(value: Column, secrets: SecretPolicy | None) -> Column:
    """The payload with the value of every secret key masked, wherever it appears.

    Works on the raw text, so it also covers records that are not valid JSON; a record
    that mentions no secret key keeps its exact bytes. The JSON kind survives (see
    conf/secrets.yaml) so silver can still refuse a secret of the wrong type.
    """
    if secrets is None:
        return value
    text = value.cast("string")
    redacted = text
    for pattern, replacement in secrets.replacements("java"):
        redacted = F.regexp_replace(redacted, pattern, replacement)
    # Plain substring tests first: the regex costs ~15 us a record, most records need none.
    lower = F.lower(text)
    hinted = F.lit(False)
    for parts in secrets.hints:
        hinted = hinted | functools.reduce(Column.__and__, [lower.contains(p) for p in parts])
    mentions = hinted & text.rlike(secrets.key_regex("java"))
    return F.when(mentions, F.encode(redacted, "UTF-8")).otherwise(value)


def to_bronze(
    kafka_df: DataFrame, topic_prefix: str, secrets: SecretPolicy | None = None
) -> DataFrame:
    """Bronze rows from Kafka-source rows: raw key/value bytes, coordinates, times, family."""
    ingested_at = F.current_timestamp()
    return kafka_df.select(
        F.col("key").alias("kafka_key"),
        # The payload exactly as produced (even when not JSON or not UTF-8), secrets aside.
        redact_secrets(F.col("value"), secrets).alias("value"),
        F.col("topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_ts"),
        ingested_at.alias("ingested_at"),
        family_of_topic(F.col("topic"), topic_prefix).alias("family"),
        F.to_date(ingested_at).alias("ingest_date"),
    )
