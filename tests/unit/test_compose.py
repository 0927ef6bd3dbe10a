"""The docker-compose stack and the docker/cluster profiles: valid, consistent with the
embedded stack, and loadable by gamelake.config. No Docker engine is needed."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from gamelake.config import LakeUri, load_settings
from gamelake.ops import compose


@pytest.fixture(scope="module")
def compose_file(root):
    return compose.load_compose(root / "docker-compose.yml")


def test_docker_compose_validates_the_file(root):
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is missing: scripts/ensure-prereqs.sh installs it (make setup)"
    proc = subprocess.run(
        [exe, "-f", str(root / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_every_mounted_project_path_exists(root, compose_file):
    assert compose.bind_mount_sources(compose_file)  # the check is not vacuous
    assert compose.missing_mounts(compose_file, root) == []
    conf_mounts = [s for _, s in compose.bind_mount_sources(compose_file) if "conf" in s]
    assert "./conf" in conf_mounts


def test_missing_mounts_are_reported(tmp_path):
    spec = {"services": {"x": {"volumes": ["./conf/nope.yaml:/x:ro", "named:/data"]}}}
    assert compose.missing_mounts(spec, tmp_path) == ["x: ./conf/nope.yaml"]


def test_generated_trino_conf_is_current(root):
    """docker/trino is derived from the embedded stack's catalog and access rules."""
    for rel, content in compose.generated_files(root / "conf").items():
        assert (root / rel).read_text() == content, (
            f"{rel} is stale: python -m gamelake.ops.compose"
        )


def test_stack_catalog_is_the_embedded_catalog_of_the_docker_profiles_s3_lake(root):
    from gamelake.runtime.trino_catalog import lake_catalog_properties

    props = compose.stack_catalog_properties(root)
    docker = load_settings(compose.PROFILE, root)
    assert props == lake_catalog_properties(docker.paths.lake, docker.s3)
    local = lake_catalog_properties(compose.Path("/lake"))
    assert props["connector.name"] == local["connector.name"]
    assert "local.location" not in props and props["fs.native-s3.enabled"] == "true"
    assert props["s3.endpoint"] == "http://minio:9000"
    assert props["hive.metastore.catalog.dir"] == "s3://gamelake/lake/_trino_metastore"


def _env(service) -> dict[str, str]:
    """A service's environment with compose's `${VAR:-default}` taken at its default."""
    env = service.get("environment") or {}
    return {k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()}


def test_docker_profiles_object_store_is_the_compose_minio(root, compose_file):
    s3 = load_settings(compose.PROFILE, root).s3
    services = compose_file["services"]
    assert s3 is not None and s3.host in services and not s3.embedded
    # The bucket the lake lives in is the one minio-init creates, at the profile's endpoint.
    init = " ".join(services["minio-init"]["command"])
    assert f"mc alias set lake {s3.endpoint} " in init
    assert f"mc mb --ignore-existing lake/{s3.bucket}" in init
    assert f":{s3.port}/" in " ".join(services["minio"]["healthcheck"]["test"])
    # Every client of the lake signs with MinIO's root credentials.
    minio = _env(services["minio"])
    keys = {"AWS_ACCESS_KEY_ID": minio["MINIO_ROOT_USER"],
            "AWS_SECRET_ACCESS_KEY": minio["MINIO_ROOT_PASSWORD"]}  # fmt: skip
    clients = [
        n for n, svc in services.items() if "AWS_ACCESS_KEY_ID" in (svc.get("environment") or {})
    ]
    assert {"trino", "pipeline", "spark-worker", "jupyter"} <= set(clients)
    for name in clients:
        assert _env(services[name]).items() >= keys.items(), name


def test_images_run_the_versions_the_pom_declares(root, compose_file, settings):
    services = compose_file["services"]
    assert services["trino"]["image"] == f"trinodb/trino:{settings.versions.trino}"
    assert compose.kafka_nodes(compose_file)
    for name in compose.kafka_nodes(compose_file):
        assert services[name]["image"] == f"apache/kafka:{settings.versions.kafka}", name


def test_gamelake_services_select_the_docker_profile(compose_file):
    ours = [n for n, s in compose_file["services"].items() if s.get("image") == "gamelake:local"]
    assert {"spark-master", "spark-worker", "pipeline", "collector", "jupyter"} <= set(ours)
    for name in ours:
        assert compose_file["services"][name]["environment"]["GAMELAKE_ENV"] == "docker", name


