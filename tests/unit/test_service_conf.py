"""The generated Kafka and Trino configuration follows the profile."""

from __future__ import annotations

import re

from gamelake.config import load_settings
from gamelake.runtime import kafka, trino, trino_auth
from gamelake.runtime.artifacts import Layout
from gamelake.spark import spark_conf, submit_env


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


def _auth(tmp_path) -> trino_auth.ServerAuth:
    return trino_auth.ServerAuth(tmp_path / "password.db", tmp_path / "keystore.p12",
                                 tmp_path / "trino-cert.pem", "kpw", "secret")  # fmt: skip


def test_local_services_listen_on_loopback_only(root, tmp_path):
    for env in ("local", "test"):
        s = load_settings(env, root, {"paths": {"state": str(tmp_path)}})
        listeners = _props(kafka.server_properties(s))["listeners"]
        assert all(u.split("//")[1].startswith("127.0.0.1:") for u in listeners.split(","))
        files = trino.config_files(s, _auth(tmp_path))
        node, config = _props(files["node.properties"]), _props(files["config.properties"])
        assert node["node.bind-ip"] == "127.0.0.1"  # Airlift binds HTTP(S) here
        assert config["http-server.http.enabled"] == "false"
        assert config["http-server.authentication.type"] == "PASSWORD"
        driver = spark_conf(s, "x")
        assert driver["spark.driver.bindAddress"] == driver["spark.driver.host"] == "127.0.0.1"


def test_a_profile_opens_trino_on_purpose_still_with_passwords(root, tmp_path):
    s = load_settings("local", root, {"trino": {"bind_host": "0.0.0.0"}})
    files = trino.config_files(s, _auth(tmp_path))
    assert _props(files["node.properties"])["node.bind-ip"] == "0.0.0.0"
    config = _props(files["config.properties"])
    assert config["http-server.authentication.type"] == "PASSWORD"
    # Clients and Trino's own calls keep the loopback name the certificate carries.
    assert config["discovery.uri"] == f"https://127.0.0.1:{s.trino.port}"
    auth = _props(files["password-authenticator.properties"])
    assert auth == {"password-authenticator.name": "file",
                    "file.password-file": str(tmp_path / "password.db")}  # fmt: skip


def test_trino_binds_the_address_of_a_host_name(root, tmp_path):
    s = load_settings("local", root, {"trino": {"host": "localhost"}})
    node = _props(trino.config_files(s, _auth(tmp_path))["node.properties"])
    assert node["node.bind-ip"] == "127.0.0.1"  # Airlift takes an IP address only


def test_cluster_spark_driver_is_not_pinned_to_loopback(root, monkeypatch):
    # Its s3a:// lake would want the S3A jars, which only an s3 profile's setup resolves.
    monkeypatch.setattr(Layout, "spark_jar_paths", lambda self, s3a=False: [])
    conf = spark_conf(load_settings("cluster", root), "x")
    assert "spark.driver.bindAddress" not in conf and "spark.driver.host" not in conf


def test_spark_submit_of_a_local_master_takes_loopback_as_its_address(root):
    local, cluster = (load_settings(env, root).spark.master for env in ("local", "cluster"))
    assert submit_env({}, local)["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert "SPARK_LOCAL_IP" not in submit_env({}, cluster)
    assert submit_env({"SPARK_LOCAL_IP": "10.0.0.5"}, local)["SPARK_LOCAL_IP"] == "10.0.0.5"


def test_kafka_cluster_id_is_kafka_uuid_text():
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", kafka._cluster_id())


def test_trino_memory_fits_inside_the_heap(root, tmp_path):
    for heap in (1024, 2048, 4096):
        s = load_settings("local", root, {"trino": {"heap_mb": heap}})
        files = trino.config_files(s, _auth(tmp_path))
        config = _props(files["config.properties"])
        per_node = int(config["query.max-memory-per-node"].removesuffix("MB"))
        headroom = int(config["memory.heap-headroom-per-node"].removesuffix("MB"))
        assert per_node + headroom < heap
        assert f"-Xmx{heap}m" in files["jvm.config"].splitlines()


def test_trino_catalog_reads_the_lake_through_the_local_filesystem(root, tmp_path):
    s = load_settings("local", root)
    catalog = _props(
        trino.config_files(s, _auth(tmp_path))[f"catalog/{s.trino.catalog}.properties"]
    )
    assert catalog["connector.name"] == "delta_lake"
    assert catalog["hive.metastore"] == "file"
    assert catalog["local.location"] == str(s.paths.lake)
    assert catalog["hive.metastore.catalog.dir"].startswith("local:///")
    assert catalog["delta.register-table-procedure.enabled"] == "true"
