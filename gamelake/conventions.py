"""The lake's conventions from conf/pipeline.yaml: topic names, lake layers, table locations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from gamelake import lakefs


@dataclasses.dataclass(frozen=True)
class PipelineConf:
    topic_prefix: str
    topic_pattern: str
    topic_partitions: int
    topic_retention_hours: int
    layers: tuple[str, ...]
    bronze_table: str
    bronze_partition_by: tuple[str, ...]
    # Records no family claims; matches topic_pattern so bronze keeps them too.
    default_topic: str
    # Events the collector refused, with its errors; bronze keeps them, silver quarantines.
    rejects_topic: str
    # The producers' message.max.bytes: a record over it is rejected alone (to the rejects
    # topic), never sent; it stays under the broker's max.message.bytes (1 MiB by default).
    max_record_bytes: int

    def topic_for(self, family: str) -> str:
        return f"{self.topic_prefix}{family}"


def load_pipeline_conf(conf_dir: Path) -> PipelineConf:
    """The pipeline conventions declared in <conf_dir>/pipeline.yaml."""
    raw = yaml.safe_load((conf_dir / "pipeline.yaml").read_text())
    return PipelineConf(
        topic_prefix=raw["topics"]["prefix"],
        topic_pattern=raw["topics"]["pattern"],
        topic_partitions=int(raw["topics"]["partitions"]),
        topic_retention_hours=int(raw["topics"]["retention_hours"]),
        layers=tuple(raw["lake"]["layers"]),
        bronze_table=raw["bronze"]["table"],
        bronze_partition_by=tuple(raw["bronze"]["partition_by"]),
        default_topic=raw["topics"]["default"],
        rejects_topic=raw["topics"]["rejects"],
        max_record_bytes=int(raw["topics"]["max_record_bytes"]),
    )


# The folder of a Delta table's transaction log: a table is there once it holds one.
DELTA_LOG = "_delta_log"


def is_delta_table(path: Path) -> bool:
    """True when a Delta table lives at `path` (its transaction log is there)."""
    return lakefs.is_dir(path / DELTA_LOG)


def table_path(lake: Path, layer: str, table: str) -> Path:
    """Where a Delta table lives in the lake: <lake>/<layer>/<table>."""
    return lake / layer / table


def find_delta_tables(lake: Path, layers: tuple[str, ...]) -> list[tuple[str, str]]:
    """(layer, table) for every Delta table present in the lake, sorted."""
    # Only folders are probed: s3proxy answers 500 to a HEAD below an object (gamelake.lakefs).
    return sorted(
        (layer, name)
        for layer in layers
        for name in lakefs.list_dirs(lake / layer)
        if is_delta_table(lake / layer / name)
    )
