"""gamelake.lakefs on a local folder: what the checkpoint marker, the ledger, reset and the
table discovery rely on, for a Path, a plain string and a file:// URI alike."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import pytest

from gamelake import lakefs
from gamelake.config import LakeUri, S3Settings
from gamelake.errors import GamelakeError


@pytest.fixture(params=["path", "str", "file-uri"])
def root(request, tmp_path):
    """The same folder as a Path, a plain string and a file:// URI."""
    return {"path": tmp_path, "str": str(tmp_path), "file-uri": f"file://{tmp_path}"}[request.param]


def at(root, *parts):
    return root / Path(*parts) if isinstance(root, Path) else "/".join([root, *parts])


def test_listing_tells_folders_from_files_and_a_missing_folder_is_empty(root, tmp_path):
    (tmp_path / "layer" / "t1" / "_delta_log").mkdir(parents=True)
    (tmp_path / "layer" / "t2").mkdir()
    (tmp_path / "layer" / "note.txt").write_text("x")
    assert sorted(lakefs.list_names(at(root, "layer"))) == ["note.txt", "t1", "t2"]
    assert sorted(lakefs.list_dirs(at(root, "layer"))) == ["t1", "t2"]
    assert lakefs.list_names(at(root, "absent")) == []
    assert lakefs.list_dirs(at(root, "layer", "note.txt")) == []
    assert lakefs.is_dir(at(root, "layer", "t1", "_delta_log"))
    assert not lakefs.is_dir(at(root, "layer", "note.txt"))
    assert lakefs.exists(at(root, "layer", "note.txt"))
    assert not lakefs.exists(at(root, "layer", "t3"))


def test_a_marker_is_created_once_and_read_back(root):
    lakefs.mkdirs(at(root, "ck", "bronze"))
    marker = at(root, "ck", "bronze", "gamelake_app_id")
    assert lakefs.mtime_ms(marker) is None
    before = time.time() * 1000
    assert lakefs.create_if_absent(marker, "first\n")
    assert not lakefs.create_if_absent(marker, "second\n")
    assert lakefs.read_text(marker) == "first\n"
    assert before - 2000 <= lakefs.mtime_ms(marker) <= time.time() * 1000 + 2000


def test_open_text_reads_lines_lazily_and_a_missing_file_raises(root):
    lakefs.mkdirs(at(root, "log"))
    lakefs.create_if_absent(at(root, "log", "0.json"), "a\nb\nc\n")
    with lakefs.open_text(at(root, "log", "0.json")) as lines:
        assert next(iter(lines)) == "a\n"
    with pytest.raises(FileNotFoundError):
        lakefs.read_text(at(root, "log", "1.json"))


def test_rename_moves_a_folder_and_delete_removes_files_and_folders(root, tmp_path):
    (tmp_path / "ck" / "commits").mkdir(parents=True)
    (tmp_path / "ck" / "commits" / "0").write_text("v1")
    target = lakefs.sibling(at(root, "ck"), "ck.replaced")
    lakefs.rename(at(root, "ck"), target)
    assert (tmp_path / "ck.replaced" / "commits" / "0").read_text() == "v1"
    assert not (tmp_path / "ck").exists()
    lakefs.delete(at(root, "ck.replaced", "commits", "0"))
    assert (tmp_path / "ck.replaced" / "commits").is_dir()
    lakefs.delete(target)
    lakefs.delete(target)  # absent: nothing to do
    assert list(tmp_path.iterdir()) == []


def test_resolved_makes_local_paths_absolute_and_leaves_uris(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lakefs.resolved(Path("lake")) == tmp_path / "lake"
    uri = LakeUri("s3a://bucket/lake")
    assert lakefs.resolved(uri) is uri


STORE = S3Settings(bucket="gamelake", port=19410)


def test_a_uri_carries_its_store_through_joins_siblings_and_pickling():
    table = LakeUri("s3a://gamelake/lake", STORE) / "silver" / "player"
    assert table == "s3a://gamelake/lake/silver/player" and table.store == STORE
    aside = lakefs.sibling(LakeUri("s3a://gamelake/ck/bronze/events/", STORE), "events.old")
    assert aside == "s3a://gamelake/ck/bronze/events.old" and aside.store == STORE
    again = pickle.loads(pickle.dumps(table))
    assert isinstance(again, LakeUri) and again == table and again.store == STORE


def test_object_storage_without_an_endpoint_or_of_another_kind_is_refused():
    with pytest.raises(GamelakeError, match="no S3 endpoint"):
        lakefs.exists(LakeUri("s3a://gamelake/lake"))
    with pytest.raises(GamelakeError, match="no filesystem"):
        lakefs.exists(LakeUri("gs://gamelake/lake", STORE))


def test_a_command_line_location_keeps_a_uri_whole_and_takes_the_profiles_store():
    uri = lakefs.located("s3a://gamelake/lake", STORE)
    assert isinstance(uri, LakeUri) and uri == "s3a://gamelake/lake" and uri.store == STORE
    assert lakefs.located(LakeUri("s3a://gamelake/ck"), STORE).store == STORE
    assert lakefs.located("rel/lake") == Path("rel/lake")
