"""The embedded Kafka's nodes follow the profile: one combined node exactly as it always was,
or a controller-only node plus one broker-only node per `kafka.broker_ports` entry."""

from __future__ import annotations

import pytest

from gamelake.config import load_settings
from gamelake.errors import GamelakeError
from gamelake.runtime import kafka, stack

CLUSTER = {"broker_ports": [19430, 19432], "controller_port": 19431,
           "replication_factor": 2, "min_insync_replicas": 1}  # fmt: skip

# The combined node's server.properties before the cluster existed, byte for byte.
LOCAL_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:9093
listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://127.0.0.1:9092
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={state}/kafka/data
num.partitions=2
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=2
log.retention.hours=168
"""


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


def _cluster(root, tmp_path, **kafka_overrides):
    overrides = {"paths": {"state": str(tmp_path)}, "kafka": {**CLUSTER, **kafka_overrides}}
    return load_settings("test", root, overrides)


def test_the_local_profile_runs_one_combined_node_as_before(root, tmp_path):
    for env in ("local", "test"):
        s = load_settings(env, root, {"paths": {"state": str(tmp_path)}})
        assert kafka.nodes(s) == [kafka.Node("kafka", 1, "broker,controller", 9092)]
        assert kafka.server_properties(s) == LOCAL_PROPERTIES.format(state=tmp_path)
        h = kafka.handle(s)
        assert (h.name, h.pid_file, h.log_file) == ("kafka", tmp_path / "run" / "kafka.pid",
                                                    tmp_path / "logs" / "kafka.log")  # fmt: skip
        assert h.marker == str(tmp_path / "kafka" / "server.properties")
        assert kafka.handles(s) == [h]
        assert s.kafka.bootstrap_servers == "127.0.0.1:9092"
        assert s.kafka.replication_factor == 1


def test_a_cluster_is_a_controller_only_node_and_broker_only_nodes(root, tmp_path):
    s = _cluster(root, tmp_path)
    assert [(n.name, n.node_id, n.roles, n.port) for n in kafka.nodes(s)] == [
        ("kafka-ctl", kafka.CONTROLLER_ID, "controller", 19431),
        ("kafka-1", 1, "broker", 19430),
        ("kafka-2", 2, "broker", 19432),
    ]
    assert s.kafka.bootstrap_servers == "127.0.0.1:19430,127.0.0.1:19432"
    controller, *brokers = kafka.nodes(s)
    ctl = _props(kafka.server_properties(s, controller))
    assert ctl["process.roles"] == "controller"
    assert ctl["listeners"] == ctl["advertised.listeners"] == "CONTROLLER://127.0.0.1:19431"
    assert "default.replication.factor" not in ctl
    for node in brokers:
        props = _props(kafka.server_properties(s, node))
        assert props["node.id"] == str(node.node_id)
        assert props["process.roles"] == "broker"
        assert props["listeners"] == f"PLAINTEXT://127.0.0.1:{node.port}"
        assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19431"
        assert props["log.dirs"] == str(tmp_path / "kafka" / node.name / "data")
        replicas = ("default.replication.factor", "offsets.topic.replication.factor",
                    "transaction.state.log.replication.factor",
                    "share.coordinator.state.topic.replication.factor")  # fmt: skip
        assert {props[key] for key in replicas} == {"2"}
        min_isr = ("min.insync.replicas", "transaction.state.log.min.isr",
                   "share.coordinator.state.topic.min.isr")  # fmt: skip
        assert {props[key] for key in min_isr} == {"1"}
        assert props["auto.create.topics.enable"] == "false"


def test_each_node_has_its_own_pid_log_and_state(root, tmp_path):
    s = _cluster(root, tmp_path)
    handles = kafka.handles(s)
    assert [h.pid_file.name for h in handles] == ["kafka-ctl.pid", "kafka-1.pid", "kafka-2.pid"]
    assert len({h.log_file for h in handles}) == len({h.marker for h in handles}) == 3
    # A marker is no prefix of another: each pid file stays with its own process.
    assert not any(a.marker in b.marker for a in handles for b in handles if a is not b)


def test_the_cluster_id_is_made_once_and_kept(root, tmp_path):
    s = _cluster(root, tmp_path)
    first = kafka.cluster_id(s)
    assert kafka.cluster_id(s) == first
    assert (tmp_path / "kafka" / "cluster.id").read_text().strip() == first


def test_status_shows_every_node_of_the_cluster(root, tmp_path):
    rows = [r for r in stack.status(_cluster(root, tmp_path)) if r.name == "kafka"]
    assert [(r.node, r.port, r.state) for r in rows] == [
        ("kafka-ctl", 19431, "stopped"),
        ("kafka-1", 19430, "stopped"),
        ("kafka-2", 19432, "stopped"),
    ]
    local = [r for r in stack.status(load_settings("test", root, {"paths": {"state": str(tmp_path)}}))
             if r.name == "kafka"]  # fmt: skip
    assert [(r.node, r.port) for r in local] == [(None, 9092)]


@pytest.mark.parametrize(
    "overrides",
    [
        {"replication_factor": 3},  # more replicas than brokers
        {"min_insync_replicas": 3},  # more in sync than replicas
        {"broker_ports": [19430, 19430]},
        {"broker_ports": [19430, 19431]},  # the controller's port
    ],
)
def test_a_cluster_that_cannot_hold_its_replicas_is_refused(root, tmp_path, overrides):
    with pytest.raises(GamelakeError):
        _cluster(root, tmp_path, **overrides)


def test_an_outside_cluster_declares_its_own_replication(root):
    s = load_settings("cluster", root, {"kafka": {"replication_factor": 3}})
    assert s.kafka.replication_factor == 3
    assert s.kafka.bootstrap_servers.count(",") == 2


def test_the_cluster_local_profile_runs_two_brokers_beside_the_local_stack(root):
    s = load_settings("cluster-local", root)
    assert [(n.name, n.port) for n in kafka.nodes(s)] == [
        ("kafka-ctl", 19093), ("kafka-1", 19092), ("kafka-2", 19094)
    ]  # fmt: skip
    assert s.kafka.bootstrap_servers == "127.0.0.1:19092,127.0.0.1:19094"
    assert (s.kafka.replication_factor, s.kafka.min_insync_replicas) == (2, 1)
    local = load_settings("local", root).kafka
    assert not {local.port, local.controller_port} & {n.port for n in kafka.nodes(s)}
