"""Kafka in KRaft mode, run from the Maven jars: one combined broker+controller node, or (when
the profile lists `kafka.broker_ports`) a controller-only node plus one broker-only node per
port, all formatted with one persisted cluster id."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import logging
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

from gamelake.config import KafkaSettings, Settings
from gamelake.errors import GamelakeError
from gamelake.runtime import process
from gamelake.runtime.artifacts import Layout

CONF_HINT = "conf/env/<profile>.yaml (kafka.port / kafka.controller_port / kafka.broker_ports)"
# The controller-only node's id, apart from the brokers' 1..N.
CONTROLLER_ID = 100

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Node:
    """One Kafka process: its name (pid, log and state files), id, roles and own port."""

    name: str
    node_id: int
    roles: str
    port: int

    @property
    def is_broker(self) -> bool:
        return "broker" in self.roles


def is_cluster(k: KafkaSettings) -> bool:
    """True when the profile runs a controller-only node and broker-only nodes."""
    return bool(k.broker_ports)


def nodes(settings: Settings) -> list[Node]:
    """The processes of the embedded Kafka, controller first."""
    k = settings.kafka
    if not is_cluster(k):
        return [Node("kafka", 1, "broker,controller", k.port)]
    brokers = [Node(f"kafka-{i}", i, "broker", port) for i, port in enumerate(k.brokers, 1)]
    return [Node("kafka-ctl", CONTROLLER_ID, "controller", k.controller_port), *brokers]


def kafka_dir(settings: Settings, node: Node | None = None) -> Path:
    """Where a node keeps its config and data (the combined node: <state>/kafka itself)."""
    root = settings.paths.state / "kafka"
    return root if node is None or not is_cluster(settings.kafka) else root / node.name


def handle(settings: Settings, node: Node | None = None) -> process.ServiceHandle:
    """The pid and log of a node (default: the first, the combined node or the controller)."""
    node = node or nodes(settings)[0]
    marker = str(kafka_dir(settings, node) / "server.properties")
    return process.ServiceHandle.named(node.name, settings.paths.run, settings.paths.logs, marker)


def handles(settings: Settings) -> list[process.ServiceHandle]:
    """The handle of every node, controller first."""
    return [handle(settings, n) for n in nodes(settings)]


def _internal_topics(replicas: int, min_isr: int) -> list[str]:
    return [
        f"offsets.topic.replication.factor={replicas}",
        "offsets.topic.num.partitions=4",
        f"transaction.state.log.replication.factor={replicas}",
        f"transaction.state.log.min.isr={min_isr}",
        f"share.coordinator.state.topic.replication.factor={replicas}",
        f"share.coordinator.state.topic.min.isr={min_isr}",
    ]


_THREADS = ["num.network.threads=2", "num.io.threads=2"]
_TAIL = [
    "group.initial.rebalance.delay.ms=0",
    # Topics are created from conf by gamelake; a typo must not create one.
    "auto.create.topics.enable=false",
    *_THREADS,
    "log.retention.hours=168",
    "",
]
_PROTOCOLS = "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"


def server_properties(settings: Settings, node: Node | None = None) -> str:
    """server.properties of a node on loopback (default: the first node)."""
    node = node or nodes(settings)[0]
    if is_cluster(settings.kafka):
        return _cluster_node_properties(settings, node)
    k = settings.kafka
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers={k.host}:{k.controller_port}",
            f"listeners=PLAINTEXT://{k.host}:{k.port},CONTROLLER://{k.host}:{k.controller_port}",
            f"advertised.listeners=PLAINTEXT://{k.host}:{k.port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            _PROTOCOLS,
            f"log.dirs={kafka_dir(settings) / 'data'}",
            f"num.partitions={k.default_partitions}",
            # One node: every internal topic has a single replica.
            *_internal_topics(1, 1),
            *_TAIL,
        ]
    )


def _cluster_node_properties(settings: Settings, node: Node) -> str:
    """server.properties of a controller-only or a broker-only node of the cluster."""
    k = settings.kafka
    listener = f"{'PLAINTEXT' if node.is_broker else 'CONTROLLER'}://{k.host}:{node.port}"
    head = [
        f"process.roles={node.roles}",
        f"node.id={node.node_id}",
        f"controller.quorum.bootstrap.servers={k.host}:{k.controller_port}",
        f"listeners={listener}",
        f"advertised.listeners={listener}",
        "controller.listener.names=CONTROLLER",
        _PROTOCOLS,
        f"log.dirs={kafka_dir(settings, node) / 'data'}",
    ]
    if not node.is_broker:
        return "\n".join([*head, *_THREADS, ""])
    return "\n".join(
        [
            *head,
            "inter.broker.listener.name=PLAINTEXT",
            f"num.partitions={k.default_partitions}",
            f"default.replication.factor={k.replication_factor}",
            f"min.insync.replicas={k.min_insync_replicas}",
            # A replica out of sync never becomes leader: acknowledged records are not lost.
            "unclean.leader.election.enable=false",
            *_internal_topics(k.replication_factor, k.min_insync_replicas),
            *_TAIL,
        ]
    )


LOG4J2 = """\
Configuration:
  name: gamelake-kafka
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: WARN
      - name: kafka.log.LogCleaner
        level: WARN
