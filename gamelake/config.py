"""Settings for one environment profile (conf/env/<name>.yaml), resolved to absolute paths.

The profile name (GAMELAKE_ENV) is read once, by the CLI; every other function
takes a `Settings` (or plain values) as arguments.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from gamelake.errors import GamelakeError

DEFAULT_ENV = "local"


def project_root() -> Path:
    """The directory holding conf/, jobs/ and sql/ (the repository root)."""
    return Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Versions:
    spark: str
    delta: str
    kafka: str
    trino: str
    trino_java_min: int


class LakeUri(str):
    """A location on object storage (e.g. s3a://bucket/lake) that joins with `/` like a Path;
    pathlib would collapse its `//`. Profiles of the scale-out stacks put lake and checkpoints
    there; jobs hand locations to Spark as strings either way. It carries the S3 endpoint that
    holds it (`store`, from the profile's `s3:`), so gamelake.lakefs reaches it from the
    location alone."""

    store: S3Settings | None

    def __new__(cls, value: str, store: S3Settings | None = None) -> LakeUri:
        uri = super().__new__(cls, value)
        uri.store = store
        return uri

    def __reduce__(self) -> tuple[type[LakeUri], tuple[str, S3Settings | None]]:
        return LakeUri, (str(self), self.store)

    def __truediv__(self, part: object) -> LakeUri:
        return LakeUri(f"{self.rstrip('/')}/{str(part).strip('/')}", self.store)

    @property
    def name(self) -> str:
        return self.rstrip("/").rsplit("/", 1)[-1]


def _location(root: Path, value: str, store: S3Settings | None = None) -> Path:
    """A profile's path: a URI as given (held by `store`), a relative path resolved against
    the root."""
    if "://" in value:
        return LakeUri(value, store)  # type: ignore[return-value]
    return (root / value).resolve()


@dataclasses.dataclass(frozen=True)
class Paths:
    root: Path
    home: Path
    lake: Path
    state: Path
    # Streams' checkpoints; a cluster keeps them on shared storage (default: <state>/checkpoints).
    checkpoint_root: Path | None = None

    @property
    def jars(self) -> Path:
        return self.home / "jars"

    @property
    def dist(self) -> Path:
        return self.home / "dist"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def checkpoints(self) -> Path:
        return self.checkpoint_root or self.state / "checkpoints"

    @property
    def conf(self) -> Path:
        return self.root / "conf"


@dataclasses.dataclass(frozen=True)
class KafkaSettings:
    embedded: bool
    host: str
    port: int
    controller_port: int
    heap_mb: int
    default_partitions: int
    # A cluster's bootstrap list ("b1:9092,b2:9092"); default: the embedded brokers on host.
    bootstrap: str | None = None
    # The embedded stack as a cluster: one broker-only node per port plus a controller-only
    # node on controller_port (`port` is then unused). Empty: one combined node on `port`.
    broker_ports: tuple[int, ...] = ()
    # Replicas of every topic (internal ones too) and the fewest in sync for a write.
    replication_factor: int = 1
    min_insync_replicas: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "broker_ports", tuple(self.broker_ports))
        ports = self.broker_ports
        if len(set(ports)) < len(ports) or self.controller_port in ports:
            raise GamelakeError(
                f"kafka.broker_ports {list(ports)} repeat a port or kafka.controller_port",
                fix="give each broker and the controller a port of its own",
            )
        # An outside cluster's size is its own; the embedded one's is the ports listed.
        brokers = len(self.brokers) if self.embedded else self.replication_factor
        if not 1 <= self.min_insync_replicas <= self.replication_factor <= brokers:
            raise GamelakeError(
                f"kafka needs 1 <= min_insync_replicas ({self.min_insync_replicas}) <= "
                f"replication_factor ({self.replication_factor}) <= brokers ({brokers})",
                fix="lower them, or list more kafka.broker_ports",
            )

    @property
    def brokers(self) -> tuple[int, ...]:
        """The ports of the embedded brokers."""
        return self.broker_ports or (self.port,)

    @property
    def bootstrap_servers(self) -> str:
        return self.bootstrap or ",".join(f"{self.host}:{p}" for p in self.brokers)


@dataclasses.dataclass(frozen=True)
class SparkClusterSettings:
    """A Spark standalone master and its workers run as local processes (`gamelake up`); the
    master's address is the profile's `spark.master` (spark://127.0.0.1:<port>)."""

    embedded: bool = False
    master_ui_port: int = 18081
    workers: int = 2
    worker_cores: int = 1
    worker_memory: str = "512m"  # what a worker offers its executors
    worker_ui_port_base: int = 18082  # worker i (from 1) serves its UI on base + i - 1
    daemon_memory: str = "256m"  # heap of the master and worker JVMs themselves
    start_timeout_s: int = 120


@dataclasses.dataclass(frozen=True)
class SparkSettings:
    master: str
    driver_memory: str
    shuffle_partitions: int
    ui_enabled: bool
    extra: dict[str, str]
    # The standalone cluster behind a spark:// master when this machine runs it; None: none.
    cluster: SparkClusterSettings | None = None


@dataclasses.dataclass(frozen=True)
class StreamSettings:
    """Upper bounds of one micro-batch (None: no bound), so a backlog is taken in bites the
    driver's memory holds instead of one batch of everything; and streaming gold's cadence."""

    # Kafka records per bronze micro-batch.
    max_offsets_per_trigger: int | None = None
    # Bytes of Delta files per micro-batch of a stream reading Delta (silver, streaming gold),
    # in Spark's size syntax ("16m"); a soft bound: a batch takes at least one file.
    max_bytes_per_trigger: str | None = None
    # How often the streaming gold queries run when streaming, in Spark's interval syntax
    # ("1 minute"); each micro-batch of each of them is a fixed cost beside silver's.
    # None: the streams' own interval (--trigger-interval).
    gold_interval: str | None = None


@dataclasses.dataclass(frozen=True)
class TrinoSettings:
    embedded: bool
    host: str
    port: int
    catalog: str
    user: str
    heap_mb: int
    query_max_memory_mb: int
    start_timeout_s: int
    # Where the server listens (default: `host`); 0.0.0.0 opens it to other machines.
    bind_host: str | None = None
    # The generated passwords, CA certificate and server keys (default: <state>/trino/auth).
    auth_dir: Path | None = None

    @property
    def listen_host(self) -> str:
        return self.bind_host or self.host

    @property
    def url(self) -> str:
        # HTTPS always: Trino checks passwords only on secure requests.
        return f"https://{self.host}:{self.port}"


@dataclasses.dataclass(frozen=True)
class S3Settings:
    """The S3 API endpoint that holds an `s3a://` lake. Credentials are never in a profile:
    every client (S3A, pyarrow, Trino, the embedded s3proxy) takes them from AWS_ACCESS_KEY_ID
    and AWS_SECRET_ACCESS_KEY in its environment."""

    bucket: str
    host: str = "127.0.0.1"
    port: int = 19000
    secure: bool = False  # https to the endpoint
    region: str = "us-east-1"
    path_style: bool = True  # s3proxy/MinIO address buckets by path, not by host name
    # Start s3proxy (Maven Central) as a local process with the embedded stack.
    embedded: bool = False
    heap_mb: int = 256

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.host}:{self.port}"


@dataclasses.dataclass(frozen=True)
class Settings:
    env: str
    paths: Paths
    kafka: KafkaSettings
    spark: SparkSettings
    trino: TrinoSettings
    versions: Versions
    streams: StreamSettings = StreamSettings()
    # Object storage for s3a:// lakes and checkpoints; None: the lake is on a local filesystem.
    s3: S3Settings | None = None


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_profile(env_dir: Path, name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    path = env_dir / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in env_dir.glob("*.yaml"))
        raise GamelakeError(
            f"unknown environment profile {name!r}",
            fix=f"set GAMELAKE_ENV to one of {', '.join(known)} (files in {env_dir})",
        )
    if name in seen:
        raise GamelakeError(f"profile {name!r} extends itself through {' -> '.join(seen)}")
    raw = yaml.safe_load(path.read_text()) or {}
    parent = raw.pop("extends", None)
    if parent:
        return _deep_merge(_read_profile(env_dir, parent, (*seen, name)), raw)
    return raw


def load_versions(pom: Path) -> Versions:
    """Versions of the JVM side, read from the Maven pom's <properties>."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    props = ET.parse(pom).getroot().find("m:properties", ns)
    if props is None:
        raise GamelakeError(f"{pom} has no <properties>")

    def prop(name: str) -> str:
        node = props.find(f"m:{name}", ns)
        if node is None or not (node.text or "").strip():
            raise GamelakeError(f"{pom} lacks the property <{name}>")
        return node.text.strip()

    return Versions(
        spark=prop("spark.version"),
        delta=prop("delta.version"),
        kafka=prop("kafka.version"),
        trino=prop("trino.version"),
        trino_java_min=int(prop("trino.java.min")),
    )


def _trino_raw(trino: dict[str, Any], root: Path, state: Path) -> dict[str, Any]:
    """The profile's trino section with its auth folder resolved (default: under the state)."""
    auth = trino.get("auth_dir")
    return {**trino, "auth_dir": (root / auth).resolve() if auth else state / "trino" / "auth"}


def load_settings(
    env: str = DEFAULT_ENV,
    root: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Settings of profile `env` with relative paths resolved against `root`."""
    root = (root or project_root()).resolve()
    raw = _deep_merge(_read_profile(root / "conf" / "env", env), overrides or {})
    try:
        paths_raw = raw["paths"]
        s3 = S3Settings(**raw["s3"]) if raw.get("s3") else None
        paths = Paths(
            root=root,
            home=(root / paths_raw["home"]).resolve(),
            lake=_location(root, paths_raw["lake"], s3),
            state=(root / paths_raw["state"]).resolve(),
            checkpoint_root=(
                _location(root, paths_raw["checkpoints"], s3)
                if paths_raw.get("checkpoints")
                else None
            ),
        )
        spark_raw = dict(raw["spark"])
        spark_raw["extra"] = {str(k): str(v) for k, v in (spark_raw.get("extra") or {}).items()}
        if spark_raw.get("cluster"):
            spark_raw["cluster"] = SparkClusterSettings(**spark_raw["cluster"])
        return Settings(
            env=raw.get("name", env),
            paths=paths,
            kafka=KafkaSettings(**raw["kafka"]),
            spark=SparkSettings(**spark_raw),
            trino=TrinoSettings(**_trino_raw(raw["trino"], root, paths.state)),
            streams=StreamSettings(**(raw.get("streams") or {})),
            s3=s3,
            versions=load_versions(root / "conf" / "maven" / "pom.xml"),
        )
    except (KeyError, TypeError) as exc:
        raise GamelakeError(
            f"profile {env!r} is incomplete or has an unknown key: {exc}",
            fix=f"compare conf/env/{env}.yaml with conf/env/local.yaml",
        ) from exc
