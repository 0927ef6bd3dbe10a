"""Raw payloads routed to their family by the contracts' `recognised_by` fields."""

from __future__ import annotations

import copy

import pytest

from gamelake.contracts import load_contracts, parse_contract
from gamelake.errors import GamelakeError
from gamelake.routing import Recogniser, recognisers, route, route_bytes
from tests.samples import EXAMPLES


@pytest.fixture(scope="module")
def by(root):
    return recognisers(load_contracts(root / "conf" / "contracts"))


def test_every_seed_shape_is_recognised_as_its_family(by):
    for family, example in EXAMPLES.items():
        assert route(copy.deepcopy(example), by) == family, family


def test_seed_002_events_are_told_apart_by_their_event_name(by):
    action = copy.deepcopy(EXAMPLES["player_action"])
    assert route(action, by) == "player_action"
    assert route({**action, "event_name": "transaction"}, by) == "transaction"
    assert route({**action, "event_name": "level_up"}, by) is None
    assert route({"event_name": "server_metric"}, by) == "server_metric"


def test_a_field_set_with_enum_values_decides_between_similar_shapes(by):
    kill = {"player_id": "A01", "event_type": "kill", "timestamp": 1}
    assert route(kill, by) == "telemetry"
    assert route({**kill, "event_type": "jump"}, by) is None  # not one of telemetry's types
    call = {"user_id": "u1", "event_type": "register", "timestamp": "2020-11-23 14:58:44.1"}
    assert route(call, by) == "game_api"
    assert route({"player_id": 1, "game_room_id": 2, "points": 3}, by) is None  # no coordinates
    assert route({"player_id": 1, "event_type": "kill", "timestamp": None}, by) is None


def test_no_shape_no_object_no_family(by):
    assert route({"player_id": "A01"}, by) is None
    assert route(["not", "an", "object"], by) is None
    assert route("text", by) is None
    assert route_bytes(b"not json at all", by) is None
    assert route_bytes(b"[1, 2]", by) is None
    assert route_bytes(b'  {"event_name": "transaction"}', by) == "transaction"


def test_the_most_specific_match_wins_and_a_tie_routes_nowhere():
    wide = Recogniser("wide", ((("a",), None), (("b",), None)))
    narrow = Recogniser("narrow", ((("a",), None),))
    twin = Recogniser("twin", ((("b",), None),))
    assert route({"a": 1, "b": 2}, (wide, narrow, twin)) == "wide"
    assert route({"a": 1, "b": 2}, (narrow, twin)) is None
    assert route({"a": 1}, (wide, narrow)) == "narrow"


def test_recognised_by_must_name_declared_fields():
    raw = {
        "family": "f", "schema_version": 1, "key": "id", "event_type": {"value": "x"},
        "event_time": {"field": "ts"}, "recognised_by": ["id", "nope"],
        "fields": {"id": {"type": "string"}, "ts": {"type": "long", "format": "epoch_ms"}},
    }  # fmt: skip
    with pytest.raises(GamelakeError, match="recognised_by names an undeclared field"):
        parse_contract(raw, {}, "f.yaml")
    contract = parse_contract({**raw, "recognised_by": ["id"]}, {}, "f.yaml")
    assert contract.recognised_by == (("id",),)
    assert recognisers({"f": contract})[0].matches({"id": "1"})
