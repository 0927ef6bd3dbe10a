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
