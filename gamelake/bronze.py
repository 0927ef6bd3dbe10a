"""Bronze: every Kafka record as it arrived, with its Kafka coordinates and ingest time."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

REDACTED = "[REDACTED]"
# A JSON string value, or any bare value up to the next delimiter (numbers, true, null).
_JSON_VALUE = r'("(?:[^"\\]|\\.)*"|[^,}\]\s]*)'


def family_of_topic(topic: Column, topic_prefix: str) -> Column:
    """The event family a topic carries: the topic name without the pipeline's prefix."""
    return F.regexp_replace(topic, "^" + re.escape(topic_prefix), "")


def redact_secrets(value: Column, secret_keys: Sequence[str]) -> Column:
    """The payload with the value of every secret key replaced, wherever it appears.

    Works on the raw text, so it also covers records that are not valid JSON; a record
    that mentions no secret key keeps its exact bytes.
    """
    if not secret_keys:
        return value
    text = value.cast("string")
    keys = "|".join(re.escape(k) for k in sorted(set(secret_keys)))
    pattern = rf'("(?:{keys})"\s*:\s*){_JSON_VALUE}'
    mentions = F.lit(False)
    for key in secret_keys:
        mentions = mentions | text.contains(f'"{key}"')
    redacted = F.encode(F.regexp_replace(text, pattern, rf'$1"{REDACTED}"'), "UTF-8")
    return F.when(mentions, redacted).otherwise(value)


def to_bronze(kafka_df: DataFrame, topic_prefix: str, secret_keys: Sequence[str] = ()) -> DataFrame:
    """Bronze rows from Kafka-source rows: raw key/value bytes, coordinates, times, family."""
    ingested_at = F.current_timestamp()
    return kafka_df.select(
        F.col("key").alias("kafka_key"),
        # The payload exactly as produced (even when not JSON or not UTF-8), secrets aside.
        redact_secrets(F.col("value"), secret_keys).alias("value"),
        F.col("topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_ts"),
        ingested_at.alias("ingested_at"),
        family_of_topic(F.col("topic"), topic_prefix).alias("family"),
        F.to_date(ingested_at).alias("ingest_date"),
    )
