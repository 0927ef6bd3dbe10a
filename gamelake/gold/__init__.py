"""Gold: business entities and windowed aggregates built from silver.

- `gamelake.gold.batch`: tables rebuilt from silver at any time (atomic Delta overwrite);
  `BUILDERS` names them, `rebuild(spark, lake, names)` rebuilds some or all.
- `gamelake.gold.streaming`: tables kept current by Structured Streaming stages of the
  pipeline job (event time, watermarks, MERGE for updated results, append for final ones).

Both write to <lake>/gold/<table>; Trino serves them as gold.<table>.
"""

GOLD_LAYER = "gold"
