"""Batch operations beside the streams: backfill and reset from Kafka, gold rebuild, table
maintenance (optimize, vacuum) and the scale-out stack's generated configuration."""
