"""A single-node Kafka broker in KRaft mode (broker + controller), run from the Maven jars."""

from __future__ import annotations

import base64
import contextlib
import logging
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

from gamelake.config import Settings
from gamelake.errors import GamelakeError
from gamelake.runtime import process
from gamelake.runtime.artifacts import Layout

CONF_HINT = "conf/env/<profile>.yaml (kafka.port / kafka.controller_port)"


def kafka_dir(settings: Settings) -> Path:
    return settings.paths.state / "kafka"


def handle(settings: Settings) -> process.ServiceHandle:
    return process.ServiceHandle(
        name="kafka",
        pid_file=settings.paths.run / "kafka.pid",
        log_file=settings.paths.logs / "kafka.log",
        marker=str(kafka_dir(settings) / "server.properties"),
    )


def server_properties(settings: Settings) -> str:
    """server.properties for a combined broker+controller node on loopback."""
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
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={kafka_dir(settings) / 'data'}",
            f"num.partitions={k.default_partitions}",
            # One node: every internal topic has a single replica.
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            # Topics are created from conf by gamelake; a typo must not create one.
            "auto.create.topics.enable=false",
            "num.network.threads=2",
            "num.io.threads=2",
            "log.retention.hours=168",
            "",
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


def _java(main_class: str, args: list[str], settings: Settings, heap_mb: int) -> list[str]:
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
        f"-Dlog4j2.configurationFile={kafka_dir(settings) / 'log4j2.yaml'}",
        "-cp",
        f"{layout.kafka_jars}/*",
        main_class,
        *args,
    ]


def _cluster_id() -> str:
    # Kafka's Uuid text form: 16 random bytes, URL-safe base64 without padding.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def prepare(settings: Settings) -> Path:
    """Write the broker's config and format its storage on first start; returns the config."""
    kdir = kafka_dir(settings)
    kdir.mkdir(parents=True, exist_ok=True)
    props = kdir / "server.properties"
    props.write_text(server_properties(settings))
    (kdir / "log4j2.yaml").write_text(LOG4J2)
    if not (kdir / "data" / "meta.properties").is_file():
        cmd = _java(
            "kafka.tools.StorageTool",
            ["format", f"--cluster-id={_cluster_id()}", "-c", str(props), "--standalone"],
            settings,
            heap_mb=256,
        )
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip()[-500:]
            raise GamelakeError(
                f"formatting Kafka storage failed: {output}",
                fix=f"remove {kdir / 'data'} if it holds an old broker's data",
            )
    return props


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


def is_healthy(bootstrap_servers: str, timeout_ms: int = 3000) -> bool:
    """True when the broker accepts connections and answers a metadata request."""
    # While the broker starts, refusals are the expected answer and the outcome is this bool:
    # knock on the port first, and keep kafka-python from logging each failed attempt as ERROR.
    if not _accepts_connections(bootstrap_servers, timeout_ms / 1000):
        return False
    with _quiet("kafka"):
        return _answers_metadata(bootstrap_servers, timeout_ms)


def _answers_metadata(bootstrap_servers: str, timeout_ms: int) -> bool:
    """True when a kafka-python admin client gets the cluster's metadata."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            request_timeout_ms=timeout_ms,
            client_id="gamelake-health",
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.describe_cluster()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def start(settings: Settings) -> int:
    """Start the broker in the background (formatted on first start); returns its pid."""
    k = settings.kafka
    process.require_free_ports(
        "Kafka",
        k.host,
        {"kafka.port": k.port, "kafka.controller_port": k.controller_port},
        CONF_HINT,
    )
    props = prepare(settings)
    return process.start_detached(
        handle(settings), _java("kafka.Kafka", [str(props)], settings, heap_mb=k.heap_mb)
    )
