from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from gamelake.runtime import artifacts
from gamelake.runtime.artifacts import _unpack_trino, artifact_name, jars_not_provided


@pytest.mark.parametrize(
    ("jar", "name"),
    [
        ("kafka-clients-3.9.2.jar", "kafka-clients"),
        ("delta-spark_4.2_2.13-4.4.0.jar", "delta-spark_4.2_2.13"),
        ("zstd-jni-1.5.7-3.jar", "zstd-jni"),
        ("scala-parallel-collections_2.13-1.2.0.jar", "scala-parallel-collections_2.13"),
        ("not-a-versioned.jar", None),
    ],
)
def test_artifact_name(jar, name):
    assert artifact_name(jar) == name


def test_jars_already_in_pyspark_are_not_copied_whatever_their_version(tmp_path):
    provided = tmp_path / "pyspark-jars"
    provided.mkdir()
    (provided / "jackson-core-2.21.2.jar").touch()
    candidates = [tmp_path / n for n in ("jackson-core-2.13.5.jar", "kafka-clients-3.9.2.jar")]
    assert jars_not_provided(candidates, provided) == [tmp_path / "kafka-clients-3.9.2.jar"]


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None, link: str | None = None):
    info = tarfile.TarInfo(name)
    if link is not None:
        info.type, info.linkname = tarfile.LNKTYPE, link
        tar.addfile(info)
    elif data is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    else:
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))


def test_unpack_keeps_chosen_plugins_and_resolves_links_into_skipped_ones(tmp_path, monkeypatch):
    top = "trino-server-1"
    tarball = tmp_path / "t.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        _add(tar, f"{top}/lib/core.jar", b"core")
        _add(tar, f"{top}/bin/launcher", b"#!/bin/sh")
        # The jar is stored once under a plugin we skip; ours only links to it.
        _add(tar, f"{top}/plugin/hive/shared.jar", b"shared")
        _add(tar, f"{top}/plugin/delta-lake/shared.jar", link=f"{top}/plugin/hive/shared.jar")
        _add(tar, f"{top}/plugin/delta-lake/core.jar", link=f"{top}/lib/core.jar")
        _add(tar, f"{top}/plugin/delta-lake/own.jar", b"own")
        _add(tar, f"{top}/plugin/mysql/mysql.jar", b"mysql")
    monkeypatch.setattr(artifacts, "TRINO_PLUGINS", ("delta-lake",))
    dest = tmp_path / "dist" / top
    dest.parent.mkdir()
    _unpack_trino(tarball, dest)

    files = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert files == {
        "lib/core.jar": b"core",
        "bin/launcher": b"#!/bin/sh",
        "plugin/delta-lake/shared.jar": b"shared",
        "plugin/delta-lake/core.jar": b"core",
        "plugin/delta-lake/own.jar": b"own",
    }
    assert not Path(str(dest) + ".new").exists()


def test_only_profiles_with_an_object_store_need_the_optional_jars(root):
    from gamelake.config import load_settings

    def optional(overrides):
        return artifacts.optional_profiles(load_settings("local", root, overrides))

    s3a_lake = {"paths": {"lake": "s3a://b/lake"}}
    assert optional({}) == ()
    assert optional(s3a_lake) == ("s3a",)
    assert optional({"s3": {"bucket": "b"}}) == ("s3a",)
    assert optional({**s3a_lake, "s3": {"bucket": "b", "embedded": True}}) == ("s3a", "s3proxy")


def _fake_layout(tmp_path, monkeypatch, resolved: dict[str, list[str]]):
    """A Layout under tmp_path whose Maven 'resolves' the named jar files per profile."""
    from gamelake.config import Paths, Versions

    def fake_mvn(pom, profile, goal, out_dir):
        out_dir.mkdir(parents=True)
        for name in resolved[profile]:
            (out_dir / name).touch()

    monkeypatch.setattr(artifacts, "_mvn", fake_mvn)
    pyspark = tmp_path / "pyspark-jars"
    pyspark.mkdir()
    (pyspark / "netty-common-4.2.13.Final.jar").touch()
    monkeypatch.setattr(artifacts, "pyspark_jars_dir", lambda: pyspark)
    paths = Paths(root=tmp_path, home=tmp_path / "home", lake=tmp_path, state=tmp_path)
    return artifacts.Layout(paths, Versions("4.2.0", "4.4.0", "4.3.1", "476", 24))


def test_s3a_jars_keep_one_copy_of_what_pyspark_and_the_spark_profile_have(tmp_path, monkeypatch):
    layout = _fake_layout(tmp_path, monkeypatch, {
        "spark": ["delta-spark-4.4.0.jar", "commons-logging-1.3.0.jar"],
        "s3a": ["hadoop-aws-3.5.0.jar", "commons-logging-1.2.jar", "netty-common-4.1.126.Final.jar"],
    })  # fmt: skip
    layout.paths.jars.mkdir(parents=True)
    artifacts.install_jars(layout, "spark", tmp_path / "t", progress=lambda m: None)
    artifacts.install_jars(layout, "s3a", tmp_path / "t", progress=lambda m: None)
    assert [p.name for p in layout.s3a_jars.glob("*.jar")] == ["hadoop-aws-3.5.0.jar"]


def test_optional_profiles_resolve_once_and_leave_the_core_alone(tmp_path, monkeypatch):
    layout = _fake_layout(tmp_path, monkeypatch, {"s3proxy": ["s3proxy-4.1.0.jar"]})
    (tmp_path / "conf" / "maven").mkdir(parents=True)
    layout.pom.write_text("<project/>")
    cores = []
    monkeypatch.setattr(artifacts, "_install_core", lambda *a: cores.append(1) or {})
    monkeypatch.setattr(artifacts, "is_installed", lambda lay, optional=(): not optional and cores)
    artifacts.install_artifacts(layout, progress=lambda m: None)
    assert cores == [1]
    timings = artifacts.install_artifacts(layout, progress=lambda m: None, optional=["s3proxy"])
    assert cores == [1] and list(timings) == ["s3proxy_jars_s"]
    assert (layout.s3proxy_jars / "s3proxy-4.1.0.jar").is_file()
    assert artifacts._read_stamp(layout)["optional"] == ["s3proxy"]


def test_gamelake_jvm_code_is_compiled_once_into_a_jar_named_by_its_sources(tmp_path):
    import zipfile

    from gamelake.config import Paths, Versions
    from gamelake.errors import GamelakeError

    paths = Paths(root=tmp_path, home=tmp_path / "home", lake=tmp_path, state=tmp_path)
    layout = artifacts.Layout(paths, Versions("4.2.0", "4.4.0", "4.3.1", "476", 24))
    layout.spark_jars.mkdir(parents=True)
    (layout.spark_jars / "delta-spark-4.4.0.jar").touch()
    with pytest.raises(GamelakeError, match="is not built"):
        layout.spark_jar_paths()
    stale = layout.jvm_code_jar.with_name("gamelake-jvm-000000000000.jar")
    stale.parent.mkdir(parents=True)
    stale.touch()

    assert list(artifacts.build_jvm_code(layout, progress=lambda m: None)) == ["gamelake_jvm_s"]
    with zipfile.ZipFile(layout.jvm_code_jar) as jar:
        assert "gamelake/jvm/RecordInspector.class" in jar.namelist()
    assert not stale.exists()
    assert layout.spark_jar_paths()[-1] == layout.jvm_code_jar
    assert artifacts.build_jvm_code(layout, progress=lambda m: None) == {}
