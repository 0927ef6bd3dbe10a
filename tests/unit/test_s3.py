"""The object store of an s3a:// lake: the embedded s3proxy's configuration and credentials,
and the S3A keys and jars Spark gets only when the lake or the checkpoints are on it."""

from __future__ import annotations

import stat

import pytest

from gamelake.config import S3Settings, load_settings
from gamelake.errors import GamelakeError
from gamelake.runtime import s3, stack
from gamelake.runtime.artifacts import Layout
from gamelake.spark import s3a_conf, spark_conf

CREDS = s3.Credentials("ak", "sk")
S3A_LAKE = {"paths": {"lake": "s3a://b/lake", "checkpoints": "s3a://b/checkpoints"}}


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_s3proxy_serves_a_directory_path_style_with_signed_requests_on_loopback(tmp_path):
    props = _props(s3.proxy_properties(S3Settings(bucket="b", host="localhost", port=19401),
                                       tmp_path / "data", CREDS))  # fmt: skip
    assert props == {
        "s3proxy.endpoint": "http://127.0.0.1:19401",
        "s3proxy.authorization": "aws-v2-or-v4",
        "s3proxy.identity": "ak",
        "s3proxy.credential": "sk",
        "s3proxy.ignore-unknown-headers": "true",
        "jclouds.provider": "filesystem-nio2",
        "jclouds.filesystem.basedir": str(tmp_path / "data"),
    }
    assert "s3proxy.virtual-host" not in props  # path-style


def test_embedded_s3proxy_refuses_https_it_cannot_serve(tmp_path):
    with pytest.raises(GamelakeError, match=r"s3\.secure"):
        s3.proxy_properties(S3Settings(bucket="b", secure=True), tmp_path, CREDS)


def test_prepare_writes_private_config_logging_and_the_bucket(root, tmp_path):
    s = load_settings("local", root, {"paths": {"state": str(tmp_path)}, "s3": {"bucket": "lk"}})
    props = s3.prepare(s, CREDS)
    assert props == tmp_path / "s3proxy" / "s3proxy.conf"
    assert stat.S_IMODE(props.stat().st_mode) == 0o600  # it holds the secret
    assert (tmp_path / "s3proxy" / "data" / "lk").is_dir()
    logback = (tmp_path / "s3proxy" / "logback.xml").read_text()
    assert '<root level="WARN">' in logback and 'name="org.gaul.s3proxy" level="INFO"' in logback


def test_s3proxy_command_has_its_heap_logging_and_pid_marker(root, tmp_path, monkeypatch):
    monkeypatch.setattr(Layout, "s3proxy_jars", property(lambda self: tmp_path / "jars"))
    s = load_settings("local", root, {"paths": {"state": str(tmp_path)},
                                      "s3": {"bucket": "b", "heap_mb": 200}})  # fmt: skip
    with pytest.raises(GamelakeError, match="no s3proxy jars"):
        s3.command(s, tmp_path / "p.conf")
    (tmp_path / "jars").mkdir()
    (tmp_path / "jars" / "s3proxy-4.1.0.jar").touch()
    cmd = s3.command(s, tmp_path / "s3proxy" / "s3proxy.conf")
    assert "-Xmx200m" in cmd and f"{tmp_path / 'jars'}/*" in cmd
    assert f"-Dlogback.configurationFile={tmp_path / 's3proxy' / 'logback.xml'}" in cmd
    assert cmd[-3:] == ["org.gaul.s3proxy.Main", "--properties", s3.handle(s).marker]


