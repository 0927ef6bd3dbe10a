"""gamelake.lakefs on a real S3 API server: the embedded s3proxy (gamelake.runtime.s3) on its
own port and state folder, reached through `s3a://` locations that carry the profile's S3
settings. What the streams, the ledger, reset and register do around Delta works there as on
a local folder: the checkpoint's app-id marker, commit reading with the .crc fallback, table
discovery (which probes `_delta_log` only under folders: s3proxy answers 500 below an object),
checkpoint offsets and a set-aside by rename."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from gamelake import lakefs
from gamelake.config import Settings, load_settings
from gamelake.conventions import find_delta_tables, is_delta_table, table_path
from gamelake.ledger import batch_tag, commit_versions, last_committed_batch
from gamelake.ops import reset
from gamelake.ops.offsets import checkpoint_offsets
from gamelake.runtime import s3
from gamelake.streams import app_born_ms, checkpoint_app_id
from tests.delta_log import ADD, info, write_commit
from tests.integration.s3_store import running_s3proxy

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

PORT = 19410
BUCKET = "gl-lakefs-test"
CREDS = s3.Credentials("lakefs-test-access", "lakefs-test-secret")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Settings:
    """A running s3proxy on PORT with the bucket; the test's clients hold its key pair."""
    state = tmp_path_factory.mktemp("lakefs-s3-state")
    settings = load_settings("test", overrides={
        "paths": {"state": str(state), "lake": f"s3a://{BUCKET}/lake",
                  "checkpoints": f"s3a://{BUCKET}/checkpoints"},
        "s3": {"bucket": BUCKET, "port": PORT, "embedded": True, "heap_mb": 128},
    })  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        # pyarrow's S3 client reads the pair from the environment, like every client here.
        for name, value in CREDS.as_env().items():
            mp.setenv(name, value)
        with running_s3proxy(settings, CREDS):
            yield settings


def _put(location, text: str) -> None:
    assert lakefs.create_if_absent(location, text)


def test_the_locations_carry_the_profiles_store(store):
    assert store.paths.lake.store == store.s3
    assert (table_path(store.paths.lake, "silver", "a")).store == store.s3


def test_tables_are_found_and_their_commits_read_from_object_storage(store):
    lake = store.paths.lake
    a, b = table_path(lake, "silver", "a"), table_path(lake, "silver", "b")
    write_commit(a / "_delta_log", 0, info(1_000, batch_tag("silver.a", 0)), ADD)
    write_commit(a / "_delta_log", 1, info(2_000, batch_tag("silver.x", 9)), ADD)
    write_commit(a / "_delta_log", 2, info(3_000, batch_tag("silver.a", 1)), ADD)
    _put(b / "part-0.parquet", "written, never committed")
    _put(lake / "silver" / "notes.txt", "an object beside the tables, never probed below")
    write_commit(table_path(lake, "gold", "c") / "_delta_log", 0, info(1_000), ADD)
    assert find_delta_tables(lake, ("bronze", "silver", "gold")) == [
        ("gold", "c"),
        ("silver", "a"),
    ]
    assert is_delta_table(a) and not is_delta_table(b)
    assert not is_delta_table(table_path(lake, "silver", "absent"))
    assert commit_versions(a) == [0, 1, 2] and commit_versions(b) == []
    assert last_committed_batch(a, "silver.a") == 1
    assert last_committed_batch(a, "silver.x") == 9
    assert last_committed_batch(a, "silver.y") == -1
    assert last_committed_batch(b, "silver.a") == -1
    with pytest.raises(FileNotFoundError):
        lakefs.read_text(a / "_delta_log" / f"{7:020d}.json")


def test_the_checksum_answers_when_the_commits_are_gone(store):
    t = table_path(store.paths.lake, "silver", "crc")
    write_commit(t / "_delta_log", 30, info(1_000), ADD)
    crc = {"setTransactions": [{"appId": "silver.a", "version": 7, "lastUpdated": 1}]}
    _put(t / "_delta_log" / f"{30:020d}.crc", json.dumps(crc))
    assert last_committed_batch(t, "silver.a") == 7


def test_a_checkpoints_app_id_is_made_once_and_dated(store):
    checkpoint = store.paths.checkpoints / "silver"
    assert app_born_ms(checkpoint) is None
    before = time.time() * 1000
    first = checkpoint_app_id(checkpoint, "silver")
    assert first.startswith("gamelake.silver.")
    assert checkpoint_app_id(checkpoint, "silver") == first  # a restart keeps it
    assert before - 5_000 <= app_born_ms(checkpoint) <= time.time() * 1000 + 5_000


def test_a_checkpoint_is_read_and_set_aside_by_rename(store):
    checkpoint = store.paths.checkpoints / "bronze" / "events"
    assert reset.committed(checkpoint) is None
    for batch, off in ((0, 5), (1, 9), (2, 12)):
        _put(checkpoint / "offsets" / str(batch), f'v1\n{{"bw":0}}\n{{"g.a":{{"0":{off}}}}}\n')
    for batch in (0, 1):
        _put(checkpoint / "commits" / str(batch), "v1\n{}\n")
    assert checkpoint_offsets(checkpoint) == {"g.a": {0: 9}}
    when = dt.datetime(2026, 12, 4, 11, 0, 0, tzinfo=dt.UTC)
    aside = reset.set_aside(checkpoint, when)
    assert aside == f"s3a://{BUCKET}/checkpoints/bronze/events.replaced-20261204T110000Z"
    assert not lakefs.exists(checkpoint)
    assert checkpoint_offsets(aside) == {"g.a": {0: 9}}
    lakefs.delete(aside)
    assert not lakefs.exists(aside) and lakefs.list_dirs(store.paths.checkpoints / "bronze") == []
