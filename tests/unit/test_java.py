from __future__ import annotations

from pathlib import Path

import pytest

from gamelake.runtime import java


def _fake_home(base: Path, name: str, version: str) -> Path:
    home = base / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").touch()
    (home / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
    return home


def test_java_major_reads_the_release_file(tmp_path):
    assert java.java_major(_fake_home(tmp_path, "jdk17", "17.0.15")) == 17
    assert java.java_major(_fake_home(tmp_path, "jdk25", "25")) == 25


def test_find_java_home_picks_the_newest_fitting_one(tmp_path):
    homes = [
        _fake_home(tmp_path, "a", "17.0.1"),
        _fake_home(tmp_path, "b", "24.0.2"),
        _fake_home(tmp_path, "c", "25.0.1"),
    ]
    assert java.find_java_home(24, homes) == homes[2]
    assert java.find_java_home(26, homes) is None


def test_candidate_homes_lists_jdks_in_the_given_dirs(tmp_path):
    _fake_home(tmp_path, "jdk-x", "21")
    (tmp_path / "not-a-jdk").mkdir()
    homes = java.candidate_homes([tmp_path])
    assert tmp_path / "jdk-x" in homes
    assert tmp_path / "not-a-jdk" not in homes


def test_missing_java_is_one_error_with_the_fix(monkeypatch):
    monkeypatch.setattr(java, "find_java_home", lambda _min: None)
    with pytest.raises(java.GamelakeError) as err:
        java.require_java_home(99)
    assert "Java 99+" in err.value.cause
    assert "make setup" in err.value.fix
