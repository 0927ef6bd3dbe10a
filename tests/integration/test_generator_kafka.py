"""Generator and `produce` against the real broker: every record arrives, byte for byte, in its
family's topic and a key's partition. Each test writes to topics of its own (a unique prefix),
so data other tests or people put in the shared topics cannot disturb the counts."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict

import pytest
from kafka import KafkaConsumer
from kafka.partitioner.default import murmur2

from gamelake import feed, kafka_io, record_file, replay
from gamelake.contracts import load_contracts
from gamelake.conventions import load_pipeline_conf
from gamelake.generator import GeneratorOptions, generate
from gamelake.routing import recognisers
from gamelake.secrets import declared_secrets, load_policy
from tests.samples import EXAMPLES

pytestmark = pytest.mark.integration


def read_back(bootstrap: str, topics: list[str], expected: int, timeout_s: float = 60.0):
    """Every record of the topics, from the beginning, once `expected` have arrived."""
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    records = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


@pytest.fixture
def run_prefix(services):
    """A topic prefix unique to this test; its topics are deleted afterwards (they match
    bronze's pattern, and test data has no place in a lake others read)."""
    prefix = f"gamelake.test_{uuid.uuid4().hex[:10]}."
    yield prefix
    kafka_io.delete_topics_with_prefix(services.kafka.bootstrap_servers, prefix)


@pytest.fixture
def run_pipeline(services, run_prefix):
    """The pipeline conventions with topics unique to this test."""
    pipeline = load_pipeline_conf(services.paths.conf)
    return dataclasses.replace(
        pipeline,
        topic_prefix=run_prefix,
        default_topic=f"{run_prefix}_unrouted",
        topic_retention_hours=1,
    )


def test_generated_records_land_in_their_family_topics_by_key(services, run_pipeline):
    bootstrap = services.kafka.bootstrap_servers
    contracts = load_contracts(services.paths.conf / "contracts")
    families = ("telemetry", "game_api", "player_action", "transaction")
    topics = {f: run_pipeline.topic_for(f) for f in families}
    kafka_io.create_topics(bootstrap, topics.values(), 2, 1)
    before = kafka_io.end_offsets(bootstrap, topics.values())
    options = GeneratorOptions(
        seed=11, events=3000, families=families, duplicate_fraction=0.03, malformed_fraction=0.05
    )
    expected = list(generate(contracts, options))

    summary = feed.to_kafka(bootstrap, generate(contracts, options), topics)

    after = kafka_io.end_offsets(bootstrap, topics.values())
    grown = {t: sum(after[t].values()) - sum(before[t].values()) for t in topics.values()}
    want = Counter(topics[r.family] for r in expected)
    assert grown == dict(want) == dict(summary.per_topic)
    assert (
        summary.records == 3000 and summary.duplicates > 0 and sum(summary.malformed.values()) > 0
    )

    got = read_back(bootstrap, list(topics.values()), len(expected))
    by_topic = defaultdict(Counter)
    for m in got:
        by_topic[m.topic][(m.key, m.value)] += 1
        if m.key is not None:
            # The Java client's partitioner: a player's events share one partition everywhere.
            assert m.partition == (murmur2(m.key) & 0x7FFFFFFF) % 2
    for family, topic in topics.items():
        sent = Counter((r.key, r.value) for r in expected if r.family == family)
        assert by_topic[topic] == sent


def test_family_topics_are_created_and_described(services):
    bootstrap = services.kafka.bootstrap_servers
    pipeline = load_pipeline_conf(services.paths.conf)
    kafka_io.ensure_family_topics(services)
    assert kafka_io.ensure_family_topics(services) == []  # idempotent
    wanted = kafka_io.family_topics(services)
    assert pipeline.default_topic in wanted
    info = {t.name: t for t in kafka_io.describe_topics(bootstrap, wanted)}
    assert set(info) == set(wanted)
    assert all(t.partitions >= 1 and t.total >= 0 for t in info.values())
    assert set(wanted) <= {t.name for t in kafka_io.describe_topics(bootstrap)}


def test_replayed_record_file_arrives_byte_identical(services, run_pipeline, tmp_path):
    bootstrap = services.kafka.bootstrap_servers
    contracts = load_contracts(services.paths.conf / "contracts")
    options = GeneratorOptions(
        seed=5, events=1500, families=("user_score", "game_room"), malformed_fraction=0.3
    )
    records = list(generate(contracts, options))
    assert {"invalid_utf8", "truncated", "not_json"} <= {r.malformed for r in records}
    path = tmp_path / "records.jsonl"
    path.write_bytes(
        b"".join(record_file.encode_line(r) for r in records)
        + b'{"family": "no_such_family", "key": "k", "value": "orphan"}\n'
        + b"\n"
        + b"a line that is no wrapper\n"
    )

    policy = load_policy(services.paths.conf, declared_secrets(contracts))
    result = replay.replay_file(
        bootstrap, path, run_pipeline, list(contracts), redact=policy.redact_text
    )

    unrouted = run_pipeline.default_topic
    topics = [run_pipeline.topic_for("user_score"), run_pipeline.topic_for("game_room"), unrouted]
    assert result.unrouted == 2 and result.blank_lines == 1 and not result.rejected
    assert sum(result.per_topic.values()) == len(records) + 2
    got = read_back(bootstrap, topics, len(records) + 2)
    by_topic = defaultdict(Counter)
    for m in got:
        by_topic[m.topic][(m.key, m.value)] += 1
    for family in ("user_score", "game_room"):
        sent = Counter((r.key, r.value) for r in records if r.family == family)
        assert by_topic[run_pipeline.topic_for(family)] == sent
    assert by_topic[unrouted] == Counter(
        {(b"k", b"orphan"): 1, (None, b"a line that is no wrapper"): 1}
    )


def test_produce_command_sends_raw_lines_exactly(services, run_prefix, tmp_path):
    bootstrap = services.kafka.bootstrap_servers
    topic = f"{run_prefix}raw"
    # One partition, so the order of the lines is the order of the records.
    kafka_io.create_topics(bootstrap, [topic], 1, 1)
    lines = [
        b'{"user_id": "player_1", "team_id": "team_x", "score": 5, "event_time_millis": 1}',
        b'{"user_id": "player_1", "score": ',
        b'{"family": "user_score", "value": "wrapped"}',
        b"  leading and trailing spaces  ",
    ]
    path = tmp_path / "raw.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    cli = os.path.join(os.path.dirname(sys.executable), "gamelake")
    done = subprocess.run(
        [cli, "--env", services.env, "produce", str(path), "--topic", topic, "--raw"],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    got = read_back(bootstrap, [topic], len(lines))
    assert [m.value for m in got] == lines
    assert all(m.key is None for m in got)


def test_produce_sends_every_good_line_and_rejects_the_unsendable_ones(
    services, run_prefix, tmp_path
):
    """One oversized, one bad-UTF-8 and one binary line go to the rejects topic with their
    reason and line number, cut and with secrets masked; every other line lands (secrets
    masked too); exit 1."""
    bootstrap = services.kafka.bootstrap_servers
    topic, rejects = f"{run_prefix}raw", f"{run_prefix}_rejects"
    kafka_io.create_topics(bootstrap, [topic, rejects], 1, 1)
    limit = load_pipeline_conf(services.paths.conf).max_record_bytes
    secret = f"pw-{uuid.uuid4().hex}"
    oversized = b'{"user_pwd": "%s", "pad": "%s"}' % (secret.encode(), b"x" * (limit + 500_000))
    good = [b'{"n": %d}' % i for i in range(3)] + [
        b'{"n": 3, "auth": [{"apiKey": "%s"}]}' % secret.encode()
    ]
    lines = [
        good[0],
        oversized,
        good[1],
        b'{"city": "K\xf6ln"}',
        good[2],
        b"\x00\x01\x02bin",
        good[3],
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    cli = os.path.join(os.path.dirname(sys.executable), "gamelake")
    done = subprocess.run(
        [cli, "--env", services.env, "produce", str(path), "--topic", topic, "--raw",
         "--rejects-topic", rejects],
        capture_output=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "400"},  # rich wraps log lines to the terminal's width
    )  # fmt: skip
    log = " ".join(done.stderr.decode().split())
    assert done.returncode == 1, log[-3000:]
    assert "Traceback" not in log
    assert "line 2 rejected (too_large)" in log and f"{len(oversized):,} bytes" in log
    assert "line 4 rejected (invalid_utf8)" in log and "line 6 rejected (binary)" in log
    assert (
        "sent 4 records" in log
        and "rejected 3 lines (binary=1, invalid_utf8=1, too_large=1)" in log
    )
    # Good lines land as given, a secret in one masked before Kafka.
    landed = [m.value for m in read_back(bootstrap, [topic], len(good))]
    assert landed == [*good[:3], b'{"n": 3, "auth": [{"apiKey": "[REDACTED]"}]}']
    got = {
        json.loads(m.value)["origin"]["line"]: (m, json.loads(m.value))
        for m in read_back(bootstrap, [rejects], 3)
    }
    assert {n: v["reason"] for n, (_, v) in got.items()} == {
        2: "too_large",
        4: "invalid_utf8",
        6: "binary",
    }
    assert all(len(m.value) <= limit for m, _ in got.values())
    big = got[2][1]
    assert big["raw_bytes"] == len(oversized) and big["truncated"] is True
    assert big["raw"].startswith('{"user_pwd": "[REDACTED]", "pad": "xxx')
    assert all(secret.encode() not in m.value for m, _ in got.values())
    assert got[4][1]["raw"] == '{"city": "K\ufffdln"}' and got[4][1]["truncated"] is False


def test_raw_seed_lines_are_routed_by_their_shape(services, run_pipeline, tmp_path):
    """Seed 002's and seed 000's payloads, with no wrapper naming their family, land in the
    topic of the family each contract recognises; a line of no family's shape is unrouted."""
    bootstrap = services.kafka.bootstrap_servers
    contracts = load_contracts(services.paths.conf / "contracts")
    lines = {
        "player_action": json.dumps(EXAMPLES["player_action"]).encode(),
        "game_room": json.dumps(EXAMPLES["game_room"]).encode(),
        "player": json.dumps(EXAMPLES["player"]).encode(),
        None: b'{"event_name": "level_up"}',
    }
    path = tmp_path / "seeds.jsonl"
    path.write_bytes(b"\n".join(lines.values()) + b"\n")
    policy = load_policy(services.paths.conf, declared_secrets(contracts))
    result = replay.replay_file(
        bootstrap, path, run_pipeline, list(contracts), redact=policy.redact_text,
        recognisers=recognisers(contracts),
    )  # fmt: skip
    topic_of = {f: run_pipeline.topic_for(f) if f else run_pipeline.default_topic for f in lines}
    assert result.unrouted == 1
    assert result.per_topic == {topic_of[f]: 1 for f in lines}
    got = read_back(bootstrap, list(topic_of.values()), len(lines))
    assert {m.topic: m.value for m in got} == {topic_of[f]: line for f, line in lines.items()}
