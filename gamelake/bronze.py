"""Bronze: every Kafka record as it arrived, with its Kafka coordinates and ingest time."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

REDACTED = "[REDACTED]"
# A JSON string value, or any bare token up to the next delimiter that is not a number or a
# literal (text of a broken record, say).
_TEXT_VALUE = r'("(?:[^"\\]|\\.)*"|(?![-0-9]|true|false|null)[^,}\]\s]*)'
_NUMBER_VALUE = r"-?[0-9][^,}\]\s]*"


def family_of_topic(topic: Column, topic_prefix: str) -> Column:
    """The event family a topic carries: the topic name without the pipeline's prefix."""
    return F.regexp_replace(topic, "^" + re.escape(topic_prefix), "")


def redact_secrets(value: Column, secret_keys: Sequence[str]) -> Column:
    """The payload with the value of every secret key replaced, wherever it appears.

    Works on the raw text, so it also covers records that are not valid JSON; a record
    that mentions no secret key keeps its exact bytes. The JSON kind survives (text becomes
    "[REDACTED]", a number 0, literals stay) so silver can still refuse a secret of the
    wrong type.
    """
    if not secret_keys:
        return value
    text = value.cast("string")
    keys = "|".join(re.escape(k) for k in sorted(set(secret_keys)))
    key = rf'(?<key>"(?:{keys})"\s*:\s*)'
    mentions = F.lit(False)
    for name in secret_keys:
        mentions = mentions | text.contains(f'"{name}"')
    as_text = F.regexp_replace(text, key + _TEXT_VALUE, rf'${{key}}"{REDACTED}"')
    redacted = F.regexp_replace(as_text, key + _NUMBER_VALUE, "${key}0")
    return F.when(mentions, F.encode(redacted, "UTF-8")).otherwise(value)


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
