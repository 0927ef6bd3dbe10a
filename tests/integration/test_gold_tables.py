"""The default `--once` pipeline of the shared lake produced every gold table, and Trino
serves each one (registration included the gold layer and the views)."""

from __future__ import annotations

import pytest

from gamelake import trino_client
from gamelake.conventions import table_path
from gamelake.gold.batch import BUILDERS
from gamelake.gold.streaming import GOLD_STREAMS

pytestmark = pytest.mark.integration

GOLD_TABLES = sorted([*BUILDERS, *GOLD_STREAMS])


@pytest.mark.parametrize("table", GOLD_TABLES)
def test_gold_table_is_in_the_lake_and_in_trino(lake_run, table):
    assert (table_path(lake_run.lake, "gold", table) / "_delta_log").is_dir()
    rows = trino_client.run(lake_run.conn, f"select count(*) from gold.{table}").rows[0][0]
    assert rows > 0, f"gold.{table} is empty"


def test_windowed_gold_has_one_row_per_key(lake_run):
    # MERGE, not append: a window updated by several micro-batches stays one row.
    for name, stream in GOLD_STREAMS.items():
        if stream.keys is None:
            continue
        keys = ", ".join(stream.keys)
        dupes = trino_client.run(
            lake_run.conn,
            f"select count(*) from (select {keys} from gold.{name} group by {keys} "
            f"having count(*) > 1)",
        ).rows[0][0]
        assert dupes == 0, f"gold.{name} repeats keys"
