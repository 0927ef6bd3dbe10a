"""The generator: deterministic, every family in its contract's shape, a consistent world, and
the requested shares of late, duplicate and malformed records; the record-file format."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict

import jsonschema
import pytest

from gamelake.contracts import get_value, load_contracts
from gamelake.conventions import load_pipeline_conf
from gamelake.errors import GamelakeError
from gamelake.feed import drive
from gamelake.generator import DEFAULT_START, GeneratorOptions, Pacer, generate
from gamelake.record_file import FileRecord, encode_line, read_record_file, record_flags, unwrap
from gamelake.replay import Destinations
from gamelake.routing import recognisers

START_MS = int(DEFAULT_START.timestamp() * 1000)


@pytest.fixture(scope="module")
def contracts(root):
    return load_contracts(root / "conf" / "contracts")


@pytest.fixture(scope="module")
def validators(contracts):
    return {f: jsonschema.Draft202012Validator(c.json_schema()) for f, c in contracts.items()}


@pytest.fixture(scope="module")
def clean(contracts):
    """20k valid records of every family, no late, duplicate or malformed ones."""
    return list(generate(contracts, GeneratorOptions(seed=42, events=20_000)))


@pytest.fixture(scope="module")
def events(clean):
    return [(r.family, json.loads(r.value)) for r in clean]


def test_same_seed_gives_identical_bytes_and_other_seeds_differ(contracts):
    options = GeneratorOptions(
        seed=7, events=3000, late_fraction=0.1, duplicate_fraction=0.05, malformed_fraction=0.05
    )
    first = list(generate(contracts, options))
    again = list(generate(contracts, options))
    other = list(generate(contracts, GeneratorOptions(**{**options.__dict__, "seed": 8})))
    assert first == again
    assert b"".join(encode_line(r) for r in first) == b"".join(encode_line(r) for r in again)
    assert [r.value for r in first] != [r.value for r in other]


FAMILIES = ("transaction", "player_action")


def test_two_runs_into_one_lake_never_share_a_transaction_or_session(contracts):
    """Business ids carry the run (seed and shard), so a second demo into the same lake does
    not fail gold's unique transaction rule; they stay in silver's `^txn_[0-9]+$` format."""

    def ids(seed: int, shard: int = 0) -> set[str]:
        records = generate(contracts, GeneratorOptions(seed=seed, events=3000, shard=shard))
        params = [json.loads(r.value)["parameters"] for r in records if r.family in FAMILIES]
        return {p.get("transaction_id") or p["session_id"] for p in params}

    first, second, shard = ids(7), ids(8), ids(7, shard=1)
    assert any(i.startswith("txn_") for i in first)
    assert not first & second and not first & shard
    assert all(re.fullmatch(r"txn_[0-9]+", i) for i in first if i.startswith("txn_"))


def test_every_family_is_generated_with_its_nested_fields(contracts, events):
    families = Counter(f for f, _ in events)
    assert set(families) == set(contracts)
    for family, contract in contracts.items():
        sample = next(e for f, e in events if f == family)
        for field in contract.walk():
            if field.required:
                assert get_value(sample, field.path) is not None, (family, field.dotted)
    action = next(e for f, e in events if f == "player_action")
    assert set(action["parameters"]) == {
        "player_id",
        "session_id",
        "event_type",
        "level_id",
        "map_id",
    }
    assert set(action["user_data"]) == {"user_id", "platform"}


def test_valid_events_satisfy_their_contract_json_schema(validators, events):
    for family, event in events:
        errors = list(validators[family].iter_errors(event))
        assert not errors, (family, event, errors[0].message)


def test_envelope_ids_are_unique_and_deterministic(contracts, clean, events):
    ids = [e["event_id"] for _, e in events]
    assert len(ids) == len(set(ids))
    assert all(e["source"] == "generator" for _, e in events)
    assert all(e["schema_version"] == contracts[f].schema_version for f, e in events)


def test_keys_are_the_contract_key_field(contracts, clean):
    for record in clean[:2000]:
        expected = get_value(json.loads(record.value), contracts[record.family].key)
        assert record.key == str(expected).encode()


def test_world_is_consistent(events):
    players = {e["player_id"] for f, e in events if f == "player"}
    rooms = {}
    times = []
    for family, e in events:
        if family == "game_room":
            rooms[e["id"]] = e
            assert e["creator_id"] in players
            mode, tier = e["room_name"].split(" -- ")
            assert mode in {"Classic", "Arcade", "Battle", "Puzzle"}
            assert tier in {"Beginner", "Skilled", "Expert"}
        elif family == "player_activity":
            # Activity happens in rooms created before, by registered players.
            assert e["game_room_id"] in rooms
            assert e["player_id"] in players
            assert e["activity_ts"] >= rooms[e["game_room_id"]]["created_date"]
            times.append(e["activity_ts"])
        elif family == "telemetry":
            assert int(e["player_id"].removeprefix("player_")) in players
    assert times == sorted(times) and times[0] >= START_MS


def test_kills_are_paired_with_deaths(events):
    kinds = Counter(e["event_type"] for f, e in events if f == "telemetry")
    assert kinds["death"] >= kinds["kill"] > 100


def test_sessions_climb_levels_and_some_are_abandoned(events):
    by_session = defaultdict(list)
    for family, e in events:
        if family == "player_action":
            by_session[e["parameters"]["session_id"]].append(e["parameters"])
    completed_levels = Counter()
    for actions in by_session.values():
        levels = [int(a["level_id"].removeprefix("level_")) for a in actions]
        assert levels == sorted(levels)
        for a in actions:
            if a["event_type"] == "level_complete":
                completed_levels[a["level_id"]] += 1
    assert len(completed_levels) >= 3
    stuck = [
        s for s in by_session.values() if len(s) > 3 and s[-1]["event_type"] != "level_complete"
    ]
    assert stuck, "no session ends without level_complete"


def test_money_is_exact_and_refunds_follow_purchases(events):
    bought = defaultdict(list)
    refunds = 0
    for family, e in events:
        if family != "transaction":
            continue
        p = e["parameters"]
        assert round(p["amount"], 2) == p["amount"]
        assert len(repr(p["amount"]).split(".")[1]) <= 2
        key = (e["user_data"]["user_id"], p["item_id"], p["amount"], p["currency"])
        if p["transaction_type"] == "purchase":
            bought[key].append(p)
        else:
            refunds += 1
            assert bought[key], f"refund of nothing bought: {key}"
            bought[key].pop()
    assert refunds > 0


def test_game_api_wallet_inventory_affiliations_and_passwords(events):
    api = [e for f, e in events if f == "game_api"]
    statuses = Counter(e["status"] for e in api)
    assert statuses["insufficient_funds"] > 0 and statuses["approved_purchase"] > 0
    assert all(e["player"]["wealth"] >= 0 for e in api)
    # Passwords only on register and login.
    assert {e["event_type"] for e in api if "password" in e} == {"register", "login"}
    assert all("password" in e for e in api if e["event_type"] in ("register", "login"))
    items = [i for e in api for i in e["player"]["inventory"]]
    assert any(isinstance(i, str) for i in items)
    assert any(isinstance(i, dict) and {"item", "kind", "qty"} == set(i) for i in items)
    assert any(i is None for i in items)
    orgs = [a for e in api for a in e["player"]["affiliations"]]
    assert any(isinstance(a, str) for a in orgs)
    assert any(isinstance(a, dict) and {"org", "level", "joined_ts"} == set(a) for a in orgs)
    # The wallet only changes by what the snapshots explain.
    wealth = {}
    for e in api:
        user, now = e["user_id"], e["player"]["wealth"]
        if e["status"] == "approved_purchase":
            assert now == pytest.approx(wealth[user] - e["cost"])
        elif e["status"] == "insufficient_funds":
            assert wealth[user] < e["cost"] and now == wealth[user]
        wealth[user] = now
    # Affiliations only grow when a player joins.
    count = {}
    for e in api:
        n = len(e["player"]["affiliations"])
        assert n == count.get(e["user_id"], 0) + (e["status"] == "joined")
        count[e["user_id"]] = n


def test_robots_score_far_above_the_mean(events):
    scores = defaultdict(list)
    for family, e in events:
        if family == "user_score":
            scores[e["user_id"]].append(e["score"])
    means = {u: statistics.mean(s) for u, s in scores.items()}
    overall = statistics.mean(means.values())
    spread = statistics.pstdev(means.values())
    robots = [u for u, m in means.items() if m > overall + 3 * spread]
    assert 0 < len(robots) < len(means) * 0.05


def test_requested_shares_of_late_duplicate_and_malformed(contracts, validators):
    options = GeneratorOptions(
        seed=3, events=20_000, late_fraction=0.1, duplicate_fraction=0.05, malformed_fraction=0.08
    )
    records = list(generate(contracts, options))
    n = len(records)
    assert n == 20_000
    dups = [r for r in records if r.duplicate]
    bad = [r for r in records if r.malformed]
    assert 0.04 < len(dups) / n < 0.06
    assert 0.07 < len(bad) / n < 0.09
    fresh = [r for r in records if not r.duplicate]
    assert 0.08 < sum(r.late for r in fresh) / len(fresh) < 0.12
    # A duplicate is an exact re-send of an earlier valid record (same event_id).
    earlier = {r.value for r in records if not r.duplicate and not r.malformed}
    assert all(d.value in earlier for d in dups)
    # Late events are minutes behind the events around them.
    valid = [r for r in records if not r.malformed]
    late = next(i for i, r in enumerate(valid) if r.late and r.family == "telemetry")
    before = [json.loads(r.value) for r in valid[:late] if r.family == "telemetry" and not r.late]
    lag = before[-1]["timestamp"] - json.loads(valid[late].value)["timestamp"]
    assert 55_000 < lag < 31 * 60_000
    # Every malformed record fails parsing or its contract.
    kinds = Counter(r.malformed for r in bad)
    assert len(kinds) == 7
    for r in bad:
        try:
            event = json.loads(r.value.decode("utf-8"))
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            continue
        assert not validators[r.family].is_valid(event), (r.malformed, r.value)


def test_families_filter_and_options_are_checked(contracts):
    records = list(
        generate(contracts, GeneratorOptions(seed=1, events=500, families=("telemetry", "player")))
    )
    assert {r.family for r in records} == {"telemetry", "player"}
    with pytest.raises(GamelakeError, match="unknown event families"):
        list(generate(contracts, GeneratorOptions(seed=1, events=1, families=("nope",))))
    with pytest.raises(GamelakeError, match="no room for valid"):
        list(
            generate(
                contracts,
                GeneratorOptions(seed=1, events=1, duplicate_fraction=0.5, malformed_fraction=0.5),
            )
        )


def test_start_time_is_the_option(contracts):
    start = 1_700_000_000_000
    records = list(
        generate(
            contracts, GeneratorOptions(seed=1, events=50, families=("user_score",), start_ms=start)
        )
    )
    times = [json.loads(r.value)["event_time_millis"] for r in records]
    assert start <= times[0] < start + 60_000


def test_record_file_lines_round_trip_every_payload_byte_for_byte(contracts, tmp_path):
    records = list(
        generate(contracts, GeneratorOptions(seed=5, events=3000, malformed_fraction=0.3))
    )
    assert any(r.malformed == "invalid_utf8" for r in records)
    path = tmp_path / "records.jsonl"
    path.write_bytes(b"".join(encode_line(r) for r in records))
    back = list(read_record_file(path))
    assert [(b.family, b.key, b.value) for b in back] == [
        (r.family, r.key, r.value) for r in records
    ]
    assert all(b.wrapped for b in back)
    line = json.loads(encode_line(records[0]))
    assert set(line) <= {"family", "key", "value", "value_b64", "key_b64", "flags"}
    assert record_flags(records[0]._replace(late=True, malformed="truncated")) == [
        "late",
        "malformed:truncated",
    ]


def test_raw_lines_and_demo_samples_and_routing(tmp_path, root, contracts):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"player_id": 1, "event_type": "kill", "timestamp": 1}\n'
        b"\n"
        b"not json at all\xff\r\n"
        b'{"family": "nope", "value": "x"}\n'
    )
    back = list(read_record_file(path))
    assert [b.value for b in back] == [
        b'{"player_id": 1, "event_type": "kill", "timestamp": 1}',
        b"not json at all\xff",
        b"x",
    ]
    assert [b.line_no for b in back] == [1, 3, 4]
    raw = list(read_record_file(path, raw=True))
    assert raw[-1].value == b'{"family": "nope", "value": "x"}' and not raw[-1].wrapped

    pipeline = load_pipeline_conf(root / "conf")
    families = ["telemetry", "player"]
    to = Destinations(pipeline, families, recognisers(contracts))
    # A raw line goes to the family its shape is; none without recognisers, or of no shape.
    assert to.topic_of(back[0]) == "gamelake.telemetry"
    assert Destinations(pipeline, families).topic_of(back[0]) == "gamelake._unrouted"
    assert to.topic_of(back[1]) == "gamelake._unrouted"
    forced = Destinations(pipeline, families, family="telemetry")
    assert forced.topic_of(back[0]) == "gamelake.telemetry"
    assert Destinations(pipeline, families, topic="t").topic_of(back[0]) == "t"
    assert to.topic_of(back[2]) == "gamelake._unrouted"  # unknown family
    ok = FileRecord(1, "player", None, b"{}", True)
    assert to.topic_of(ok) == "gamelake.player"
    # The demo samples (value as an object, numeric key) unwrap to compact JSON.
    family, key, value = unwrap(
        (root / "conf" / "demo" / "seed_000.jsonl").read_bytes().splitlines()[0]
    )
    assert (family, key) == ("game_room", b"2975")
    assert json.loads(value)["room_name"] == "Classic -- Skilled"
    assert unwrap(b'{"family": "x", "value": "v", "extra": 1}') is None
    assert unwrap(b'{"family": "x", "value_b64": "!!"}') is None


def test_pacer_averages_the_rate_with_bursts():
    pacer = Pacer(1000)
    assert pacer.allowed(10.0) == pytest.approx(10_000)
    assert pacer.allowed(100.0) == pytest.approx(100_000)
    burst = pacer.allowed(1.0) - pacer.allowed(0.0)
    steady = pacer.allowed(6.0) - pacer.allowed(5.0)
    assert burst == pytest.approx(3 * steady)
    assert Pacer(0).allowed(1.0) == float("inf")


def test_drive_paces_and_stops_at_the_duration(contracts):
    now = [0.0]

    def clock():
        return now[0]

    def sleep(s):
        now[0] += s

    sent = []
    records = generate(contracts, GeneratorOptions(seed=1))  # endless
    summary = drive(records, sent.append, rate=200, duration_s=10.0, clock=clock, sleep=sleep)
    assert 1990 <= summary.records <= 2010  # a whole burst period averages the rate
    assert summary.records == len(sent) == sum(summary.per_family.values())
