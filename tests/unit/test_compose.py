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


def test_object_store_catalog_keeps_the_embedded_catalog_but_not_its_local_disk():
    from gamelake.runtime.trino import lake_catalog_properties

    props = compose.object_store_catalog_properties("b", "http://s3:9000")
    local = lake_catalog_properties(compose.Path("/lake"))
    assert props["connector.name"] == local["connector.name"]
    assert props["delta.register-table-procedure.enabled"] == "true"
    assert "local.location" not in props and props["fs.native-s3.enabled"] == "true"
    assert props["hive.metastore.catalog.dir"].startswith("s3://b/")


def test_images_run_the_versions_the_pom_declares(root, compose_file, settings):
    services = compose_file["services"]
    assert services["trino"]["image"] == f"trinodb/trino:{settings.versions.trino}"
    assert services["kafka"]["image"] == f"apache/kafka:{settings.versions.kafka}"


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
    assert s.kafka.bootstrap_servers == "kafka:9092" and "kafka" in services
    assert s.trino.url == "https://trino:8080" and "trino" in services
    assert s.spark.master == "spark://spark-master:7077" and "spark-master" in services
    assert str(s.paths.lake) == "s3a://gamelake/lake"
    assert s.spark.extra["spark.hadoop.fs.s3a.endpoint"] == "http://minio:9000"


def test_cluster_profile_has_a_bootstrap_list_and_s3a_lake(root):
    s = load_settings("cluster", root)
    assert s.kafka.bootstrap_servers.count(",") == 2
    assert s.spark.master.startswith("spark://")
    assert isinstance(s.paths.lake, LakeUri)
    # Joins keep the scheme: the jobs build table and checkpoint locations with `/`.
    assert str(s.paths.lake / "silver" / "player") == "s3a://example-gamelake/lake/silver/player"
    assert (s.paths.lake / "silver").name == "silver"
    assert str(s.paths.checkpoints / "bronze") == "s3a://example-gamelake/checkpoints/bronze"


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
