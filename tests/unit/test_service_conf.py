"""The generated Kafka and Trino configuration follows the profile."""

from __future__ import annotations

import re

from gamelake.config import load_settings
from gamelake.runtime import kafka, trino


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


def test_kafka_listens_on_the_profile_ports(root, tmp_path):
    s = load_settings("local", root, {"paths": {"state": str(tmp_path)}, "kafka": {"port": 19092}})
    props = _props(kafka.server_properties(s))
    assert (
        props["listeners"]
        == f"PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:{s.kafka.controller_port}"
    )
    assert props["process.roles"] == "broker,controller"
    assert props["log.dirs"] == str(tmp_path / "kafka" / "data")
    assert props["auto.create.topics.enable"] == "false"


def test_kafka_cluster_id_is_kafka_uuid_text():
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", kafka._cluster_id())


def test_trino_memory_fits_inside_the_heap(root):
    for heap in (1024, 2048, 4096):
        s = load_settings("local", root, {"trino": {"heap_mb": heap}})
        files = trino.config_files(s)
        config = _props(files["config.properties"])
        per_node = int(config["query.max-memory-per-node"].removesuffix("MB"))
        headroom = int(config["memory.heap-headroom-per-node"].removesuffix("MB"))
        assert per_node + headroom < heap
        assert f"-Xmx{heap}m" in files["jvm.config"].splitlines()


def test_trino_catalog_reads_the_lake_through_the_local_filesystem(root):
    s = load_settings("local", root)
    catalog = _props(trino.config_files(s)[f"catalog/{s.trino.catalog}.properties"])
    assert catalog["connector.name"] == "delta_lake"
    assert catalog["hive.metastore"] == "file"
    assert catalog["local.location"] == str(s.paths.lake)
    assert catalog["hive.metastore.catalog.dir"].startswith("local:///")
    assert catalog["delta.register-table-procedure.enabled"] == "true"