@pytest.mark.parametrize(
    ("env", "embedded", "expected"),
    [
        ({"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}, False, s3.Credentials("a", "b")),
        ({"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}, True, s3.Credentials("a", "b")),
        ({}, True, s3.TEST_CREDENTIALS),
    ],
)
def test_credentials_come_from_the_environment_or_the_embedded_test_pair(env, embedded, expected):
    assert s3.credentials(env, S3Settings(bucket="b", embedded=embedded)) == expected


@pytest.mark.parametrize("env", [{}, {"AWS_ACCESS_KEY_ID": "a"}])
def test_a_real_store_without_a_full_pair_is_an_error(env):
    with pytest.raises(GamelakeError, match="AWS_SECRET_ACCESS_KEY"):
        s3.credentials(env, S3Settings(bucket="b", embedded=False))


def test_a_half_set_pair_is_an_error_even_for_the_embedded_store():
    with pytest.raises(GamelakeError):
        s3.credentials({"AWS_SECRET_ACCESS_KEY": "x"}, S3Settings(bucket="b", embedded=True))


def test_secret_stays_out_of_reprs():
    assert "sk" not in repr(CREDS)
    assert CREDS.as_env() == {"AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk"}


def test_stack_runs_s3proxy_only_for_an_embedded_store(root):
    def names(overrides):
        return [svc.name for svc in stack.services(load_settings("local", root, overrides))]

    assert "s3proxy" not in names({})
    assert "s3proxy" not in names({"s3": {"bucket": "b", "embedded": False}})
    assert names({"s3": {"bucket": "b", "embedded": True}})[0] == "s3proxy"  # stops last


def _fake_jars(monkeypatch, tmp_path):
    """spark.jars of Layout read from three fake folders (spark, gamelake, s3a) under tmp_path."""
    for folder, jar in (
        ("spark", "delta-spark-4.4.0.jar"),
        ("gamelake", "gamelake-jvm-0.jar"),
        ("s3a", "hadoop-aws-3.5.0.jar"),
    ):
        (tmp_path / "jars" / folder).mkdir(parents=True)
        (tmp_path / "jars" / folder / jar).touch()
    monkeypatch.setattr(Layout, "spark_jars", property(lambda self: tmp_path / "jars" / "spark"))
    monkeypatch.setattr(
        Layout,
        "jvm_code_jar",
        property(lambda self: tmp_path / "jars" / "gamelake" / "gamelake-jvm-0.jar"),
    )
    monkeypatch.setattr(Layout, "s3a_jars", property(lambda self: tmp_path / "jars" / "s3a"))


def test_local_lake_gets_neither_s3a_jars_nor_keys(root, tmp_path, monkeypatch):
    _fake_jars(monkeypatch, tmp_path)
    conf = spark_conf(load_settings("local", root, {"s3": {"bucket": "b"}}), "x")
    assert conf["spark.jars"].split(",") == [
        str(tmp_path / "jars" / "spark" / "delta-spark-4.4.0.jar"),
        str(tmp_path / "jars" / "gamelake" / "gamelake-jvm-0.jar"),
    ]
    assert not any(k.startswith("spark.hadoop.fs.s3a.") for k in conf)


def test_s3a_lake_gets_the_s3a_jars_and_keys_of_its_store(root, tmp_path, monkeypatch):
    _fake_jars(monkeypatch, tmp_path)
    s = load_settings("local", root, {**S3A_LAKE, "s3": {"bucket": "b", "port": 19402}})
    conf = spark_conf(s, "x")
    assert conf["spark.jars"].split(",") == [
        str(tmp_path / "jars" / "spark" / "delta-spark-4.4.0.jar"),
        str(tmp_path / "jars" / "gamelake" / "gamelake-jvm-0.jar"),
        str(tmp_path / "jars" / "s3a" / "hadoop-aws-3.5.0.jar"),
    ]
    assert {k: v for k, v in conf.items() if k.startswith("spark.hadoop.fs.s3a.")} == {
        "spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:19402",
        "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider"
        ),
    }


def test_checkpoints_alone_on_s3a_need_the_jars_too(root, tmp_path, monkeypatch):
    _fake_jars(monkeypatch, tmp_path)
    s = load_settings(
        "local", root, {"paths": {"checkpoints": "s3a://b/ck"}, "s3": {"bucket": "b"}}
    )
    assert "hadoop-aws-3.5.0.jar" in spark_conf(s, "x")["spark.jars"]


def test_spark_extra_overrides_a_derived_s3a_key(root, tmp_path, monkeypatch):
    _fake_jars(monkeypatch, tmp_path)
    key = "spark.hadoop.fs.s3a.endpoint"
    s = load_settings("local", root, {**S3A_LAKE, "s3": {"bucket": "b"},
                                      "spark": {"extra": {key: "http://elsewhere:9000"}}})  # fmt: skip
    assert spark_conf(s, "x")[key] == "http://elsewhere:9000"
    assert s3a_conf(s.s3)[key] == "http://127.0.0.1:19000"


def test_s3a_lake_without_the_s3a_jars_says_to_run_setup(root, tmp_path, monkeypatch):
    _fake_jars(monkeypatch, tmp_path)
    (tmp_path / "jars" / "s3a" / "hadoop-aws-3.5.0.jar").unlink()
    with pytest.raises(GamelakeError, match="no S3A jars") as err:
        spark_conf(load_settings("local", root, {**S3A_LAKE, "s3": {"bucket": "b"}}), "x")
    assert "gamelake setup" in err.value.fix
