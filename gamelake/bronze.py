"""Bronze: every Kafka record as it arrived, with its Kafka coordinates and ingest time."""

from __future__ import annotations

import re

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def family_of_topic(topic: Column, topic_prefix: str) -> Column:
    """The event family a topic carries: the topic name without the pipeline's prefix."""
    return F.regexp_replace(topic, "^" + re.escape(topic_prefix), "")


def to_bronze(kafka_df: DataFrame, topic_prefix: str) -> DataFrame:
    """Bronze rows from Kafka-source rows: raw key/value bytes, coordinates, times, family."""
    ingested_at = F.current_timestamp()
    return kafka_df.select(
        F.col("key").alias("kafka_key"),
        # The payload exactly as produced, even when it is not valid JSON or UTF-8.
        F.col("value").alias("value"),
        F.col("topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_ts"),
        ingested_at.alias("ingested_at"),
        family_of_topic(F.col("topic"), topic_prefix).alias("family"),
        F.to_date(ingested_at).alias("ingest_date"),
    )