"""


def _java(
    main_class: str, args: list[str], settings: Settings, heap_mb: int, node_dir: Path
) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise GamelakeError("no `java` on PATH (Kafka needs Java 17+)", fix="install openjdk-17")
    layout = Layout(settings.paths, settings.versions)
    if not any(layout.kafka_jars.glob("*.jar")):
        raise GamelakeError(f"no Kafka jars in {layout.kafka_jars}", fix="run `make setup`")
    return [
        java,
        f"-Xmx{heap_mb}m",
        f"-Xms{min(heap_mb, 128)}m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={node_dir / 'log4j2.yaml'}",
        "-cp",
        f"{layout.kafka_jars}/*",
        main_class,
        *args,
    ]


def _cluster_id() -> str:
    # Kafka's Uuid text form: 16 random bytes, URL-safe base64 without padding.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def cluster_id(settings: Settings) -> str:
    """The id every node of the cluster is formatted with: made once, kept in the state."""
    path = kafka_dir(settings) / "cluster.id"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_cluster_id() + "\n")
    return path.read_text().strip()


def _heap_mb(k: KafkaSettings, node: Node) -> int:
    # A controller-only node holds the metadata log only.
    return k.heap_mb if node.is_broker else min(k.heap_mb, 256)


def prepare(settings: Settings, todo: list[Node] | None = None) -> dict[Node, Path]:
    """Write each node's config and format the storage of those never started (in parallel,
    a JVM each); returns each node's config."""
    todo = nodes(settings) if todo is None else todo
    configs: dict[Node, Path] = {}
    for node in todo:
        ndir = kafka_dir(settings, node)
        ndir.mkdir(parents=True, exist_ok=True)
        configs[node] = ndir / "server.properties"
        configs[node].write_text(server_properties(settings, node))
        (ndir / "log4j2.yaml").write_text(LOG4J2)
    fresh = [n for n in todo if not (kafka_dir(settings, n) / "data" / "meta.properties").is_file()]
    # The combined node keeps a new id per format, as it always did; a cluster shares one.
    cid = cluster_id(settings) if is_cluster(settings.kafka) else _cluster_id()
    runs = []
    for node in fresh:
        # --standalone makes a controller a one-voter quorum; a broker-only node refuses it.
        quorum = ["--standalone"] if "controller" in node.roles else []
        args = ["format", f"--cluster-id={cid}", "-c", str(configs[node]), *quorum]
        cmd = _java("kafka.tools.StorageTool", args, settings, 256, kafka_dir(settings, node))
        runs.append((node, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
    for node, run in runs:
        out, err = run.communicate()
        if run.returncode != 0:
            output = (err or out).decode(errors="replace").strip()[-500:]
            raise GamelakeError(
                f"formatting the storage of Kafka node {node.name} failed: {output}",
                fix=f"remove {kafka_dir(settings, node) / 'data'} if it holds an old node's data",
            )
    return configs


def _accepts_connections(bootstrap_servers: str, timeout_s: float) -> bool:
    """True when some bootstrap server accepts a TCP connection."""
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return True
        except OSError:
            continue
    return False


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """A block in which a logger logs nothing (its own level restored after)."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def is_healthy(bootstrap_servers: str, timeout_ms: int = 3000, brokers: int = 1) -> bool:
    """True when the cluster answers a metadata request listing at least `brokers` live
    (registered, unfenced) brokers."""
    # While the broker starts, refusals are the expected answer and the outcome is this bool:
    # knock on the port first, and keep kafka-python from logging each failed attempt as ERROR.
    if not _accepts_connections(bootstrap_servers, timeout_ms / 1000):
        return False
    with _quiet("kafka"):
        return len(live_brokers(bootstrap_servers, timeout_ms)) >= brokers


def live_brokers(bootstrap_servers: str, timeout_ms: int = 3000) -> list[int]:
    """The ids of the registered, unfenced brokers, as the cluster describes itself (empty
    when no broker answers)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            request_timeout_ms=timeout_ms,
            client_id="gamelake-health",
        )
    except (KafkaError, OSError, ValueError):
        return []
    try:
        described = admin.describe_cluster()
    except (KafkaError, OSError):
        return []
    finally:
        admin.close()
    return sorted(b["broker_id"] for b in described["brokers"] if not b.get("is_fenced"))


def _ports(k: KafkaSettings, node: Node) -> dict[str, int]:
    """The ports a node listens on, by the setting that moves each."""
    if not is_cluster(k):
        return {"kafka.port": k.port, "kafka.controller_port": k.controller_port}
    if not node.is_broker:
        return {"kafka.controller_port": node.port}
    return {f"kafka.broker_ports[{node.node_id - 1}]": node.port}


def start(settings: Settings) -> int:
    """Start every node not running yet (formatted on first start) in the background;
    returns the pid of the first node."""
    k = settings.kafka
    todo = [n for n in nodes(settings) if handle(settings, n).pid() is None]
    for node in todo:
        process.require_free_ports("Kafka", k.host, _ports(k, node), CONF_HINT)
    for node, props in prepare(settings, todo).items():
        cmd = _java("kafka.Kafka", [str(props)], settings, _heap_mb(k, node), props.parent)
        pid = process.start_detached(handle(settings, node), cmd)
        if is_cluster(k):
            log.info("%s (%s) starting, pid %s", node.name, node.roles, pid)
    return handle(settings).pid() or 0


def stop(settings: Settings, grace_s: float = 20.0) -> bool:
    """Stop every node, brokers before the controller they report to; True if any ran."""
    ran = [process.stop(h, grace_s) for h in reversed(handles(settings))]
    return any(ran)
