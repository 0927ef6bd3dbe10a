"""Trino's Delta catalog for a local lake and for an s3a:// lake, and where it finds a table."""

from __future__ import annotations

import pytest

from gamelake import trino_client
from gamelake.config import LakeUri, S3Settings, load_settings
from gamelake.errors import GamelakeError
from gamelake.runtime import trino, trino_auth
from gamelake.runtime.trino_catalog import (
    lake_catalog_properties,
    require_aws_env,
    s3_location,
)

S3_LAKE = {"paths": {"lake": "s3a://gamelake/lake"}, "s3": {"bucket": "gamelake", "port": 19440}}


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


@pytest.fixture
def s3_settings(root):
    return load_settings("local", root, S3_LAKE)


def test_s3_lake_catalog_reads_through_native_s3_with_credentials_from_the_environment(
    s3_settings, tmp_path
):
    auth = trino_auth.ServerAuth(tmp_path / "p.db", tmp_path / "k.p12", tmp_path / "c.pem",
                                 "store-pw", "shared")  # fmt: skip
    text = trino.config_files(s3_settings, auth)[f"catalog/{s3_settings.trino.catalog}.properties"]
    catalog = _props(text)
    assert catalog["connector.name"] == "delta_lake"
    assert catalog["fs.native-s3.enabled"] == "true"
    assert catalog["s3.endpoint"] == "http://127.0.0.1:19440"
    assert catalog["s3.region"] == "us-east-1"
    assert catalog["s3.path-style-access"] == "true"
    assert catalog["hive.metastore.catalog.dir"] == "s3://gamelake/lake/_trino_metastore"
    assert catalog["delta.register-table-procedure.enabled"] == "true"
    # No secret in etc/: Trino expands the references from its own environment.
    assert catalog["s3.aws-access-key"] == "${ENV:AWS_ACCESS_KEY_ID}"
    assert catalog["s3.aws-secret-key"] == "${ENV:AWS_SECRET_ACCESS_KEY}"
    assert not any(k.startswith(("local.", "fs.native-local")) for k in catalog)


def test_s3_catalog_keeps_every_setting_of_the_local_one_but_its_filesystem(tmp_path):
    local = lake_catalog_properties(tmp_path)
    s3 = lake_catalog_properties(LakeUri("s3a://b/x/lake"), S3Settings(bucket="b"))
    fs_keys = {"fs.native-local.enabled", "local.location", "hive.metastore.catalog.dir"}
    assert {k: v for k, v in local.items() if k not in fs_keys}.items() <= s3.items()


def test_s3_catalog_follows_the_profiles_endpoint():
    store = S3Settings(bucket="b", host="s3.example", port=443, secure=True, path_style=False,
                       region="eu-west-1")  # fmt: skip
    props = lake_catalog_properties("s3a://b/lake", store)
    assert props["s3.endpoint"] == "https://s3.example:443"
    assert props["s3.path-style-access"] == "false"
    assert props["s3.region"] == "eu-west-1"


def test_a_lake_uri_brings_its_own_store(s3_settings):
    lake = s3_settings.paths.lake / "_tests" / "x"  # e.g. a test's private lake
    assert lake_catalog_properties(lake) == lake_catalog_properties(lake, s3_settings.s3)
    assert lake_catalog_properties(lake)["hive.metastore.catalog.dir"] == (
        "s3://gamelake/lake/_tests/x/_trino_metastore"
    )


def test_s3_lake_needs_the_profiles_s3_section_for_its_bucket():
    with pytest.raises(GamelakeError, match="is missing"):
        lake_catalog_properties("s3a://gamelake/lake")
    with pytest.raises(GamelakeError, match="'other'"):
        lake_catalog_properties("s3a://gamelake/lake", S3Settings(bucket="other"))


def test_local_lake_catalog_is_unchanged_by_an_s3_section(tmp_path):
    assert lake_catalog_properties(tmp_path, S3Settings(bucket="b")) == lake_catalog_properties(
        tmp_path
    )


def test_s3_location_maps_hadoop_schemes_to_trinos():
    assert s3_location("s3a://b/lake/silver/t") == "s3://b/lake/silver/t"
    assert s3_location("s3://b/k") == "s3://b/k"
    with pytest.raises(GamelakeError):
        s3_location("/tmp/lake")


def test_trino_location_of_a_table_in_an_s3_lake(s3_settings):
    lake = s3_settings.paths.lake
    assert trino_client.trino_location(lake, lake / "silver" / "player") == (
        "s3://gamelake/lake/silver/player"
    )


def test_trino_location_of_a_table_in_a_local_lake(tmp_path):
    lake = tmp_path / "lake"
    assert trino_client.trino_location(lake, lake / "gold" / "t") == "local:///gold/t"


def test_starting_on_an_s3_lake_needs_aws_credentials_in_the_environment(tmp_path):
    with pytest.raises(GamelakeError, match="AWS_SECRET_ACCESS_KEY") as info:
        require_aws_env("s3a://b/lake", {"AWS_ACCESS_KEY_ID": "k"})
    assert "export" in info.value.fix
    require_aws_env("s3a://b/lake", {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"})
    require_aws_env(tmp_path, {})  # a local lake needs none


class _Conn:
    """Records the statements create_lake_catalog sends."""

    def __init__(self):
        self.sql: list[str] = []

    def cursor(self):
        return self

    def execute(self, sql):
        self.sql.append(sql)

    def fetchall(self):
        return []

    description = None


def test_create_lake_catalog_on_s3_makes_no_local_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    conn = _Conn()
    trino_client.create_lake_catalog(conn, "t1", LakeUri("s3a://b/lake"), S3Settings(bucket="b"))
    assert list(tmp_path.iterdir()) == []
    [sql] = conn.sql
    assert sql.startswith("create catalog t1 using delta_lake with (")
    assert "\"s3.aws-access-key\" = '${ENV:AWS_ACCESS_KEY_ID}'" in sql
    assert "\"hive.metastore.catalog.dir\" = 's3://b/lake/_trino_metastore'" in sql


def test_trino_catalog_command_prints_the_profiles_catalog_file(root):
    from typer.testing import CliRunner

    from gamelake.cli import app
    from gamelake.runtime.trino_catalog import catalog_properties

    result = CliRunner().invoke(app, ["--env", "cluster", "trino", "catalog"])
    assert result.exit_code == 0, result.output
    s = load_settings("cluster", root)
    assert result.output == catalog_properties(s.paths.lake, s.s3)
    assert "fs.native-s3.enabled=true" in result.output