def test_dockerfile_copies_paths_that_exist(root):
    text = (root / "docker" / "Dockerfile").read_text()
    sources = [s for line in re.findall(r"^COPY (.+) \S+$", text, re.M) for s in line.split()]
    assert sources and all((root / s).exists() for s in sources), sources


def test_docker_profile_points_at_the_compose_services(root, compose_file):
    s = load_settings("docker", root)
    services = compose_file["services"]
    assert {b.split(":")[0] for b in s.kafka.bootstrap_servers.split(",")} <= set(services)
    assert s.trino.url == "https://trino:8080" and "trino" in services
    assert s.spark.master == "spark://spark-master:7077" and "spark-master" in services
    assert str(s.paths.lake) == "s3a://gamelake/lake"
    assert s.s3 is not None and s.s3.endpoint == "http://minio:9000"


def test_cluster_profile_has_a_bootstrap_list_and_s3a_lake(root):
    s = load_settings("cluster", root)
    assert s.kafka.bootstrap_servers.count(",") == 2
    # A replica per broker at most, and one broker may stop without refusing writes.
    assert s.kafka.min_insync_replicas < s.kafka.replication_factor <= 3
    assert s.spark.master.startswith("spark://")
    assert isinstance(s.paths.lake, LakeUri)
    # Joins keep the scheme: the jobs build table and checkpoint locations with `/`.
    assert str(s.paths.lake / "silver" / "player") == "s3a://example-gamelake/lake/silver/player"
    assert (s.paths.lake / "silver").name == "silver"
    assert str(s.paths.checkpoints / "bronze") == "s3a://example-gamelake/checkpoints/bronze"


# Broker settings that decide whether a record survives a broker's loss.
REPLICATION_KEYS = ("replication.factor", ".min.isr", "min.insync.replicas",
                    "unclean.leader.election.enable")  # fmt: skip


def test_compose_kafka_is_the_tested_cluster_with_the_docker_profiles_settings(root, compose_file):
    """As many brokers as cluster-local runs, a controller apart, and every replication setting
    its brokers get; the docker profile's bootstrap list and replication are the same."""
    from gamelake.runtime import kafka

    tested, docker = load_settings("cluster-local", root), load_settings(compose.PROFILE, root)
    nodes = compose.kafka_nodes(compose_file)
    brokers = {n: p for n, p in nodes.items() if p["process.roles"] == "broker"}
    [(ctl_name, ctl)] = [(n, p) for n, p in nodes.items() if p["process.roles"] == "controller"]
    assert len(brokers) == len(tested.kafka.brokers)
    k, t = docker.kafka, tested.kafka
    assert (k.replication_factor, k.min_insync_replicas) == (
        t.replication_factor, t.min_insync_replicas)  # fmt: skip

    broker_node = next(n for n in kafka.nodes(tested) if n.is_broker)
    expected = {
        key: value
        for key, value in _props(kafka.server_properties(tested, broker_node)).items()
        if key.endswith(REPLICATION_KEYS)
    }
    assert len(expected) >= 6, expected  # the check is not vacuous
    for name, props in brokers.items():
        assert {key: props.get(key) for key in expected} == expected, name
        assert props["num.partitions"] == str(k.default_partitions), name
    advertised = {
        listener.removeprefix("PLAINTEXT://")
        for props in brokers.values()
        for listener in props["advertised.listeners"].split(",")
        if listener.startswith("PLAINTEXT://")
    }
    assert advertised == set(k.bootstrap_servers.split(","))
    # One cluster: the same id and controller quorum on every node, node ids apart.
    ctl_port = ctl["listeners"].rsplit(":", 1)[1]
    assert {p["controller.quorum.voters"] for p in nodes.values()} == {
        f"{ctl['node.id']}@{ctl_name}:{ctl_port}"
    }
    assert len({p["node.id"] for p in nodes.values()}) == len(nodes)
    ids = {compose_file["services"][n]["environment"]["CLUSTER_ID"] for n in nodes}
    assert len(ids) == 1 and re.fullmatch(r"[A-Za-z0-9_-]{22}", ids.pop())


# The tested scale-out profile (make test-cluster) and the untested ones derived like it.
S3_PROFILES = ("cluster-local", "docker", "cluster")
CREDENTIALS = "spark.hadoop.fs.s3a.aws.credentials.provider"
# Both read AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY first; the default chain then tries an
# instance role (a real cluster's choice).
ENV_PROVIDERS = {
    f"software.amazon.awssdk.auth.credentials.{name}CredentialsProvider"
    for name in ("EnvironmentVariable", "Default")
}


@pytest.mark.parametrize("env", S3_PROFILES)
def test_spark_s3a_keys_come_from_the_profiles_s3_section(root, env, monkeypatch):
    """A hand-set fs.s3a.* key that disagrees with `s3:` (or a missing `s3:`) fails here."""
    from gamelake.runtime.artifacts import Layout
    from gamelake.spark import s3a_conf, spark_conf

    monkeypatch.setattr(Layout, "spark_jar_paths", lambda self, s3a=False: [])
    s = load_settings(env, root)
    assert s.s3 is not None, f"conf/env/{env}.yaml: an s3a:// lake needs an `s3:` section"
    conf = spark_conf(s, "x")
    for key, value in s3a_conf(s.s3).items():
        if key == CREDENTIALS:
            assert conf[key] in ENV_PROVIDERS, (env, key)
        else:
            assert conf[key] == value, (env, key)


@pytest.mark.parametrize("env", S3_PROFILES)
def test_trino_catalog_of_each_s3_profile_reads_its_lake_on_its_store(root, env):
    from gamelake.runtime.trino_catalog import lake_catalog_properties

    s = load_settings(env, root)
    props = lake_catalog_properties(s.paths.lake, s.s3)  # raises on a bucket mismatch
    assert props["s3.endpoint"] == s.s3.endpoint
    assert props["hive.metastore.catalog.dir"].startswith(f"s3://{s.s3.bucket}/")
    assert str(s.paths.checkpoints).startswith(f"s3a://{s.s3.bucket}/"), env


def test_image_resolves_the_jar_profiles_of_the_docker_profile(root):
    """The image's jars are the pom profiles `gamelake setup` resolves for the docker profile,
    by the same code (no version pinned outside the pom)."""
    from gamelake.runtime.artifacts import optional_profiles

    docker = load_settings(compose.PROFILE, root)
    text = (root / "docker" / "Dockerfile").read_text()
    expected = ("spark", *optional_profiles(docker))
    assert compose.image_jar_profiles(text) == [(compose.PROFILE, expected)]
    assert "-Dartifact=" not in text and "mvn " not in text


def test_local_profile_keeps_local_paths(root):
    s = load_settings("local", root)
    assert s.paths.checkpoints == s.paths.state / "checkpoints"
    assert not isinstance(s.paths.lake, LakeUri)


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


def test_compose_trino_checks_passwords_as_the_embedded_one(root, compose_file, tmp_path):
    from gamelake.runtime.trino_auth import ServerAuth, server_properties

    auth = ServerAuth(tmp_path / "password.db", tmp_path / "keystore.p12",
                      tmp_path / "trino-cert.pem", "store-pw", "shared")  # fmt: skip
    props = _props(compose.coordinator_config(auth))
    embedded = server_properties(auth, compose.TRINO_PORT, compose.TRINO_HOST)
    # Same keys and values, only the files are where the image sees them.
    assert props.keys() >= embedded.keys()
    for key, value in embedded.items():
        assert props[key] == value.replace(str(tmp_path), str(compose.IMAGE_AUTH)), key
    assert props["http-server.authentication.type"] == "PASSWORD"
    assert props["http-server.http.enabled"] == "false"

    trino = compose_file["services"]["trino"]
    assert f"--config={compose.IMAGE_AUTH}/config.properties" in trino["command"]
    assert f"trino-auth:{compose.IMAGE_AUTH}:ro" in trino["volumes"]
    authenticator = _props((root / "docker/trino/password-authenticator.properties").read_text())
    assert authenticator["file.password-file"] == f"{compose.IMAGE_AUTH}/password.db"
    # Clients of the docker profile read their passwords where the volume is mounted.
    auth_dir = load_settings("docker", root).trino.auth_dir.relative_to(root)
    for name in ("trino-auth", "pipeline", "jupyter"):
        mounts = [v.split(":")[:2] for v in compose_file["services"][name]["volumes"]]
        assert ["trino-auth", f"/opt/gamelake/{auth_dir}"] in mounts, name


def test_compose_publishes_ports_on_the_host_loopback_only(compose_file):
    published = [
        (name, port)
        for name, service in compose_file["services"].items()
        for port in service.get("ports") or ()
    ]
    assert published
    assert all(str(port).startswith("127.0.0.1:") for _, port in published), published
    jupyter = compose_file["services"]["jupyter"]["command"]
    assert not any(arg.startswith("--ServerApp.token=") for arg in jupyter), "token disabled"
